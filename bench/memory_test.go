package bench

import (
	"runtime"
	"runtime/metrics"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lorafn/lorafn/core/model"
	"github.com/lorafn/lorafn/core/peft/lora"
)

// smolLM2Config is SmolLM2-135M's config.json (random weights: the memory
// of a step does not depend on their values).
const smolLM2Config = `{"architectures": ["LlamaForCausalLM"], "vocab_size": 49152,
	"hidden_size": 576, "intermediate_size": 1536, "num_hidden_layers": 30,
	"num_attention_heads": 9, "num_key_value_heads": 3, "head_dim": 64,
	"max_position_embeddings": 8192, "rms_norm_eps": 1e-5, "rope_theta": 100000.0,
	"tie_word_embeddings": true, "hidden_act": "silu"}`

// peakHeap samples the live heap every millisecond until stop is closed
// and stores the largest value seen.
func peakHeap(stop <-chan struct{}, peak *atomic.Uint64) {
	s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	t := time.NewTicker(time.Millisecond)
	defer t.Stop()
	for {
		metrics.Read(s)
		if v := s[0].Value.Uint64(); v > peak.Load() {
			peak.Store(v)
		}
		select {
		case <-stop:
			return
		case <-t.C:
		}
	}
}

// BenchmarkLoRAStepMemory reports the peak heap of one LoRA training step
// (r=8 on q_proj and v_proj) on the full SmolLM2-135M shape at sequence
// length 1024, with and without activation recomputation:
//
//	go test ./bench -run '^$' -bench LoRAStepMemory -benchtime 1x
func BenchmarkLoRAStepMemory(b *testing.B) {
	for _, recompute := range []bool{true, false} {
		name := "stored"
		if recompute {
			name = "recompute"
		}
		b.Run(name, func(b *testing.B) {
			c, err := model.ParseConfig("smollm2-135m", []byte(smolLM2Config))
			if err != nil {
				b.Fatal(err)
			}
			m := model.New(c, nil)
			m.InitRandom(1, 0.02)
			cfg := lora.DefaultConfig()
			if _, err := lora.Apply(m, cfg, 1); err != nil {
				b.Fatal(err)
			}
			batch := randomBatch(c.VocabSize, 1, 1024)
			runtime.GC()
			var peak atomic.Uint64
			for b.Loop() {
				stop := make(chan struct{})
				done := make(chan struct{})
				go func() { peakHeap(stop, &peak); close(done) }()
				if _, err := m.Backward(batch, model.Options{Recompute: recompute}); err != nil {
					b.Fatal(err)
				}
				close(stop)
				<-done
			}
			b.ReportMetric(float64(peak.Load())/(1<<20), "peak-heap-MiB")
			b.ReportMetric(float64(4*c.ParamCount())/(1<<20), "weights-MiB")
		})
	}
}
