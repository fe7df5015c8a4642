// Package prompt implements prompt tuning (Lester et al., 2021) as Hugging
// Face PEFT does for causal language models, and reads and writes PEFT's
// adapter files.
//
// The adapter is a table of num_virtual_tokens embeddings [P, H] placed in
// front of every sequence's input embeddings (see core/model's Prompt). It
// starts from N(0, 1) (RANDOM) or from the embeddings of the tokenised
// prompt_tuning_init_text, cut or repeated to P tokens (TEXT). PEFT saves it
// as the single tensor "prompt_embeddings".
package prompt

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

// Initialisations (PEFT's prompt_tuning_init).
const (
	Random = "RANDOM"
	Text   = "TEXT"
)

// Config is a prompt-tuning adapter's configuration; JSON tags are PEFT's.
type Config struct {
	NumVirtualTokens int    `json:"num_virtual_tokens"`
	Init             string `json:"prompt_tuning_init"`
	InitText         string `json:"prompt_tuning_init_text,omitempty"`
	// TokenizerName is the tokenizer that turns InitText into ids: for
	// lorafn a folder holding tokenizer.json (PEFT: a hub name or folder).
	TokenizerName string `json:"tokenizer_name_or_path,omitempty"`
	BaseModel     string `json:"base_model_name_or_path,omitempty"`
	Revision      string `json:"revision,omitempty"`
}

// Validate checks the fields; errors name the adapter_config.json key.
func (c *Config) Validate() error {
	switch {
	case c.NumVirtualTokens <= 0:
		return fmt.Errorf("prompt: num_virtual_tokens = %d: must be positive", c.NumVirtualTokens)
	case c.Init != Random && c.Init != Text:
		return fmt.Errorf("prompt: prompt_tuning_init = %q: lorafn supports %s and %s", c.Init, Random, Text)
	case c.Init == Text && c.InitText == "":
		return fmt.Errorf("prompt: prompt_tuning_init TEXT needs prompt_tuning_init_text")
	}
	return nil
}

// Adapter is a prompt-tuning adapter attached to a model.
type Adapter struct {
	Config    Config
	Embedding *model.Param // [P, H], named "prompt_embeddings"
	m         *model.Model
}

func newParam(p, h int) *model.Param {
	return &model.Param{Name: Key, Shape: []int{p, h}, Data: make([]float32, p*h), Grad: make([]float32, p*h)}
}

// Apply attaches new virtual tokens to m. RANDOM draws N(0, 1) from seed;
// TEXT copies the embedding rows of initIDs (the tokenised init text),
// repeating or cutting them to P rows.
func Apply(m *model.Model, cfg Config, initIDs []int, seed uint64) (*Adapter, error) {
	if cfg.Init == "" {
		cfg.Init = Random
	}
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if m.Prompt != nil || m.Prefix != nil {
		return nil, fmt.Errorf("prompt: the model already has virtual tokens")
	}
	P, H := cfg.NumVirtualTokens, m.Config.Hidden
	p := newParam(P, H)
	switch cfg.Init {
	case Random:
		rng := rand.New(rand.NewPCG(seed, 0x70726f6d7074)) // "prompt"
		for i := range p.Data {
			p.Data[i] = float32(rng.NormFloat64())
		}
	case Text:
		if len(initIDs) == 0 {
			return nil, fmt.Errorf("prompt: prompt_tuning_init_text %q has no tokens", cfg.InitText)
		}
		for r := 0; r < P; r++ {
			id := initIDs[r%len(initIDs)]
			if id < 0 || id >= m.Config.VocabSize {
				return nil, fmt.Errorf("prompt: init text token id %d outside the vocabulary [0, %d)", id, m.Config.VocabSize)
			}
			copy(p.Data[r*H:(r+1)*H], m.Weights.Embed.Data[id*H:(id+1)*H])
		}
	}
	m.Prompt = p
	return &Adapter{Config: cfg, Embedding: p, m: m}, nil
}

// Detach removes the virtual tokens from the model.
func (a *Adapter) Detach() {
	if a.m != nil && a.m.Prompt == a.Embedding {
		a.m.Prompt = nil
	}
}

// Params returns the embedding table.
func (a *Adapter) Params() []*model.Param { return []*model.Param{a.Embedding} }

