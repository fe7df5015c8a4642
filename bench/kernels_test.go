package bench

import (
	"slices"
	"testing"

	"github.com/lorafn/lorafn/core/model"
	"github.com/lorafn/lorafn/core/tensor"
)

// tinyConfig is a small Llama: every layer type, several heads with GQA,
// sizes that are not multiples of any kernel's tile.
const tinyConfig = `{"architectures": ["LlamaForCausalLM"], "vocab_size": 97,
	"hidden_size": 40, "intermediate_size": 70, "num_hidden_layers": 2,
	"num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 10,
	"max_position_embeddings": 64, "rms_norm_eps": 1e-5, "rope_theta": 10000.0,
	"tie_word_embeddings": false, "hidden_act": "silu"}`

// TestTrainStepSameBitsOnEveryKernel runs a full training step (every
// parameter trainable) with each matrix kernel this machine has (AVX-512,
// AVX2 and Go on amd64; NEON and Go on arm64) and requires the same loss
// and gradients to the bit: a run resumed on another CPU type continues
// exactly.
func TestTrainStepSameBitsOnEveryKernel(t *testing.T) {
	c, err := model.ParseConfig("tiny", []byte(tinyConfig))
	if err != nil {
		t.Fatal(err)
	}
	isas := tensor.FastISAs()
	if len(isas) < 2 {
		t.Fatalf("only one kernel (%v): nothing to compare", isas)
	}
	var refLoss float64
	var ref map[string][]float32
	for _, isa := range isas {
		f, err := tensor.FastFor(isa)
		if err != nil {
			t.Fatal(err)
		}
		m := model.New(c, f)
		m.InitRandom(5, 0.2)
		m.SetTrainable(func(string) bool { return true })
		r, err := m.Backward(randomBatch(c.VocabSize, 3, 21), model.Options{})
		if err != nil {
			t.Fatal(err)
		}
		grads := map[string][]float32{}
		for _, p := range m.Params() {
			grads[p.Name] = append([]float32(nil), p.Grad...)
		}
		if ref == nil {
			refLoss, ref = r.SumLoss, grads
			continue
		}
		if r.SumLoss != refLoss {
			t.Errorf("%s: loss %v, %s gave %v", isa, r.SumLoss, isas[0], refLoss)
		}
		for name, g := range grads {
			if !slices.Equal(g, ref[name]) {
				t.Errorf("%s: gradient of %s differs from %s's", isa, name, isas[0])
			}
		}
	}
}
