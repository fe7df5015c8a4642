package model

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
)

// Family is the kind of decoder a checkpoint holds.
type Family int

const (
	// Llama is the Llama family: RMSNorm, RoPE, SwiGLU, separate q/k/v
	// projections (LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM).
	Llama Family = iota
	// GPT2 is GPT2LMHeadModel: LayerNorm, learned positions, gelu_new MLP,
	// fused Conv1D c_attn.
	GPT2
)

func (f Family) String() string {
	if f == GPT2 {
		return "gpt2"
	}
	return "llama"
}

// RopeScaling is the Llama-3 frequency rescaling (rope_type "llama3").
type RopeScaling struct {
	Factor                        float64
	LowFreqFactor, HighFreqFactor float64
	OriginalMaxPositions          int
}

// Config is the subset of a Hugging Face config.json that fixes the
// arithmetic of the forward pass. Raw keeps the file as read, so a saved
// checkpoint carries every field the user's tools expect.
type Config struct {
	Architecture string // e.g. "LlamaForCausalLM"
	Family       Family

	VocabSize    int
	Hidden       int // H
	Intermediate int // I, the MLP width
	Layers       int
	Heads        int // query heads
	KVHeads      int // key/value heads; Heads when there is no GQA
	HeadDim      int // d
	MaxPositions int

	NormEps     float64
	RopeTheta   float64
	RopeScaling *RopeScaling

	TieEmbeddings bool
	QKVBias       bool // bias on q, k and v projections (Qwen2, attention_bias)
	OBias         bool // bias on o_proj (attention_bias)
	MLPBias       bool

	BOS, EOS []int // token ids from config.json; may be empty

	Raw json.RawMessage
}

// rawConfig mirrors the config.json fields lorafn reads, for both families.
// Pointers distinguish "absent" from zero.
type rawConfig struct {
	Architectures []string `json:"architectures"`
	ModelType     string   `json:"model_type"`

	// Llama family
	VocabSize         *int            `json:"vocab_size"`
	HiddenSize        *int            `json:"hidden_size"`
	IntermediateSize  *int            `json:"intermediate_size"`
	NumHiddenLayers   *int            `json:"num_hidden_layers"`
	NumAttentionHeads *int            `json:"num_attention_heads"`
	NumKeyValueHeads  *int            `json:"num_key_value_heads"`
	HeadDim           *int            `json:"head_dim"`
	HiddenAct         *string         `json:"hidden_act"`
	MaxPosition       *int            `json:"max_position_embeddings"`
	RMSNormEps        *float64        `json:"rms_norm_eps"`
	RopeTheta         *float64        `json:"rope_theta"`
	RopeScaling       json.RawMessage `json:"rope_scaling"`
	RopeParameters    json.RawMessage `json:"rope_parameters"`
	TieWordEmbeddings *bool           `json:"tie_word_embeddings"`
	AttentionBias     *bool           `json:"attention_bias"`
	MLPBias           *bool           `json:"mlp_bias"`
	SlidingWindow     *int            `json:"sliding_window"`
	UseSlidingWindow  *bool           `json:"use_sliding_window"`
	BOSTokenID        json.RawMessage `json:"bos_token_id"`
	EOSTokenID        json.RawMessage `json:"eos_token_id"`

	// GPT-2
	NEmbd                     *int     `json:"n_embd"`
	NLayer                    *int     `json:"n_layer"`
	NHead                     *int     `json:"n_head"`
	NInner                    *int     `json:"n_inner"`
	NPositions                *int     `json:"n_positions"`
	ActivationFunction        *string  `json:"activation_function"`
	LayerNormEpsilon          *float64 `json:"layer_norm_epsilon"`
	ScaleAttnWeights          *bool    `json:"scale_attn_weights"`
	ScaleAttnByInverseLayerID *bool    `json:"scale_attn_by_inverse_layer_idx"`
}

type rawRope struct {
	RopeType       string   `json:"rope_type"`
	Type           string   `json:"type"` // older spelling of rope_type
	RopeTheta      *float64 `json:"rope_theta"`
	Factor         float64  `json:"factor"`
	LowFreqFactor  float64  `json:"low_freq_factor"`
	HighFreqFactor float64  `json:"high_freq_factor"`
	OriginalMax    int      `json:"original_max_position_embeddings"`
}

// ConfigError reports a config.json field lorafn cannot run.
type ConfigError struct {
	File  string
	Field string
	Value any
	Why   string
}

func (e *ConfigError) Error() string {
	return fmt.Sprintf("%s: field %q = %v: %s", e.File, e.Field, e.Value, e.Why)
}

// LoadConfig reads and validates dir/config.json.
func LoadConfig(dir string) (*Config, error) {
	path := filepath.Join(dir, "config.json")
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("model: %w", err)
	}
	return ParseConfig(path, data)
}

