package eval

import (
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"strings"

	"github.com/lorafn/lorafn/internal/atomicfile"
)

// Report is the evaluation of one run: the base and the tuned model side by
// side, the signals derived from them, training and cost.
type Report struct {
	Run   string  `json:"run,omitempty"`
	Base  Metrics `json:"base"`
	Tuned Metrics `json:"tuned"`
	// ClassNames, when set, name the classes of the classification task
	// (decoded answers) in class order; otherwise classes show as token ids.
	ClassNames  []string         `json:"class_names,omitempty"`
	Forgetting  *Forgetting      `json:"forgetting,omitempty"`
	Overfitting *Overfitting     `json:"overfitting,omitempty"`
	Training    *TrainingSummary `json:"training,omitempty"`
	Usage       *Usage           `json:"usage,omitempty"`
	Cost        *Cost            `json:"cost,omitempty"` // an estimate from list prices
	Rules       Rules            `json:"rules"`
}

// ReportInput is what NewReport combines.
type ReportInput struct {
	Run         string
	Base, Tuned Metrics
	ClassNames  []string
	Training    *TrainingSummary // nil: no training log
	Usage       *Usage           // nil: no cost estimate
	Prices      Prices
	Rules       Rules
}

// NewReport derives forgetting (when both models were scored on reference
// text), overfitting (when the tuned model was scored on a training sample
// and the validation set) and the cost estimate (when usage is given).
func NewReport(in ReportInput) (*Report, error) {
	r := &Report{Run: in.Run, Base: in.Base, Tuned: in.Tuned, ClassNames: in.ClassNames, Training: in.Training, Usage: in.Usage, Rules: in.Rules}
	if in.Base.Reference != nil && in.Tuned.Reference != nil {
		f := NewForgetting(*in.Base.Reference, *in.Tuned.Reference, in.Rules)
		r.Forgetting = &f
	}
	if in.Tuned.TrainSample != nil && in.Tuned.Validation != nil {
		o := NewOverfitting(*in.Tuned.TrainSample, *in.Tuned.Validation, in.Training, in.Rules)
		r.Overfitting = &o
	}
	if in.Usage != nil {
		c, err := EstimateCost(*in.Usage, in.Prices)
		if err != nil {
			return nil, err
		}
		r.Cost = &c
	}
	return r, nil
}

// Report file names inside a report folder.
const (
	ReportJSON = "report.json"
	ReportMD   = "report.md"
	LossSVG    = "loss.svg"
)

// WriteFiles writes report.json, report.md and loss.svg into dir, each
// replaced atomically.
func (r *Report) WriteFiles(dir string) error {
	js, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("eval: report: %w", err)
	}
	var curve []LogLine
	if r.Training != nil {
		curve = r.Training.Curve
	}
	for _, f := range []struct {
		name string
		data []byte
	}{
		{ReportJSON, append(js, '\n')},
		{ReportMD, r.Markdown()},
		{LossSVG, LossCurveSVG(curve)},
	} {
		if err := atomicfile.WriteFile(filepath.Join(dir, f.name), f.data); err != nil {
			return fmt.Errorf("eval: report: %w", err)
		}
	}
	return nil
}

// Markdown renders the report as report.md: one table of base against tuned
// metrics, then forgetting, overfitting, per-class scores, training and cost.
func (r *Report) Markdown() []byte {
	var b strings.Builder
	title := "Evaluation report"
	if r.Run != "" {
		title += ": " + cell(r.Run)
	}
	fmt.Fprintf(&b, "# %s\n\n", title)
	r.metricsTable(&b)
	r.forgettingSection(&b)
	r.overfittingSection(&b)
	r.classSection(&b)
	r.trainingSection(&b)
	r.costSection(&b)
	return []byte(b.String())
}

// row is one line of the metrics table; nil values show as "–".
type row struct {
	name        string
	base, tuned *float64
	kind        valueKind
}

type valueKind int

const (
	plain   valueKind = iota // 4 decimals, change as a difference
	percent                  // a share shown in %, change in points
	ppl                      // perplexity, change relative
)

