package eval

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkCandidateScores compares scoring the candidates of one example
// in one batch with one forward pass per candidate (LogitsBudget 1).
func BenchmarkCandidateScores(b *testing.B) {
	const config = `{"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 512,
		"hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2, "num_attention_heads": 4,
		"num_key_value_heads": 4, "max_position_embeddings": 128, "rms_norm_eps": 1e-5,
		"rope_theta": 10000.0, "tie_word_embeddings": true, "hidden_act": "silu",
		"bos_token_id": 1, "eos_token_id": 2}`
	m := newModel(b, config, 1)
	rng := rand.New(rand.NewPCG(1, 1))
	prompt := randomIDs(rng, 48, 512)
	var classes [][]int
	for range 4 {
		classes = append(classes, append(randomIDs(rng, 2, 512), 2))
	}
	for _, c := range []struct {
		name   string
		budget int
	}{{"batched", 0}, {"per-candidate", 1}} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := CandidateScores(m, prompt, classes, TaskOptions{LogitsBudget: c.budget}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
