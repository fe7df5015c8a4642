package eval

import "fmt"

// Forgetting compares base and tuned perplexity on general reference text.
type Forgetting struct {
	BasePerplexity  float64 `json:"base_perplexity"`
	TunedPerplexity float64 `json:"tuned_perplexity"`
	// RelativeChange is tuned/base − 1: 0.05 means the tuned model is 5 %
	// more perplexed by general text than the base was.
	RelativeChange float64 `json:"relative_change"`
	Flagged        bool    `json:"flagged"`
}

// Overfitting compares the tuned model's loss on a fixed sample of its
// training examples with its validation loss.
type Overfitting struct {
	TrainLoss      float64  `json:"train_loss"`
	ValidationLoss float64  `json:"validation_loss"`
	Gap            float64  `json:"gap"`   // validation − train (nats)
	Ratio          float64  `json:"ratio"` // validation / train; 0 when train is 0
	Flagged        bool     `json:"flagged"`
	Reasons        []string `json:"reasons,omitempty"`
}

// Rules are the thresholds that flag forgetting and overfitting.
//
// Forgetting is flagged when the relative perplexity change on the reference
// text exceeds MaxForgetting. Overfitting is flagged when the validation
// loss exceeds the training-sample loss by more than MaxGap nats and by more
// than a factor MaxRatio (both, so that neither a tiny absolute gap between
// small losses nor a small relative gap between large ones raises it), or
// when the last validation loss of training rose more than MaxValRise
// (relative) above the best one — the validation curve turned up.
type Rules struct {
	MaxForgetting float64 `json:"max_forgetting"`
	MaxGap        float64 `json:"max_gap"`
	MaxRatio      float64 `json:"max_ratio"`
	MaxValRise    float64 `json:"max_val_rise"`
}

// DefaultRules returns the thresholds lorafn uses unless told otherwise.
func DefaultRules() Rules {
	return Rules{MaxForgetting: 0.10, MaxGap: 0.10, MaxRatio: 1.25, MaxValRise: 0.02}
}

// NewForgetting compares base and tuned losses on the reference text.
func NewForgetting(base, tuned LossResult, r Rules) Forgetting {
	f := Forgetting{BasePerplexity: base.Perplexity, TunedPerplexity: tuned.Perplexity}
	f.RelativeChange = tuned.Perplexity/base.Perplexity - 1
	f.Flagged = f.RelativeChange > r.MaxForgetting
	return f
}

// NewOverfitting compares the training-sample and validation losses of the
// tuned model; training, when not nil, adds the validation-curve rule.
func NewOverfitting(trainSample, validation LossResult, training *TrainingSummary, r Rules) Overfitting {
	o := Overfitting{TrainLoss: trainSample.Loss, ValidationLoss: validation.Loss}
	o.Gap = o.ValidationLoss - o.TrainLoss
	ratioHigh := true // a zero training loss makes any gap infinitely relative
	if o.TrainLoss > 0 {
		o.Ratio = o.ValidationLoss / o.TrainLoss
		ratioHigh = o.Ratio > r.MaxRatio
	}
	if o.Gap > r.MaxGap && ratioHigh {
		o.Reasons = append(o.Reasons, fmt.Sprintf("validation loss %.4f exceeds training loss %.4f by %.4f nats (ratio %.3f; limits %.3g nats and %.3g)",
			o.ValidationLoss, o.TrainLoss, o.Gap, o.Ratio, r.MaxGap, r.MaxRatio))
	}
	if tr := training; tr != nil && tr.FinalValLoss != nil && tr.BestValLoss != nil {
		if rise := *tr.FinalValLoss / *tr.BestValLoss - 1; rise > r.MaxValRise {
			o.Reasons = append(o.Reasons, fmt.Sprintf("final validation loss %.4f is %.1f %% above the best, %.4f at step %d (limit %.3g %%)",
				*tr.FinalValLoss, 100*rise, *tr.BestValLoss, tr.BestValStep, 100*r.MaxValRise))
		}
	}
	o.Flagged = len(o.Reasons) > 0
	return o
}
