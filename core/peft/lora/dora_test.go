package lora

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"testing"

	"github.com/lorafn/lorafn/core/model"
	"github.com/lorafn/lorafn/core/safetensors"
	"github.com/lorafn/lorafn/core/tensor"
	"github.com/lorafn/lorafn/internal/torchref"
)

func doraConfig() Config {
	return Config{R: 4, Alpha: 8, Init: "true", UseDoRA: true, TargetModules: Targets{Regex: AllLinear}}
}

// randomizeDoRA makes B and the magnitudes non-trivial.
func randomizeDoRA(a *Adapter, seed uint64) {
	randomizeB(a, seed)
	rng := rand.New(rand.NewPCG(seed, 5))
	for _, l := range a.Layers {
		for i := range l.Magnitude.Data {
			l.Magnitude.Data[i] *= float32(1 + 0.3*rng.NormFloat64())
		}
	}
}

func TestDoRAFreshIsNoOpAndMagnitudeIsRowNorm(t *testing.T) {
	for name := range configs {
		m := newModel(t, name)
		b := batch(m.Config, 1)
		want, _ := m.Logits(b)
		a, err := Apply(m, doraConfig(), 7)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := m.Logits(b)
		if !slices.Equal(got, want) {
			t.Errorf("%s: a fresh DoRA adapter changed the logits", name)
		}
		l := a.Layers[0] // check one row norm by hand, in W's own layout
		var s float64
		for i := 0; i < l.Base.In; i++ {
			v := float64(l.Base.W.Data[i*l.Base.Out+1])
			if !l.Base.Transposed {
				v = float64(l.Base.W.Data[l.Base.In+i])
			}
			s += v * v
		}
		if g := float64(l.Magnitude.Data[1]); math.Abs(g-math.Sqrt(s)) > 1e-6*math.Sqrt(s) {
			t.Errorf("%s: magnitude[1] = %v, want ‖W row 1‖ = %v", name, g, math.Sqrt(s))
		}
	}
}

func TestDoRAFilesRoundTrip(t *testing.T) {
	for name := range configs {
		m := newModel(t, name)
		a, err := Apply(m, doraConfig(), 2)
		if err != nil {
			t.Fatal(err)
		}
		randomizeDoRA(a, 3)
		b := batch(m.Config, 2)
		want, _ := m.Logits(b)
		dir := t.TempDir()
		if err := a.Save(dir); err != nil {
			t.Fatal(err)
		}
		f, err := safetensors.Open(filepath.Join(dir, WeightsFile))
		if err != nil {
			t.Fatal(err)
		}
		key := map[string]string{"llama": "base_model.model.model.layers.1.self_attn.k_proj.lora_magnitude_vector",
			"gpt2": "base_model.model.transformer.h.1.attn.c_attn.lora_magnitude_vector"}[name]
		wantShape := map[string][]int{"llama": {16}, "gpt2": {96}}[name]
		if info, ok := f.Info(key); !ok || !slices.Equal(info.Shape, wantShape) {
			t.Errorf("%s: %s: %+v %v, want shape %v", name, key, info, ok, wantShape)
		}
		if len(f.Names()) != 3*len(a.Layers) {
			t.Errorf("%s: %d tensors for %d layers", name, len(f.Names()), len(a.Layers))
		}
		f.Close()
		var cfg map[string]any
		raw, _ := os.ReadFile(filepath.Join(dir, ConfigFile))
		json.Unmarshal(raw, &cfg)
		if cfg["use_dora"] != true {
			t.Errorf("%s: use_dora = %v", name, cfg["use_dora"])
		}
		fresh := newModel(t, name)
		got, err := Load(dir, fresh)
		if err != nil {
			t.Fatal(err)
		}
		if !got.Config.UseDoRA || got.Layers[0].Magnitude == nil {
			t.Fatalf("%s: loaded without magnitudes", name)
		}
		logits, _ := fresh.Logits(b)
		if !slices.Equal(logits, want) {
			t.Errorf("%s: logits differ after save and load", name)
		}
		// The same tensors under use_dora false are refused.
		cfg["use_dora"] = false
		bad, _ := json.Marshal(cfg)
		os.WriteFile(filepath.Join(dir, ConfigFile), bad, 0o644)
		if _, err := Load(dir, newModel(t, name)); err == nil {
			t.Errorf("%s: magnitudes loaded with use_dora false", name)
		}
	}
}

