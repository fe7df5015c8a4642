package tune

import (
	"context"
	"maps"
	"math"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/lorafn/lorafn/core/peft/lora"
	"github.com/lorafn/lorafn/core/train"
)

// resumeCase is a run that exercises every piece of trainer state: shuffled
// epochs, warmup and a cosine schedule, clipping, accumulation, adapter
// dropout, weight decay, LoRA+ and periodic validation.
func resumeCase(method string) (Spec, train.Config) {
	spec := Spec{Method: method, LoRA: lora.DefaultConfig(), LoRAPlusRatio: 4, LastK: 1, TrainNorm: true}
	spec.LoRA.R, spec.LoRA.Alpha, spec.LoRA.Dropout = 4, 8, 0.2
	spec.LoRA.TargetModules = lora.ParseTargets("all-linear")
	spec.Prompt.NumVirtualTokens, spec.Prefix.NumVirtualTokens = 3, 3
	cfg := train.DefaultConfig()
	cfg.LR, cfg.Schedule, cfg.WarmupSteps = 5e-3, train.Cosine, 2
	cfg.WeightDecay, cfg.MaxGradNorm = 0.05, 0.5
	cfg.BatchSize, cfg.GradAccum, cfg.SeqLen = 2, 2, 12
	cfg.Steps, cfg.EvalSteps, cfg.Seed = 8, 3, 7
	return spec, cfg
}

type run struct {
	tuned   *Tuned
	trainer *train.Trainer
	logs    []train.StepLog
}

