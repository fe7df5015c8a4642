package train

import (
	"fmt"

	"github.com/lorafn/lorafn/core/model"
)

// Example is one training sequence. Labels, when set, has one entry per id
// in Hugging Face's unshifted convention (model.IgnoreIndex for tokens that
// carry no loss, such as a prompt); nil means every token is a target.
type Example struct {
	IDs    []int
	Labels []int
}

// Dataset gives random access to examples; prep's shards implement it.
type Dataset interface {
	Len() int
	Example(i int) (Example, error)
}

// Examples is a Dataset held in memory.
type Examples []Example

func (e Examples) Len() int                       { return len(e) }
func (e Examples) Example(i int) (Example, error) { return e[i], nil }

// targets counts the tokens of ex (cut to seqLen) that carry a loss: every
// position after the first whose label is not ignored.
func targets(ex Example, seqLen int) int {
	n := min(len(ex.IDs), seqLen)
	if ex.Labels == nil {
		return max(0, n-1)
	}
	t := 0
	for i := 1; i < n; i++ {
		if ex.Labels[i] != model.IgnoreIndex {
			t++
		}
	}
	return t
}

// checkExample validates example i of the named dataset for a model.
func checkExample(name string, i int, ex Example, c *model.Config, seqLen int) error {
	switch {
	case len(ex.IDs) == 0:
		return fmt.Errorf("train: %s example %d: no tokens", name, i)
	case ex.Labels != nil && len(ex.Labels) != len(ex.IDs):
		return fmt.Errorf("train: %s example %d: %d labels for %d ids", name, i, len(ex.Labels), len(ex.IDs))
	}
	for j, id := range ex.IDs {
		if id < 0 || id >= c.VocabSize {
			return fmt.Errorf("train: %s example %d: token %d = %d outside the vocabulary [0, %d)", name, i, j, id, c.VocabSize)
		}
	}
	for j, l := range ex.Labels {
		if l != model.IgnoreIndex && (l < 0 || l >= c.VocabSize) {
			return fmt.Errorf("train: %s example %d: label %d = %d is neither %d nor in [0, %d)", name, i, j, l, model.IgnoreIndex, c.VocabSize)
		}
	}
	if targets(ex, seqLen) == 0 {
		return fmt.Errorf("train: %s example %d: no token carries a loss within the first %d tokens", name, i, seqLen)
	}
	return nil
}

// Collate pads examples (cut to seqLen) on the right into one batch: pads
// are masked out and labelled IgnoreIndex. It returns the batch and its
// number of target tokens.
func Collate(exs []Example, seqLen int) (*model.Batch, int) {
	T := 0
	for _, ex := range exs {
		T = max(T, min(len(ex.IDs), seqLen))
	}
	b := &model.Batch{B: len(exs), T: T, IDs: make([]int, len(exs)*T), Mask: make([]bool, len(exs)*T), Labels: make([]int, len(exs)*T)}
	tokens := 0
	for r, ex := range exs {
		n := min(len(ex.IDs), seqLen)
		row := r * T
		for t := 0; t < T; t++ {
			b.Labels[row+t] = model.IgnoreIndex
		}
		copy(b.IDs[row:], ex.IDs[:n])
		for t := 0; t < n; t++ {
			b.Mask[row+t] = true
			b.Labels[row+t] = ex.IDs[t]
			if ex.Labels != nil {
				b.Labels[row+t] = ex.Labels[t]
			}
		}
		tokens += targets(ex, seqLen)
	}
	return b, tokens
}
