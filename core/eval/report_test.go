package eval

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// splitRow splits a Markdown table row into trimmed cells, honouring \|.
func splitRow(line string) []string {
	line = strings.TrimSpace(line)
	line = strings.TrimPrefix(strings.TrimSuffix(line, "|"), "|")
	var cells []string
	var cur strings.Builder
	for i := 0; i < len(line); i++ {
		switch {
		case line[i] == '\\' && i+1 < len(line):
			i++
			cur.WriteByte(line[i])
		case line[i] == '|':
			cells = append(cells, strings.TrimSpace(cur.String()))
			cur.Reset()
		default:
			cur.WriteByte(line[i])
		}
	}
	return append(cells, strings.TrimSpace(cur.String()))
}

// tableAfter returns the rows (header excluded) of the first table after
// the line starting with heading, keyed by their first cell.
func tableAfter(t *testing.T, md, heading string) (header []string, rows map[string][]string, order []string) {
	t.Helper()
	i := strings.Index(md, heading)
	if i < 0 {
		t.Fatalf("no %q in\n%s", heading, md)
	}
	rows = map[string][]string{}
	inTable := false
	for _, line := range strings.Split(md[i:], "\n") {
		if !strings.HasPrefix(line, "|") {
			if inTable {
				break
			}
			continue
		}
		cells := splitRow(line)
		switch {
		case !inTable:
			header, inTable = cells, true
		case strings.HasPrefix(cells[0], "---"):
		default:
			rows[cells[0]] = cells[1:]
			order = append(order, cells[0])
		}
	}
	return header, rows, order
}

// number reads a rendered value: "12.5 %", "+3.0 pp", "$0.0105", "1.2 s".
func number(t *testing.T, s string) float64 {
	t.Helper()
	s = strings.Trim(s, "*")
	s = strings.TrimPrefix(s, "$")
	if f := strings.Fields(s); len(f) > 0 {
		s = f[0]
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("cell %q: %v", s, err)
	}
	return v
}

func within(t *testing.T, what string, got, want, tol float64) {
	t.Helper()
	if math.Abs(got-want) > tol {
		t.Errorf("%s: %v, want %v (±%v)", what, got, want, tol)
	}
}

func lossResult(loss float64, tokens int) *LossResult {
	return &LossResult{Loss: loss, Perplexity: math.Exp(loss), Tokens: tokens, Examples: tokens / 10}
}

func classification(gold, pred []int, classes [][]int) *Classification {
	c := confusionOf(len(classes), gold, pred)
	maj, b := c.Majority()
	return &Classification{Classes: classes, Examples: len(gold), Accuracy: c.Accuracy(), MacroF1: c.MacroF1(), PerClass: c.PerClass(), Confusion: c,
		MajorityClass: maj, MajorityAccuracy: b.Accuracy(), MajorityMacroF1: b.MacroF1()}
}

