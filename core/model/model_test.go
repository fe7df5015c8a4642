package model

import (
	"context"
	"errors"
	"path/filepath"
	"runtime"
	"slices"
	"testing"

	"github.com/lorafn/lorafn/internal/atomicfile"

	"github.com/lorafn/lorafn/core/safetensors"
)

func allTrainable(string) bool { return true }

func gradsOf(m *Model) map[string][]float32 {
	out := map[string][]float32{}
	for _, p := range m.Params() {
		if p.Grad != nil {
			out[p.Name] = append([]float32(nil), p.Grad...)
		}
	}
	return out
}

// TestGradientFiniteDifference checks every parameter gradient of each tiny
// model against central differences of the loss.
func TestGradientFiniteDifference(t *testing.T) {
	for name := range tinyConfigs {
		t.Run(name, func(t *testing.T) {
			m := tinyModel(t, name, 1)
			b := randomBatch(m.Config, 2, 7, []int{7, 5}, 2)
			m.SetTrainable(allTrainable)
			res, err := m.Backward(b, Options{EmbedGrad: true})
			if err != nil {
				t.Fatal(err)
			}
			loss := func() float64 {
				r, err := m.Loss(b)
				if err != nil {
					t.Fatal(err)
				}
				return r.Mean()
			}
			if got := loss(); got != res.Mean() {
				t.Fatalf("Loss() = %v, Backward reported %v", got, res.Mean())
			}
			rng := newTestRNG(3)
			const eps = 1e-2
			for _, p := range m.Params() {
				// Probe a few entries per tensor, including the largest gradient.
				probes := []int{argmaxAbs(p.Grad)}
				for range 3 {
					probes = append(probes, rng.IntN(len(p.Data)))
				}
				for _, i := range probes {
					fd := richardson(func(h float64) float64 {
						old := p.Data[i]
						p.Data[i] = old + float32(h)
						up := loss()
						p.Data[i] = old - float32(h)
						down := loss()
						p.Data[i] = old
						return (up - down) / (2 * h)
					}, eps)
					g := float64(p.Grad[i])
					if diff := abs(fd - g); diff > 1e-4+2e-3*abs(fd) {
						t.Errorf("%s[%d]: backward %.6g, finite difference %.6g", p.Name, i, g, fd)
					}
				}
			}
		})
	}
}

// TestRecomputeIsBitIdentical: activation recomputation must not change a
// bit of the loss or of any gradient.
func TestRecomputeIsBitIdentical(t *testing.T) {
	for name := range tinyConfigs {
		m := tinyModel(t, name, 4)
		b := randomBatch(m.Config, 3, 9, []int{9, 4, 1}, 5)
		m.SetTrainable(allTrainable)
		r1, err := m.Backward(b, Options{})
		if err != nil {
			t.Fatal(err)
		}
		g1 := gradsOf(m)
		m.ZeroGrad()
		r2, err := m.Backward(b, Options{Recompute: true})
		if err != nil {
			t.Fatal(err)
		}
		if r1.SumLoss != r2.SumLoss {
			t.Errorf("%s: loss %v with recompute, %v without", name, r2.SumLoss, r1.SumLoss)
		}
		for k, g := range gradsOf(m) {
			if !slices.Equal(g, g1[k]) {
				t.Errorf("%s: gradient of %s differs with recompute", name, k)
			}
		}
	}
}

// TestThreadCountIndependence: results must not depend on GOMAXPROCS, so a
// resumed run on a Lambda of another size stays bit-identical.
func TestThreadCountIndependence(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for name := range tinyConfigs {
		var ref map[string][]float32
		var refLoss float64
		for _, procs := range []int{1, 2, 5} {
			runtime.GOMAXPROCS(procs)
			m := tinyModel(t, name, 6)
			m.SetTrainable(allTrainable)
			r, err := m.Backward(randomBatch(m.Config, 4, 8, nil, 7), Options{})
			if err != nil {
				t.Fatal(err)
			}
			g := gradsOf(m)
			if ref == nil {
				ref, refLoss = g, r.SumLoss
				continue
			}
			if r.SumLoss != refLoss {
				t.Errorf("%s: GOMAXPROCS=%d loss %v, want %v", name, procs, r.SumLoss, refLoss)
			}
			for k := range g {
				if !slices.Equal(g[k], ref[k]) {
					t.Errorf("%s: GOMAXPROCS=%d gradient of %s differs", name, procs, k)
				}
			}
		}
	}
}