func TestDoRAMergeMatchesAdapter(t *testing.T) {
	for name := range configs {
		m := newModel(t, name)
		a, err := Apply(m, doraConfig(), 8)
		if err != nil {
			t.Fatal(err)
		}
		randomizeDoRA(a, 9)
		b := batch(m.Config, 5)
		want, _ := m.Logits(b)
		a.Merge()
		got, _ := m.Logits(b)
		var num, den float64
		for i := range got {
			num = max(num, math.Abs(float64(got[i]-want[i])))
			den = max(den, math.Abs(float64(want[i])))
		}
		if num/den > 1e-5 {
			t.Errorf("%s: merged logits differ by %.3g relative", name, num/den)
		}
	}
}

// TestDoRALayerFiniteDifference checks dL/dx and dL/dm of one layer, with
// and without dropout, for L = Σ c ⊙ y. (The weight norm depends on A and B
// but is a constant of the backward pass by design, so dL/dA and dL/dB are
// checked against PyTorch instead.)
func TestDoRALayerFiniteDifference(t *testing.T) {
	for name := range configs {
		m := newModel(t, name)
		a, err := Apply(m, Config{R: 4, Alpha: 8, Init: "true", UseDoRA: true, Dropout: 0.3}, 8)
		if err != nil {
			t.Fatal(err)
		}
		randomizeDoRA(a, 10)
		l := a.Layers[len(a.Layers)-1]
		in, out, n := l.Base.In, l.Base.Out, 3
		rng := rand.New(rand.NewPCG(2, 2))
		x, c := make([]float32, n*in), make([]float32, n*out)
		for i := range x {
			x[i] = float32(rng.NormFloat64())
		}
		for i := range c {
			c[i] = float32(rng.NormFloat64())
		}
		eng := tensor.Default()
		for _, noise := range []model.Noise{{}, {Train: true, Seed: 4}} {
			f := func() float64 {
				y := make([]float32, n*out)
				linearRef(l.Base, y, x, n)
				l.Forward(eng, y, x, n, noise)
				var s float64
				for i, v := range y {
					s += float64(v) * float64(c[i])
				}
				return s
			}
			y := make([]float32, n*out)
			linearRef(l.Base, y, x, n)
			st := l.Forward(eng, y, x, n, noise)
			dx := make([]float32, n*in)
			clear(l.Magnitude.Grad)
			l.Backward(eng, dx, c, x, n, st)
			// The base layer's own backward pass adds c·W.
			for r := 0; r < n; r++ {
				for i := 0; i < in; i++ {
					for o := 0; o < out; o++ {
						dx[r*in+i] += c[r*out+o] * wAt(l.Base, o, i)
					}
				}
			}
			check := func(what string, p []float32, g []float32) {
				for range 4 {
					i := rng.IntN(len(p))
					old := p[i]
					p[i] = old + 1e-2
					up := f()
					p[i] = old - 1e-2
					down := f()
					p[i] = old
					fd := (up - down) / 2e-2
					if math.Abs(float64(g[i])-fd) > 2e-3+2e-3*math.Abs(fd) {
						t.Errorf("%s train=%v: d%s[%d]: backward %.6g, finite difference %.6g", name, noise.Train, what, i, g[i], fd)
					}
				}
			}
			check("x", x, dx)
			check("m", l.Magnitude.Data, l.Magnitude.Grad)
		}
	}
}

