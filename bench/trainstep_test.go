// Package bench holds lorafn's cross-package benchmarks: the training step
// of core/model under each matrix backend, side by side in one run.
package bench

import (
	"math/rand/v2"
	"syscall"
	"testing"
	"time"

	"github.com/lorafn/lorafn/core/model"
	"github.com/lorafn/lorafn/core/peft/lora"
	"github.com/lorafn/lorafn/core/tensor"
)

// smolLayerConfig is SmolLM2-135M's layer shape with 4 layers and an 8192
// vocabulary, as in core/model's BenchmarkTrainStep and bench/torch_step.py.
const smolLayerConfig = `{"architectures": ["LlamaForCausalLM"], "vocab_size": 8192,
	"hidden_size": 576, "intermediate_size": 1536, "num_hidden_layers": 4,
	"num_attention_heads": 9, "num_key_value_heads": 3, "head_dim": 64,
	"max_position_embeddings": 8192, "rms_norm_eps": 1e-5, "rope_theta": 100000.0,
	"tie_word_embeddings": true, "hidden_act": "silu"}`

// BenchmarkTrainStep measures the LoRA training step of bench/torch_step.py
// with each backend: forward, loss and backward, base weights frozen, LoRA
// r=8, alpha=16 on q_proj and v_proj, batch 4 × 256, after one warm-up
// step (as torch_step.py's --warmup 1):
//
//	go test ./bench -run '^$' -bench TrainStep -cpu 1,2
func BenchmarkTrainStep(b *testing.B) {
	backends := []struct {
		name string
		be   tensor.Backend
	}{{"gonum", tensor.Gonum{}}, {"fast", tensor.Fast{}}}
	for _, be := range backends {
		b.Run(be.name, func(b *testing.B) {
			c, err := model.ParseConfig("bench", []byte(smolLayerConfig))
			if err != nil {
				b.Fatal(err)
			}
			m := model.New(c, be.be)
			m.InitRandom(1, 0.02)
			cfg := lora.DefaultConfig()
			cfg.R, cfg.Alpha, cfg.TargetModules = 8, 16, lora.ParseTargets("q_proj,v_proj")
			if _, err := lora.Apply(m, cfg, 3); err != nil {
				b.Fatal(err)
			}
			batch := randomBatch(c.VocabSize, 4, 256)
			step := func() {
				if _, err := m.Backward(batch, model.Options{}); err != nil {
					b.Fatal(err)
				}
			}
			step() // warm-up, outside the timing
			cpu0 := cpuTime(b)
			for b.Loop() {
				step()
			}
			b.ReportMetric(float64(b.N*batch.B*batch.T)/b.Elapsed().Seconds(), "tokens/s")
			// Process CPU time per step: steadier than wall time on a shared
			// machine (bench/torch_step.py prints the same measure).
			b.ReportMetric((cpuTime(b)-cpu0).Seconds()*1e3/float64(b.N), "cpu-ms/op")
		})
	}
}

// cpuTime is the process's user + system CPU time so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func randomBatch(vocab, B, T int) *model.Batch {
	rng := rand.New(rand.NewPCG(2, 7))
	ids := make([]int, B*T)
	for i := range ids {
		ids[i] = rng.IntN(vocab)
	}
	return &model.Batch{B: B, T: T, IDs: ids}
}
