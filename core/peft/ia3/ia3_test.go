package ia3

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
	"github.com/lorafn/lorafn/core/peft/lora"
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

func batch(c *model.Config, seed uint64) *model.Batch {
	rng := rand.New(rand.NewPCG(seed, 3))
	b := &model.Batch{B: 2, T: 7, IDs: make([]int, 14), Mask: make([]bool, 14)}
	for i := range b.IDs {
		b.IDs[i] = rng.IntN(c.VocabSize)
		b.Mask[i] = i < 12 // the second sequence ends in padding
	}
	return b
}

// randomize moves every vector away from ones.
func randomize(a *Adapter, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 4))
	for _, l := range a.Layers {
		for i := range l.L.Data {
			l.L.Data[i] = float32(1 + 0.5*rng.NormFloat64())
		}
	}
}

func TestFreshAdapterIsExactNoOp(t *testing.T) {
	for name := range configs {
		m := newModel(t, name)
		b := batch(m.Config, 1)
		want, _ := m.Logits(b)
		a, err := Apply(m, Config{})
		if err != nil {
			t.Fatal(err)
		}
		if len(a.Layers) != 2*map[string]int{"llama": 3, "gpt2": 2}[name] {
			t.Errorf("%s: %d layers adapted", name, len(a.Layers))
		}
		got, _ := m.Logits(b)
		if !slices.Equal(got, want) {
			t.Errorf("%s: a fresh (IA)³ adapter changed the logits", name)
		}
	}
}

// TestPEFTKeysAndShapes checks the files against peft-format.md §3.
func TestPEFTKeysAndShapes(t *testing.T) {
	cases := map[string]struct {
		want  map[string][]int
		fanIn bool
		ff    []string
	}{
		"llama": {map[string][]int{
			"base_model.model.model.layers.0.self_attn.k_proj.ia3_l": {16, 1},
			"base_model.model.model.layers.0.self_attn.v_proj.ia3_l": {16, 1},
			"base_model.model.model.layers.1.mlp.down_proj.ia3_l":    {1, 48},
		}, false, []string{"down_proj"}},
		"gpt2": {map[string][]int{
			"base_model.model.transformer.h.0.attn.c_attn.ia3_l": {96, 1},
			"base_model.model.transformer.h.1.mlp.c_proj.ia3_l":  {1, 128},
		}, true, []string{"mlp.c_proj"}},
	}
	for name, tc := range cases {
		m := newModel(t, name)
		a, err := Apply(m, Config{})
		if err != nil {
			t.Fatal(err)
		}
		dir := t.TempDir()
		if err := a.Save(dir); err != nil {
			t.Fatal(err)
		}
		f, err := safetensors.Open(filepath.Join(dir, WeightsFile))
		if err != nil {
			t.Fatal(err)
		}
		if len(f.Names()) != len(a.Layers) {
			t.Errorf("%s: %d tensors for %d layers", name, len(f.Names()), len(a.Layers))
		}
		for key, shape := range tc.want {
			info, ok := f.Info(key)
			if !ok || !slices.Equal(info.Shape, shape) || info.DType != safetensors.F32 {
				t.Errorf("%s: %s: %+v (present %v), want F32%v", name, key, info, ok, shape)
			}
		}
		f.Close()
		raw, _ := os.ReadFile(filepath.Join(dir, ConfigFile))
		var cfg map[string]any
		if err := json.Unmarshal(raw, &cfg); err != nil {
			t.Fatal(err)
		}
		want := []string{"auto_mapping", "base_model_name_or_path", "fan_in_fan_out", "feedforward_modules", "inference_mode",
			"init_ia3_weights", "modules_to_save", "peft_type", "revision", "target_modules", "task_type"}
		var keys []string
		for k := range cfg {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		if !slices.Equal(keys, want) {
			t.Errorf("%s: config keys %v, want PEFT's %v", name, keys, want)
		}
		ff, _ := json.Marshal(cfg["feedforward_modules"])
		wantFF, _ := json.Marshal(tc.ff)
		if cfg["peft_type"] != "IA3" || cfg["fan_in_fan_out"] != tc.fanIn || string(ff) != string(wantFF) || cfg["init_ia3_weights"] != true {
			t.Errorf("%s: adapter_config.json %s", name, raw)
		}
	}
}

func TestSaveLoadRoundTrip(t *testing.T) {
	for name := range configs {
		m := newModel(t, name)
		a, err := Apply(m, Config{})
		if err != nil {
			t.Fatal(err)
		}
		randomize(a, 5)
		b := batch(m.Config, 2)
		want, _ := m.Logits(b)
		dir := t.TempDir()
		if err := a.Save(dir); err != nil {
			t.Fatal(err)
		}
		fresh := newModel(t, name)
		got, err := Load(dir, fresh)
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Layers) != len(a.Layers) {
			t.Fatalf("%s: loaded %d layers, want %d", name, len(got.Layers), len(a.Layers))
		}
		logits, _ := fresh.Logits(b)
		if !slices.Equal(logits, want) {
			t.Errorf("%s: logits differ after save and load", name)
		}
	}
}

