package prompt

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
	for name := range configs {
		m := newModel(t, name)
		b := batch(m.Config, 1)
		base, _ := m.Logits(b)
		a, err := Apply(m, Config{NumVirtualTokens: 5}, nil, 3)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := m.Logits(b)
		if len(want) != len(base) || slices.Equal(want, base) {
			t.Fatalf("%s: %d logits with the prompt (%d without), equal: %v", name, len(want), len(base), slices.Equal(want, base))
		}
		dir := t.TempDir()
		if err := a.Save(dir); err != nil {
			t.Fatal(err)
		}
		f, err := safetensors.Open(filepath.Join(dir, WeightsFile))
		if err != nil {
			t.Fatal(err)
		}
		if info, ok := f.Info(Key); !ok || !slices.Equal(info.Shape, []int{5, 32}) || len(f.Names()) != 1 {
			t.Errorf("%s: tensors %v, %s %+v", name, f.Names(), Key, info)
		}
		f.Close()
		var cfg map[string]any
		raw, _ := os.ReadFile(filepath.Join(dir, ConfigFile))
		if err := json.Unmarshal(raw, &cfg); err != nil {
			t.Fatal(err)
		}
		for k, v := range map[string]any{"peft_type": "PROMPT_TUNING", "task_type": "CAUSAL_LM", "num_virtual_tokens": 5.0,
			"token_dim": 32.0, "num_transformer_submodules": 1.0, "num_attention_heads": 4.0, "num_layers": 2.0,
			"prompt_tuning_init": "RANDOM", "inference_mode": true} {
			if cfg[k] != v {
				t.Errorf("%s: %s = %v, want %v", name, k, cfg[k], v)
			}
		}
		fresh := newModel(t, name)
		if _, err := Load(dir, fresh); err != nil {
			t.Fatal(err)
		}
		got, _ := fresh.Logits(b)
		if !slices.Equal(got, want) {
			t.Errorf("%s: logits differ after save and load", name)
		}
	}
}

func TestTextInit(t *testing.T) {
	m := newModel(t, "llama")
	a, err := Apply(m, Config{NumVirtualTokens: 5, Init: Text, InitText: "x"}, []int{7, 3}, 0)
	if err != nil {
		t.Fatal(err)
	}
	H := m.Config.Hidden
	for r, id := range []int{7, 3, 7, 3, 7} {
		if !slices.Equal(a.Embedding.Data[r*H:(r+1)*H], m.Weights.Embed.Data[id*H:(id+1)*H]) {
			t.Errorf("row %d is not the embedding of token %d", r, id)
		}
	}
	if _, err := Apply(newModel(t, "llama"), Config{NumVirtualTokens: 2, Init: Text}, []int{1}, 0); err == nil {
		t.Error("TEXT init without text: no error")
	}
}

// TestGradientsFiniteDifference checks dL/d(prompt) against central
// differences, and that recomputation gives the same gradient.
func TestGradientsFiniteDifference(t *testing.T) {
	for name := range configs {
		m := newModel(t, name)
		a, err := Apply(m, Config{NumVirtualTokens: 3}, nil, 4)
		if err != nil {
			t.Fatal(err)
		}
		p := a.Embedding
		for i := range p.Data {
			p.Data[i] *= 0.3
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
		for range 6 {
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
				t.Errorf("%s: prompt[%d]: backward %.6g, finite difference %.6g", name, i, g[i], fd)
			}
		}
	}
}

// TestGenerateUsesPrompt: greedy generation through the KV cache picks the
// argmax of the full forward pass at every step.
func TestGenerateUsesPrompt(t *testing.T) {
	for name := range configs {
		m := newModel(t, name)
		if _, err := Apply(m, Config{NumVirtualTokens: 4}, nil, 6); err != nil {
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
			last := logits[(len(seq)-1)*V:]
			if best := argmax(last); best != next {
				t.Fatalf("%s: after %v generation chose %d, the full pass %d", name, seq, next, best)
			}
			seq = append(seq, next)
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

// TestMatchesPyTorch compares loss, real-token logits and the prompt's
// gradient with the PyTorch oracle reading the saved PEFT files.
func TestMatchesPyTorch(t *testing.T) {
	py := torchref.Python(t)
	for name := range configs {
		m := newModel(t, name)
		base := filepath.Join(t.TempDir(), "base")
		if err := m.Save(base); err != nil {
			t.Fatal(err)
		}
		a, err := Apply(m, Config{NumVirtualTokens: 4}, nil, 8)
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
		ref := runRef(t, py, "prompt_ref.py", base, adapter, b)
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
			t.Errorf("%s: prompt gradient differs by %.3g relative", name, e)
		}
	}
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

// TestTargetTokensCountFirstToken: under prompt tuning the first real
// token is a target too (PEFT's labels are -100 only for virtual tokens),
// unless its own label is ignored.
func TestTargetTokensCountFirstToken(t *testing.T) {
	m := newModel(t, "llama")
	b := &model.Batch{B: 2, T: 4, IDs: []int{1, 2, 3, 4, 5, 6, 7, 8}, Labels: []int{1, 2, 3, 4, -100, 6, 7, 8}}
	before, _ := m.TargetTokens(b)
	if _, err := Apply(m, Config{NumVirtualTokens: 2}, nil, 1); err != nil {
		t.Fatal(err)
	}
	after, _ := m.TargetTokens(b)
	res, _ := m.Loss(b)
	if before != 6 || after != 7 || res.Tokens != after {
		t.Errorf("targets %d without the prompt, %d with it (loss counted %d); want 6, 7", before, after, res.Tokens)
	}
}
