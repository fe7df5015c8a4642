package prefix

import (
	"context"
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
	"github.com/lorafn/lorafn/internal/torchref"
)

var configs = map[string]string{
	"llama": `{"architectures": ["LlamaForCausalLM"], "vocab_size": 61, "hidden_size": 32,
		"intermediate_size": 48, "num_hidden_layers": 2, "num_attention_heads": 4,
		"num_key_value_heads": 2, "max_position_embeddings": 64, "rms_norm_eps": 1e-5,
		"rope_theta": 10000.0, "tie_word_embeddings": false}`,
	"gpt2": `{"architectures": ["GPT2LMHeadModel"], "vocab_size": 61, "n_embd": 32, "n_layer": 2,
		"n_head": 4, "n_positions": 32}`,
}

func newModel(t testing.TB, name string) *model.Model {
	t.Helper()
	c, err := model.ParseConfig(name, []byte(configs[name]))
	if err != nil {
		t.Fatal(err)
	}
	m := model.New(c, nil)
	m.InitRandom(1, 0.2)
	return m
}

// batch is two sequences of 7 tokens, the second ending in padding, with
// some ignored labels.
func batch(c *model.Config, seed uint64) *model.Batch {
	rng := rand.New(rand.NewPCG(seed, 3))
	b := &model.Batch{B: 2, T: 7, IDs: make([]int, 14), Mask: make([]bool, 14), Labels: make([]int, 14)}
	for i := range b.IDs {
		b.IDs[i] = rng.IntN(c.VocabSize)
		b.Mask[i] = i < 12
		b.Labels[i] = b.IDs[i]
		if !b.Mask[i] || i%5 == 1 {
			b.Labels[i] = model.IgnoreIndex
		}
	}
	return b
}

func TestFilesRoundTrip(t *testing.T) {
	for name, want := range map[string][2]int{"llama": {16, 2}, "gpt2": {32, 4}} {
		m := newModel(t, name)
		b := batch(m.Config, 1)
		base, _ := m.Logits(b)
		a, err := Apply(m, Config{NumVirtualTokens: 5}, 3)
		if err != nil {
			t.Fatal(err)
		}
		logits, _ := m.Logits(b)
		if len(logits) != len(base) || slices.Equal(logits, base) {
			t.Fatalf("%s: the prefix changed nothing or the shape", name)
		}
		dir := t.TempDir()
		if err := a.Save(dir); err != nil {
			t.Fatal(err)
		}
		f, err := safetensors.Open(filepath.Join(dir, WeightsFile))
		if err != nil {
			t.Fatal(err)
		}
		// [P, num_layers·2·token_dim], token_dim = head_dim·KV heads (GQA).
		if info, ok := f.Info(Key); !ok || !slices.Equal(info.Shape, []int{5, 2 * 2 * want[0]}) || len(f.Names()) != 1 {
			t.Errorf("%s: tensors %v, %s %+v", name, f.Names(), Key, info)
		}
		f.Close()
		var cfg map[string]any
		raw, _ := os.ReadFile(filepath.Join(dir, ConfigFile))
		if err := json.Unmarshal(raw, &cfg); err != nil {
			t.Fatal(err)
		}
		for k, v := range map[string]any{"peft_type": "PREFIX_TUNING", "task_type": "CAUSAL_LM", "num_virtual_tokens": 5.0,
			"token_dim": float64(want[0]), "num_attention_heads": float64(want[1]), "num_layers": 2.0,
			"num_transformer_submodules": 1.0, "prefix_projection": false, "encoder_hidden_size": float64(want[0])} {
			if cfg[k] != v {
				t.Errorf("%s: %s = %v, want %v", name, k, cfg[k], v)
			}
		}
		fresh := newModel(t, name)
		if _, err := Load(dir, fresh); err != nil {
			t.Fatal(err)
		}
		got, _ := fresh.Logits(b)
		if !slices.Equal(got, logits) {
			t.Errorf("%s: logits differ after save and load", name)
		}
		cfg["token_dim"] = 64.0
		bad, _ := json.Marshal(cfg)
		os.WriteFile(filepath.Join(dir, ConfigFile), bad, 0o644)
		if _, err := Load(dir, newModel(t, name)); err == nil {
			t.Errorf("%s: loaded a prefix with the wrong token_dim", name)
		}
	}
}

// TestGradientsFiniteDifference checks dL/d(prefix) against central
// differences, and that recomputation gives the same gradient.
func TestGradientsFiniteDifference(t *testing.T) {
	for name := range configs {
		m := newModel(t, name)
		a, err := Apply(m, Config{NumVirtualTokens: 3}, 4)
		if err != nil {
			t.Fatal(err)
		}
		p := a.Embedding
		for i := range p.Data {
			p.Data[i] *= 0.5
		}
		b := batch(m.Config, 3)
		if _, err := m.Backward(b, model.Options{}); err != nil {
			t.Fatal(err)
		}
		g := slices.Clone(p.Grad)
		clear(p.Grad)
		m.Backward(b, model.Options{Recompute: true})
		if !slices.Equal(g, p.Grad) {
			t.Errorf("%s: recomputation changed the gradient", name)
		}
		loss := func() float64 {
			r, _ := m.Loss(b)
			return r.Mean()
		}
		rng := rand.New(rand.NewPCG(1, 1))
		for range 8 {
			i := rng.IntN(len(p.Data))
			d := func(h float64) float64 {
				old := p.Data[i]
				p.Data[i] = old + float32(h)
				up := loss()
				p.Data[i] = old - float32(h)
				down := loss()
				p.Data[i] = old
				return (up - down) / (2 * h)
			}
			fd := (4*d(5e-3) - d(1e-2)) / 3
			if math.Abs(float64(g[i])-fd) > 1e-4+1e-3*math.Abs(fd) {
				t.Errorf("%s: prefix[%d]: backward %.6g, finite difference %.6g", name, i, g[i], fd)
			}
		}
	}
}

