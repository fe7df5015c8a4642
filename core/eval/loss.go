package eval

import (
	"context"
	"fmt"
	"math"

	"github.com/lorafn/lorafn/core/model"
	"github.com/lorafn/lorafn/core/train"
)

// DefaultBatchSize is how many examples a scoring batch holds when the
// options leave it unset.
const DefaultBatchSize = 8

// LossOptions control Loss.
type LossOptions struct {
	// BatchSize is the number of examples per forward pass (0: DefaultBatchSize).
	BatchSize int
	// SeqLen cuts every example to its first SeqLen tokens, as training
	// does (0: no cut).
	SeqLen int
}

func (o LossOptions) batchSize() int {
	if o.BatchSize > 0 {
		return o.BatchSize
	}
	return DefaultBatchSize
}

func (o LossOptions) seqLen() int {
	if o.SeqLen > 0 {
		return o.SeqLen
	}
	return math.MaxInt
}

// LossResult is a model's loss over a dataset.
type LossResult struct {
	Loss       float64 `json:"loss"`       // mean cross-entropy per target token (nats)
	Perplexity float64 `json:"perplexity"` // exp(Loss)
	Tokens     int     `json:"tokens"`     // target tokens scored
	Examples   int     `json:"examples"`
}

// Loss returns the mean loss and the perplexity of m over every example of
// ds. The sum runs over batches of consecutive examples in index order, so
// the result depends only on the model, the data and the options. A dataset
// without any target token is an error, since its mean is undefined.
func Loss(ctx context.Context, m *model.Model, ds train.Dataset, opt LossOptions) (LossResult, error) {
	var sum float64
	tokens := 0
	bs, seqLen := opt.batchSize(), opt.seqLen()
	for i := 0; i < ds.Len(); i += bs {
		if err := ctx.Err(); err != nil {
			return LossResult{}, err
		}
		exs, err := examples(ds, i, min(i+bs, ds.Len()))
		if err != nil {
			return LossResult{}, err
		}
		b, _ := train.Collate(exs, seqLen)
		res, err := m.Loss(b)
		if err != nil {
			return LossResult{}, fmt.Errorf("eval: loss of examples %d..%d: %w", i, i+len(exs)-1, err)
		}
		sum += res.SumLoss
		tokens += res.Tokens
	}
	if tokens == 0 {
		return LossResult{}, fmt.Errorf("eval: loss: the %d examples hold no target token", ds.Len())
	}
	mean := sum / float64(tokens)
	return LossResult{Loss: mean, Perplexity: math.Exp(mean), Tokens: tokens, Examples: ds.Len()}, nil
}

// examples reads examples [from, to) of ds.
func examples(ds train.Dataset, from, to int) ([]train.Example, error) {
	out := make([]train.Example, 0, to-from)
	for j := from; j < to; j++ {
		ex, err := ds.Example(j)
		if err != nil {
			return nil, fmt.Errorf("eval: example %d: %w", j, err)
		}
		out = append(out, ex)
	}
	return out, nil
}

// Subset is the examples of a dataset at the given indices, in that order.
type Subset struct {
	Data    train.Dataset
	Indices []int
}

func (s Subset) Len() int { return len(s.Indices) }

func (s Subset) Example(i int) (train.Example, error) { return s.Data.Example(s.Indices[i]) }

// Sample returns n examples of ds spread evenly over it (example ⌊i·N/n⌋
// for i < n), or all of them when n <= 0 or n >= N. The choice depends on
// N and n alone, so the same training set always gives the same sample.
func Sample(ds train.Dataset, n int) Subset {
	N := ds.Len()
	if n <= 0 || n >= N {
		n = N
	}
	idx := make([]int, n)
	for i := range idx {
		idx[i] = int(int64(i) * int64(N) / int64(n))
	}
	return Subset{Data: ds, Indices: idx}
}
