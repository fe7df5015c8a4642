package tune

import (
	"encoding/json"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/lorafn/lorafn/core/model"
	"github.com/lorafn/lorafn/core/peft/lora"
	"github.com/lorafn/lorafn/core/train"
	"github.com/lorafn/lorafn/internal/torchref"
)

type torchCase struct {
	LoRA          *torchLoRA     `json:"lora"`
	Trainable     []string       `json:"trainable"`
	NoDecay       []string       `json:"no_decay"`
	LR            float64        `json:"lr"`
	Betas         [2]float64     `json:"betas"`
	Eps           float64        `json:"eps"`
	WeightDecay   float64        `json:"weight_decay"`
	LoRAPlusRatio float64        `json:"loraplus_ratio"`
	Schedule      string         `json:"schedule"`
	Warmup        int            `json:"warmup"`
	Total         int            `json:"total"`
	MaxGradNorm   float64        `json:"max_grad_norm"`
	Steps         [][]torchBatch `json:"steps"`
}

type torchLoRA struct {
	Dir     string  `json:"dir"`
	Scaling float64 `json:"scaling"`
}

type torchBatch struct {
	InputIDs      [][]int `json:"input_ids"`
	AttentionMask [][]int `json:"attention_mask"`
	Labels        [][]int `json:"labels"`
}

type torchOut struct {
	Params    map[string][]float64 `json:"params"`
	Losses    []float64            `json:"losses"`
	GradNorms []float64            `json:"grad_norms"`
	LRs       []float64            `json:"lrs"`
}

func toTorch(b *model.Batch) torchBatch {
	var out torchBatch
	for r := 0; r < b.B; r++ {
		row := b.IDs[r*b.T : (r+1)*b.T]
		mask := make([]int, b.T)
		for i := range mask {
			if b.Mask[r*b.T+i] {
				mask[i] = 1
			}
		}
		out.InputIDs = append(out.InputIDs, row)
		out.AttentionMask = append(out.AttentionMask, mask)
		out.Labels = append(out.Labels, b.Labels[r*b.T:(r+1)*b.T])
	}
	return out
}

