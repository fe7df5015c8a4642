package model

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"
)

// tinyConfigs are small random models covering every code path the real
// checkpoints take: GQA, tied and untied heads, Llama-3 RoPE scaling, Qwen2
// biases and GPT-2.
var tinyConfigs = map[string]string{
	"llama": `{"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 67,
		"hidden_size": 32, "intermediate_size": 48, "num_hidden_layers": 2, "num_attention_heads": 4,
		"num_key_value_heads": 4, "max_position_embeddings": 64, "rms_norm_eps": 1e-5,
		"rope_theta": 10000.0, "tie_word_embeddings": false, "hidden_act": "silu",
		"bos_token_id": 1, "eos_token_id": 2, "torch_dtype": "float32"}`,
	"llama-gqa-tied-llama3": `{"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 67,
		"hidden_size": 32, "intermediate_size": 40, "num_hidden_layers": 2, "num_attention_heads": 4,
		"num_key_value_heads": 2, "head_dim": 8, "max_position_embeddings": 64, "rms_norm_eps": 1e-6,
		"rope_theta": 500000.0, "tie_word_embeddings": true, "hidden_act": "silu",
		"rope_scaling": {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
			"high_freq_factor": 4.0, "original_max_position_embeddings": 16},
		"bos_token_id": 0, "eos_token_id": [0, 3]}`,
	"qwen2": `{"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "vocab_size": 67,
		"hidden_size": 32, "intermediate_size": 48, "num_hidden_layers": 2, "num_attention_heads": 4,
		"num_key_value_heads": 1, "max_position_embeddings": 64, "rms_norm_eps": 1e-6,
		"rope_theta": 1000000.0, "tie_word_embeddings": true, "hidden_act": "silu",
		"use_sliding_window": false, "sliding_window": 32, "bos_token_id": 5, "eos_token_id": 6}`,
	"gpt2": `{"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "vocab_size": 67,
		"n_embd": 32, "n_layer": 2, "n_head": 4, "n_positions": 32, "n_ctx": 32,
		"activation_function": "gelu_new", "layer_norm_epsilon": 1e-5,
		"bos_token_id": 66, "eos_token_id": 66}`,
}

// tinyModel builds a random model whose norms and biases are perturbed too,
// so no parameter sits at a value that hides a bug (ones, zeros).
func tinyModel(t testing.TB, name string, seed uint64) *Model {
	t.Helper()
	c, err := ParseConfig(name+"/config.json", []byte(tinyConfigs[name]))
	if err != nil {
		t.Fatal(err)
	}
	m := New(c, nil)
	m.InitRandom(seed, 0.2)
	rng := rand.New(rand.NewPCG(seed, 99))
	for _, p := range m.Params() {
		switch {
		case strings.HasSuffix(p.Name, ".bias"):
			for i := range p.Data {
				p.Data[i] = float32(rng.NormFloat64() * 0.1)
			}
		case len(p.Shape) == 1:
			for i := range p.Data {
				p.Data[i] = float32(1 + rng.NormFloat64()*0.1)
			}
		}
	}
	return m
}

// randomBatch returns B×T random ids with the given lengths of real tokens
// (right padding); lens nil means no padding.
func randomBatch(c *Config, B, T int, lens []int, seed uint64) *Batch {
	rng := rand.New(rand.NewPCG(seed, 7))
	b := &Batch{B: B, T: T, IDs: make([]int, B*T)}
	for i := range b.IDs {
		b.IDs[i] = rng.IntN(c.VocabSize)
	}
	if lens != nil {
		b.Mask = make([]bool, B*T)
		for s := 0; s < B; s++ {
			for t := 0; t < lens[s]; t++ {
				b.Mask[s*T+t] = true
			}
		}
	}
	return b
}

// relErr is max|got − want| / max|want|: the error relative to the tensor's
// scale, which stays meaningful where individual entries are near zero.
func relErr(got, want []float32) float64 {
	if len(got) != len(want) {
		return math.Inf(1)
	}
	var num, den float64
	for i := range got {
		num = max(num, math.Abs(float64(got[i])-float64(want[i])))
		den = max(den, math.Abs(float64(want[i])))
	}
	if den == 0 {
		return num
	}
	return num / den
}

func TestParamCountMatchesAllocation(t *testing.T) {
	for name := range tinyConfigs {
		m := tinyModel(t, name, 1)
		if got, want := m.Config.ParamCount(), int64(m.NumParams()); got != want {
			t.Errorf("%s: ParamCount %d, allocated %d", name, got, want)
		}
	}
}
