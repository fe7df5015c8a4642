package tensor

import (
	"math/rand/v2"
	"testing"
)

// benchShapes are the products of one training step of core/model's
// BenchmarkTrainStep (SmolLM2-135M layer shape: hidden 576, MLP 1536, 9/3
// heads of 64, vocabulary 8192, batch 4 × 256 = 1024 tokens).
var benchShapes = []struct {
	name    string
	ta, tb  bool
	m, n, k int
}{
	{"q_fwd", false, true, 1024, 576, 576},
	{"kv_fwd", false, true, 1024, 192, 576},
	{"up_fwd", false, true, 1024, 1536, 576},
	{"down_fwd", false, true, 1024, 576, 1536},
	{"up_dx", false, false, 1024, 576, 1536},
	{"head_fwd", false, true, 1024, 8192, 576},
	{"head_dx", false, false, 1024, 576, 8192},
	{"attn_qk", false, true, 256, 256, 64},
	{"attn_pv", false, false, 256, 64, 256},
	{"lora_dA", true, false, 8, 576, 1024},
}

// BenchmarkSgemm compares the backends on each shape; GFLOP/s is the
// figure to read (2·m·n·k per product).
//
//	go test ./core/tensor -run '^$' -bench Sgemm -cpu 1,2
func BenchmarkSgemm(b *testing.B) {
	backends := []struct {
		name string
		be   Backend
	}{{"gonum", Gonum{}}}
	for _, isa := range FastISAs() {
		if isa == "go" {
			continue // exact-FMA emulation: far slower, not a contender
		}
		f, err := FastFor(isa)
		if err != nil {
			b.Fatal(err)
		}
		backends = append(backends, struct {
			name string
			be   Backend
		}{"fast-" + isa, f})
	}
	r := rand.New(rand.NewPCG(1, 1))
	for _, s := range benchShapes {
		g := newCase(r, s.ta, s.tb, s.m, s.n, s.k, 0, 1, 0)
		for _, be := range backends {
			b.Run(s.name+"/"+be.name, func(b *testing.B) {
				c := append([]float32(nil), g.c...)
				// One product outside the timing, as torch_sgemm.py warms up:
				// the first call allocates its packing buffers.
				be.be.Gemm(g.ta, g.tb, g.m, g.n, g.k, 1, g.a, g.lda, g.b, g.ldb, 0, c, g.ldc)
				for b.Loop() {
					be.be.Gemm(g.ta, g.tb, g.m, g.n, g.k, 1, g.a, g.lda, g.b, g.ldb, 0, c, g.ldc)
				}
				b.ReportMetric(2*float64(s.m*s.n*s.k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}