func (r *Report) metricsTable(b *strings.Builder) {
	var rows []row
	loss := func(name string, base, tuned *LossResult) {
		if base == nil && tuned == nil {
			return
		}
		rows = append(rows,
			row{name + " loss", lossOf(base), lossOf(tuned), plain},
			row{name + " perplexity", pplOf(base), pplOf(tuned), ppl})
	}
	loss("Validation", r.Base.Validation, r.Tuned.Validation)
	bc, tc := r.Base.Classification, r.Tuned.Classification
	if bc != nil || tc != nil {
		get := func(c *Classification, f func(*Classification) float64) *float64 {
			if c == nil {
				return nil
			}
			v := f(c)
			return &v
		}
		n := 0
		for _, c := range []*Classification{bc, tc} {
			if c != nil {
				n = c.Examples
			}
		}
		rows = append(rows,
			row{fmt.Sprintf("Accuracy (%d examples)", n), get(bc, func(c *Classification) float64 { return c.Accuracy }), get(tc, func(c *Classification) float64 { return c.Accuracy }), percent},
			row{"Macro-F1", get(bc, func(c *Classification) float64 { return c.MacroF1 }), get(tc, func(c *Classification) float64 { return c.MacroF1 }), percent},
			row{"Majority-class accuracy", get(bc, func(c *Classification) float64 { return c.MajorityAccuracy }), get(tc, func(c *Classification) float64 { return c.MajorityAccuracy }), percent})
	}
	be, te := r.Base.ExactMatch, r.Tuned.ExactMatch
	if be != nil || te != nil {
		get := func(e *ExactMatchResult) *float64 {
			if e == nil {
				return nil
			}
			return &e.ExactMatch
		}
		n := 0
		for _, e := range []*ExactMatchResult{be, te} {
			if e != nil {
				n = e.Examples
			}
		}
		rows = append(rows, row{fmt.Sprintf("Exact match (%d examples)", n), get(be), get(te), percent})
	}
	loss("Reference-text", r.Base.Reference, r.Tuned.Reference)
	loss("Training-sample", r.Base.TrainSample, r.Tuned.TrainSample)
	if len(rows) == 0 {
		return
	}
	b.WriteString("## Metrics\n\n| Metric | Base | Tuned | Change |\n|---|---:|---:|---:|\n")
	for _, x := range rows {
		fmt.Fprintf(b, "| %s | %s | %s | %s |\n", x.name, x.kind.format(x.base), x.kind.format(x.tuned), x.kind.change(x.base, x.tuned))
	}
	b.WriteString("\n")
}

func lossOf(l *LossResult) *float64 {
	if l == nil {
		return nil
	}
	return &l.Loss
}

func pplOf(l *LossResult) *float64 {
	if l == nil {
		return nil
	}
	return &l.Perplexity
}

const missing = "–"

func (k valueKind) format(v *float64) string {
	switch {
	case v == nil:
		return missing
	case k == percent:
		return fmt.Sprintf("%.1f %%", 100**v)
	case k == ppl:
		return fmt.Sprintf("%.3f", *v)
	}
	return fmt.Sprintf("%.4f", *v)
}

func (k valueKind) change(base, tuned *float64) string {
	if base == nil || tuned == nil {
		return missing
	}
	switch k {
	case percent:
		return fmt.Sprintf("%+.1f pp", 100*(*tuned-*base))
	case ppl:
		if *base == 0 {
			return missing
		}
		return fmt.Sprintf("%+.1f %%", 100*(*tuned / *base - 1))
	}
	return fmt.Sprintf("%+.4f", *tuned-*base)
}

func (r *Report) forgettingSection(b *strings.Builder) {
	f := r.Forgetting
	if f == nil {
		return
	}
	fmt.Fprintf(b, "## Forgetting\n\nPerplexity on general reference text went from %.3f (base) to %.3f (tuned), a change of %+.1f %%. %s (limit %+.1f %%).\n\n",
		f.BasePerplexity, f.TunedPerplexity, 100*f.RelativeChange, verdict(f.Flagged, "Forgetting flagged", "Within bounds"), 100*r.Rules.MaxForgetting)
}

func (r *Report) overfittingSection(b *strings.Builder) {
	o := r.Overfitting
	if o == nil {
		return
	}
	fmt.Fprintf(b, "## Overfitting\n\n| Signal | Value |\n|---|---:|\n| Training-sample loss | %.4f |\n| Validation loss | %.4f |\n| Gap | %+.4f |\n| Ratio | %.3f |\n\n",
		o.TrainLoss, o.ValidationLoss, o.Gap, o.Ratio)
	if !o.Flagged {
		fmt.Fprintf(b, "Not flagged (limits: gap %.3g nats and ratio %.3g together; validation rise %.3g %% over its best).\n\n", r.Rules.MaxGap, r.Rules.MaxRatio, 100*r.Rules.MaxValRise)
		return
	}
	b.WriteString("Overfitting flagged:\n\n")
	for _, reason := range o.Reasons {
		fmt.Fprintf(b, "- %s\n", reason)
	}
	b.WriteString("\n")
}

func verdict(flagged bool, yes, no string) string {
	if flagged {
		return yes
	}
	return no
}

