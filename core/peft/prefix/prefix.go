// Package prefix implements prefix tuning (Li & Liang, 2021) as Hugging
// Face PEFT does for causal language models, without the reparameterising
// MLP (prefix_projection false), and reads and writes PEFT's adapter files.
//
// The adapter is one table prompt_embeddings [P, num_layers·2·token_dim]:
// every layer gets P trainable keys and values per KV head, which every
// query attends to (see core/model's Prefix). For grouped-query models
// PEFT sets token_dim = head_dim·num_key_value_heads and
// num_attention_heads = num_key_value_heads, so the prefix holds one key and
// value per KV head; lorafn always writes these adjusted values.
package prefix

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"

	"github.com/lorafn/lorafn/core/model"
	"github.com/lorafn/lorafn/core/peft/peftfile"
	"github.com/lorafn/lorafn/core/safetensors"
)

// PEFT's file names and tensor key.
const (
	ConfigFile  = peftfile.ConfigFile
	WeightsFile = peftfile.WeightsFile
	Key         = "prompt_embeddings"
)

// Config is a prefix-tuning adapter's configuration; JSON tags are PEFT's.
type Config struct {
	NumVirtualTokens int `json:"num_virtual_tokens"`
	// InitWeights is "" (N(0, 1), PEFT's nn.Embedding default) or "zero".
	InitWeights string `json:"init_weights,omitempty"`
	BaseModel   string `json:"base_model_name_or_path,omitempty"`
	Revision    string `json:"revision,omitempty"`
}

// Validate checks the fields; errors name the adapter_config.json key.
func (c *Config) Validate() error {
	switch {
	case c.NumVirtualTokens <= 0:
		return fmt.Errorf("prefix: num_virtual_tokens = %d: must be positive", c.NumVirtualTokens)
	case c.InitWeights != "" && c.InitWeights != "zero":
		return fmt.Errorf("prefix: init_weights = %q: want null or \"zero\"", c.InitWeights)
	}
	return nil
}

// Adapter is a prefix-tuning adapter attached to a model.
type Adapter struct {
	Config    Config
	Embedding *model.Param // [P, num_layers·2·KVHeads·HeadDim]
	m         *model.Model
}

// width is a prefix row's length for m: num_layers·2·token_dim.
func width(c *model.Config) int { return c.Layers * 2 * c.KVHeads * c.HeadDim }

func newParam(c *model.Config, p int) *model.Param {
	n := p * width(c)
	return &model.Param{Name: Key, Shape: []int{p, width(c)}, Data: make([]float32, n), Grad: make([]float32, n)}
}

// Apply attaches a new prefix to m, drawn from N(0, 1) with seed (or zero).
func Apply(m *model.Model, cfg Config, seed uint64) (*Adapter, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if m.Prompt != nil || m.Prefix != nil {
		return nil, fmt.Errorf("prefix: the model already has virtual tokens")
	}
	p := newParam(m.Config, cfg.NumVirtualTokens)
	if cfg.InitWeights == "" {
		rng := rand.New(rand.NewPCG(seed, 0x707265666978)) // "prefix"
		for i := range p.Data {
			p.Data[i] = float32(rng.NormFloat64())
		}
	}
	m.Prefix = p
	return &Adapter{Config: cfg, Embedding: p, m: m}, nil
}

// Detach removes the prefix from the model.
func (a *Adapter) Detach() {
	if a.m != nil && a.m.Prefix == a.Embedding {
		a.m.Prefix = nil
	}
}

// Params returns the prefix table.
func (a *Adapter) Params() []*model.Param { return []*model.Param{a.Embedding} }

// peftConfig is adapter_config.json as PEFT writes it for a causal LM,
// with the grouped-query adjustment of _prepare_prompt_learning_config.
func (a *Adapter) peftConfig() map[string]any {
	c, mc := a.Config, a.m.Config
	tokenDim := mc.KVHeads * mc.HeadDim
	return map[string]any{
		"peft_type":                  "PREFIX_TUNING",
		"task_type":                  "CAUSAL_LM",
		"auto_mapping":               nil,
		"base_model_name_or_path":    peftfile.OrNull(c.BaseModel),
		"revision":                   peftfile.OrNull(c.Revision),
		"inference_mode":             true,
		"num_virtual_tokens":         c.NumVirtualTokens,
		"token_dim":                  tokenDim,
		"num_transformer_submodules": 1,
		"num_attention_heads":        mc.KVHeads,
		"num_layers":                 mc.Layers,
		"modules_to_save":            nil,
		"encoder_hidden_size":        tokenDim,
		"prefix_projection":          false,
		"init_weights":               peftfile.OrNull(c.InitWeights),
	}
}

