package model

import (
	"math"
	"math/rand/v2"
)

func newTestRNG(seed uint64) *rand.Rand { return rand.New(rand.NewPCG(seed, 1)) }

func abs(x float64) float64 { return math.Abs(x) }

func argmax(xs []float32) int {
	best := 0
	for i, v := range xs {
		if v > xs[best] {
			best = i
		}
	}
	return best
}

func argmaxAbs(xs []float32) int {
	best := 0
	for i, v := range xs {
		if math.Abs(float64(v)) > math.Abs(float64(xs[best])) {
			best = i
		}
	}
	return best
}

// richardson combines central differences at steps h and h/2 so the
// truncation error falls from O(h²) to O(h⁴); float32 noise stays small
// because h need not shrink.
func richardson(d func(h float64) float64, h float64) float64 {
	return (4*d(h/2) - d(h)) / 3
}