// className names class k for the tables.
func (r *Report) className(classes [][]int, k int) string {
	if k < len(r.ClassNames) {
		return cell(r.ClassNames[k])
	}
	return cell(key(classes[k]))
}

func (r *Report) classSection(b *strings.Builder) {
	tc, bc := r.Tuned.Classification, r.Base.Classification
	if tc == nil {
		return
	}
	b.WriteString("## Classes\n\n| Class | Support | Precision | Recall | F1 | Base F1 |\n|---|---:|---:|---:|---:|---:|\n")
	for k, s := range tc.PerClass {
		baseF1 := missing
		if bc != nil && k < len(bc.PerClass) {
			baseF1 = fmt.Sprintf("%.3f", bc.PerClass[k].F1)
		}
		fmt.Fprintf(b, "| %s | %d | %.3f | %.3f | %.3f | %s |\n", r.className(tc.Classes, k), s.Support, s.Precision, s.Recall, s.F1, baseF1)
	}
	b.WriteString("\nConfusion matrix of the tuned model (rows: gold class, columns: predicted class):\n\n| Gold \\ Predicted |")
	for k := range tc.Classes {
		fmt.Fprintf(b, " %s |", r.className(tc.Classes, k))
	}
	b.WriteString("\n|---|" + strings.Repeat("---:|", len(tc.Classes)) + "\n")
	for g, counts := range tc.Confusion.Counts {
		fmt.Fprintf(b, "| %s |", r.className(tc.Classes, g))
		for _, n := range counts {
			fmt.Fprintf(b, " %d |", n)
		}
		b.WriteString("\n")
	}
	b.WriteString("\n")
}

func (r *Report) trainingSection(b *strings.Builder) {
	t := r.Training
	if t == nil {
		return
	}
	b.WriteString("## Training\n\n| Quantity | Value |\n|---|---:|\n")
	fmt.Fprintf(b, "| Steps | %d |\n| Tokens processed | %d |\n| Target tokens | %d |\n| Training time | %.1f s |\n| Throughput | %.1f tokens/s |\n| Final training loss | %.4f |\n",
		t.Steps, t.InputTokens, t.Tokens, t.Seconds, t.TokensPerSec, t.FinalTrainLoss)
	if t.FinalValLoss != nil {
		fmt.Fprintf(b, "| Final validation loss | %.4f |\n", *t.FinalValLoss)
	}
	if t.BestValLoss != nil {
		fmt.Fprintf(b, "| Best validation loss | %.4f (step %d) |\n", *t.BestValLoss, t.BestValStep)
	}
	fmt.Fprintf(b, "\n![Loss curve](%s)\n\n", LossSVG)
}

func (r *Report) costSection(b *strings.Builder) {
	c, u := r.Cost, r.Usage
	if c == nil || u == nil {
		return
	}
	b.WriteString("## Cost estimate\n\nList prices, no free tier.\n\n| Item | Quantity | Cost (USD) |\n|---|---:|---:|\n")
	fmt.Fprintf(b, "| Lambda duration (%s, %d MB) | %.1f GB-s | %s |\n", u.Arch, u.LambdaMemoryMB, c.LambdaGBSeconds, usd(c.LambdaDuration))
	fmt.Fprintf(b, "| Lambda requests | %d | %s |\n", u.LambdaInvocations, usd(c.LambdaRequests))
	if c.LambdaEphemeral > 0 {
		fmt.Fprintf(b, "| Lambda /tmp above 512 MB | %d MB | %s |\n", u.LambdaEphemeralMB, usd(c.LambdaEphemeral))
	}
	fmt.Fprintf(b, "| Step Functions transitions | %d | %s |\n", u.StateTransitions, usd(c.StepFunctions))
	if len(u.BatchJobs) > 0 {
		fmt.Fprintf(b, "| Batch instance time (%d jobs) | %.0f s | %s |\n", len(u.BatchJobs), c.BatchSeconds, usd(c.Batch))
	}
	fmt.Fprintf(b, "| **Total** | | **%s** |\n\n", usd(c.Total))
}

// usd shows dollars with enough digits for sub-cent items.
func usd(v float64) string {
	if v != 0 && math.Abs(v) < 0.01 {
		return fmt.Sprintf("$%.6f", v)
	}
	return fmt.Sprintf("$%.4f", v)
}

// cell makes text safe inside a Markdown table cell.
func cell(s string) string {
	s = strings.ReplaceAll(s, "\\", "\\\\")
	s = strings.ReplaceAll(s, "|", "\\|")
	s = strings.ReplaceAll(s, "\r", " ")
	s = strings.ReplaceAll(s, "\n", " ")
	if strings.TrimSpace(s) == "" {
		return fmt.Sprintf("%q", s)
	}
	return s
}