// Save writes dir/adapter_config.json and dir/adapter_model.safetensors
// (the one tensor prompt_embeddings, F32).
func (a *Adapter) Save(dir string) error {
	if err := peftfile.Save(dir, []*model.Param{a.Embedding}, a.peftConfig()); err != nil {
		return fmt.Errorf("prefix: save: %w", err)
	}
	return nil
}

// fileConfig is adapter_config.json as read.
type fileConfig struct {
	PeftType         string   `json:"peft_type"`
	TaskType         string   `json:"task_type"`
	NumVirtualTokens int      `json:"num_virtual_tokens"`
	TokenDim         int      `json:"token_dim"`
	Heads            int      `json:"num_attention_heads"`
	Layers           int      `json:"num_layers"`
	Submodules       int      `json:"num_transformer_submodules"`
	ModulesToSave    []string `json:"modules_to_save"`
	InitWeights      *string  `json:"init_weights"`
	BaseModel        string   `json:"base_model_name_or_path"`
	Revision         string   `json:"revision"`
}

// Load reads a PEFT prefix-tuning adapter and attaches it to m. The saved
// table is used as is, also when it was trained with prefix_projection
// (PEFT saves the projected rows).
func Load(dir string, m *model.Model) (*Adapter, error) {
	path := filepath.Join(dir, ConfigFile)
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("prefix: %w", err)
	}
	var f fileConfig
	if err := json.Unmarshal(raw, &f); err != nil {
		return nil, fmt.Errorf("prefix: %s: %w", path, err)
	}
	mc := m.Config
	switch {
	case f.PeftType != "PREFIX_TUNING":
		return nil, fmt.Errorf("prefix: %s: peft_type = %q, want \"PREFIX_TUNING\"", path, f.PeftType)
	case f.TaskType != "" && f.TaskType != "CAUSAL_LM":
		return nil, fmt.Errorf("prefix: %s: task_type = %q: lorafn supports CAUSAL_LM", path, f.TaskType)
	case f.Submodules > 1:
		return nil, fmt.Errorf("prefix: %s: num_transformer_submodules = %d: a causal LM has 1", path, f.Submodules)
	case f.Layers != mc.Layers:
		return nil, fmt.Errorf("prefix: %s: num_layers = %d, the model has %d", path, f.Layers, mc.Layers)
	case f.TokenDim != mc.KVHeads*mc.HeadDim || f.Heads != mc.KVHeads:
		return nil, fmt.Errorf("prefix: %s: token_dim = %d and num_attention_heads = %d, want %d and %d (head_dim × KV heads, KV heads)",
			path, f.TokenDim, f.Heads, mc.KVHeads*mc.HeadDim, mc.KVHeads)
	case len(f.ModulesToSave) > 0:
		return nil, fmt.Errorf("prefix: %s: modules_to_save = %v is not supported by lorafn", path, f.ModulesToSave)
	case m.Prompt != nil || m.Prefix != nil:
		return nil, fmt.Errorf("prefix: the model already has virtual tokens")
	}
	cfg := Config{NumVirtualTokens: f.NumVirtualTokens, BaseModel: f.BaseModel, Revision: f.Revision}
	if f.InitWeights != nil {
		cfg.InitWeights = *f.InitWeights
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	wpath := filepath.Join(dir, WeightsFile)
	st, err := safetensors.Open(wpath)
	if err != nil {
		return nil, fmt.Errorf("prefix: %w", err)
	}
	defer st.Close()
	if names := st.Names(); len(names) != 1 || names[0] != Key {
		return nil, fmt.Errorf("prefix: %s: tensors %v, want exactly %q", wpath, names, Key)
	}
	info, _ := st.Info(Key)
	if want := []int{cfg.NumVirtualTokens, width(mc)}; !slices.Equal(info.Shape, want) {
		return nil, fmt.Errorf("prefix: %s: %s has shape %v, want [num_virtual_tokens, num_layers·2·token_dim] = %v", wpath, Key, info.Shape, want)
	}
	p := newParam(mc, cfg.NumVirtualTokens)
	data, err := st.Float32(Key)
	if err != nil {
		return nil, fmt.Errorf("prefix: %s: %w", wpath, err)
	}
	copy(p.Data, data)
	m.Prefix = p
	return &Adapter{Config: cfg, Embedding: p, m: m}, nil
}
