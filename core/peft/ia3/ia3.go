// Package ia3 implements (IA)³ (Liu et al., 2022) as Hugging Face PEFT does,
// and reads and writes PEFT's adapter files.
//
// Each targeted linear layer learns one scaling vector l, initialised to
// ones. On an attention layer it scales the output, y = (x·Wᵀ + b) ⊙ l,
// with l of shape [out, 1]; on a feed-forward layer (feedforward_modules)
// it scales the input, y = (x ⊙ l)·Wᵀ + b, with l of shape [1, in]. GPT-2's
// Conv1D layers use the same shapes (PEFT saves them with fan_in_fan_out).
package ia3

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/lorafn/lorafn/core/model"
	"github.com/lorafn/lorafn/core/peft/lora"
	"github.com/lorafn/lorafn/core/peft/peftfile"
	"github.com/lorafn/lorafn/core/safetensors"
	"github.com/lorafn/lorafn/core/tensor"
)

// PEFT's file names and key layout.
const (
	ConfigFile  = peftfile.ConfigFile
	WeightsFile = peftfile.WeightsFile
	keyPrefix   = "base_model.model."
	keySuffix   = ".ia3_l"
)

// Config is an (IA)³ adapter's configuration; JSON tags are PEFT's keys.
type Config struct {
	TargetModules      lora.Targets `json:"target_modules"`
	FeedforwardModules lora.Targets `json:"feedforward_modules"`
	BaseModel          string       `json:"base_model_name_or_path,omitempty"`
	Revision           string       `json:"revision,omitempty"`
}

// defaults are PEFT's per-family target and feed-forward modules.
func defaults(f model.Family) (targets, feedforward lora.Targets) {
	if f == model.GPT2 {
		return lora.ParseTargets("c_attn,mlp.c_proj"), lora.ParseTargets("mlp.c_proj")
	}
	return lora.ParseTargets("k_proj,v_proj,down_proj"), lora.ParseTargets("down_proj")
}

// Layer is the scaling vector of one linear layer; it implements
// model.Delta.
type Layer struct {
	Module      string // PEFT module path
	Base        *model.Linear
	L           *model.Param // [out, 1], or [1, in] when Feedforward
	Feedforward bool
}

// Forward scales y (the base output) by l, or recomputes it from x ⊙ l for
// a feed-forward layer.
func (l *Layer) Forward(eng tensor.Backend, y, x []float32, n int, _ model.Noise) model.DeltaState {
	in, out, s := l.Base.In, l.Base.Out, l.L.Data
	if l.Feedforward {
		xs := make([]float32, n*in)
		for r := 0; r < n; r++ {
			for i := 0; i < in; i++ {
				xs[r*in+i] = x[r*in+i] * s[i]
			}
		}
		linear(eng, l.Base, y, xs, n)
		return nil
	}
	base := slices.Clone(y[:n*out])
	for r := 0; r < n; r++ {
		row := y[r*out : (r+1)*out]
		for o := range row {
			row[o] *= s[o]
		}
	}
	return base
}

// Backward accumulates dL/dl and corrects dx: the base layer's backward
// pass already added dy·W (feed-forward) or dy·W computed without l.
func (l *Layer) Backward(eng tensor.Backend, dx, dy, x []float32, n int, st model.DeltaState) {
	in, out, s := l.Base.In, l.Base.Out, l.L.Data
	if l.Feedforward {
		g := make([]float32, n*in) // dL/d(x ⊙ l) = dy·W
		inputGrad(eng, l.Base, g, dy, n)
		for r := 0; r < n; r++ {
			for i := 0; i < in; i++ {
				if l.L.Grad != nil {
					l.L.Grad[i] += g[r*in+i] * x[r*in+i]
				}
				if dx != nil {
					dx[r*in+i] += g[r*in+i] * (s[i] - 1)
				}
			}
		}
		return
	}
	base := st.([]float32)
	if l.L.Grad != nil {
		for r := 0; r < n; r++ {
			for o := 0; o < out; o++ {
				l.L.Grad[o] += dy[r*out+o] * base[r*out+o]
			}
		}
	}
	if dx != nil {
		d := make([]float32, n*out) // dy ⊙ (l − 1)
		for r := 0; r < n; r++ {
			for o := 0; o < out; o++ {
				d[r*out+o] = dy[r*out+o] * (s[o] - 1)
			}
		}
		g := make([]float32, n*in)
		inputGrad(eng, l.Base, g, d, n)
		for i, v := range g {
			dx[i] += v
		}
	}
}

// Params returns the scaling vector.
func (l *Layer) Params() []*model.Param { return []*model.Param{l.L} }