// ParseConfig validates a config.json held in memory; name is used in errors.
func ParseConfig(name string, data []byte) (*Config, error) {
	var r rawConfig
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("model: %s: %w", name, err)
	}
	fail := func(field string, v any, why string) (*Config, error) {
		return nil, &ConfigError{File: name, Field: field, Value: v, Why: why}
	}
	if len(r.Architectures) != 1 {
		return fail("architectures", r.Architectures, "want exactly one of LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, GPT2LMHeadModel")
	}
	c := &Config{Architecture: r.Architectures[0], Raw: json.RawMessage(bytes.Clone(data))}
	var err error
	if c.BOS, err = tokenIDs(r.BOSTokenID); err != nil {
		return fail("bos_token_id", string(r.BOSTokenID), err.Error())
	}
	if c.EOS, err = tokenIDs(r.EOSTokenID); err != nil {
		return fail("eos_token_id", string(r.EOSTokenID), err.Error())
	}
	switch c.Architecture {
	case "LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM":
		c.Family = Llama
		if err := c.parseLlama(name, &r); err != nil {
			return nil, err
		}
	case "GPT2LMHeadModel":
		c.Family = GPT2
		if err := c.parseGPT2(name, &r); err != nil {
			return nil, err
		}
	default:
		return fail("architectures", c.Architecture, "unsupported architecture; lorafn runs LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM and GPT2LMHeadModel")
	}
	return c, c.validate(name)
}

func (c *Config) parseLlama(name string, r *rawConfig) error {
	fail := func(field string, v any, why string) error {
		return &ConfigError{File: name, Field: field, Value: v, Why: why}
	}
	c.VocabSize = intOr(r.VocabSize, 32000)
	c.Hidden = intOr(r.HiddenSize, 4096)
	c.Intermediate = intOr(r.IntermediateSize, 11008)
	c.Layers = intOr(r.NumHiddenLayers, 32)
	c.Heads = intOr(r.NumAttentionHeads, 32)
	c.KVHeads = intOr(r.NumKeyValueHeads, c.Heads)
	if c.Heads > 0 {
		c.HeadDim = intOr(r.HeadDim, c.Hidden/c.Heads)
	}
	c.MaxPositions = intOr(r.MaxPosition, 2048)
	c.NormEps = floatOr(r.RMSNormEps, 1e-6)
	c.TieEmbeddings = boolOr(r.TieWordEmbeddings, false)
	c.QKVBias = boolOr(r.AttentionBias, false)
	c.OBias = c.QKVBias
	c.MLPBias = boolOr(r.MLPBias, false)
	if c.Architecture == "Qwen2ForCausalLM" {
		// Qwen2 always has q/k/v biases and never an o_proj bias.
		c.QKVBias, c.OBias = true, false
	}
	if act := strOr(r.HiddenAct, "silu"); act != "silu" {
		return fail("hidden_act", act, `only "silu" (SwiGLU) is supported for the Llama family`)
	}
	// Sliding-window attention changes the mask; refuse rather than silently
	// computing full attention, unless the window covers every position.
	useSW := boolOr(r.UseSlidingWindow, c.Architecture == "MistralForCausalLM")
	if useSW && r.SlidingWindow != nil && *r.SlidingWindow < c.MaxPositions {
		return fail("sliding_window", *r.SlidingWindow, "sliding-window attention is not supported")
	}

	c.RopeTheta = floatOr(r.RopeTheta, 10000)
	rope := r.RopeScaling
	if isNull(rope) && !isNull(r.RopeParameters) {
		rope = r.RopeParameters // transformers v5 spelling
	}
	if !isNull(rope) {
		var rr rawRope
		if err := json.Unmarshal(rope, &rr); err != nil {
			return fail("rope_scaling", string(rope), err.Error())
		}
		if rr.RopeTheta != nil {
			c.RopeTheta = *rr.RopeTheta
		}
		kind := rr.RopeType
		if kind == "" {
			kind = rr.Type
		}
		switch kind {
		case "", "default":
		case "llama3":
			if rr.Factor <= 0 || rr.LowFreqFactor <= 0 || rr.HighFreqFactor <= rr.LowFreqFactor || rr.OriginalMax <= 0 {
				return fail("rope_scaling", string(rope), "llama3 scaling needs factor > 0, 0 < low_freq_factor < high_freq_factor and original_max_position_embeddings > 0")
			}
			c.RopeScaling = &RopeScaling{Factor: rr.Factor, LowFreqFactor: rr.LowFreqFactor, HighFreqFactor: rr.HighFreqFactor, OriginalMaxPositions: rr.OriginalMax}
		default:
			return fail("rope_scaling.rope_type", kind, `only "default" and "llama3" are supported`)
		}
	}
	return nil
}

