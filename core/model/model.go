package model

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/lorafn/lorafn/internal/atomicfile"

	"github.com/lorafn/lorafn/core/safetensors"
	"github.com/lorafn/lorafn/core/tensor"
)

// Model is a decoder-only language model with its weights in float32.
type Model struct {
	Config  *Config
	Weights *Weights

	// Prompt, when set, holds prompt tuning's virtual-token embeddings
	// [P, H]; Prefix, when set, prefix tuning's per-layer keys and values
	// [P, Layers·2·KVHeads·HeadDim]. See virtual.go. Neither is in Params.
	Prompt *Param
	Prefix *Param

	eng     tensor.Backend
	invFreq []float32 // RoPE inverse frequencies; nil for GPT-2
	bufs    buffers   // activations and gradients, reused pass after pass
	// headChunk overrides headChunkElems, so tests can cut the head's
	// products into chunks on a small model.
	headChunk int
}

// New returns a model with zeroed weights. eng nil means tensor.Default().
func New(c *Config, eng tensor.Backend) *Model {
	if eng == nil {
		eng = tensor.Default()
	}
	m := &Model{Config: c, Weights: newWeights(c), eng: eng}
	if c.Family == Llama {
		m.invFreq = ropeFreqs(c)
	}
	return m
}

func (m *Model) attnDims() attnDims {
	return attnDims{heads: m.Config.Heads, kvHeads: m.Config.KVHeads, d: m.Config.HeadDim}
}

// Params lists every distinct parameter once, in checkpoint order.
func (m *Model) Params() []*Param { return m.Weights.Params() }

// SetTrainable gives a gradient buffer to every parameter whose Hugging Face
// name satisfies trainable and removes it from the others.
func (m *Model) SetTrainable(trainable func(name string) bool) {
	for _, p := range m.Params() {
		switch {
		case trainable(p.Name) && p.Grad == nil:
			p.Grad = make([]float32, len(p.Data))
		case !trainable(p.Name):
			p.Grad = nil
		}
	}
}

// ZeroGrad sets every gradient to zero.
func (m *Model) ZeroGrad() {
	for _, p := range m.Params() {
		clear(p.Grad)
	}
}

// Load reads a Hugging Face model folder: config.json and model.safetensors
// (or a sharded checkpoint with model.safetensors.index.json). F16 and BF16
// weights are converted to float32.
func Load(dir string, eng tensor.Backend) (*Model, error) {
	c, err := LoadConfig(dir)
	if err != nil {
		return nil, err
	}
	ck, err := safetensors.OpenCheckpoint(dir)
	if err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	defer ck.Close()
	m := New(c, eng)
	if err := m.loadWeights(dir, ck); err != nil {
		return nil, err
	}
	return m, nil
}

// loadWeights fills every parameter from ck, checking names and shapes both
// ways: a missing tensor, a wrong shape or an unknown tensor is an error.
func (m *Model) loadWeights(dir string, ck *safetensors.Checkpoint) error {
	used := map[string]bool{}
	for _, p := range m.Params() {
		name := p.Name
		if _, ok := ck.Info(name); !ok && m.Config.Family == GPT2 {
			name = "transformer." + p.Name // the in-memory module path
		}
		info, ok := ck.Info(name)
		if !ok {
			return fmt.Errorf("model: %s: tensor %q is missing", dir, p.Name)
		}
		if !slices.Equal(info.Shape, p.Shape) {
			return fmt.Errorf("model: %s: tensor %q has shape %v, config.json implies %v", dir, name, info.Shape, p.Shape)
		}
		data, err := ck.Float32(name)
		if err != nil {
			return fmt.Errorf("model: %s: %w", dir, err)
		}
		copy(p.Data, data)
		used[name] = true
	}
	for _, name := range ck.Names() {
		if used[name] || ignorableTensor(m.Config, name) {
			continue
		}
		return fmt.Errorf("model: %s: unexpected tensor %q for %s", dir, name, m.Config.Architecture)
	}
	return nil
}

// ignorableTensor names checkpoint entries that are not parameters: GPT-2's
// attention-mask buffers, old RoPE buffers, and a duplicate head in tied
// checkpoints (tied models take the head from the embedding).
func ignorableTensor(c *Config, name string) bool {
	switch {
	case strings.HasSuffix(name, ".attn.bias"), strings.HasSuffix(name, ".attn.masked_bias"):
		return c.Family == GPT2
	case strings.HasSuffix(name, ".rotary_emb.inv_freq"):
		return true
	case name == "lm_head.weight":
		return c.TieEmbeddings
	}
	return false
}

// Save writes the model as a Hugging Face folder: config.json (as read, or
// as given to ParseConfig) and model.safetensors in float32. Existing files
// are replaced atomically.
func (m *Model) Save(dir string) error {
	if len(m.Config.Raw) == 0 {
		return errors.New("model: save: config has no config.json text")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("model: save: %w", err)
	}
	var ts []safetensors.Tensor
	for _, p := range m.Params() {
		ts = append(ts, safetensors.F32Tensor(p.Name, p.Shape, p.Data))
	}
	if err := safetensors.WriteFile(filepath.Join(dir, "model.safetensors"), ts, map[string]string{"format": "pt"}); err != nil {
		return fmt.Errorf("model: save: %w", err)
	}
	if err := atomicfile.WriteFile(filepath.Join(dir, "config.json"), m.Config.Raw); err != nil {
		return fmt.Errorf("model: save: %w", err)
	}
	return nil
}

// InitRandom initialises the weights as Hugging Face's _init_weights does
// for a new model: matrices and embeddings from N(0, std²), biases zero,
// norm weights one. The result is a pure function of seed.
func (m *Model) InitRandom(seed uint64, std float64) {
	rng := rand.New(rand.NewPCG(seed, 0x6c6f7261666e)) // "lorafn"
	for _, p := range m.Params() {
		switch {
		case len(p.Shape) == 2:
			for i := range p.Data {
				p.Data[i] = float32(rng.NormFloat64() * std)
			}
		case strings.HasSuffix(p.Name, ".bias"):
			clear(p.Data)
		default: // norm weights
			for i := range p.Data {
				p.Data[i] = 1
			}
		}
	}
}

// NumParams returns the number of distinct parameter values.
func (m *Model) NumParams() int {
	n := 0
	for _, p := range m.Params() {
		n += len(p.Data)
	}
	return n
}

// finite reports whether every value is a finite number.
func finite(xs []float32) bool {
	for _, v := range xs {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return false
		}
	}
	return true
}
