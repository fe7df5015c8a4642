package lora

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/lorafn/lorafn/core/model"
	"github.com/lorafn/lorafn/core/safetensors"
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
	b := &model.Batch{B: 2, T: 7, IDs: make([]int, 14)}
	for i := range b.IDs {
		b.IDs[i] = rng.IntN(c.VocabSize)
	}
	return b
}

// randomizeB makes the adapter non-trivial (B is zero after Apply).
func randomizeB(a *Adapter, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 4))
	for _, l := range a.Layers {
		for i := range l.B.Data {
			l.B.Data[i] = float32(rng.NormFloat64() * 0.3)
		}
	}
}

func TestFreshAdapterIsExactNoOp(t *testing.T) {
	for name := range configs {
		m := newModel(t, name)
		b := batch(m.Config, 1)
		want, _ := m.Logits(b)
		cfg := DefaultConfig()
		cfg.TargetModules = Targets{Regex: AllLinear}
		if _, err := Apply(m, cfg, 7); err != nil {
			t.Fatal(err)
		}
		got, _ := m.Logits(b)
		if !slices.Equal(got, want) {
			t.Errorf("%s: a fresh adapter changed the logits", name)
		}
	}
}

func TestInitialisation(t *testing.T) {
	m := newModel(t, "llama")
	a, err := Apply(m, Config{R: 4, Alpha: 8, Init: "true"}, 3)
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range a.Layers {
		bound := float32(1 / math.Sqrt(float64(l.Base.In)))
		var maxAbs float32
		for _, v := range l.A.Data {
			maxAbs = max(maxAbs, float32(math.Abs(float64(v))))
		}
		if maxAbs > bound || maxAbs < bound/2 {
			t.Errorf("%s: max |A| = %v, want within (%v/2, %v]", l.Module, maxAbs, bound, bound)
		}
		if slices.ContainsFunc(l.B.Data, func(v float32) bool { return v != 0 }) {
			t.Errorf("%s: B is not zero", l.Module)
		}
		if l.Scaling != 2 {
			t.Errorf("%s: scaling %v, want alpha/r = 2", l.Module, l.Scaling)
		}
	}
	rs := Config{R: 4, Alpha: 8, UseRSLoRA: true}
	if got := rs.Scaling(); got != 4 {
		t.Errorf("rsLoRA scaling %v, want 8/√4 = 4", got)
	}
}

// TestPEFTKeysAndShapes checks the saved files against peft-format.md §2.
func TestPEFTKeysAndShapes(t *testing.T) {
	cases := map[string]struct {
		targets Targets
		want    map[string][]int
		fanIn   bool
	}{
		"llama": {Targets{Names: []string{"q_proj", "v_proj", "down_proj"}}, map[string][]int{
			"base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight": {8, 32},
			"base_model.model.model.layers.0.self_attn.q_proj.lora_B.weight": {32, 8},
			"base_model.model.model.layers.1.self_attn.v_proj.lora_A.weight": {8, 32},
			"base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight": {16, 8},
			"base_model.model.model.layers.1.mlp.down_proj.lora_A.weight":    {8, 48},
			"base_model.model.model.layers.1.mlp.down_proj.lora_B.weight":    {32, 8},
		}, false},
		"gpt2": {Targets{Names: []string{"c_attn", "mlp.c_proj"}}, map[string][]int{
			"base_model.model.transformer.h.0.attn.c_attn.lora_A.weight": {8, 32},
			"base_model.model.transformer.h.0.attn.c_attn.lora_B.weight": {96, 8},
			"base_model.model.transformer.h.1.mlp.c_proj.lora_A.weight":  {8, 128},
			"base_model.model.transformer.h.1.mlp.c_proj.lora_B.weight":  {32, 8},
		}, true},
	}
	for name, tc := range cases {
		m := newModel(t, name)
		a, err := Apply(m, Config{R: 8, Alpha: 16, TargetModules: tc.targets}, 1)
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
		if f.Metadata()["format"] != "pt" {
			t.Errorf("%s: metadata %v, want format=pt", name, f.Metadata())
		}
		names := f.Names()
		if len(names) != len(a.Layers)*2 {
			t.Errorf("%s: %d tensors for %d layers", name, len(names), len(a.Layers))
		}
		for key, shape := range tc.want {
			info, ok := f.Info(key)
			if !ok {
				t.Errorf("%s: missing key %s (have %v)", name, key, names[:4])
				continue
			}
			if !slices.Equal(info.Shape, shape) || info.DType != safetensors.F32 {
				t.Errorf("%s: %s is %s%v, want F32%v", name, key, info.DType, info.Shape, shape)
			}
		}
		f.Close()
		var cfg map[string]any
		raw, _ := os.ReadFile(filepath.Join(dir, ConfigFile))
		if err := json.Unmarshal(raw, &cfg); err != nil {
			t.Fatal(err)
		}
		allowed := "peft_type task_type base_model_name_or_path revision inference_mode r lora_alpha lora_dropout target_modules bias fan_in_fan_out modules_to_save init_lora_weights layers_to_transform layers_pattern rank_pattern alpha_pattern use_rslora use_dora"
		for k := range cfg {
			if !slices.Contains(strings.Fields(allowed), k) {
				t.Errorf("%s: adapter_config.json key %q is outside the conservative subset", name, k)
			}
		}
		if cfg["peft_type"] != "LORA" || cfg["bias"] != "none" || cfg["use_dora"] != false || cfg["modules_to_save"] != nil || cfg["fan_in_fan_out"] != tc.fanIn || cfg["r"] != 8.0 || cfg["lora_alpha"] != 16.0 {
			t.Errorf("%s: adapter_config.json %s", name, raw)
		}
		if strings.HasSuffix(string(raw), "\n") || !strings.Contains(string(raw), "\n  \"") {
			t.Errorf("%s: want 2-space indentation and no trailing newline", name)
		}
	}
}

