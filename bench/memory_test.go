package bench

import (
	"runtime"
	"syscall"
	"testing"

	"github.com/lorafn/lorafn/core/model"
	"github.com/lorafn/lorafn/core/peft/lora"
)

// smolFullConfig is SmolLM2-135M's config.json (30 layers, vocabulary 49152).
const smolFullConfig = `{"architectures": ["LlamaForCausalLM"], "vocab_size": 49152,
	"hidden_size": 576, "intermediate_size": 1536, "num_hidden_layers": 30,
	"num_attention_heads": 9, "num_key_value_heads": 3, "head_dim": 64,
	"max_position_embeddings": 8192, "rms_norm_eps": 1e-5, "rope_theta": 100000.0,
	"tie_word_embeddings": true, "hidden_act": "silu"}`

// BenchmarkLoRAStepSmolLM2Full measures one LoRA training step (r 8,
// alpha 16 on q_proj and v_proj, PEFT's defaults otherwise) of the full
// SmolLM2-135M shape on one sequence of 1024 tokens, with the Fast backend,
// keeping every layer's activations (stored) or only each layer's input
// (recompute). Besides tokens/s it reports the process's peak resident
// memory (maxrss, which includes the random base weights, 540 MB in
// float32), so run each variant in its own process:
//
//	go test ./bench -run '^$' -bench 'LoRAStepSmolLM2Full/stored' -benchtime 2x
//	go test ./bench -run '^$' -bench 'LoRAStepSmolLM2Full/recompute' -benchtime 2x
func BenchmarkLoRAStepSmolLM2Full(b *testing.B) {
	for _, recompute := range []bool{false, true} {
		name := "stored"
		if recompute {
			name = "recompute"
		}
		b.Run(name, func(b *testing.B) { loraStepSmolLM2Full(b, recompute) })
	}
}

func loraStepSmolLM2Full(b *testing.B, recompute bool) {
	c, err := model.ParseConfig("SmolLM2-135M", []byte(smolFullConfig))
	if err != nil {
		b.Fatal(err)
	}
	m := model.New(c, nil)
	m.InitRandom(1, 0.02)
	cfg := lora.DefaultConfig()
	cfg.Alpha = 16
	if _, err := lora.Apply(m, cfg, 3); err != nil {
		b.Fatal(err)
	}
	batch := randomBatch(c.VocabSize, 1, 1024)
	runtime.GC()
	for b.Loop() {
		if _, err := m.Backward(batch, model.Options{Recompute: recompute}); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*batch.B*batch.T)/b.Elapsed().Seconds(), "tokens/s")
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(ru.Maxrss)/1024, "peak-RSS-MiB")
}