func TestLoadRejectsMismatches(t *testing.T) {
	m := newModel(t, "llama")
	a, _ := Apply(m, Config{})
	dir := t.TempDir()
	if err := a.Save(dir); err != nil {
		t.Fatal(err)
	}
	// The feed-forward vector read as an attention one has the wrong shape.
	raw, _ := os.ReadFile(filepath.Join(dir, ConfigFile))
	var cfg map[string]any
	json.Unmarshal(raw, &cfg)
	cfg["feedforward_modules"] = []string{}
	bad, _ := json.Marshal(cfg)
	os.WriteFile(filepath.Join(dir, ConfigFile), bad, 0o644)
	if _, err := Load(dir, newModel(t, "llama")); err == nil {
		t.Error("loaded a feed-forward vector as an attention vector")
	}
	cfg["feedforward_modules"] = []string{"down_proj"}
	cfg["target_modules"] = []string{"k_proj", "down_proj"} // v_proj tensors left over
	bad, _ = json.Marshal(cfg)
	os.WriteFile(filepath.Join(dir, ConfigFile), bad, 0o644)
	if _, err := Load(dir, newModel(t, "llama")); err == nil {
		t.Error("loaded an adapter with tensors for layers outside target_modules")
	}
	if _, err := Apply(newModel(t, "llama"), Config{TargetModules: lora.ParseTargets("k_proj"), FeedforwardModules: lora.ParseTargets("down_proj")}); err == nil {
		t.Error("feedforward_modules outside target_modules: no error")
	}
}

// TestGradientsFiniteDifference checks dL/dl against central differences.
func TestGradientsFiniteDifference(t *testing.T) {
	for name := range configs {
		m := newModel(t, name)
		a, err := Apply(m, Config{})
		if err != nil {
			t.Fatal(err)
		}
		randomize(a, 6)
		b := batch(m.Config, 3)
		if _, err := m.Backward(b, model.Options{}); err != nil {
			t.Fatal(err)
		}
		loss := func() float64 {
			r, _ := m.Loss(b)
			return r.Mean()
		}
		rng := rand.New(rand.NewPCG(1, 1))
		for _, p := range a.Params() {
			for range 3 {
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
				if g := float64(p.Grad[i]); math.Abs(g-fd) > 1e-4+1e-3*math.Abs(fd) {
					t.Errorf("%s: %s[%d]: backward %.6g, finite difference %.6g", name, p.Name, i, g, fd)
				}
			}
		}
	}
}

func TestMergeMatchesAdapter(t *testing.T) {
	for name := range configs {
		m := newModel(t, name)
		a, err := Apply(m, Config{})
		if err != nil {
			t.Fatal(err)
		}
		randomize(a, 9)
		b := batch(m.Config, 5)
		want, _ := m.Logits(b)
		a.Merge()
		got, _ := m.Logits(b)
		if e := relErr32(got, want); e > 1e-5 {
			t.Errorf("%s: merged logits differ by %.3g relative", name, e)
		}
	}
}

// TestMatchesPyTorch compares logits, loss and dL/dl with the PyTorch
// oracle reading the saved PEFT files.
func TestMatchesPyTorch(t *testing.T) {
	py := torchref.Python(t)
	for name := range configs {
		m := newModel(t, name)
		base := filepath.Join(t.TempDir(), "base")
		if err := m.Save(base); err != nil {
			t.Fatal(err)
		}
		a, err := Apply(m, Config{})
		if err != nil {
			t.Fatal(err)
		}
		randomize(a, 11)
		adapter := filepath.Join(t.TempDir(), "adapter")
		if err := a.Save(adapter); err != nil {
			t.Fatal(err)
		}
		b := batch(m.Config, 7)
		b.Labels = slices.Clone(b.IDs)
		for i := range b.Labels {
			if !b.Mask[i] || i%5 == 0 {
				b.Labels[i] = model.IgnoreIndex
			}
		}
		res, err := m.Backward(b, model.Options{})
		if err != nil {
			t.Fatal(err)
		}
		logits, _ := m.Logits(b)
		ref := runRef(t, py, base, adapter, b)
		if math.Abs(res.Mean()-ref.Loss) > 1e-5*math.Abs(ref.Loss) {
			t.Errorf("%s: loss %v, PyTorch %v", name, res.Mean(), ref.Loss)
		}
		// Logits at padded positions are unspecified; compare real rows.
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
		for _, p := range a.Params() {
			g, ok := ref.Grads[p.Name]
			if !ok {
				t.Fatalf("%s: PyTorch has no gradient for %s", name, p.Name)
			}
			if e := relErr(p.Grad, g); e > 1e-4 {
				t.Errorf("%s: %s gradient differs by %.3g relative", name, p.Name, e)
			}
		}
	}
}

type refOut struct {
	Loss   float64              `json:"loss"`
	Logits []float64            `json:"logits"`
	Grads  map[string][]float64 `json:"grads"`
}

func runRef(t *testing.T, py, base, adapter string, b *model.Batch) refOut {
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
	cmd := exec.Command(py, filepath.Join(filepath.Dir(file), "testdata", "ia3_ref.py"), base, adapter, in, out)
	cmd.Env = append(os.Environ(), "OMP_NUM_THREADS=1")
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ia3_ref.py: %v\n%s", err, msg)
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
	var diff, scale float64
	for i := range a {
		diff = math.Max(diff, math.Abs(float64(a[i])-b[i]))
		scale = math.Max(scale, math.Abs(b[i]))
	}
	return diff / math.Max(scale, 1e-30)
}

func relErr32(a, b []float32) float64 {
	b64 := make([]float64, len(b))
	for i, v := range b {
		b64[i] = float64(v)
	}
	return relErr(a, b64)
}
