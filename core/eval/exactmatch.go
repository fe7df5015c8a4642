package eval

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/lorafn/lorafn/core/model"
)

// ExactMatchResult is the share of answers a model reproduces exactly.
type ExactMatchResult struct {
	Examples   int     `json:"examples"`
	Matches    int     `json:"matches"`
	ExactMatch float64 `json:"exact_match"` // Matches / Examples
	// Matched[i] says whether scored example i matched.
	Matched []bool `json:"-"`
}

// ExactMatch generates greedily from each example's prompt, at most as many
// tokens as its answer holds, and counts the generations equal to the
// answer, token for token. Generation stops early at the model's EOS ids; an
// answer that ends with EOS (as prepared completions do) therefore needs no
// extra token, and one that does not must be produced without an EOS inside.
func ExactMatch(ctx context.Context, m *model.Model, t *Task, opt TaskOptions) (*ExactMatchResult, error) {
	exs := opt.examples(t)
	if len(exs) == 0 {
		return nil, errors.New("eval: exact match: no task example")
	}
	res := &ExactMatchResult{Examples: len(exs), Matched: make([]bool, len(exs))}
	for i, ex := range exs {
		prompt, err := opt.fitPrompt(m, ex.Prompt, len(ex.Answer))
		if err != nil {
			return nil, fmt.Errorf("eval: exact match: example %d: %w", ex.Index, err)
		}
		out, err := m.Generate(ctx, prompt, model.GenerateOptions{MaxNewTokens: len(ex.Answer)})
		if err != nil {
			return nil, fmt.Errorf("eval: exact match: example %d: %w", ex.Index, err)
		}
		if slices.Equal(out, ex.Answer) {
			res.Matched[i] = true
			res.Matches++
		}
	}
	res.ExactMatch = float64(res.Matches) / float64(res.Examples)
	return res, nil
}
