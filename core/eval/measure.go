package eval

import (
	"context"
	"fmt"

	"github.com/lorafn/lorafn/core/model"
	"github.com/lorafn/lorafn/core/train"
)

// Metrics are one model's measurements; a nil field was not measured.
type Metrics struct {
	Validation     *LossResult       `json:"validation,omitempty"`
	Reference      *LossResult       `json:"reference,omitempty"`    // general text, for forgetting
	TrainSample    *LossResult       `json:"train_sample,omitempty"` // for overfitting
	Classification *Classification   `json:"classification,omitempty"`
	ExactMatch     *ExactMatchResult `json:"exact_match,omitempty"`
}

// Sets are the datasets Measure scores; a nil set is skipped.
type Sets struct {
	Validation  train.Dataset // the held-out split: loss and task metrics
	Reference   train.Dataset // general reference text
	TrainSample train.Dataset // a fixed sample of the training split (see Sample)
	// Task is Tasks(Validation) computed once for both models; nil means
	// Measure computes it.
	Task *Task
}

// Options control Measure.
type Options struct {
	Loss LossOptions
	Task TaskOptions
	Rule ClassRule
}

// Measure scores m on sets: loss and perplexity on every set given, and on
// the validation set rank classification when its answers form classes,
// exact match otherwise (when it has task examples at all).
func Measure(ctx context.Context, m *model.Model, sets Sets, opt Options) (Metrics, error) {
	var out Metrics
	for _, s := range []struct {
		name string
		ds   train.Dataset
		dst  **LossResult
	}{
		{"validation", sets.Validation, &out.Validation},
		{"reference", sets.Reference, &out.Reference},
		{"train sample", sets.TrainSample, &out.TrainSample},
	} {
		if s.ds == nil {
			continue
		}
		r, err := Loss(ctx, m, s.ds, opt.Loss)
		if err != nil {
			return Metrics{}, fmt.Errorf("%s set: %w", s.name, err)
		}
		*s.dst = &r
	}
	task := sets.Task
	if task == nil && sets.Validation != nil {
		t, err := Tasks(sets.Validation, opt.Rule)
		if err != nil {
			return Metrics{}, fmt.Errorf("validation set: %w", err)
		}
		task = t
	}
	switch {
	case task == nil || len(task.Examples) == 0:
	case task.Classes != nil:
		c, err := Classify(ctx, m, task, opt.Task)
		if err != nil {
			return Metrics{}, fmt.Errorf("validation set: %w", err)
		}
		out.Classification = c
	default:
		e, err := ExactMatch(ctx, m, task, opt.Task)
		if err != nil {
			return Metrics{}, fmt.Errorf("validation set: %w", err)
		}
		out.ExactMatch = e
	}
	return out, nil
}
