package model

import (
	"testing"
)

// smolLayerConfig is SmolLM2-135M's layer shape with 4 layers and an 8192
// vocabulary: the shape bench/torch_step.py measures in PyTorch.
const smolLayerConfig = `{"architectures": ["LlamaForCausalLM"], "vocab_size": 8192,
	"hidden_size": 576, "intermediate_size": 1536, "num_hidden_layers": 4,
	"num_attention_heads": 9, "num_key_value_heads": 3, "head_dim": 64,
	"max_position_embeddings": 8192, "rms_norm_eps": 1e-5, "rope_theta": 100000.0,
	"tie_word_embeddings": true, "hidden_act": "silu"}`

// BenchmarkTrainStep measures one training step with every base weight
// frozen (forward, loss, backward through all layers to the input), batch
// 4 × 256. Run with -cpu 1,2 for the GOMAXPROCS=1 and 2 figures.
func BenchmarkTrainStep(b *testing.B) {
	c, err := ParseConfig("bench", []byte(smolLayerConfig))
	if err != nil {
		b.Fatal(err)
	}
	m := New(c, nil)
	m.InitRandom(1, 0.02)
	batch := randomBatch(c, 4, 256, nil, 2)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// EmbedGrad forces the backward pass through every layer, as the
		// gradient of an adapter in the first layer would.
		if _, err := m.Backward(batch, Options{EmbedGrad: true}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*batch.B*batch.T)/b.Elapsed().Seconds(), "tokens/s")
}