// TestMatchesPyTorchTraining trains 5 AdamW steps — weight decay, warmup,
// clipping that bites, gradient accumulation — in lorafn and in PyTorch
// from the same start on the same batches, and compares the trained tensors.
func TestMatchesPyTorchTraining(t *testing.T) {
	py := torchref.Python(t)
	cases := []struct {
		name, config string
		spec         Spec
	}{
		{"lora-llama", tinyLlama, Spec{Method: LoRA, LoRA: lora.Config{R: 4, Alpha: 8, Init: "true", TargetModules: lora.ParseTargets("q_proj,v_proj,o_proj,down_proj")}}},
		{"lora-plus-gpt2", tinyGPT2, Spec{Method: LoRA, LoRAPlusRatio: 4, LoRA: lora.Config{R: 4, Alpha: 16, UseRSLoRA: true, Init: "true", TargetModules: lora.ParseTargets("all-linear")}}},
		{"full-gpt2", tinyGPT2, Spec{Method: Full}},
		{"full-llama", tinyLlama, Spec{Method: Full}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			base := tinyBase(t, c.config, 21)
			m := loadBase(t, base)
			tuned, err := Setup(m, c.spec, 5)
			if err != nil {
				t.Fatal(err)
			}
			tc := torchCase{Betas: [2]float64{0.9, 0.999}, Eps: 1e-8, LoRAPlusRatio: c.spec.LoRAPlusRatio}
			if tuned.Adapter != nil {
				// A non-zero B, so the first steps move A too.
				for i, l := range tuned.Adapter.Layers {
					for j := range l.B.Data {
						l.B.Data[j] = float32(math.Sin(float64(i*1000+j))) * 0.05
					}
				}
				dir := filepath.Join(t.TempDir(), "adapter")
				if err := tuned.Adapter.Save(dir); err != nil {
					t.Fatal(err)
				}
				cfg := tuned.Adapter.Config
				tc.LoRA = &torchLoRA{Dir: dir, Scaling: cfg.Scaling()}
			}
			groups := tuned.Groups()
			for _, g := range groups {
				for _, p := range g.Params {
					if tuned.Adapter == nil {
						tc.Trainable = append(tc.Trainable, p.Name)
					}
					if !g.Decay {
						tc.NoDecay = append(tc.NoDecay, p.Name)
					}
				}
			}
			cfg := train.DefaultConfig()
			cfg.LR, cfg.WeightDecay, cfg.Schedule, cfg.WarmupSteps, cfg.MaxGradNorm = 3e-3, 0.1, train.Linear, 2, 0.8
			cfg.BatchSize, cfg.GradAccum, cfg.SeqLen, cfg.Steps, cfg.Dropout = 2, 2, 14, 5, false
			if tuned.Adapter == nil {
				cfg.LR = 1e-3
			}
			tc.LR, tc.WeightDecay, tc.Schedule, tc.Warmup, tc.Total, tc.MaxGradNorm = cfg.LR, cfg.WeightDecay, cfg.Schedule, cfg.WarmupSteps, cfg.Steps, cfg.MaxGradNorm
			tr, err := train.New(m, groups, randomExamples(11, 14, m.Config.VocabSize, 3), nil, cfg)
			if err != nil {
				t.Fatal(err)
			}
			for s := 0; s < cfg.Steps; s++ {
				bs, _, err := tr.StepBatches(s)
				if err != nil {
					t.Fatal(err)
				}
				var step []torchBatch
				for _, b := range bs {
					step = append(step, toTorch(b))
				}
				tc.Steps = append(tc.Steps, step)
			}
			want := runTorchTrain(t, py, base, tc)

			var logs []train.StepLog
			for !tr.Done() {
				l, err := tr.Step(t.Context())
				if err != nil {
					t.Fatal(err)
				}
				logs = append(logs, l)
			}
			clipped := 0
			for i, l := range logs {
				if rel(l.Loss, want.Losses[i]) > 1e-5 || rel(l.GradNorm, want.GradNorms[i]) > 1e-5 || rel(l.LR, want.LRs[i]) > 1e-12 {
					t.Errorf("step %d: loss %v grad norm %v lr %v; PyTorch %v %v %v", i+1, l.Loss, l.GradNorm, l.LR, want.Losses[i], want.GradNorms[i], want.LRs[i])
				}
				if l.GradNorm > cfg.MaxGradNorm {
					clipped++
				}
			}
			if clipped == 0 {
				t.Errorf("no step was clipped (norms %v): the case does not test clipping", want.GradNorms)
			}
			worst := 0.0
			n := 0
			for _, g := range groups {
				for _, p := range g.Params {
					ref, ok := want.Params[p.Name]
					if !ok {
						t.Fatalf("PyTorch returned no %s", p.Name)
					}
					got := p.Data
					if strings.HasSuffix(p.Name, "attn.c_attn.bias") {
						// The key bias adds the same amount to every score
						// of a row, which softmax ignores: its gradient is
						// exactly zero and both frameworks' updates there
						// are Adam-normalised rounding noise. Compare the
						// query and value parts.
						h := m.Config.Hidden
						got = append(got[:h:h], got[2*h:]...)
						ref = append(ref[:h:h], ref[2*h:]...)
					}
					e := relErr(got, ref)
					worst = math.Max(worst, e)
					if e > 1e-5 {
						t.Errorf("%s: relative error %.3g after %d steps", p.Name, e, cfg.Steps)
					}
					n++
				}
			}
			if n != len(want.Params) {
				t.Errorf("compared %d tensors, PyTorch trained %d", n, len(want.Params))
			}
			t.Logf("%d tensors, worst relative error %.3g; losses %v", n, worst, want.Losses)
		})
	}
}

func runTorchTrain(t *testing.T, py, base string, c torchCase) torchOut {
	t.Helper()
	dir := t.TempDir()
	in, out := filepath.Join(dir, "case.json"), filepath.Join(dir, "out.json")
	data, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(in, data, 0o644); err != nil {
		t.Fatal(err)
	}
	_, file, _, _ := runtime.Caller(0)
	script := filepath.Join(filepath.Dir(file), "..", "train", "testdata", "torch_train.py")
	cmd := exec.Command(py, script, base, in, out)
	cmd.Env = append(os.Environ(), "OMP_NUM_THREADS=1")
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("torch_train.py: %v\n%s", err, msg)
	}
	data, err = os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var o torchOut
	if err := json.Unmarshal(data, &o); err != nil {
		t.Fatal(err)
	}
	return o
}

func rel(a, b float64) float64 { return math.Abs(a-b) / math.Max(math.Abs(b), 1e-30) }

// relErr is max|a-b| / max|b| over a tensor.
func relErr(a []float32, b []float64) float64 {
	var diff, scale float64
	for i := range a {
		diff = math.Max(diff, math.Abs(float64(a[i])-b[i]))
		scale = math.Max(scale, math.Abs(b[i]))
	}
	return diff / math.Max(scale, 1e-30)
}
