package train

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/lorafn/lorafn/core/model"
)

// State is the progress of a run: with the trainable weights and the AdamW
// moments it is everything a resumed run needs.
type State struct {
	Step        int     `json:"step"`   // optimizer steps done
	Tokens      int64   `json:"tokens"` // target tokens trained on
	Evals       int     `json:"evals"`  // validation evaluations done
	BestValLoss float64 `json:"best_val_loss"`
	BadEvals    int     `json:"bad_evals"` // evaluations since the best one
	EarlyStop   bool    `json:"early_stopped"`
}

// StepLog describes one optimizer step.
type StepLog struct {
	Step     int      `json:"step"` // steps done, counting this one
	Loss     float64  `json:"loss"` // mean loss over the step's target tokens
	LR       float64  `json:"lr"`   // base learning rate times the schedule factor
	GradNorm float64  `json:"grad_norm"`
	Tokens   int      `json:"tokens"`       // target tokens of the step
	Input    int      `json:"input_tokens"` // tokens processed (padding excluded)
	ValLoss  *float64 `json:"val_loss,omitempty"`
}

// Trainer trains the parameters of groups, which belong to Model.
type Trainer struct {
	Model *model.Model
	State State

	cfg        Config
	groups     []Group
	params     []*model.Param // every trained parameter, in group order
	train, val Dataset
	sched      Schedule
	opt        *adamW

	permEpoch int
	perm      []int
}

// New prepares a run of cfg on train, validating every example (and those
// of val, which may be nil) so a bad record fails now, not hours later.
func New(m *model.Model, groups []Group, train, val Dataset, cfg Config) (*Trainer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if train == nil || train.Len() == 0 {
		return nil, errors.New("train: the training set is empty")
	}
	t := &Trainer{Model: m, cfg: cfg, groups: groups, train: train, val: val, permEpoch: -1}
	seen := map[*model.Param]bool{}
	for _, g := range groups {
		for _, p := range g.Params {
			switch {
			case seen[p]:
				return nil, fmt.Errorf("train: parameter %s is in two groups", p.Name)
			case p.Grad == nil:
				return nil, fmt.Errorf("train: parameter %s of group %q has no gradient buffer", p.Name, g.Name)
			}
			seen[p] = true
			t.params = append(t.params, p)
		}
	}
	if len(t.params) == 0 {
		return nil, errors.New("train: nothing to train")
	}
	for _, d := range []struct {
		name string
		ds   Dataset
	}{{"training", train}, {"validation", val}} {
		if d.ds == nil {
			continue
		}
		for i := 0; i < d.ds.Len(); i++ {
			ex, err := d.ds.Example(i)
			if err != nil {
				return nil, fmt.Errorf("train: %s example %d: %w", d.name, i, err)
			}
			if err := checkExample(d.name, i, ex, m.Config, cfg.SeqLen); err != nil {
				return nil, err
			}
		}
	}
	t.sched = Schedule{Name: cfg.Schedule, Warmup: cfg.WarmupSteps, Total: cfg.TotalSteps(train.Len())}
	t.opt = newAdamW(&cfg, groups)
	return t, nil
}

// Config returns the run's configuration.
func (t *Trainer) Config() Config { return t.cfg }

// TotalSteps is the number of optimizer steps of the whole run.
func (t *Trainer) TotalSteps() int { return t.sched.Total }

// Done reports whether the run has finished: all steps done, or stopped
// early.
func (t *Trainer) Done() bool { return t.State.Step >= t.sched.Total || t.State.EarlyStop }

// example returns the example at stream position g (see the package
// documentation).
func (t *Trainer) example(g int) (Example, error) {
	n := t.train.Len()
	if e := g / n; e != t.permEpoch {
		t.perm, t.permEpoch = permutation(n, t.cfg.Seed, e, t.cfg.Shuffle), e
	}
	return t.train.Example(t.perm[g%n])
}

// StepBatches returns the micro-batches of optimizer step s (counting from
// 0) and their total number of target tokens.
func (t *Trainer) StepBatches(s int) ([]*model.Batch, int, error) {
	B, G := t.cfg.BatchSize, t.cfg.GradAccum
	var out []*model.Batch
	tokens := 0
	for j := 0; j < G; j++ {
		exs := make([]Example, B)
		for r := range exs {
			ex, err := t.example((s*G+j)*B + r)
			if err != nil {
				return nil, 0, fmt.Errorf("train: step %d: %w", s, err)
			}
			exs[r] = ex
		}
		b, n := Collate(exs, t.cfg.SeqLen)
		out = append(out, b)
		tokens += n
	}
	return out, tokens, nil
}

