package train

import (
	"fmt"
	"math"
)

// Schedule names, as Hugging Face's get_scheduler spells them.
const (
	Constant           = "constant"
	ConstantWithWarmup = "constant_with_warmup"
	Linear             = "linear"
	Cosine             = "cosine"
)

// Schedule is a learning-rate multiplier as a function of the optimizer
// step, computed as Hugging Face's LambdaLR schedules compute it. Optimizer
// step i (counting from 0) uses Factor(i), as a Trainer does: the scheduler
// is stepped after each optimizer step.
type Schedule struct {
	Name   string
	Warmup int // warmup steps: the factor rises linearly from 0
	Total  int // total optimizer steps of the run
}

func (s Schedule) validate() error {
	switch s.Name {
	case Constant:
		if s.Warmup != 0 {
			return fmt.Errorf("train: lr_scheduler_type %q ignores warmup_steps = %d; use %q", s.Name, s.Warmup, ConstantWithWarmup)
		}
	case ConstantWithWarmup, Linear, Cosine:
	default:
		return fmt.Errorf("train: lr_scheduler_type %q: want %s, %s, %s or %s", s.Name, Constant, ConstantWithWarmup, Linear, Cosine)
	}
	if s.Warmup < 0 {
		return fmt.Errorf("train: warmup_steps = %d: must not be negative", s.Warmup)
	}
	return nil
}

// Factor returns the multiplier of the base learning rate at step i.
func (s Schedule) Factor(i int) float64 {
	if s.Name == Constant {
		return 1
	}
	if i < s.Warmup {
		return float64(i) / float64(max(1, s.Warmup))
	}
	switch s.Name {
	case Linear:
		return math.Max(0, float64(s.Total-i)/float64(max(1, s.Total-s.Warmup)))
	case Cosine: // one half cosine wave (num_cycles 0.5)
		progress := float64(i-s.Warmup) / float64(max(1, s.Total-s.Warmup))
		return math.Max(0, 0.5*(1+math.Cos(math.Pi*0.5*2*progress)))
	}
	return 1
}