// TestFrozenWeightsGetNoGradient: only trainable parameters get gradient
// storage, and training the last layer only leaves others untouched.
func TestFrozenWeightsGetNoGradient(t *testing.T) {
	m := tinyModel(t, "llama", 8)
	last := "model.layers.1."
	m.SetTrainable(func(n string) bool { return len(n) > len(last) && n[:len(last)] == last })
	b := randomBatch(m.Config, 2, 6, nil, 9)
	if _, err := m.Backward(b, Options{}); err != nil {
		t.Fatal(err)
	}
	full := tinyModel(t, "llama", 8)
	full.SetTrainable(allTrainable)
	if _, err := full.Backward(b, Options{}); err != nil {
		t.Fatal(err)
	}
	want := gradsOf(full)
	for _, p := range m.Params() {
		trainable := len(p.Name) > len(last) && p.Name[:len(last)] == last
		if trainable != (p.Grad != nil) {
			t.Fatalf("%s: trainable=%v but has gradient=%v", p.Name, trainable, p.Grad != nil)
		}
		if trainable && relErr(p.Grad, want[p.Name]) > 1e-6 {
			t.Errorf("%s: last-layer gradient differs from the full model's", p.Name)
		}
	}
}

// TestPaddingDoesNotLeak: real positions of a right-padded sequence see the
// same logits as the sequence alone, whatever the padding ids are.
func TestPaddingDoesNotLeak(t *testing.T) {
	for name := range tinyConfigs {
		m := tinyModel(t, name, 10)
		alone := randomBatch(m.Config, 1, 5, nil, 11)
		padded := randomBatch(m.Config, 2, 8, []int{5, 8}, 12)
		copy(padded.IDs, alone.IDs)
		la, err := m.Logits(alone)
		if err != nil {
			t.Fatal(err)
		}
		lp, err := m.Logits(padded)
		if err != nil {
			t.Fatal(err)
		}
		V := m.Config.VocabSize
		if e := relErr(lp[:5*V], la); e > 1e-6 {
			t.Errorf("%s: padded logits differ from unpadded by %g", name, e)
		}
	}
}

// TestLoadShardedEqualsSingle saves a model as one file and as shards and
// checks both load to identical weights and logits.
func TestLoadShardedEqualsSingle(t *testing.T) {
	for name := range tinyConfigs {
		m := tinyModel(t, name, 13)
		single, sharded := t.TempDir(), t.TempDir()
		if err := m.Save(single); err != nil {
			t.Fatal(err)
		}
		var ts []safetensors.Tensor
		for _, p := range m.Params() {
			ts = append(ts, safetensors.F32Tensor(p.Name, p.Shape, p.Data))
		}
		if err := safetensors.WriteCheckpoint(sharded, ts, map[string]string{"format": "pt"}, 20_000); err != nil {
			t.Fatal(err)
		}
		if err := atomicfile.WriteFile(filepath.Join(sharded, "config.json"), m.Config.Raw); err != nil {
			t.Fatal(err)
		}
		if matches, _ := filepath.Glob(filepath.Join(sharded, "model-*-of-*.safetensors")); len(matches) < 2 {
			t.Fatalf("%s: want several shards, got %v", name, matches)
		}
		b := randomBatch(m.Config, 1, 6, nil, 14)
		want, _ := m.Logits(b)
		for _, dir := range []string{single, sharded} {
			got, err := Load(dir, nil)
			if err != nil {
				t.Fatal(err)
			}
			for i, p := range got.Params() {
				if !slices.Equal(p.Data, m.Params()[i].Data) {
					t.Fatalf("%s: %s differs after loading %s", name, p.Name, dir)
				}
			}
			l, _ := got.Logits(b)
			if !slices.Equal(l, want) {
				t.Fatalf("%s: logits differ after loading %s", name, dir)
			}
		}
	}
}