// peftConfig is adapter_config.json as PEFT writes it for a causal LM; the
// model-derived fields are filled as PEFT's _prepare_prompt_learning_config
// does.
func (a *Adapter) peftConfig() map[string]any {
	c, mc := a.Config, a.m.Config
	return map[string]any{
		"peft_type":                  "PROMPT_TUNING",
		"task_type":                  "CAUSAL_LM",
		"auto_mapping":               nil,
		"base_model_name_or_path":    peftfile.OrNull(c.BaseModel),
		"revision":                   peftfile.OrNull(c.Revision),
		"inference_mode":             true,
		"num_virtual_tokens":         c.NumVirtualTokens,
		"token_dim":                  mc.Hidden,
		"num_transformer_submodules": 1,
		"num_attention_heads":        mc.Heads,
		"num_layers":                 mc.Layers,
		"modules_to_save":            nil,
		"prompt_tuning_init":         c.Init,
		"prompt_tuning_init_text":    peftfile.OrNull(c.InitText),
		"tokenizer_name_or_path":     peftfile.OrNull(c.TokenizerName),
		"tokenizer_kwargs":           nil,
	}
}

// Save writes dir/adapter_config.json and dir/adapter_model.safetensors
// (the one tensor prompt_embeddings [P, H], F32).
func (a *Adapter) Save(dir string) error {
	if err := peftfile.Save(dir, []*model.Param{a.Embedding}, a.peftConfig()); err != nil {
		return fmt.Errorf("prompt: save: %w", err)
	}
	return nil
}

// fileConfig is adapter_config.json as read.
type fileConfig struct {
	PeftType         string   `json:"peft_type"`
	TaskType         string   `json:"task_type"`
	NumVirtualTokens int      `json:"num_virtual_tokens"`
	TokenDim         int      `json:"token_dim"`
	Submodules       int      `json:"num_transformer_submodules"`
	ModulesToSave    []string `json:"modules_to_save"`
	Init             string   `json:"prompt_tuning_init"`
	InitText         string   `json:"prompt_tuning_init_text"`
	TokenizerName    string   `json:"tokenizer_name_or_path"`
	BaseModel        string   `json:"base_model_name_or_path"`
	Revision         string   `json:"revision"`
}

// Load reads a PEFT prompt-tuning adapter and attaches it to m.
func Load(dir string, m *model.Model) (*Adapter, error) {
	path := filepath.Join(dir, ConfigFile)
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("prompt: %w", err)
	}
	var f fileConfig
	if err := json.Unmarshal(raw, &f); err != nil {
		return nil, fmt.Errorf("prompt: %s: %w", path, err)
	}
	switch {
	case f.PeftType != "PROMPT_TUNING":
		return nil, fmt.Errorf("prompt: %s: peft_type = %q, want \"PROMPT_TUNING\"", path, f.PeftType)
	case f.TaskType != "" && f.TaskType != "CAUSAL_LM":
		return nil, fmt.Errorf("prompt: %s: task_type = %q: lorafn supports CAUSAL_LM", path, f.TaskType)
	case f.Submodules > 1:
		return nil, fmt.Errorf("prompt: %s: num_transformer_submodules = %d: a causal LM has 1", path, f.Submodules)
	case f.TokenDim != 0 && f.TokenDim != m.Config.Hidden:
		return nil, fmt.Errorf("prompt: %s: token_dim = %d, the model's hidden size is %d", path, f.TokenDim, m.Config.Hidden)
	case len(f.ModulesToSave) > 0:
		return nil, fmt.Errorf("prompt: %s: modules_to_save = %v is not supported by lorafn", path, f.ModulesToSave)
	case m.Prompt != nil || m.Prefix != nil:
		return nil, fmt.Errorf("prompt: the model already has virtual tokens")
	}
	cfg := Config{NumVirtualTokens: f.NumVirtualTokens, Init: f.Init, InitText: f.InitText,
		TokenizerName: f.TokenizerName, BaseModel: f.BaseModel, Revision: f.Revision}
	if cfg.Init == "" {
		cfg.Init = Random
	}
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	wpath := filepath.Join(dir, WeightsFile)
	st, err := safetensors.Open(wpath)
	if err != nil {
		return nil, fmt.Errorf("prompt: %w", err)
	}
	defer st.Close()
	if names := st.Names(); len(names) != 1 || names[0] != Key {
		return nil, fmt.Errorf("prompt: %s: tensors %v, want exactly %q", wpath, names, Key)
	}
	info, _ := st.Info(Key)
	if want := []int{cfg.NumVirtualTokens, m.Config.Hidden}; !slices.Equal(info.Shape, want) {
		return nil, fmt.Errorf("prompt: %s: %s has shape %v, want [num_virtual_tokens, hidden] = %v", wpath, Key, info.Shape, want)
	}
	p := newParam(cfg.NumVirtualTokens, m.Config.Hidden)
	data, err := st.Float32(Key)
	if err != nil {
		return nil, fmt.Errorf("prompt: %s: %w", wpath, err)
	}
	copy(p.Data, data)
	m.Prompt = p
	return &Adapter{Config: cfg, Embedding: p, m: m}, nil
}