func TestSaveLoadRoundTrip(t *testing.T) {
	for name := range configs {
		m := newModel(t, name)
		a, err := Apply(m, Config{R: 4, Alpha: 8, TargetModules: Targets{Regex: AllLinear}, UseRSLoRA: true}, 2)
		if err != nil {
			t.Fatal(err)
		}
		randomizeB(a, 5)
		b := batch(m.Config, 2)
		want, _ := m.Logits(b)
		dir := t.TempDir()
		if err := a.Save(dir); err != nil {
			t.Fatal(err)
		}
		a.Detach()
		fresh := newModel(t, name)
		got, err := Load(dir, fresh)
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Layers) != len(a.Layers) || got.Config.R != 4 || !got.Config.UseRSLoRA {
			t.Fatalf("%s: loaded %d layers, config %+v", name, len(got.Layers), got.Config)
		}
		logits, _ := fresh.Logits(b)
		if !slices.Equal(logits, want) {
			t.Errorf("%s: logits differ after save and load", name)
		}
	}
}

// TestGradientsFiniteDifference checks dL/dA and dL/dB of a non-trivial
// adapter against central differences of the loss.
func TestGradientsFiniteDifference(t *testing.T) {
	for name := range configs {
		m := newModel(t, name)
		a, err := Apply(m, Config{R: 3, Alpha: 6, TargetModules: Targets{Regex: AllLinear}}, 4)
		if err != nil {
			t.Fatal(err)
		}
		randomizeB(a, 6)
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

// TestDropoutIsSeededAndRecomputeSafe: the same seed gives the same
// gradients, with or without activation recomputation; another seed does
// not; evaluation ignores dropout.
func TestDropoutIsSeededAndRecomputeSafe(t *testing.T) {
	m := newModel(t, "llama")
	a, err := Apply(m, Config{R: 4, Alpha: 4, Dropout: 0.3}, 4)
	if err != nil {
		t.Fatal(err)
	}
	randomizeB(a, 7)
	b := batch(m.Config, 4)
	grads := func(opt model.Options) []float32 {
		for _, p := range a.Params() {
			clear(p.Grad)
		}
		if _, err := m.Backward(b, opt); err != nil {
			t.Fatal(err)
		}
		var g []float32
		for _, p := range a.Params() {
			g = append(g, p.Grad...)
		}
		return g
	}
	g1 := grads(model.Options{Dropout: true, DropoutSeed: 9})
	g2 := grads(model.Options{Dropout: true, DropoutSeed: 9, Recompute: true})
	g3 := grads(model.Options{Dropout: true, DropoutSeed: 10})
	g0 := grads(model.Options{})
	if !slices.Equal(g1, g2) {
		t.Error("recomputation changed dropout gradients")
	}
	if slices.Equal(g1, g3) || slices.Equal(g1, g0) {
		t.Error("dropout seed has no effect")
	}
}

func TestMergeMatchesAdapter(t *testing.T) {
	for name := range configs {
		m := newModel(t, name)
		a, err := Apply(m, Config{R: 4, Alpha: 8, TargetModules: Targets{Regex: AllLinear}}, 8)
		if err != nil {
			t.Fatal(err)
		}
		randomizeB(a, 9)
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

func TestReadPEFTConfig(t *testing.T) {
	// A config as PEFT 0.13 writes it, with keys lorafn does not use.
	peft := `{"alpha_pattern": {}, "auto_mapping": null, "base_model_name_or_path": "HuggingFaceTB/SmolLM2-135M",
	  "bias": "none", "fan_in_fan_out": false, "inference_mode": true, "init_lora_weights": true,
	  "layer_replication": null, "layers_pattern": null, "layers_to_transform": null, "loftq_config": {},
	  "lora_alpha": 32, "lora_dropout": 0.05, "megatron_config": null, "megatron_core": "megatron.core",
	  "modules_to_save": null, "peft_type": "LORA", "r": 16, "rank_pattern": {}, "revision": null,
	  "target_modules": ["v_proj", "q_proj"], "task_type": "CAUSAL_LM", "use_dora": false, "use_rslora": false}`
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, ConfigFile), []byte(peft), 0o644)
	c, err := ReadConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	if c.R != 16 || c.Alpha != 32 || c.Dropout != 0.05 || !slices.Equal(c.TargetModules.Names, []string{"v_proj", "q_proj"}) {
		t.Errorf("read %+v", c)
	}
	dora := strings.Replace(peft, `"use_dora": false`, `"use_dora": true`, 1)
	os.WriteFile(filepath.Join(dir, ConfigFile), []byte(dora), 0o644)
	if c, err := ReadConfig(dir); err != nil || !c.UseDoRA {
		t.Errorf("use_dora true: read %+v, %v", c, err)
	}
	for _, bad := range []string{
		strings.Replace(peft, `"bias": "none"`, `"bias": "all"`, 1),
		strings.Replace(peft, `"peft_type": "LORA"`, `"peft_type": "IA3"`, 1),
		strings.Replace(peft, `"r": 16`, `"r": 0`, 1),
		strings.Replace(peft, `"modules_to_save": null`, `"modules_to_save": ["lm_head"]`, 1),
	} {
		os.WriteFile(filepath.Join(dir, ConfigFile), []byte(bad), 0o644)
		if _, err := ReadConfig(dir); err == nil {
			t.Errorf("accepted %s", bad)
		}
	}
}

func TestTargetsMatchLikePEFT(t *testing.T) {
	for _, tc := range []struct {
		t    Targets
		path string
		want bool
	}{
		{Targets{Names: []string{"c_proj"}}, "transformer.h.0.attn.c_proj", true},
		{Targets{Names: []string{"c_proj"}}, "transformer.h.0.mlp.c_proj", true},
		{Targets{Names: []string{"mlp.c_proj"}}, "transformer.h.0.attn.c_proj", false},
		{Targets{Names: []string{"proj"}}, "model.layers.0.self_attn.q_proj", false},
		{Targets{Names: []string{"model.layers.0.self_attn.q_proj"}}, "model.layers.0.self_attn.q_proj", true},
		{Targets{Regex: `.*\.layers\.1\..*(q|v)_proj`}, "model.layers.1.self_attn.v_proj", true},
		{Targets{Regex: `q_proj`}, "model.layers.1.self_attn.q_proj", false}, // full match only
	} {
		if got, _ := tc.t.matches(tc.path); got != tc.want {
			t.Errorf("%+v matches %s = %v, want %v", tc.t, tc.path, got, tc.want)
		}
	}
	m := newModel(t, "llama")
	if _, err := Apply(m, Config{R: 2, Alpha: 2, TargetModules: Targets{Names: []string{"nope"}}}, 1); err == nil {
		t.Error("targets that match nothing: no error")
	}
}