func (c *Config) parseGPT2(name string, r *rawConfig) error {
	fail := func(field string, v any, why string) error {
		return &ConfigError{File: name, Field: field, Value: v, Why: why}
	}
	c.VocabSize = intOr(r.VocabSize, 50257)
	c.Hidden = intOr(r.NEmbd, 768)
	c.Layers = intOr(r.NLayer, 12)
	c.Heads = intOr(r.NHead, 12)
	c.KVHeads = c.Heads
	if c.Heads > 0 {
		c.HeadDim = c.Hidden / c.Heads
	}
	c.Intermediate = 4 * c.Hidden
	if r.NInner != nil {
		c.Intermediate = *r.NInner
	}
	c.MaxPositions = intOr(r.NPositions, 1024)
	c.NormEps = floatOr(r.LayerNormEpsilon, 1e-5)
	c.TieEmbeddings = true // GPT2LMHeadModel always ties lm_head to wte
	c.QKVBias, c.OBias, c.MLPBias = true, true, true
	if act := strOr(r.ActivationFunction, "gelu_new"); act != "gelu_new" && act != "gelu_pytorch_tanh" {
		return fail("activation_function", act, `only "gelu_new" (tanh approximation) is supported`)
	}
	if !boolOr(r.ScaleAttnWeights, true) {
		return fail("scale_attn_weights", false, "unscaled attention is not supported")
	}
	if boolOr(r.ScaleAttnByInverseLayerID, false) {
		return fail("scale_attn_by_inverse_layer_idx", true, "per-layer attention scaling is not supported")
	}
	if c.Heads > 0 && c.Hidden%c.Heads != 0 {
		return fail("n_embd", c.Hidden, fmt.Sprintf("not divisible by n_head = %d", c.Heads))
	}
	return nil
}

func (c *Config) validate(name string) error {
	fail := func(field string, v any, why string) error {
		return &ConfigError{File: name, Field: field, Value: v, Why: why}
	}
	positive := []struct {
		field string
		v     int
	}{
		{"vocab_size", c.VocabSize}, {"hidden_size", c.Hidden}, {"intermediate_size", c.Intermediate},
		{"num_hidden_layers", c.Layers}, {"num_attention_heads", c.Heads}, {"num_key_value_heads", c.KVHeads},
		{"head_dim", c.HeadDim}, {"max_position_embeddings", c.MaxPositions},
	}
	for _, p := range positive {
		if p.v <= 0 {
			return fail(p.field, p.v, "must be positive")
		}
	}
	if c.Heads%c.KVHeads != 0 {
		return fail("num_key_value_heads", c.KVHeads, fmt.Sprintf("must divide num_attention_heads = %d", c.Heads))
	}
	if c.HeadDim%2 != 0 && c.Family == Llama {
		return fail("head_dim", c.HeadDim, "RoPE needs an even head dimension")
	}
	if !(c.NormEps > 0) || math.IsInf(c.NormEps, 0) {
		return fail("rms_norm_eps", c.NormEps, "must be a positive number")
	}
	if c.Family == Llama && (!(c.RopeTheta > 1) || math.IsInf(c.RopeTheta, 0)) {
		return fail("rope_theta", c.RopeTheta, "must be a finite number greater than 1")
	}
	return nil
}

// tokenIDs decodes a token id field that may be null, a number or a list.
func tokenIDs(raw json.RawMessage) ([]int, error) {
	if isNull(raw) {
		return nil, nil
	}
	var one int
	if err := json.Unmarshal(raw, &one); err == nil {
		return []int{one}, nil
	}
	var many []int
	if err := json.Unmarshal(raw, &many); err != nil {
		return nil, fmt.Errorf("want null, an integer or a list of integers")
	}
	return many, nil
}

func isNull(raw json.RawMessage) bool {
	t := bytes.TrimSpace(raw)
	return len(t) == 0 || string(t) == "null"
}

func intOr(p *int, d int) int {
	if p == nil {
		return d
	}
	return *p
}

func floatOr(p *float64, d float64) float64 {
	if p == nil {
		return d
	}
	return *p
}

func boolOr(p *bool, d bool) bool {
	if p == nil {
		return d
	}
	return *p
}

func strOr(p *string, d string) string {
	if p == nil {
		return d
	}
	return *p
}

// ParamCount returns the number of parameter values a model of this
// configuration has, without allocating it (a tied head counts once).
func (c *Config) ParamCount() int64 {
	H, I, V := int64(c.Hidden), int64(c.Intermediate), int64(c.VocabSize)
	q, kv := int64(c.Heads*c.HeadDim), int64(c.KVHeads*c.HeadDim)
	var n, block int64
	if c.Family == GPT2 {
		block = 2*2*H + (H*3*H + 3*H) + (H*H + H) + (H*I + I) + (I*H + H)
		n = V*H + int64(c.MaxPositions)*H + 2*H
	} else {
		block = 2*H + H*q + 2*H*kv + q*H + 3*H*I
		if c.QKVBias {
			block += q + 2*kv
		}
		if c.OBias {
			block += H
		}
		if c.MLPBias {
			block += 2*I + H
		}
		n = V*H + H
		if !c.TieEmbeddings {
			n += V * H
		}
	}
	return n + int64(c.Layers)*block
}
