package tensor

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"
)

const guard = float32(-12345.5)

// padded returns a slice of n random values followed by sentinel guards so a
// kernel that writes past its matrix is caught.
func padded(r *rand.Rand, n int) []float32 {
	s := make([]float32, n+16)
	for i := range s {
		if i < n {
			s[i] = float32(r.NormFloat64())
		} else {
			s[i] = guard
		}
	}
	return s
}

func TestGemmMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct{ m, n, k int }{{1, 1, 1}, {3, 5, 7}, {17, 33, 65}, {64, 1, 128}, {2, 300, 3}, {5, 4, 0}} {
		for _, ta := range []bool{false, true} {
			for _, tb := range []bool{false, true} {
				for _, beta := range []float32{0, 0.5} {
					ar, ac := tc.m, tc.k
					if ta {
						ar, ac = tc.k, tc.m
					}
					br, bc := tc.k, tc.n
					if tb {
						br, bc = tc.n, tc.k
					}
					lda, ldb, ldc := ac+3, bc+1, tc.n+2
					a := padded(r, max(ar*lda, 0))
					b := padded(r, max(br*ldb, 0))
					c0 := padded(r, tc.m*ldc)
					want := append([]float32(nil), c0...)
					got := append([]float32(nil), c0...)
					Ref{}.Gemm(ta, tb, tc.m, tc.n, tc.k, 1.5, a, lda, b, ldb, beta, want, ldc)
					Gonum{}.Gemm(ta, tb, tc.m, tc.n, tc.k, 1.5, a, lda, b, ldb, beta, got, ldc)
					for i := range want {
						tol := 1e-4 * (1 + math.Abs(float64(want[i])))
						if math.Abs(float64(want[i]-got[i])) > tol {
							t.Fatalf("m=%d n=%d k=%d ta=%v tb=%v beta=%v: c[%d]=%v want %v", tc.m, tc.n, tc.k, ta, tb, beta, i, got[i], want[i])
						}
					}
					for i := tc.m * ldc; i < len(got); i++ {
						if got[i] != guard {
							t.Fatalf("write past C at %d", i)
						}
					}
				}
			}
		}
	}
}

func TestGemmBetaZeroIgnoresNaN(t *testing.T) {
	c := []float32{float32(math.NaN())}
	Gonum{}.Gemm(false, false, 1, 1, 1, 1, []float32{2}, 1, []float32{3}, 1, 0, c, 1)
	if c[0] != 6 {
		t.Fatalf("got %v want 6", c[0])
	}
}

func TestGemmShapePanics(t *testing.T) {
	defer func() {
		r := recover()
		err, ok := r.(error)
		if !ok || !errors.Is(err, ErrShape) {
			t.Fatalf("recover() = %v, want ErrShape", r)
		}
	}()
	Gonum{}.Gemm(false, false, 2, 2, 2, 1, make([]float32, 3), 2, make([]float32, 4), 2, 0, make([]float32, 4), 2)
}

func TestParallelVisitsEachIndexOnce(t *testing.T) {
	seen := make([]int, 1000)
	Parallel(len(seen), func(i int) { seen[i]++ })
	for i, n := range seen {
		if n != 1 {
			t.Fatalf("index %d visited %d times", i, n)
		}
	}
}