// Step runs one optimizer step: forward and backward over the step's
// micro-batches with the loss scaled by 1/(their target tokens), gradient
// clipping, AdamW, and, when due, validation.
func (t *Trainer) Step(ctx context.Context) (StepLog, error) {
	if t.Done() {
		return StepLog{}, errors.New("train: the run is already done")
	}
	s := t.State.Step
	batches, _, err := t.StepBatches(s)
	if err != nil {
		return StepLog{}, err
	}
	// The model counts the targets: with prompt tuning the last virtual
	// token also predicts each sequence's first token, as in PEFT.
	tokens := 0
	for _, b := range batches {
		n, err := t.Model.TargetTokens(b)
		if err != nil {
			return StepLog{}, fmt.Errorf("train: step %d: %w", s, err)
		}
		tokens += n
	}
	for _, p := range t.params {
		clear(p.Grad)
	}
	scale := float32(1 / float64(tokens))
	var sum float64
	input := 0
	for j, b := range batches {
		for _, real := range b.Mask {
			if real {
				input++
			}
		}
		if err := ctx.Err(); err != nil {
			return StepLog{}, err // nothing changed yet: the step can be redone
		}
		res, err := t.Model.Backward(b, model.Options{
			LossScale:   scale,
			Recompute:   t.cfg.Recompute,
			Dropout:     t.cfg.Dropout,
			DropoutSeed: dropoutSeed(t.cfg.Seed, s, j),
		})
		if err != nil {
			return StepLog{}, fmt.Errorf("train: step %d micro-batch %d: %w", s, j, err)
		}
		sum += res.SumLoss
	}
	norm := clipGradNorm(t.params, t.cfg.MaxGradNorm)
	if math.IsNaN(norm) || math.IsInf(norm, 0) {
		return StepLog{}, fmt.Errorf("train: step %d: gradient norm is %v (loss %v); lower the learning rate", s, norm, sum/float64(tokens))
	}
	factor := t.sched.Factor(s)
	for i := range t.groups {
		g := &t.groups[i]
		t.opt.step(g, t.cfg.LR*g.lrScale()*factor, s+1)
	}
	t.State.Step++
	t.State.Tokens += int64(tokens)
	log := StepLog{Step: t.State.Step, Loss: sum / float64(tokens), LR: t.cfg.LR * factor, GradNorm: norm, Tokens: tokens, Input: input}
	if t.val != nil && t.val.Len() > 0 && t.evalDue() {
		// The step is already applied: finish its evaluation even when ctx
		// is cancelled, so the state stays one a resumed run also reaches.
		v, _, err := t.Evaluate(context.WithoutCancel(ctx), t.val)
		if err != nil {
			return log, err
		}
		log.ValLoss = &v
		t.observe(v)
	}
	return log, nil
}

func (t *Trainer) evalDue() bool {
	n := t.State.Step
	return n == t.sched.Total || (t.cfg.EvalSteps > 0 && n%t.cfg.EvalSteps == 0)
}

// observe records a validation loss for early stopping, as Hugging Face's
// EarlyStoppingCallback judges improvement.
func (t *Trainer) observe(v float64) {
	if t.State.Evals == 0 || (v < t.State.BestValLoss && t.State.BestValLoss-v > t.cfg.EarlyStoppingThreshold) {
		t.State.BestValLoss, t.State.BadEvals = v, 0
	} else {
		t.State.BadEvals++
	}
	t.State.Evals++
	if p := t.cfg.EarlyStoppingPatience; p > 0 && t.State.BadEvals >= p {
		t.State.EarlyStop = true
	}
}

// Evaluate returns the mean loss per target token of the model over ds, in
// batches of the run's batch size, and the number of target tokens.
func (t *Trainer) Evaluate(ctx context.Context, ds Dataset) (float64, int, error) {
	var sum float64
	tokens := 0
	for i := 0; i < ds.Len(); i += t.cfg.BatchSize {
		if err := ctx.Err(); err != nil {
			return 0, 0, err
		}
		var exs []Example
		for j := i; j < min(i+t.cfg.BatchSize, ds.Len()); j++ {
			ex, err := ds.Example(j)
			if err != nil {
				return 0, 0, fmt.Errorf("train: evaluation example %d: %w", j, err)
			}
			exs = append(exs, ex)
		}
		b, _ := Collate(exs, t.cfg.SeqLen)
		res, err := t.Model.Loss(b)
		if err != nil {
			return 0, 0, fmt.Errorf("train: evaluation batch at example %d: %w", i, err)
		}
		sum += res.SumLoss
		tokens += res.Tokens
	}
	if tokens == 0 {
		return math.NaN(), 0, nil
	}
	return sum / float64(tokens), tokens, nil
}

// Budget bounds one call of RunUntil.
type Budget struct {
	// Deadline, when set, is the time by which RunUntil must have returned.
	// A step starts only if the longest step seen so far (or StepEstimate,
	// if larger) still fits before it.
	Deadline     time.Time
	StepEstimate time.Duration
	// MaxSteps, when positive, caps the steps of this call.
	MaxSteps int
	// Now is the clock the deadline is read with (nil: time.Now).
	Now func() time.Time
}

func (b *Budget) now() time.Time {
	if b.Now != nil {
		return b.Now()
	}
	return time.Now()
}

// Stop says why RunUntil returned.
type Stop string

const (
	StopDone     Stop = "done"     // the run is finished
	StopDeadline Stop = "deadline" // the next step would not fit before the deadline
	StopSteps    Stop = "steps"    // MaxSteps were run
)

// RunUntil trains until the run is done, the budget is spent, ctx is
// cancelled or a step fails. It stops only between optimizer steps, so the
// state is always one a checkpoint can hold; onStep, if not nil, sees each
// step's log and may stop the run by returning an error.
func (t *Trainer) RunUntil(ctx context.Context, b Budget, onStep func(StepLog) error) (Stop, error) {
	longest := b.StepEstimate
	for n := 0; ; n++ {
		switch {
		case t.Done():
			return StopDone, nil
		case b.MaxSteps > 0 && n >= b.MaxSteps:
			return StopSteps, nil
		case !b.Deadline.IsZero() && b.now().Add(longest).After(b.Deadline):
			return StopDeadline, nil
		}
		if err := ctx.Err(); err != nil {
			return "", err
		}
		start := b.now()
		log, err := t.Step(ctx)
		if err != nil {
			return "", err
		}
		longest = max(longest, b.now().Sub(start))
		if onStep != nil {
			if err := onStep(log); err != nil {
				return "", err
			}
		}
	}
}

// LogLine is one line of a training log (train_log.jsonl): a step and how
// fast it ran. TokensPerSec counts input tokens (StepLog.Input), the work
// the step did.
type LogLine struct {
	StepLog
	TokensPerSec float64 `json:"tokens_per_s"`
	ElapsedSec   float64 `json:"elapsed_s"`
}