// sampleReport is a report built from hand-made inputs.
func sampleReport(t *testing.T) (*Report, ReportInput) {
	t.Helper()
	classes := [][]int{{5, 2}, {9, 2}, {4, 2}}
	gold := []int{0, 0, 0, 0, 1, 1, 1, 2, 2, 2}
	in := ReportInput{
		Run: "run-7",
		Base: Metrics{
			Validation:     lossResult(2.3456789, 420),
			Reference:      lossResult(3.1, 900),
			Classification: classification(gold, []int{0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, classes),
		},
		Tuned: Metrics{
			Validation:     lossResult(0.8123456, 420),
			Reference:      lossResult(3.3, 900),
			TrainSample:    lossResult(0.41, 300),
			Classification: classification(gold, []int{0, 0, 0, 1, 1, 1, 1, 2, 2, 0}, classes),
		},
		ClassNames: []string{"ham", "spam|junk", "other"},
		Usage:      &Usage{Arch: ARM64, LambdaMemoryMB: 3008, LambdaSeconds: 1234.5, LambdaInvocations: 12, StateTransitions: 61},
		Prices:     DefaultPrices(),
		Rules:      DefaultRules(),
	}
	lines, err := ReadTrainLog(strings.NewReader(sampleLog), "train_log.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	s := Summarize(lines)
	in.Training = &s
	r, err := NewReport(in)
	if err != nil {
		t.Fatal(err)
	}
	return r, in
}

func TestReportDerivesSignalsFromItsInputs(t *testing.T) {
	r, in := sampleReport(t)
	if r.Forgetting == nil || r.Overfitting == nil || r.Cost == nil {
		t.Fatalf("forgetting %v overfitting %v cost %v: all must be derived", r.Forgetting, r.Overfitting, r.Cost)
	}
	within(t, "forgetting", r.Forgetting.RelativeChange, math.Exp(3.3-3.1)-1, 1e-12)
	if !r.Forgetting.Flagged { // +22 % > 10 %
		t.Error("a 22 % perplexity rise must be flagged")
	}
	within(t, "overfitting gap", r.Overfitting.Gap, 0.8123456-0.41, 1e-12)
	// gap 0.40 > 0.10 and ratio 1.98 > 1.25; val loss 2.65 is 1.9 % above its best 2.6 (< 2 %).
	if len(r.Overfitting.Reasons) != 1 {
		t.Errorf("overfitting reasons %q, want the gap rule only", r.Overfitting.Reasons)
	}
	c, _ := EstimateCost(*in.Usage, in.Prices)
	if *r.Cost != c {
		t.Errorf("cost %+v, want %+v", *r.Cost, c)
	}
	none, err := NewReport(ReportInput{Base: Metrics{Validation: lossResult(1, 10)}, Tuned: Metrics{Validation: lossResult(1, 10)}})
	if err != nil || none.Forgetting != nil || none.Overfitting != nil || none.Cost != nil {
		t.Errorf("without reference, training sample or usage nothing is derived: %+v, %v", none, err)
	}
	if _, err := NewReport(ReportInput{Usage: &Usage{Arch: "sparc", LambdaSeconds: 1}}); err == nil {
		t.Error("an unpriced architecture must fail the report")
	}
}

func TestMarkdownTablesHoldTheInputs(t *testing.T) {
	r, in := sampleReport(t)
	md := string(r.Markdown())
	if !strings.HasPrefix(md, "# Evaluation report: run-7\n") {
		t.Errorf("title: %q", strings.SplitN(md, "\n", 2)[0])
	}
	header, rows, _ := tableAfter(t, md, "## Metrics")
	if strings.Join(header, ",") != "Metric,Base,Tuned,Change" {
		t.Errorf("header %q", header)
	}
	check := func(name string, base, tuned, change, tol float64) {
		t.Helper()
		row, ok := rows[name]
		if !ok {
			t.Errorf("no row %q in %v", name, rows)
			return
		}
		within(t, name+" base", number(t, row[0]), base, tol)
		within(t, name+" tuned", number(t, row[1]), tuned, tol)
		within(t, name+" change", number(t, row[2]), change, tol)
	}
	bv, tv := in.Base.Validation, in.Tuned.Validation
	check("Validation loss", bv.Loss, tv.Loss, tv.Loss-bv.Loss, 1e-4)
	check("Validation perplexity", bv.Perplexity, tv.Perplexity, 100*(tv.Perplexity/bv.Perplexity-1), 0.05)
	bc, tc := in.Base.Classification, in.Tuned.Classification
	check("Accuracy (10 examples)", 100*bc.Accuracy, 100*tc.Accuracy, 100*(tc.Accuracy-bc.Accuracy), 0.05)
	check("Macro-F1", 100*bc.MacroF1, 100*tc.MacroF1, 100*(tc.MacroF1-bc.MacroF1), 0.05)
	check("Majority-class accuracy", 40, 40, 0, 0.05)
	br, tr := in.Base.Reference, in.Tuned.Reference
	check("Reference-text loss", br.Loss, tr.Loss, tr.Loss-br.Loss, 1e-4)
	if row := rows["Training-sample loss"]; len(row) != 3 || row[0] != missing || row[2] != missing {
		t.Errorf("training-sample row %q: the base was not measured, so base and change are %q", row, missing)
	}
	if _, ok := rows["Exact match (0 examples)"]; ok {
		t.Error("exact match was not measured but has a row")
	}

	// Per-class scores and the confusion matrix, names escaped.
	_, classRows, order := tableAfter(t, md, "## Classes")
	if strings.Join(order, ",") != strings.Join(in.ClassNames, ",") {
		t.Errorf("class rows %q, want %q", order, in.ClassNames)
	}
	for k, name := range in.ClassNames {
		s, row := tc.PerClass[k], classRows[name]
		within(t, name+" support", number(t, row[0]), float64(s.Support), 0)
		within(t, name+" F1", number(t, row[3]), s.F1, 5e-4)
		within(t, name+" base F1", number(t, row[4]), bc.PerClass[k].F1, 5e-4)
	}
	cmHeader, cm, _ := tableAfter(t, md, "Confusion matrix")
	if strings.Join(cmHeader[1:], ",") != strings.Join(in.ClassNames, ",") {
		t.Errorf("confusion header %q", cmHeader)
	}
	for g, name := range in.ClassNames {
		for p := range in.ClassNames {
			if got := int(number(t, cm[name][p])); got != tc.Confusion.Counts[g][p] {
				t.Errorf("confusion[%s][%s] = %d, want %d", name, in.ClassNames[p], got, tc.Confusion.Counts[g][p])
			}
		}
	}

	_, train, _ := tableAfter(t, md, "## Training")
	within(t, "steps", number(t, train["Steps"][0]), float64(in.Training.Steps), 0)
	within(t, "throughput", number(t, train["Throughput"][0]), in.Training.TokensPerSec, 0.05)
	within(t, "best val", number(t, train["Best validation loss"][0]), *in.Training.BestValLoss, 1e-4)
	if !strings.Contains(train["Best validation loss"][0], fmt.Sprintf("(step %d)", in.Training.BestValStep)) {
		t.Errorf("best validation loss cell %q lacks its step", train["Best validation loss"][0])
	}
	if !strings.Contains(md, "![Loss curve](loss.svg)") {
		t.Error("the loss curve is not linked")
	}

	_, cost, _ := tableAfter(t, md, "## Cost estimate")
	within(t, "total", number(t, cost["**Total**"][1]), r.Cost.Total, 1e-4)
	within(t, "GB-s", number(t, cost["Lambda duration (arm64, 3008 MB)"][0]), 1234.5*3008/1024, 0.05)
	within(t, "transitions", number(t, cost["Step Functions transitions"][0]), 61, 0)

	for _, want := range []string{"Forgetting flagged", "Overfitting flagged:", "- validation loss 0.8123"} {
		if !strings.Contains(md, want) {
			t.Errorf("report.md lacks %q", want)
		}
	}
}

func TestMarkdownWithoutClassNamesShowsTokenIDs(t *testing.T) {
	r, _ := sampleReport(t)
	r.ClassNames = nil
	_, rows, order := tableAfter(t, string(r.Markdown()), "## Classes")
	if strings.Join(order, " ") != "5,2 9,2 4,2" || len(rows) != 3 {
		t.Errorf("class rows %q, want token ids", order)
	}
}

func TestReportJSONAndFiles(t *testing.T) {
	r, in := sampleReport(t)
	dir := t.TempDir()
	if err := r.WriteFiles(dir); err != nil {
		t.Fatal(err)
	}
	js, err := os.ReadFile(filepath.Join(dir, ReportJSON))
	if err != nil {
		t.Fatal(err)
	}
	var back Report
	if err := json.Unmarshal(js, &back); err != nil {
		t.Fatal(err)
	}
	if back.Run != "run-7" || back.Tuned.Classification.Accuracy != in.Tuned.Classification.Accuracy ||
		back.Base.Validation.Loss != in.Base.Validation.Loss || back.Cost.Total != r.Cost.Total ||
		*back.Training.BestValLoss != *in.Training.BestValLoss || back.Usage.Arch != ARM64 || back.Rules != in.Rules {
		t.Errorf("report.json does not round-trip:\n%s", js)
	}
	var keys map[string]json.RawMessage
	json.Unmarshal(js, &keys)
	for _, k := range []string{"base", "tuned", "forgetting", "overfitting", "training", "usage", "cost", "rules", "class_names"} {
		if _, ok := keys[k]; !ok {
			t.Errorf("report.json lacks %q", k)
		}
	}
	md, _ := os.ReadFile(filepath.Join(dir, ReportMD))
	if string(md) != string(r.Markdown()) {
		t.Error("report.md differs from Markdown()")
	}
	svg, _ := os.ReadFile(filepath.Join(dir, LossSVG))
	if err := wellFormed(svg); err != nil {
		t.Fatal(err)
	}
	es, _ := parseSVG(svg)
	if train := byClass(es, "train"); len(train) != 1 || len(points(t, train[0])) != in.Training.Steps {
		t.Errorf("loss.svg does not plot the %d logged steps", in.Training.Steps)
	}
}