func wAt(b *model.Linear, o, i int) float32 {
	if b.Transposed {
		return b.W.Data[i*b.Out+o]
	}
	return b.W.Data[o*b.In+i]
}

func linearRef(b *model.Linear, y, x []float32, n int) {
	for r := 0; r < n; r++ {
		for o := 0; o < b.Out; o++ {
			var s float32
			for i := 0; i < b.In; i++ {
				s += x[r*b.In+i] * wAt(b, o, i)
			}
			if b.B != nil {
				s += b.B.Data[o]
			}
			y[r*b.Out+o] = s
		}
	}
}

// TestDoRAMatchesPyTorch compares loss, logits and the gradients of A, B
// and m with the PyTorch oracle reading the saved PEFT files.
func TestDoRAMatchesPyTorch(t *testing.T) {
	py := torchref.Python(t)
	for name := range configs {
		m := newModel(t, name)
		base := filepath.Join(t.TempDir(), "base")
		if err := m.Save(base); err != nil {
			t.Fatal(err)
		}
		a, err := Apply(m, doraConfig(), 12)
		if err != nil {
			t.Fatal(err)
		}
		randomizeDoRA(a, 13)
		adapter := filepath.Join(t.TempDir(), "adapter")
		if err := a.Save(adapter); err != nil {
			t.Fatal(err)
		}
		b := batch(m.Config, 7)
		res, err := m.Backward(b, model.Options{})
		if err != nil {
			t.Fatal(err)
		}
		logits, _ := m.Logits(b)
		ref := runDoRARef(t, py, base, adapter, b)
		if math.Abs(res.Mean()-ref.Loss) > 1e-5*math.Abs(ref.Loss) {
			t.Errorf("%s: loss %v, PyTorch %v", name, res.Mean(), ref.Loss)
		}
		if e := relErr64(logits, ref.Logits); e > 1e-5 {
			t.Errorf("%s: logits differ by %.3g relative", name, e)
		}
		for _, p := range a.Params() {
			g, ok := ref.Grads[p.Name]
			if !ok {
				t.Fatalf("%s: PyTorch has no gradient for %s", name, p.Name)
			}
			if e := relErr64(p.Grad, g); e > 1e-4 {
				t.Errorf("%s: %s gradient differs by %.3g relative", name, p.Name, e)
			}
		}
	}
}

type doraRefOut struct {
	Loss   float64              `json:"loss"`
	Logits []float64            `json:"logits"`
	Grads  map[string][]float64 `json:"grads"`
}

func runDoRARef(t *testing.T, py, base, adapter string, b *model.Batch) doraRefOut {
	t.Helper()
	c := map[string][][]int{}
	for r := 0; r < b.B; r++ {
		c["input_ids"] = append(c["input_ids"], b.IDs[r*b.T:(r+1)*b.T])
	}
	dir := t.TempDir()
	in, out := filepath.Join(dir, "case.json"), filepath.Join(dir, "out.json")
	data, _ := json.Marshal(c)
	if err := os.WriteFile(in, data, 0o644); err != nil {
		t.Fatal(err)
	}
	_, file, _, _ := runtime.Caller(0)
	cmd := exec.Command(py, filepath.Join(filepath.Dir(file), "testdata", "dora_ref.py"), base, adapter, in, out)
	cmd.Env = append(os.Environ(), "OMP_NUM_THREADS=1")
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("dora_ref.py: %v\n%s", err, msg)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var o doraRefOut
	if err := json.Unmarshal(data, &o); err != nil {
		t.Fatal(err)
	}
	return o
}

func relErr64(a []float32, b []float64) float64 {
	var diff, scale float64
	for i := range a {
		diff = math.Max(diff, math.Abs(float64(a[i])-b[i]))
		scale = math.Max(scale, math.Abs(b[i]))
	}
	return diff / math.Max(scale, 1e-30)
}
