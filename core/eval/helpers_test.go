package eval

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/lorafn/lorafn/core/model"
	"github.com/lorafn/lorafn/core/train"
)

// tinyLlama and tinyGPT2 are small random models: every code path of the
// real architectures at a size a test runs in milliseconds.
const (
	tinyLlama = `{"architectures": ["LlamaForCausalLM"], "model_type": "llama", "vocab_size": 61,
		"hidden_size": 32, "intermediate_size": 48, "num_hidden_layers": 2, "num_attention_heads": 4,
		"num_key_value_heads": 2, "max_position_embeddings": 64, "rms_norm_eps": 1e-5,
		"rope_theta": 10000.0, "tie_word_embeddings": false, "hidden_act": "silu",
		"bos_token_id": 1, "eos_token_id": 2}`
	tinyGPT2 = `{"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "vocab_size": 61,
		"n_embd": 32, "n_layer": 2, "n_head": 4, "n_positions": 48, "n_ctx": 48,
		"activation_function": "gelu_new", "layer_norm_epsilon": 1e-5,
		"bos_token_id": 60, "eos_token_id": 60}`
)

func newModel(t testing.TB, config string, seed uint64) *model.Model {
	t.Helper()
	c, err := model.ParseConfig("config.json", []byte(config))
	if err != nil {
		t.Fatal(err)
	}
	m := model.New(c, nil)
	m.InitRandom(seed, 0.3)
	return m
}

// randomIDs returns n ids drawn from [3, V) (avoiding BOS and EOS).
func randomIDs(rng *rand.Rand, n, V int) []int {
	ids := make([]int, n)
	for i := range ids {
		ids[i] = 3 + rng.IntN(V-3)
	}
	return ids
}

// promptAnswer builds a prepared example: prompt ids without loss, then the
// answer as targets.
func promptAnswer(prompt, answer []int) train.Example {
	ids := append(append([]int{}, prompt...), answer...)
	labels := make([]int, len(ids))
	for i := range labels {
		labels[i] = model.IgnoreIndex
	}
	copy(labels[len(prompt):], answer)
	return train.Example{IDs: ids, Labels: labels}
}

// refSumLoss scores one example alone with model.Logits and a float64
// log-softmax written here: Σ −log p(label[t+1] | ids[..t]) over targets.
func refSumLoss(t testing.TB, m *model.Model, ex train.Example) (float64, int) {
	t.Helper()
	T, V := len(ex.IDs), m.Config.VocabSize
	logits, err := m.Logits(&model.Batch{B: 1, T: T, IDs: ex.IDs})
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	n := 0
	for p := 0; p+1 < T; p++ {
		target := ex.IDs[p+1]
		if ex.Labels != nil {
			target = ex.Labels[p+1]
		}
		if target == model.IgnoreIndex {
			continue
		}
		row := logits[p*V : (p+1)*V]
		var z float64
		for _, v := range row {
			z += math.Exp(float64(v))
		}
		sum += math.Log(z) - float64(row[target])
		n++
	}
	return sum, n
}

func near(a, b, rel float64) bool {
	return math.Abs(a-b) <= rel*math.Max(1, math.Max(math.Abs(a), math.Abs(b)))
}
