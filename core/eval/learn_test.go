package eval

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/lorafn/lorafn/core/peft/lora"
	"github.com/lorafn/lorafn/core/train"
)

// TestTrainedAdapterBeatsBase trains LoRA briefly on a task the random base
// cannot do (the class is set by the prompt's last token) and checks that
// the metrics see it: tuned accuracy and validation loss clearly better.
func TestTrainedAdapterBeatsBase(t *testing.T) {
	ctx := context.Background()
	m := newModel(t, tinyLlama, 61)
	V := m.Config.VocabSize
	classes := [][]int{{7, 2}, {9, 2}}
	rng := rand.New(rand.NewPCG(62, 62))
	set := func(n int) train.Examples {
		var ds train.Examples
		for i := range n {
			p := randomIDs(rng, 3+rng.IntN(4), V)
			p[len(p)-1] = 10 + i%2 // the marker decides the class
			ds = append(ds, promptAnswer(p, classes[i%2]))
		}
		return ds
	}
	trainSet, val := set(64), set(16)

	task, err := Tasks(val, ClassRule{})
	if err != nil {
		t.Fatal(err)
	}
	sets := Sets{Validation: val, TrainSample: Sample(trainSet, 8), Task: task}
	base, err := Measure(ctx, m, sets, Options{})
	if err != nil {
		t.Fatal(err)
	}

	cfg := lora.DefaultConfig()
	cfg.Alpha = 16
	a, err := lora.Apply(m, cfg, 1)
	if err != nil {
		t.Fatal(err)
	}
	tc := train.DefaultConfig()
	tc.LR, tc.Steps, tc.Dropout, tc.EvalSteps = 3e-2, 100, false, 25
	tr, err := train.New(m, []train.Group{{Name: "lora", Params: a.Params()}}, trainSet, val, tc)
	if err != nil {
		t.Fatal(err)
	}
	var log []LogLine
	if _, err := tr.RunUntil(ctx, train.Budget{}, func(s train.StepLog) error {
		log = append(log, LogLine{Step: s.Step, Loss: s.Loss, LR: s.LR, GradNorm: s.GradNorm, Tokens: s.Tokens, ValLoss: s.ValLoss})
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	tuned, err := Measure(ctx, m, sets, Options{})
	if err != nil {
		t.Fatal(err)
	}
	bc, tcl := base.Classification, tuned.Classification
	t.Logf("accuracy %.3f -> %.3f, macro-F1 %.3f -> %.3f, validation loss %.4f -> %.4f",
		bc.Accuracy, tcl.Accuracy, bc.MacroF1, tcl.MacroF1, base.Validation.Loss, tuned.Validation.Loss)
	if tcl.Accuracy < 0.9 || tcl.Accuracy < bc.Accuracy+0.3 {
		t.Errorf("tuned accuracy %.3f (base %.3f): training did not show", tcl.Accuracy, bc.Accuracy)
	}
	if tuned.Validation.Loss > 0.5*base.Validation.Loss {
		t.Errorf("validation loss %.4f -> %.4f: want at least halved", base.Validation.Loss, tuned.Validation.Loss)
	}
	s := Summarize(log)
	if s.Steps != tc.Steps || s.BestValLoss == nil {
		t.Fatalf("summary %+v", s)
	}
	// The trainer's last validation loss is the validation set's loss.
	within(t, "final validation loss", *s.FinalValLoss, tuned.Validation.Loss, 1e-5)
	r, err := NewReport(ReportInput{Base: base, Tuned: tuned, Training: &s, Rules: DefaultRules()})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.WriteFiles(t.TempDir()); err != nil {
		t.Fatal(err)
	}
}