// TestGenerateUsesPrefix: greedy generation through the KV cache picks the
// argmax of the full forward pass at every step.
func TestGenerateUsesPrefix(t *testing.T) {
	for name := range configs {
		m := newModel(t, name)
		if _, err := Apply(m, Config{NumVirtualTokens: 4}, 6); err != nil {
			t.Fatal(err)
		}
		ids := []int{5, 9, 2}
		out, err := m.Generate(context.Background(), ids, model.GenerateOptions{MaxNewTokens: 6, Stop: []int{}})
		if err != nil {
			t.Fatal(err)
		}
		if len(out) != 6 {
			t.Fatalf("%s: generated %d tokens", name, len(out))
		}
		seq := slices.Clone(ids)
		V := m.Config.VocabSize
		for _, next := range out {
			logits, err := m.Logits(&model.Batch{B: 1, T: len(seq), IDs: seq})
			if err != nil {
				t.Fatal(err)
			}
			if best := argmax(logits[(len(seq)-1)*V:]); best != next {
				t.Fatalf("%s: after %v generation chose %d, the full pass %d", name, seq, next, best)
			}
			seq = append(seq, next)
		}
	}
}

// TestMatchesPyTorch compares loss, logits and the prefix's gradient with
// the PyTorch oracle reading the saved PEFT files.
func TestMatchesPyTorch(t *testing.T) {
	py := torchref.Python(t)
	for name := range configs {
		m := newModel(t, name)
		base := filepath.Join(t.TempDir(), "base")
		if err := m.Save(base); err != nil {
			t.Fatal(err)
		}
		a, err := Apply(m, Config{NumVirtualTokens: 4}, 8)
		if err != nil {
			t.Fatal(err)
		}
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
		ref := runRef(t, py, "prefix_ref.py", base, adapter, b)
		if math.Abs(res.Mean()-ref.Loss) > 1e-5*math.Abs(ref.Loss) {
			t.Errorf("%s: loss %v, PyTorch %v", name, res.Mean(), ref.Loss)
		}
		V := m.Config.VocabSize
		var got []float32
		var want []float64
		for i, ok := range b.Mask {
			if ok {
				got = append(got, logits[i*V:(i+1)*V]...)
				want = append(want, ref.Logits[i*V:(i+1)*V]...)
			}
		}
		if e := relErr(got, want); e > 1e-5 {
			t.Errorf("%s: logits differ by %.3g relative", name, e)
		}
		if e := relErr(a.Embedding.Grad, ref.Grads[Key]); e > 1e-4 {
			t.Errorf("%s: prefix gradient differs by %.3g relative", name, e)
		}
	}
}

func argmax(xs []float32) int {
	best := 0
	for i, v := range xs {
		if v > xs[best] {
			best = i
		}
	}
	return best
}

type refOut struct {
	Loss   float64              `json:"loss"`
	Logits []float64            `json:"logits"`
	Grads  map[string][]float64 `json:"grads"`
}

func runRef(t *testing.T, py, script, base, adapter string, b *model.Batch) refOut {
	t.Helper()
	c := map[string][][]int{}
	for r := 0; r < b.B; r++ {
		mask := make([]int, b.T)
		for i := range mask {
			if b.Mask[r*b.T+i] {
				mask[i] = 1
			}
		}
		c["input_ids"] = append(c["input_ids"], b.IDs[r*b.T:(r+1)*b.T])
		c["attention_mask"] = append(c["attention_mask"], mask)
		c["labels"] = append(c["labels"], b.Labels[r*b.T:(r+1)*b.T])
	}
	dir := t.TempDir()
	in, out := filepath.Join(dir, "case.json"), filepath.Join(dir, "out.json")
	data, _ := json.Marshal(c)
	if err := os.WriteFile(in, data, 0o644); err != nil {
		t.Fatal(err)
	}
	_, file, _, _ := runtime.Caller(0)
	cmd := exec.Command(py, filepath.Join(filepath.Dir(file), "testdata", script), base, adapter, in, out)
	cmd.Env = append(os.Environ(), "OMP_NUM_THREADS=1")
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", script, err, msg)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var o refOut
	if err := json.Unmarshal(data, &o); err != nil {
		t.Fatal(err)
	}
	return o
}

// relErr is max|a-b| / max|b|.
func relErr(a []float32, b []float64) float64 {
	if len(a) != len(b) {
		return math.Inf(1)
	}
	var diff, scale float64
	for i := range a {
		diff = math.Max(diff, math.Abs(float64(a[i])-b[i]))
		scale = math.Max(scale, math.Abs(b[i]))
	}
	return diff / math.Max(scale, 1e-30)
}