// linear writes y = x·Wᵀ + b for the base layer.
func linear(eng tensor.Backend, b *model.Linear, y, x []float32, n int) {
	if b.Transposed {
		eng.Gemm(false, false, n, b.Out, b.In, 1, x, b.In, b.W.Data, b.Out, 0, y, b.Out)
	} else {
		eng.Gemm(false, true, n, b.Out, b.In, 1, x, b.In, b.W.Data, b.In, 0, y, b.Out)
	}
	if b.B != nil {
		for r := 0; r < n; r++ {
			for o, v := range b.B.Data {
				y[r*b.Out+o] += v
			}
		}
	}
}

// inputGrad writes g = dy·W, the gradient of the base layer's input.
func inputGrad(eng tensor.Backend, b *model.Linear, g, dy []float32, n int) {
	if b.Transposed {
		eng.Gemm(false, true, n, b.In, b.Out, 1, dy, b.Out, b.W.Data, b.Out, 0, g, b.In)
	} else {
		eng.Gemm(false, false, n, b.In, b.Out, 1, dy, b.Out, b.W.Data, b.In, 0, g, b.In)
	}
}

// Adapter is an (IA)³ adapter attached to a model.
type Adapter struct {
	Config Config
	Layers []*Layer // in model order
}

func modulePath(c *model.Config, l *model.Linear) string {
	if c.Family == model.GPT2 {
		return "transformer." + l.Name
	}
	return l.Name
}

func linears(m *model.Model) []*model.Linear {
	var out []*model.Linear
	for _, b := range m.Weights.Blocks {
		out = append(out, b.Linears()...)
	}
	return out
}

func newLayer(path string, l *model.Linear, feedforward bool) *Layer {
	shape := []int{l.Out, 1}
	if feedforward {
		shape = []int{1, l.In}
	}
	return &Layer{Module: path, Base: l, Feedforward: feedforward,
		L: &model.Param{Name: keyPrefix + path + keySuffix, Shape: shape, Data: make([]float32, shape[0]*shape[1])}}
}