func newRun(t *testing.T, base string, spec Spec, cfg train.Config) *run {
	t.Helper()
	m := loadBase(t, base)
	tuned, err := Setup(m, spec, 11)
	if err != nil {
		t.Fatal(err)
	}
	data := randomExamples(13, 14, m.Config.VocabSize, 1)
	val := randomExamples(5, 10, m.Config.VocabSize, 2)
	tr, err := train.New(m, tuned.Groups(), data, val, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return &run{tuned: tuned, trainer: tr}
}

func (r *run) steps(t *testing.T, n int) {
	t.Helper()
	_, err := r.trainer.RunUntil(context.Background(), train.Budget{MaxSteps: n}, func(l train.StepLog) error {
		r.logs = append(r.logs, l)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestResumeIsBitIdentical cuts a run at several steps, saves a checkpoint,
// continues in a fresh model and trainer on a different number of threads,
// and compares the saved result byte for byte with an uncut run.
func TestResumeIsBitIdentical(t *testing.T) {
	for _, method := range []string{LoRA, LastK, Full, DoRA, IA3, Prompt, Prefix} {
		t.Run(method, func(t *testing.T) {
			base := tinyBase(t, tinyLlama, 3)
			spec, cfg := resumeCase(method)
			whole := newRun(t, base, spec, cfg)
			whole.steps(t, 0)
			if !whole.trainer.Done() || len(whole.logs) != cfg.Steps {
				t.Fatalf("uncut run did %d steps, want %d", len(whole.logs), cfg.Steps)
			}
			wantDir := filepath.Join(t.TempDir(), "whole")
			if err := whole.tuned.Save(wantDir); err != nil {
				t.Fatal(err)
			}
			want := hashDir(t, wantDir)

			cuts := []int{1, 3, 6}
			if method != LoRA {
				cuts = []int{3}
			}
			for _, cut := range cuts {
				first := newRun(t, base, spec, cfg)
				first.steps(t, cut)
				ck := filepath.Join(t.TempDir(), "ck")
				if err := first.trainer.Save(ck); err != nil {
					t.Fatal(err)
				}
				procs := runtime.GOMAXPROCS(1 + cut%3)
				second := newRun(t, base, spec, cfg)
				if err := second.trainer.Load(ck); err != nil {
					t.Fatal(err)
				}
				second.steps(t, 0)
				runtime.GOMAXPROCS(procs)

				gotDir := filepath.Join(t.TempDir(), "resumed")
				if err := second.tuned.Save(gotDir); err != nil {
					t.Fatal(err)
				}
				if got := hashDir(t, gotDir); !maps.Equal(got, want) {
					t.Errorf("cut at step %d: files differ from the uncut run:\n got %v\nwant %v", cut, got, want)
				}
				logs := append(first.logs, second.logs...)
				for i := range logs {
					a, b := logs[i], whole.logs[i]
					if a.Loss != b.Loss || a.GradNorm != b.GradNorm || a.LR != b.LR || (a.ValLoss == nil) != (b.ValLoss == nil) || (a.ValLoss != nil && *a.ValLoss != *b.ValLoss) {
						t.Errorf("cut at %d: step %d log %+v, uncut %+v", cut, i+1, a, b)
					}
				}
				if second.trainer.State != whole.trainer.State {
					t.Errorf("cut at %d: state %+v, uncut %+v", cut, second.trainer.State, whole.trainer.State)
				}
			}
		})
	}
}

func TestCheckpointOfAnotherRunIsRefused(t *testing.T) {
	base := tinyBase(t, tinyLlama, 3)
	spec, cfg := resumeCase(LoRA)
	r := newRun(t, base, spec, cfg)
	r.steps(t, 2)
	ck := filepath.Join(t.TempDir(), "ck")
	if err := r.trainer.Save(ck); err != nil {
		t.Fatal(err)
	}
	other := cfg
	other.LR *= 2
	err := newRun(t, base, spec, other).trainer.Load(ck)
	if err == nil || !strings.Contains(err.Error(), "learning_rate") {
		t.Fatalf("loading a checkpoint of another learning rate: %v", err)
	}
	spec2 := spec
	spec2.LoRA.R = 2
	err = newRun(t, base, spec2, cfg).trainer.Load(ck)
	if err == nil || !strings.Contains(err.Error(), "groups") {
		t.Fatalf("loading a checkpoint of another rank: %v", err)
	}

	// A params file from another checkpoint is caught by its step.
	r.steps(t, 1)
	ck2 := filepath.Join(t.TempDir(), "ck2")
	if err := r.trainer.Save(ck2); err != nil {
		t.Fatal(err)
	}
	copyTestFile(t, filepath.Join(ck2, train.ParamsFile), filepath.Join(ck, train.ParamsFile))
	err = newRun(t, base, spec, cfg).trainer.Load(ck)
	if err == nil || !strings.Contains(err.Error(), "step") {
		t.Fatalf("loading mixed checkpoint files: %v", err)
	}
}

// TestLossFalls trains LoRA on a learnable pattern and expects the
// validation loss to fall by more than half.
func TestLossFalls(t *testing.T) {
	m := loadBase(t, tinyBase(t, tinyLlama, 5))
	spec := Spec{Method: LoRA, LoRA: lora.DefaultConfig()}
	spec.LoRA.R, spec.LoRA.Alpha = 8, 16
	spec.LoRA.TargetModules = lora.ParseTargets("all-linear")
	tuned, err := Setup(m, spec, 1)
	if err != nil {
		t.Fatal(err)
	}
	cfg := train.DefaultConfig()
	cfg.LR, cfg.BatchSize, cfg.SeqLen, cfg.Steps, cfg.WarmupSteps = 2e-2, 4, 16, 60, 5
	data := patternExamples(64, 16, m.Config.VocabSize, 1)
	val := patternExamples(8, 16, m.Config.VocabSize, 2)
	tr, err := train.New(m, tuned.Groups(), data, val, cfg)
	if err != nil {
		t.Fatal(err)
	}
	before, _, err := tr.Evaluate(context.Background(), val)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tr.RunUntil(context.Background(), train.Budget{}, nil); err != nil {
		t.Fatal(err)
	}
	after, _, _ := tr.Evaluate(context.Background(), val)
	t.Logf("validation loss %.4f -> %.4f", before, after)
	if !(after < 0.5*before) {
		t.Fatalf("validation loss %.4f -> %.4f: did not halve", before, after)
	}
}

// TestGradAccumulationMatchesLargerBatch: the gradient of one step of 2
// micro-batches of 1 equals that of one batch of 2, since both scale by the
// step's target tokens. (The weights after the step are not compared:
// AdamW's first update divides each gradient by its own magnitude, which
// magnifies rounding differences of near-zero gradients.)
func TestGradAccumulationMatchesLargerBatch(t *testing.T) {
	base := tinyBase(t, tinyLlama, 9)
	grads := func(bs, ga int) map[string][]float32 {
		spec, cfg := resumeCase(LoRA)
		spec.LoRA.Dropout = 0
		cfg.BatchSize, cfg.GradAccum, cfg.Steps, cfg.Shuffle, cfg.WarmupSteps, cfg.MaxGradNorm = bs, ga, 1, false, 0, 0
		r := newRun(t, base, spec, cfg)
		r.steps(t, 0)
		out := map[string][]float32{}
		for _, p := range r.tuned.Adapter.Params() {
			out[p.Name] = p.Grad // the step's gradient stays until the next step
		}
		return out
	}
	a, b := grads(2, 1), grads(1, 2)
	nonzero := 0
	for name, x := range a {
		y := b[name]
		var scale, diff float64
		for i := range x {
			scale = math.Max(scale, math.Abs(float64(x[i])))
			diff = math.Max(diff, math.Abs(float64(x[i]-y[i])))
		}
		if scale > 0 {
			nonzero++
		}
		if diff > 1e-5*scale {
			t.Errorf("%s: gradients of batch 2 vs 2×1 accumulated differ by %g (scale %g)", name, diff, scale)
		}
	}
	if nonzero == 0 {
		t.Fatal("every gradient is zero: the comparison tests nothing")
	}
}

func TestLastKTrainsOnlyTopLayers(t *testing.T) {
	m := loadBase(t, tinyBase(t, tinyLlama, 3))
	if _, err := Setup(m, Spec{Method: LastK, LastK: 1, TrainHead: true}, 1); err != nil {
		t.Fatal(err)
	}
	for _, p := range m.Params() {
		want := strings.HasPrefix(p.Name, "model.layers.2.") || p.Name == "lm_head.weight"
		if p.Trainable() != want {
			t.Errorf("%s trainable = %v, want %v", p.Name, p.Trainable(), want)
		}
	}
	if _, err := Setup(m, Spec{Method: LastK, LastK: 4}, 1); err == nil || !strings.Contains(err.Error(), "last_k") {
		t.Errorf("last_k beyond the layers: %v", err)
	}
	if _, err := Setup(m, Spec{Method: "houlsby"}, 1); err == nil || !strings.Contains(err.Error(), "method") {
		t.Errorf("unknown method: %v", err)
	}
}
