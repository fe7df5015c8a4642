package lora

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/lorafn/lorafn/core/model"
	"github.com/lorafn/lorafn/core/peft/peftfile"
	"github.com/lorafn/lorafn/core/safetensors"
)

// PEFT's file names and key layout.
const (
	ConfigFile  = peftfile.ConfigFile
	WeightsFile = peftfile.WeightsFile
	keyPrefix   = "base_model.model."
	keyA        = ".lora_A.weight"
	keyB        = ".lora_B.weight"
	keyM        = ".lora_magnitude_vector"
)

// Adapter is a LoRA adapter attached to a model.
type Adapter struct {
	Config Config
	Layers []*Layer // in model order
}

// modulePath returns PEFT's module path of a linear layer: the in-memory
// path of the Hugging Face model, which for GPT-2 carries "transformer.".
func modulePath(c *model.Config, l *model.Linear) string {
	if c.Family == model.GPT2 {
		return "transformer." + l.Name
	}
	return l.Name
}

// linears lists the model's block projections in model order.
func linears(m *model.Model) []*model.Linear {
	var out []*model.Linear
	for _, b := range m.Weights.Blocks {
		out = append(out, b.Linears()...)
	}
	return out
}

// Apply attaches a new adapter to every target layer of m, initialised from
// seed as PEFT does (see Config.Init), with gradients allocated for A and B.
func Apply(m *model.Model, cfg Config, seed uint64) (*Adapter, error) {
	if len(cfg.TargetModules.Names) == 0 && cfg.TargetModules.Regex == "" {
		cfg.TargetModules = defaultTargets(m.Config.Family)
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	a := &Adapter{Config: cfg}
	rng := rand.New(rand.NewPCG(seed, 0x6c6f7261)) // "lora"
	for _, l := range linears(m) {
		path := modulePath(m.Config, l)
		ok, err := cfg.TargetModules.matches(path)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		if l.Delta != nil {
			return nil, fmt.Errorf("lora: %s already has an adapter", path)
		}
		layer := newLayer(path, l, cfg)
		layer.init(cfg, rng)
		if layer.Magnitude != nil { // ‖W‖ per row, as B is zero
			copy(layer.Magnitude.Data, layer.weightNorm())
		}
		a.Layers = append(a.Layers, layer)
	}
	if len(a.Layers) == 0 {
		return nil, fmt.Errorf("lora: target_modules %s match no layer of %s", mustJSON(cfg.TargetModules), m.Config.Architecture)
	}
	a.attach()
	if cfg.TargetModules.Regex == AllLinear {
		// Save the expanded names, which every PEFT version reads.
		a.Config.TargetModules = Targets{Names: shortNames(a.Layers)}
	}
	return a, nil
}

func newLayer(path string, l *model.Linear, cfg Config) *Layer {
	var mag *model.Param
	if cfg.UseDoRA {
		mag = &model.Param{Name: keyPrefix + path + keyM, Shape: []int{l.Out}, Data: make([]float32, l.Out)}
	}
	return &Layer{
		Magnitude: mag,
		Module:    path,
		Base:      l,
		A:         &model.Param{Name: keyPrefix + path + keyA, Shape: []int{cfg.R, l.In}, Data: make([]float32, cfg.R*l.In)},
		B:         &model.Param{Name: keyPrefix + path + keyB, Shape: []int{l.Out, cfg.R}, Data: make([]float32, l.Out*cfg.R)},
		Scaling:   float32(cfg.Scaling()),
		Dropout:   float32(cfg.Dropout),
	}
}

// init draws A (kaiming-uniform with a = √5, i.e. U(±1/√in), or N(0, 1/r²)
// for "gaussian") and zeroes B.
func (l *Layer) init(cfg Config, rng *rand.Rand) {
	if cfg.Init == "gaussian" {
		std := 1 / float64(cfg.R)
		for i := range l.A.Data {
			l.A.Data[i] = float32(rng.NormFloat64() * std)
		}
	} else {
		bound := 1 / math.Sqrt(float64(l.Base.In))
		for i := range l.A.Data {
			l.A.Data[i] = float32((2*rng.Float64() - 1) * bound)
		}
	}
	clear(l.B.Data)
}

// attach installs the layers on their linears and gives them gradients.
func (a *Adapter) attach() {
	for _, l := range a.Layers {
		l.Base.Delta = l
		for _, p := range l.Params() {
			if p.Grad == nil {
				p.Grad = make([]float32, len(p.Data))
			}
		}
	}
}

// Detach removes the adapter from its model.
func (a *Adapter) Detach() {
	for _, l := range a.Layers {
		if l.Base.Delta == l {
			l.Base.Delta = nil
		}
	}
}

// Params lists A and B of every layer, in model order.
func (a *Adapter) Params() []*model.Param {
	var ps []*model.Param
	for _, l := range a.Layers {
		ps = append(ps, l.Params()...)
	}
	return ps
}

// NumParams returns the number of trainable values, Σ r·(in+out).
func (a *Adapter) NumParams() int {
	n := 0
	for _, p := range a.Params() {
		n += len(p.Data)
	}
	return n
}

// Merge folds the adapter into the base weights, W ← W + scaling·B·A
// (transposed for Conv1D, as PEFT's fan_in_fan_out), in float32, and
// detaches it. The model then computes base+adapter without the branch.
//
// For DoRA the merged weight is W' = m/‖W + ΔW‖ ⊙ (W + ΔW), per output row.
func (a *Adapter) Merge() {
	for _, l := range a.Layers {
		in, out, r := l.Base.In, l.Base.Out, l.A.Shape[0]
		w := l.Base.W.Data
		var f []float32
		if l.Magnitude != nil {
			norm := l.weightNorm()
			f = make([]float32, out)
			for o := range f {
				f[o] = l.Magnitude.Data[o] / norm[o]
			}
		}
		for o := 0; o < out; o++ {
			for i := 0; i < in; i++ {
				var s float32
				for k := 0; k < r; k++ {
					s += l.B.Data[o*r+k] * l.A.Data[k*in+i]
				}
				k := o*in + i
				if l.Base.Transposed {
					k = i*out + o
				}
				w[k] += s * l.Scaling
				if f != nil {
					w[k] *= f[o]
				}
			}
		}
	}
	a.Detach()
}

// peftConfig is the conservative subset of adapter_config.json that every
// PEFT version, vLLM and llama.cpp's converter accept (peft-format.md §2.2).
func (a *Adapter) peftConfig(fanInFanOut bool) map[string]any {
	c := a.Config
	init := any(true)
	if c.Init == "gaussian" {
		init = "gaussian"
	}
	return map[string]any{
		"peft_type":               "LORA",
		"task_type":               "CAUSAL_LM",
		"base_model_name_or_path": peftfile.OrNull(c.BaseModel),
		"revision":                peftfile.OrNull(c.Revision),
		"inference_mode":          true,
		"r":                       c.R,
		"lora_alpha":              c.Alpha,
		"lora_dropout":            c.Dropout,
		"target_modules":          c.TargetModules,
		"bias":                    "none",
		"fan_in_fan_out":          fanInFanOut,
		"modules_to_save":         nil,
		"init_lora_weights":       init,
		"layers_to_transform":     nil,
		"layers_pattern":          nil,
		"rank_pattern":            map[string]any{},
		"alpha_pattern":           map[string]any{},
		"use_rslora":              c.UseRSLoRA,
		"use_dora":                c.UseDoRA,
	}
}

// Save writes dir/adapter_config.json and dir/adapter_model.safetensors in
// PEFT's format: keys base_model.model.<module>.lora_{A,B}.weight, F32,
// metadata format=pt, config with sorted keys and 2-space indentation.
func (a *Adapter) Save(dir string) error {
	fanInFanOut := len(a.Layers) > 0 && a.Layers[0].Base.Transposed
	if err := peftfile.Save(dir, a.Params(), a.peftConfig(fanInFanOut)); err != nil {
		return fmt.Errorf("lora: save: %w", err)
	}
	return nil
}

// fileConfig is adapter_config.json as read: lorafn's fields plus those it
// must check are absent or off.
type fileConfig struct {
	PeftType          string          `json:"peft_type"`
	R                 int             `json:"r"`
	Alpha             float64         `json:"lora_alpha"`
	Dropout           float64         `json:"lora_dropout"`
	TargetModules     Targets         `json:"target_modules"`
	UseRSLoRA         bool            `json:"use_rslora"`
	UseDoRA           bool            `json:"use_dora"`
	Bias              string          `json:"bias"`
	ModulesToSave     []string        `json:"modules_to_save"`
	LayersToTransform json.RawMessage `json:"layers_to_transform"`
	RankPattern       map[string]any  `json:"rank_pattern"`
	AlphaPattern      map[string]any  `json:"alpha_pattern"`
	LoraBias          bool            `json:"lora_bias"`
	BaseModel         string          `json:"base_model_name_or_path"`
	Revision          string          `json:"revision"`
	InitLoraWeights   json.RawMessage `json:"init_lora_weights"`
}

// ReadConfig reads and checks dir/adapter_config.json.
func ReadConfig(dir string) (Config, error) {
	path := filepath.Join(dir, ConfigFile)
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("lora: %w", err)
	}
	var f fileConfig
	if err := json.Unmarshal(data, &f); err != nil {
		return Config{}, fmt.Errorf("lora: %s: %w", path, err)
	}
	unsupported := func(key string, v any) (Config, error) {
		return Config{}, fmt.Errorf("lora: %s: %s = %v is not supported by lorafn", path, key, v)
	}
	switch {
	case f.PeftType != "LORA":
		return Config{}, fmt.Errorf("lora: %s: peft_type = %q, want \"LORA\"", path, f.PeftType)
	case f.Bias != "" && f.Bias != "none":
		return unsupported("bias", f.Bias)
	case f.LoraBias:
		return unsupported("lora_bias", true)
	case len(f.ModulesToSave) > 0:
		return unsupported("modules_to_save", f.ModulesToSave)
	case len(f.RankPattern) > 0:
		return unsupported("rank_pattern", f.RankPattern)
	case len(f.AlphaPattern) > 0:
		return unsupported("alpha_pattern", f.AlphaPattern)
	case len(f.LayersToTransform) > 0 && string(f.LayersToTransform) != "null":
		return unsupported("layers_to_transform", string(f.LayersToTransform))
	}
	c := Config{R: f.R, Alpha: f.Alpha, Dropout: f.Dropout, TargetModules: f.TargetModules,
		UseRSLoRA: f.UseRSLoRA, UseDoRA: f.UseDoRA, BaseModel: f.BaseModel, Revision: f.Revision, Init: "true"}
	if string(f.InitLoraWeights) == `"gaussian"` {
		c.Init = "gaussian"
	}
	if err := c.Validate(); err != nil {
		return Config{}, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// Load reads a PEFT LoRA adapter and attaches it to m. The tensor keys
// decide which layers are adapted (as vLLM does); every key must name a
// linear layer of m with the right shapes, and every A must have its B.
func Load(dir string, m *model.Model) (*Adapter, error) {
	cfg, err := ReadConfig(dir)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, WeightsFile)
	f, err := safetensors.Open(path)
	if err != nil {
		return nil, fmt.Errorf("lora: %w", err)
	}
	defer f.Close()
	byPath := map[string]*model.Linear{}
	for _, l := range linears(m) {
		byPath[modulePath(m.Config, l)] = l
	}
	seen := map[string]bool{}
	a := &Adapter{Config: cfg}
	for _, name := range f.Names() {
		module, suffix, err := splitKey(name)
		if err != nil {
			return nil, fmt.Errorf("lora: %s: %w", path, err)
		}
		if suffix == keyM && !cfg.UseDoRA {
			return nil, fmt.Errorf("lora: %s: tensor %q is a DoRA magnitude but use_dora is false", path, name)
		}
		if seen[module] {
			continue
		}
		l, ok := byPath[module]
		if !ok {
			return nil, fmt.Errorf("lora: %s: tensor %q: %s has no linear layer %q", path, name, m.Config.Architecture, module)
		}
		other := keyPrefix + module + keyB
		if suffix != keyA {
			other = keyPrefix + module + keyA
		}
		if _, ok := f.Info(other); !ok {
			return nil, fmt.Errorf("lora: %s: tensor %q has no partner %q", path, name, other)
		}
		layer := newLayer(module, l, cfg)
		for _, p := range layer.Params() {
			if err := readParam(f, p); err != nil {
				return nil, fmt.Errorf("lora: %s: %w", path, err)
			}
		}
		if l.Delta != nil {
			return nil, fmt.Errorf("lora: %s already has an adapter", module)
		}
		seen[module] = true
		a.Layers = append(a.Layers, layer)
	}
	if len(a.Layers) == 0 {
		return nil, fmt.Errorf("lora: %s: no LoRA tensors", path)
	}
	order := map[*model.Linear]int{}
	for i, l := range linears(m) {
		order[l] = i
	}
	slices.SortFunc(a.Layers, func(x, y *Layer) int { return order[x.Base] - order[y.Base] })
	a.attach()
	return a, nil
}

// splitKey splits "base_model.model.<module>.lora_A.weight" (also with
// PEFT's in-memory ".default" adapter name) into module and suffix.
func splitKey(name string) (module, suffix string, err error) {
	rest, ok := strings.CutPrefix(name, keyPrefix)
	if !ok {
		return "", "", fmt.Errorf("tensor %q: key does not start with %q", name, keyPrefix)
	}
	if m, ok := strings.CutSuffix(rest, keyM); ok {
		return m, keyM, nil
	}
	for _, sfx := range []string{keyA, keyB} {
		if m, ok := strings.CutSuffix(rest, sfx); ok {
			return m, sfx, nil
		}
		inMemory := strings.Replace(sfx, ".weight", ".default.weight", 1)
		if m, ok := strings.CutSuffix(rest, inMemory); ok {
			return "", "", fmt.Errorf("tensor %q: key carries an adapter name; module %q", name, m)
		}
	}
	return "", "", fmt.Errorf("tensor %q is not a lora_A or lora_B weight", name)
}

// readParam fills p from the file, checking its shape.
func readParam(f *safetensors.File, p *model.Param) error {
	info, ok := f.Info(p.Name)
	if !ok {
		return fmt.Errorf("tensor %q is missing", p.Name)
	}
	if !slices.Equal(info.Shape, p.Shape) {
		return fmt.Errorf("tensor %q has shape %v, want %v", p.Name, info.Shape, p.Shape)
	}
	data, err := f.Float32(p.Name)
	if err != nil {
		return err
	}
	copy(p.Data, data)
	return nil
}

func shortNames(layers []*Layer) []string {
	var names []string
	for _, l := range layers {
		names = append(names, l.Module[strings.LastIndex(l.Module, ".")+1:])
	}
	slices.Sort(names)
	return slices.Compact(names)
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
