package eval

import (
	"math"
	"strings"
	"testing"
)

func TestForgettingRule(t *testing.T) {
	r := DefaultRules()
	base := LossResult{Loss: 2, Perplexity: math.Exp(2)}
	for _, c := range []struct {
		loss    float64
		flagged bool
	}{
		{2, false},
		{1.9, false},                // better on general text
		{2 + math.Log(1.09), false}, // +9 %
		{2 + math.Log(1.11), true},  // +11 %
		{2 + math.Log(1.5), true},
	} {
		f := NewForgetting(base, LossResult{Loss: c.loss, Perplexity: math.Exp(c.loss)}, r)
		if want := math.Exp(c.loss-2) - 1; math.Abs(f.RelativeChange-want) > 1e-12 {
			t.Errorf("loss %v: change %v, want %v", c.loss, f.RelativeChange, want)
		}
		if f.Flagged != c.flagged {
			t.Errorf("loss %v (change %+.3f): flagged %v, want %v", c.loss, f.RelativeChange, f.Flagged, c.flagged)
		}
	}
}

func TestOverfittingRule(t *testing.T) {
	r := DefaultRules() // gap > 0.10 nats and ratio > 1.25, or validation rise > 2 %
	f := func(v float64) *float64 { return &v }
	for _, c := range []struct {
		name       string
		train, val float64
		training   *TrainingSummary
		reasons    int
		gap, ratio float64
	}{
		{"healthy", 1.0, 1.05, nil, 0, 0.05, 1.05},
		{"large ratio, tiny gap", 0.02, 0.05, nil, 0, 0.03, 2.5},
		{"large gap, small ratio", 4.0, 4.5, nil, 0, 0.5, 1.125},
		{"both", 0.5, 1.0, nil, 1, 0.5, 2},
		{"validation turned up", 1.0, 1.05, &TrainingSummary{FinalValLoss: f(1.05), BestValLoss: f(1.0), BestValStep: 40}, 1, 0.05, 1.05},
		{"validation flat", 1.0, 1.05, &TrainingSummary{FinalValLoss: f(1.01), BestValLoss: f(1.0)}, 0, 0.05, 1.05},
		{"zero training loss", 0, 0.5, nil, 1, 0.5, 0},
	} {
		o := NewOverfitting(LossResult{Loss: c.train}, LossResult{Loss: c.val}, c.training, r)
		if len(o.Reasons) != c.reasons || o.Flagged != (c.reasons > 0) {
			t.Errorf("%s: flagged %v reasons %q, want %d reasons", c.name, o.Flagged, o.Reasons, c.reasons)
		}
		if math.Abs(o.Gap-c.gap) > 1e-12 || math.Abs(o.Ratio-c.ratio) > 1e-12 {
			t.Errorf("%s: gap %v ratio %v, want %v and %v", c.name, o.Gap, o.Ratio, c.gap, c.ratio)
		}
	}
	o := NewOverfitting(LossResult{Loss: 0.5}, LossResult{Loss: 1}, &TrainingSummary{FinalValLoss: f(1.1), BestValLoss: f(1), BestValStep: 7}, r)
	if len(o.Reasons) != 2 || !strings.Contains(o.Reasons[1], "step 7") {
		t.Errorf("reasons %q: want both rules, the second naming step 7", o.Reasons)
	}
}
