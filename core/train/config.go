package train

import (
	"fmt"
	"math"
)

// Config holds a run's hyper-parameters. JSON names follow Hugging Face's
// TrainingArguments where one exists.
type Config struct {
	LR          float64 `json:"learning_rate"`
	Schedule    string  `json:"lr_scheduler_type"`
	WarmupSteps int     `json:"warmup_steps"`
	WeightDecay float64 `json:"weight_decay"`
	Beta1       float64 `json:"adam_beta1"`
	Beta2       float64 `json:"adam_beta2"`
	Eps         float64 `json:"adam_epsilon"`
	MaxGradNorm float64 `json:"max_grad_norm"` // 0 turns clipping off

	BatchSize int `json:"per_device_train_batch_size"` // sequences per micro-batch
	GradAccum int `json:"gradient_accumulation_steps"` // micro-batches per optimizer step
	SeqLen    int `json:"max_seq_length"`              // longer examples are cut

	// Steps is the number of optimizer steps; when 0 it is derived from
	// Epochs and the dataset size (rounded up).
	Steps  int     `json:"max_steps"`
	Epochs float64 `json:"num_train_epochs"`

	Seed    uint64 `json:"seed"`
	Shuffle bool   `json:"shuffle"`
	Dropout bool   `json:"adapter_dropout"` // apply the adapters' dropout while training

	// EvalSteps evaluates the validation set every that many steps (and at
	// the end); 0 evaluates only at the end.
	EvalSteps int `json:"eval_steps"`
	// EarlyStoppingPatience stops the run after that many evaluations in a
	// row without an improvement of more than EarlyStoppingThreshold; 0
	// turns early stopping off.
	EarlyStoppingPatience  int     `json:"early_stopping_patience"`
	EarlyStoppingThreshold float64 `json:"early_stopping_threshold"`

	// Recompute trades compute for memory (see model.Options). It changes
	// no result, so it is not part of a checkpoint's identity.
	Recompute bool `json:"-"`
}

// DefaultConfig returns the defaults: Hugging Face's AdamW settings and
// clipping, a linear schedule, learning rate 2e-4 (a common LoRA choice),
// batch 8, one epoch, seed 42.
func DefaultConfig() Config {
	return Config{
		LR: 2e-4, Schedule: Linear, Beta1: 0.9, Beta2: 0.999, Eps: 1e-8, MaxGradNorm: 1,
		BatchSize: 8, GradAccum: 1, SeqLen: 512, Epochs: 1, Seed: 42, Shuffle: true, Dropout: true,
	}
}

// ExamplesPerStep is the number of sequences of one optimizer step.
func (c *Config) ExamplesPerStep() int { return c.BatchSize * c.GradAccum }

// TotalSteps returns Steps, or the steps that Epochs passes over n examples
// take.
func (c *Config) TotalSteps(n int) int {
	if c.Steps > 0 {
		return c.Steps
	}
	return int(math.Ceil(c.Epochs * float64(n) / float64(c.ExamplesPerStep())))
}

// Validate checks the fields; errors name the JSON field.
func (c *Config) Validate() error {
	bad := func(field string, v any, why string) error {
		return fmt.Errorf("train: %s = %v: %s", field, v, why)
	}
	switch {
	case !(c.LR >= 0) || math.IsInf(c.LR, 0):
		return bad("learning_rate", c.LR, "must be a non-negative number")
	case !(c.WeightDecay >= 0) || math.IsInf(c.WeightDecay, 0):
		return bad("weight_decay", c.WeightDecay, "must be a non-negative number")
	case !(c.Beta1 >= 0 && c.Beta1 < 1):
		return bad("adam_beta1", c.Beta1, "must be in [0, 1)")
	case !(c.Beta2 >= 0 && c.Beta2 < 1):
		return bad("adam_beta2", c.Beta2, "must be in [0, 1)")
	case !(c.Eps > 0) || math.IsInf(c.Eps, 0):
		return bad("adam_epsilon", c.Eps, "must be positive")
	case !(c.MaxGradNorm >= 0) || math.IsInf(c.MaxGradNorm, 0):
		return bad("max_grad_norm", c.MaxGradNorm, "must be a non-negative number (0 turns clipping off)")
	case c.BatchSize <= 0:
		return bad("per_device_train_batch_size", c.BatchSize, "must be positive")
	case c.GradAccum <= 0 || c.GradAccum >= 1<<16:
		return bad("gradient_accumulation_steps", c.GradAccum, "must be in [1, 65535]")
	case c.SeqLen < 2:
		return bad("max_seq_length", c.SeqLen, "must be at least 2")
	case c.Steps < 0:
		return bad("max_steps", c.Steps, "must not be negative")
	case c.Steps == 0 && !(c.Epochs > 0 && !math.IsInf(c.Epochs, 0)):
		return bad("num_train_epochs", c.Epochs, "must be positive when max_steps is 0")
	case c.EvalSteps < 0:
		return bad("eval_steps", c.EvalSteps, "must not be negative")
	case c.EarlyStoppingPatience < 0:
		return bad("early_stopping_patience", c.EarlyStoppingPatience, "must not be negative")
	case !(c.EarlyStoppingThreshold >= 0):
		return bad("early_stopping_threshold", c.EarlyStoppingThreshold, "must not be negative")
	}
	return Schedule{Name: c.Schedule, Warmup: c.WarmupSteps}.validate()
}
