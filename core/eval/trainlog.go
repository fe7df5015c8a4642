package eval

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"sort"
)

// LogLine is one line of train_log.jsonl, as lorafn's trainer writes it.
type LogLine struct {
	Step         int      `json:"step"`
	Loss         float64  `json:"loss"`
	LR           float64  `json:"lr"`
	GradNorm     float64  `json:"grad_norm"`
	Tokens       int      `json:"tokens"`       // target tokens
	InputTokens  int      `json:"input_tokens"` // tokens processed; tokens_per_s counts these
	ValLoss      *float64 `json:"val_loss,omitempty"`
	TokensPerSec float64  `json:"tokens_per_s"`
	ElapsedSec   float64  `json:"elapsed_s"`
}

// ReadTrainLog reads train_log.jsonl from r; name labels errors, which give
// the line. Blank lines are skipped. When a step appears more than once (a
// resumed run redid it) the last line wins; the result is sorted by step.
func ReadTrainLog(r io.Reader, name string) ([]LogLine, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	byStep := map[int]LogLine{}
	for n := 1; sc.Scan(); n++ {
		text := sc.Bytes()
		if len(bytes.TrimSpace(text)) == 0 {
			continue
		}
		var l LogLine
		if err := json.Unmarshal(text, &l); err != nil {
			return nil, fmt.Errorf("eval: %s:%d: %w", name, n, err)
		}
		if err := l.check(); err != nil {
			return nil, fmt.Errorf("eval: %s:%d: %w", name, n, err)
		}
		byStep[l.Step] = l
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("eval: %s: %w", name, err)
	}
	out := make([]LogLine, 0, len(byStep))
	for _, l := range byStep {
		out = append(out, l)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Step < out[j].Step })
	return out, nil
}

// check rejects values no training step produces.
func (l LogLine) check() error {
	bad := func(x float64) bool { return math.IsNaN(x) || math.IsInf(x, 0) || x < 0 }
	switch {
	case l.Step <= 0:
		return fmt.Errorf("step %d: must be positive", l.Step)
	case bad(l.Loss):
		return fmt.Errorf("loss %v: must be finite and not negative", l.Loss)
	case l.ValLoss != nil && bad(*l.ValLoss):
		return fmt.Errorf("val_loss %v: must be finite and not negative", *l.ValLoss)
	case l.Tokens < 0 || l.InputTokens < 0:
		return fmt.Errorf("tokens %d: must not be negative", l.Tokens)
	case bad(l.TokensPerSec):
		return fmt.Errorf("tokens_per_s %v: must be finite and not negative", l.TokensPerSec)
	}
	return nil
}

// TrainingSummary condenses a training log.
type TrainingSummary struct {
	Steps  int `json:"steps"`  // last step logged
	Tokens int `json:"tokens"` // target tokens over all logged steps
	// InputTokens are the tokens processed (padding excluded); logs
	// without them count target tokens.
	InputTokens int `json:"input_tokens"`
	// Seconds is the training time, Σ tokens/tokens_per_s over the steps
	// that report a rate; it excludes checkpoint writes and restarts.
	Seconds        float64  `json:"seconds"`
	TokensPerSec   float64  `json:"tokens_per_s"` // InputTokens / Seconds over the same steps
	FinalTrainLoss float64  `json:"final_train_loss"`
	FinalValLoss   *float64 `json:"final_val_loss,omitempty"`
	BestValLoss    *float64 `json:"best_val_loss,omitempty"`
	BestValStep    int      `json:"best_val_step,omitempty"`
	// Curve is the log itself, for plotting.
	Curve []LogLine `json:"-"`
}

// Summarize condenses log lines sorted by step (ReadTrainLog's order).
// The best validation loss is the lowest, the earliest step among equals.
func Summarize(lines []LogLine) TrainingSummary {
	s := TrainingSummary{Curve: lines}
	timedTokens := 0
	for _, l := range lines {
		s.Steps = l.Step
		s.Tokens += l.Tokens
		work := l.InputTokens
		if work == 0 {
			work = l.Tokens // a log from before input_tokens was recorded
		}
		s.InputTokens += work
		s.FinalTrainLoss = l.Loss
		if l.TokensPerSec > 0 {
			s.Seconds += float64(work) / l.TokensPerSec
			timedTokens += work
		}
		if l.ValLoss != nil {
			v := *l.ValLoss
			s.FinalValLoss = &v
			if s.BestValLoss == nil || v < *s.BestValLoss {
				best := v
				s.BestValLoss, s.BestValStep = &best, l.Step
			}
		}
	}
	if s.Seconds > 0 {
		s.TokensPerSec = float64(timedTokens) / s.Seconds
	}
	return s
}
