package eval

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"testing"

	"github.com/lorafn/lorafn/core/peft/lora"
	"github.com/lorafn/lorafn/core/train"
)

// TestMeasureBaseAgainstAdapter runs the evaluation the workflow runs: the
// base model, then base+LoRA, then the base again after Detach.
func TestMeasureBaseAgainstAdapter(t *testing.T) {
	ctx := context.Background()
	m := newModel(t, tinyLlama, 51)
	V := m.Config.VocabSize
	classes := [][]int{{7, 2}, {9, 2}}
	val := classTask(V, 8, classes, 52)
	trainSet := classTask(V, 20, classes, 53)
	rng := rand.New(rand.NewPCG(54, 54))
	var ref train.Examples
	for range 5 {
		ref = append(ref, train.Example{IDs: randomIDs(rng, 12, V)})
	}
	task, err := Tasks(val, ClassRule{})
	if err != nil {
		t.Fatal(err)
	}
	sets := Sets{Validation: val, Reference: ref, TrainSample: Sample(trainSet, 6), Task: task}
	opt := Options{Loss: LossOptions{BatchSize: 3}}

	base, err := Measure(ctx, m, sets, opt)
	if err != nil {
		t.Fatal(err)
	}
	if base.Classification == nil || base.ExactMatch != nil || base.TrainSample.Examples != 6 {
		t.Fatalf("classification %v exact match %v train sample %+v", base.Classification, base.ExactMatch, base.TrainSample)
	}
	direct, err := Loss(ctx, m, val, opt.Loss)
	if err != nil {
		t.Fatal(err)
	}
	if *base.Validation != direct {
		t.Errorf("Measure's validation %+v, Loss gives %+v", *base.Validation, direct)
	}

	cfg := lora.DefaultConfig()
	a, err := lora.Apply(m, cfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range a.Layers { // a trained adapter has B ≠ 0
		for i := range l.B.Data {
			l.B.Data[i] = float32(rng.NormFloat64() * 0.5)
		}
	}
	tuned, err := Measure(ctx, m, sets, opt)
	if err != nil {
		t.Fatal(err)
	}
	if tuned.Validation.Loss == base.Validation.Loss || tuned.Reference.Loss == base.Reference.Loss {
		t.Error("the adapter changed no loss")
	}
	a.Detach()
	again, err := Measure(ctx, m, sets, opt)
	if err != nil {
		t.Fatal(err)
	}
	if js(t, again) != js(t, base) {
		t.Error("the base model measured after Detach differs from before")
	}

	r, err := NewReport(ReportInput{Base: base, Tuned: tuned, Rules: DefaultRules()})
	if err != nil {
		t.Fatal(err)
	}
	within(t, "forgetting", r.Forgetting.RelativeChange, tuned.Reference.Perplexity/base.Reference.Perplexity-1, 1e-12)
	within(t, "overfitting gap", r.Overfitting.Gap, tuned.Validation.Loss-tuned.TrainSample.Loss, 1e-12)
	if err := r.WriteFiles(t.TempDir()); err != nil {
		t.Fatal(err)
	}

	// Answers that never repeat make a completion task: exact match.
	completion := train.Examples{promptAnswer([]int{4, 5}, []int{6}), promptAnswer([]int{4, 6}, []int{7, 8})}
	got, err := Measure(ctx, m, Sets{Validation: completion}, opt)
	if err != nil {
		t.Fatal(err)
	}
	if got.ExactMatch == nil || got.Classification != nil || got.ExactMatch.Examples != 2 || got.Reference != nil {
		t.Errorf("completion set: %+v", got)
	}
}

func js(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
