package tensor

import (
	"errors"
	"math/rand/v2"
	"testing"
)

func TestGemmPackedMatchesGemm(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	for _, f := range fastKernels(t) {
		for _, s := range []struct{ m, n, k int }{{1, 1, 1}, {7, 9, 0}, {13, 33, 17}, {50, 70, 300}} {
			for _, ta := range []bool{false, true} {
				for _, tb := range []bool{false, true} {
					g := newCase(r, ta, tb, s.m, s.n, s.k, 2, 0.5, 1)
					want := g.run(f)
					pb := f.PackB(g.tb, g.k, g.n, g.b, g.ldb)
					if k, n := pb.Dims(); k != g.k || n != g.n {
						t.Fatalf("Dims() = %d, %d, want %d, %d", k, n, g.k, g.n)
					}
					got := append([]float32(nil), g.c...)
					// Twice: the packed operand is reusable.
					for range 2 {
						copy(got, g.c)
						f.GemmPacked(g.ta, g.m, g.alpha, g.a, g.lda, pb, g.beta, got, g.ldc)
						if i := firstDiff(got, want); i >= 0 {
							t.Fatalf("%s %v: packed c[%d] = %v, Gemm %v", f.ISA(), g, i, got[i], want[i])
						}
					}
				}
			}
		}
	}
}

func TestPackedShapePanics(t *testing.T) {
	for name, f := range map[string]func(){
		"PackB": func() { Fast{}.PackB(false, 3, 3, make([]float32, 8), 3) },
		"GemmPacked": func() {
			pb := Fast{}.PackB(false, 2, 2, make([]float32, 4), 2)
			Fast{}.GemmPacked(false, 2, 1, make([]float32, 3), 2, pb, 0, make([]float32, 4), 2)
		},
	} {
		func() {
			defer func() {
				err, ok := recover().(error)
				if !ok || !errors.Is(err, ErrShape) {
					t.Fatalf("%s: recover() = %v, want ErrShape", name, err)
				}
			}()
			f()
		}()
	}
}

// BenchmarkGemmPacked shows what packing a frozen weight once saves on
// the forward projections of the training step.
func BenchmarkGemmPacked(b *testing.B) {
	r := rand.New(rand.NewPCG(1, 1))
	f := Fast{}
	for _, s := range benchShapes[:5] {
		g := newCase(r, s.ta, s.tb, s.m, s.n, s.k, 0, 1, 0)
		c := append([]float32(nil), g.c...)
		pb := f.PackB(g.tb, g.k, g.n, g.b, g.ldb)
		flops := 2 * float64(s.m*s.n*s.k)
		b.Run(s.name+"/gemm", func(b *testing.B) {
			for b.Loop() {
				f.Gemm(g.ta, g.tb, g.m, g.n, g.k, 1, g.a, g.lda, g.b, g.ldb, 0, c, g.ldc)
			}
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
		b.Run(s.name+"/packed", func(b *testing.B) {
			for b.Loop() {
				f.GemmPacked(g.ta, g.m, 1, g.a, g.lda, pb, 0, c, g.ldc)
			}
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}