// Apply attaches a new adapter (every l = 1, so the model is unchanged) to
// the target layers of m, with gradients for the vectors.
func Apply(m *model.Model, cfg Config) (*Adapter, error) {
	if cfg.TargetModules.Empty() {
		cfg.TargetModules, cfg.FeedforwardModules = defaults(m.Config.Family)
	}
	a := &Adapter{Config: cfg}
	err := a.build(m, func(l *Layer) error {
		for i := range l.L.Data {
			l.L.Data[i] = 1
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return a, nil
}

// build creates a layer for every target of m, fills it with fill, and
// attaches the adapter.
func (a *Adapter) build(m *model.Model, fill func(*Layer) error) error {
	cfg := a.Config
	if err := checkSubset(cfg); err != nil {
		return err
	}
	for _, l := range linears(m) {
		path := modulePath(m.Config, l)
		ok, err := cfg.TargetModules.Match(path)
		if err != nil {
			return fmt.Errorf("ia3: %w", err)
		}
		if !ok {
			continue
		}
		ff, err := cfg.FeedforwardModules.Match(path)
		if err != nil {
			return fmt.Errorf("ia3: feedforward_modules: %w", err)
		}
		if l.Delta != nil {
			return fmt.Errorf("ia3: %s already has an adapter", path)
		}
		layer := newLayer(path, l, ff)
		if err := fill(layer); err != nil {
			return err
		}
		a.Layers = append(a.Layers, layer)
	}
	if len(a.Layers) == 0 {
		b, _ := json.Marshal(cfg.TargetModules)
		return fmt.Errorf("ia3: target_modules %s match no layer of %s", b, m.Config.Architecture)
	}
	for _, l := range a.Layers {
		l.Base.Delta = l
		if l.L.Grad == nil {
			l.L.Grad = make([]float32, len(l.L.Data))
		}
	}
	return nil
}

// checkSubset enforces PEFT's rule that feedforward_modules ⊆ target_modules
// when both are lists.
func checkSubset(cfg Config) error {
	if cfg.TargetModules.Regex != "" || cfg.FeedforwardModules.Regex != "" {
		return nil
	}
	for _, f := range cfg.FeedforwardModules.Names {
		if !slices.Contains(cfg.TargetModules.Names, f) {
			return fmt.Errorf("ia3: feedforward_modules entry %q is not in target_modules %v", f, cfg.TargetModules.Names)
		}
	}
	return nil
}

// Detach removes the adapter from its model.
func (a *Adapter) Detach() {
	for _, l := range a.Layers {
		if l.Base.Delta == l {
			l.Base.Delta = nil
		}
	}
}

// Params lists the vectors in model order.
func (a *Adapter) Params() []*model.Param {
	var ps []*model.Param
	for _, l := range a.Layers {
		ps = append(ps, l.L)
	}
	return ps
}

// NumParams returns the number of trainable values.
func (a *Adapter) NumParams() int {
	n := 0
	for _, l := range a.Layers {
		n += len(l.L.Data)
	}
	return n
}

// Merge folds the vectors into the base weights as PEFT does: attention
// layers scale the weight rows of each output (and the bias), feed-forward
// layers the weight columns of each input. It then detaches the adapter.
func (a *Adapter) Merge() {
	for _, l := range a.Layers {
		in, out, w, s := l.Base.In, l.Base.Out, l.Base.W.Data, l.L.Data
		for o := 0; o < out; o++ {
			for i := 0; i < in; i++ {
				f := s[o]
				if l.Feedforward {
					f = s[i]
				}
				if l.Base.Transposed {
					w[i*out+o] *= f
				} else {
					w[o*in+i] *= f
				}
			}
		}
		if !l.Feedforward && l.Base.B != nil {
			for o := range l.Base.B.Data {
				l.Base.B.Data[o] *= s[o]
			}
		}
	}
	a.Detach()
}

// Save writes dir/adapter_config.json and dir/adapter_model.safetensors in
// PEFT's format (keys base_model.model.<module>.ia3_l, F32).
func (a *Adapter) Save(dir string) error {
	c := a.Config
	ff := any(c.FeedforwardModules)
	if c.FeedforwardModules.Empty() {
		ff = []string{}
	}
	cfg := map[string]any{
		"peft_type":               "IA3",
		"task_type":               "CAUSAL_LM",
		"auto_mapping":            nil,
		"base_model_name_or_path": peftfile.OrNull(c.BaseModel),
		"revision":                peftfile.OrNull(c.Revision),
		"inference_mode":          true,
		"target_modules":          c.TargetModules,
		"feedforward_modules":     ff,
		"fan_in_fan_out":          len(a.Layers) > 0 && a.Layers[0].Base.Transposed,
		"modules_to_save":         nil,
		"init_ia3_weights":        true,
	}
	if err := peftfile.Save(dir, a.Params(), cfg); err != nil {
		return fmt.Errorf("ia3: save: %w", err)
	}
	return nil
}

// fileConfig is adapter_config.json as read.
type fileConfig struct {
	PeftType           string       `json:"peft_type"`
	TargetModules      lora.Targets `json:"target_modules"`
	FeedforwardModules lora.Targets `json:"feedforward_modules"`
	ExcludeModules     lora.Targets `json:"exclude_modules"`
	ModulesToSave      []string     `json:"modules_to_save"`
	BaseModel          string       `json:"base_model_name_or_path"`
	Revision           string       `json:"revision"`
}

// ReadConfig reads and checks dir/adapter_config.json.
func ReadConfig(dir string) (Config, error) {
	path := filepath.Join(dir, ConfigFile)
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("ia3: %w", err)
	}
	var f fileConfig
	if err := json.Unmarshal(data, &f); err != nil {
		return Config{}, fmt.Errorf("ia3: %s: %w", path, err)
	}
	switch {
	case f.PeftType != "IA3":
		return Config{}, fmt.Errorf("ia3: %s: peft_type = %q, want \"IA3\"", path, f.PeftType)
	case len(f.ModulesToSave) > 0:
		return Config{}, fmt.Errorf("ia3: %s: modules_to_save = %v is not supported by lorafn", path, f.ModulesToSave)
	case !f.ExcludeModules.Empty():
		return Config{}, fmt.Errorf("ia3: %s: exclude_modules is not supported by lorafn", path)
	case f.TargetModules.Empty():
		return Config{}, fmt.Errorf("ia3: %s: target_modules is empty", path)
	}
	return Config{TargetModules: f.TargetModules, FeedforwardModules: f.FeedforwardModules,
		BaseModel: f.BaseModel, Revision: f.Revision}, nil
}

// Load reads a PEFT (IA)³ adapter and attaches it to m. Every target layer
// must have its vector with the orientation feedforward_modules implies,
// and every tensor must belong to a target layer.
func Load(dir string, m *model.Model) (*Adapter, error) {
	cfg, err := ReadConfig(dir)
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, WeightsFile)
	f, err := safetensors.Open(path)
	if err != nil {
		return nil, fmt.Errorf("ia3: %w", err)
	}
	defer f.Close()
	a := &Adapter{Config: cfg}
	used := map[string]bool{}
	err = a.build(m, func(l *Layer) error {
		info, ok := f.Info(l.L.Name)
		if !ok {
			return fmt.Errorf("ia3: %s: tensor %q is missing", path, l.L.Name)
		}
		if !slices.Equal(info.Shape, l.L.Shape) {
			return fmt.Errorf("ia3: %s: tensor %q has shape %v, want %v", path, l.L.Name, info.Shape, l.L.Shape)
		}
		data, err := f.Float32(l.L.Name)
		if err != nil {
			return fmt.Errorf("ia3: %s: %w", path, err)
		}
		copy(l.L.Data, data)
		used[l.L.Name] = true
		return nil
	})
	if err != nil {
		a.Detach()
		return nil, err
	}
	for _, name := range f.Names() {
		if !used[name] {
			a.Detach()
			return nil, fmt.Errorf("ia3: %s: tensor %q is not the ia3_l of a target layer of %s", path, name, m.Config.Architecture)
		}
	}
	return a, nil
}