// TestGenerateKVCacheMatchesFullForward: greedy decoding with the KV cache
// must pick the same tokens as recomputing the whole sequence each step.
func TestGenerateKVCacheMatchesFullForward(t *testing.T) {
	for name := range tinyConfigs {
		m := tinyModel(t, name, 15)
		prompt := []int{3, 14, 15, 9, 26}
		got, err := m.Generate(context.Background(), prompt, GenerateOptions{MaxNewTokens: 10, Stop: []int{}})
		if err != nil {
			t.Fatal(err)
		}
		seq := slices.Clone(prompt)
		for range 10 {
			logits, err := m.Logits(&Batch{B: 1, T: len(seq), IDs: seq})
			if err != nil {
				t.Fatal(err)
			}
			V := m.Config.VocabSize
			last := logits[(len(seq)-1)*V:]
			seq = append(seq, argmax(last))
		}
		if !slices.Equal(got, seq[len(prompt):]) {
			t.Errorf("%s: cached generation %v, full forward %v", name, got, seq[len(prompt):])
		}
	}
}

func TestSamplingIsSeeded(t *testing.T) {
	m := tinyModel(t, "llama", 16)
	opt := GenerateOptions{MaxNewTokens: 12, Stop: []int{}, Sampling: Sampling{Temperature: 1.3, TopK: 20, TopP: 0.9, Seed: 42}}
	a, err := m.Generate(context.Background(), []int{1, 2, 3}, opt)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := m.Generate(context.Background(), []int{1, 2, 3}, opt)
	if !slices.Equal(a, b) {
		t.Fatalf("same seed gave %v and %v", a, b)
	}
	opt.Seed = 43
	c, _ := m.Generate(context.Background(), []int{1, 2, 3}, opt)
	if slices.Equal(a, c) {
		t.Fatalf("different seeds gave the same 12 tokens %v", a)
	}
	greedy, _ := m.Generate(context.Background(), []int{1, 2, 3}, GenerateOptions{MaxNewTokens: 12, Stop: []int{}})
	for _, id := range a {
		if id < 0 || id >= m.Config.VocabSize {
			t.Fatalf("sampled id %d out of range", id)
		}
	}
	if slices.Equal(a, greedy) {
		t.Logf("sampling happened to equal greedy decoding")
	}
}

func TestTopKOneIsGreedy(t *testing.T) {
	m := tinyModel(t, "qwen2", 17)
	greedy, _ := m.Generate(context.Background(), []int{4, 5}, GenerateOptions{MaxNewTokens: 8, Stop: []int{}})
	topk, _ := m.Generate(context.Background(), []int{4, 5}, GenerateOptions{MaxNewTokens: 8, Stop: []int{}, Sampling: Sampling{Temperature: 2, TopK: 1, Seed: 1}})
	if !slices.Equal(greedy, topk) {
		t.Fatalf("top-k 1 gave %v, greedy %v", topk, greedy)
	}
}

func TestBatchErrors(t *testing.T) {
	m := tinyModel(t, "gpt2", 18)
	for _, b := range []*Batch{
		{B: 1, T: 2, IDs: []int{1}},
		{B: 1, T: 2, IDs: []int{1, 67}},
		{B: 1, T: 2, IDs: []int{1, 2}, Labels: []int{0, -5}},
		{B: 1, T: 33, IDs: make([]int, 33)},
	} {
		if _, err := m.Loss(b); err == nil {
			t.Errorf("batch %+v: no error", b)
		}
	}
	var ce *ConfigError
	if _, err := ParseConfig("c.json", []byte(`{"architectures":["LlamaForCausalLM"],"hidden_act":"gelu"}`)); !errors.As(err, &ce) || ce.Field != "hidden_act" {
		t.Errorf("hidden_act gelu: %v", err)
	}
}
