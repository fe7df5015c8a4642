package eval

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/lorafn/lorafn/core/model"
	"github.com/lorafn/lorafn/core/train"
)

// DefaultLogitsBudget bounds the logits of one rank-classification batch
// (B·T·V float32 values, 128 MiB) when TaskOptions leave it unset.
const DefaultLogitsBudget = 1 << 25

// TaskOptions control Classify and ExactMatch.
type TaskOptions struct {
	// MaxExamples scores only the first MaxExamples task examples, to bound
	// the cost (0: all).
	MaxExamples int
	// SeqLen, when positive, bounds prompt + answer: the prompt loses its
	// oldest tokens so that the longest answer still fits whole. GPT-2's
	// n_positions bounds it in any case.
	SeqLen int
	// LogitsBudget bounds B·T·V of one scoring batch; the candidates of an
	// example share one batch unless that exceeds it (0: DefaultLogitsBudget).
	LogitsBudget int
}

func (o TaskOptions) examples(t *Task) []TaskExample {
	if o.MaxExamples > 0 && o.MaxExamples < len(t.Examples) {
		return t.Examples[:o.MaxExamples]
	}
	return t.Examples
}

// fitPrompt drops the oldest prompt tokens so that prompt plus an answer of
// answerLen tokens fits SeqLen and the model's positions.
func (o TaskOptions) fitPrompt(m *model.Model, prompt []int, answerLen int) ([]int, error) {
	limit := math.MaxInt
	if o.SeqLen > 0 {
		limit = o.SeqLen
	}
	if m.Config.Family == model.GPT2 {
		limit = min(limit, m.Config.MaxPositions)
	}
	if len(prompt)+answerLen <= limit {
		return prompt, nil
	}
	keep := limit - answerLen
	if keep < 1 {
		return nil, fmt.Errorf("an answer of %d tokens does not fit a sequence length of %d after a prompt token", answerLen, limit)
	}
	return prompt[len(prompt)-keep:], nil
}

// Classification is the result of rank classification.
type Classification struct {
	Classes  [][]int `json:"classes"` // candidate answers (token ids)
	Examples int     `json:"examples"`
	Accuracy float64 `json:"accuracy"`
	MacroF1  float64 `json:"macro_f1"`

	PerClass  []ClassStat `json:"per_class"`
	Confusion *Confusion  `json:"confusion"` // Counts[gold][predicted]

	// The baseline that always predicts the most frequent gold class.
	MajorityClass    int     `json:"majority_class"`
	MajorityAccuracy float64 `json:"majority_accuracy"`
	MajorityMacroF1  float64 `json:"majority_macro_f1"`

	Predictions []int `json:"-"` // predicted class of each scored example
}

// Classify scores a classification task by rank classification: for each
// example, the summed log-likelihood of every candidate answer given the
// prompt, all candidates in one batch; the prediction is the candidate with
// the highest score, the first in class order among equal scores.
func Classify(ctx context.Context, m *model.Model, t *Task, opt TaskOptions) (*Classification, error) {
	if len(t.Classes) < 2 {
		return nil, errors.New("eval: classify: the task has fewer than two classes")
	}
	exs := opt.examples(t)
	if len(exs) == 0 {
		return nil, errors.New("eval: classify: no task example")
	}
	conf := NewConfusion(len(t.Classes))
	preds := make([]int, len(exs))
	for i, ex := range exs {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		gold := classOf(t.Classes, ex.Answer)
		if gold < 0 {
			return nil, fmt.Errorf("eval: classify: example %d: its answer %v is not one of the %d classes", ex.Index, ex.Answer, len(t.Classes))
		}
		scores, err := CandidateScores(m, ex.Prompt, t.Classes, opt)
		if err != nil {
			return nil, fmt.Errorf("eval: classify: example %d: %w", ex.Index, err)
		}
		best := 0
		for k, s := range scores {
			if s > scores[best] {
				best = k
			}
		}
		preds[i] = best
		conf.Add(gold, best)
	}
	maj, base := conf.Majority()
	return &Classification{
		Classes:          t.Classes,
		Examples:         len(exs),
		Accuracy:         conf.Accuracy(),
		MacroF1:          conf.MacroF1(),
		PerClass:         conf.PerClass(),
		Confusion:        conf,
		MajorityClass:    maj,
		MajorityAccuracy: base.Accuracy(),
		MajorityMacroF1:  base.MacroF1(),
		Predictions:      preds,
	}, nil
}

// CandidateScores returns log p(candidate | prompt), summed over the
// candidate's tokens in nats, for each candidate. The rows prompt+candidate
// share batches as large as opt.LogitsBudget allows (at least one row).
func CandidateScores(m *model.Model, prompt []int, candidates [][]int, opt TaskOptions) ([]float64, error) {
	longest := 0
	for _, c := range candidates {
		if len(c) == 0 {
			return nil, errors.New("empty candidate answer")
		}
		longest = max(longest, len(c))
	}
	prompt, err := opt.fitPrompt(m, prompt, longest)
	if err != nil {
		return nil, err
	}
	budget := opt.LogitsBudget
	if budget <= 0 {
		budget = DefaultLogitsBudget
	}
	V := m.Config.VocabSize
	perBatch := max(1, budget/((len(prompt)+longest)*V))
	scores := make([]float64, 0, len(candidates))
	for start := 0; start < len(candidates); start += perBatch {
		group := candidates[start:min(start+perBatch, len(candidates))]
		rows := make([]train.Example, len(group))
		for r, c := range group {
			ids := append(append(make([]int, 0, len(prompt)+len(c)), prompt...), c...)
			labels := make([]int, len(ids))
			for t := range labels {
				labels[t] = model.IgnoreIndex
			}
			copy(labels[len(prompt):], c)
			rows[r] = train.Example{IDs: ids, Labels: labels}
		}
		b, _ := train.Collate(rows, math.MaxInt)
		logits, err := m.Logits(b)
		if err != nil {
			return nil, err
		}
		for r := range group {
			scores = append(scores, rowLogLikelihood(logits, b, r, V))
		}
	}
	return scores, nil
}

// rowLogLikelihood sums log softmax(logits at t)[label at t+1] over the
// target positions of row r, in float64.
func rowLogLikelihood(logits []float32, b *model.Batch, r, V int) float64 {
	var sum float64
	for t := 0; t+1 < b.T; t++ {
		target := b.Labels[r*b.T+t+1]
		if target == model.IgnoreIndex {
			continue
		}
		row := logits[(r*b.T+t)*V : (r*b.T+t+1)*V]
		sum += logSoftmaxAt(row, target)
	}
	return sum
}

// logSoftmaxAt returns log softmax(row)[i] computed in float64.
func logSoftmaxAt(row []float32, i int) float64 {
	mx := math.Inf(-1)
	for _, v := range row {
		mx = math.Max(mx, float64(v))
	}
	var s float64
	for _, v := range row {
		s += math.Exp(float64(v) - mx)
	}
	return float64(row[i]) - mx - math.Log(s)
}
