package tensor

import (
	"math"
	"math/rand/v2"
	"testing"
)

// ulpDiff is the distance in float32 steps between a and b (same sign).
func ulpDiff(a, b float32) int64 {
	d := int64(math.Float32bits(a)) - int64(math.Float32bits(b))
	if d < 0 {
		d = -d
	}
	return d
}

// expInputs covers the whole useful range densely, plus special values and
// random bit patterns.
func expInputs() []float32 {
	var xs []float32
	for x := float32(-105); x < 90; x += 0.0007 {
		xs = append(xs, x)
	}
	r := rand.New(rand.NewPCG(13, 14))
	for i := 0; i < 20000; i++ {
		xs = append(xs, math.Float32frombits(r.Uint32()))
	}
	return append(xs, 0, float32(math.Copysign(0, -1)), float32(math.Inf(1)), float32(math.Inf(-1)),
		float32(math.NaN()), 88.72283, 88.72284, -87.33654, -87.33655, -103.27893, -103.97208, 1e-8, -1e-8)
}

func TestExpAccuracy(t *testing.T) {
	xs := expInputs()
	worst := int64(0)
	for _, x := range xs {
		got := expGo(x)
		want := float32(math.Exp(float64(x)))
		switch {
		case x != x:
			if got == got {
				t.Fatalf("exp(NaN) = %v", got)
			}
			continue
		case want == 0 || math.IsInf(float64(want), 1):
			if got != want {
				t.Fatalf("exp(%g) = %g, want %g", x, got, want)
			}
			continue
		}
		d := ulpDiff(got, want)
		if want < math.MaxFloat32 && math.Float32bits(want) < 1<<23 {
			// Subnormal result: one rounding of p·2ⁿ, so within one step.
			if d > 1 {
				t.Fatalf("exp(%g) = %g, want %g (subnormal, %d steps)", x, got, want, d)
			}
			continue
		}
		worst = max(worst, d)
		if d > 2 {
			t.Fatalf("exp(%g) = %g (%#x), want %g (%#x): %d ulps", x, got, math.Float32bits(got), want, math.Float32bits(want), d)
		}
	}
	t.Logf("worst error %d ulp over %d inputs", worst, len(xs))
}

// TestExpKernelsAgree checks each vectorised exp bit for bit against
// expGo, with lengths that leave tails.
func TestExpKernelsAgree(t *testing.T) {
	xs := expInputs()
	want := make([]float32, len(xs))
	for i, x := range xs {
		want[i] = expGo(x)
	}
	for _, v := range availableVecs() {
		for _, n := range []int{0, 1, 7, 8, 15, 17, 33, len(xs)} {
			got := make([]float32, n)
			v.expSlice(got, xs[:n])
			if i := firstDiff(got, want[:n]); i >= 0 {
				t.Fatalf("%s: exp(%g) = %g (%#x), expGo %g (%#x)", v.name, xs[i], got[i], math.Float32bits(got[i]), want[i], math.Float32bits(want[i]))
			}
		}
		// In place.
		buf := append([]float32(nil), xs...)
		v.expSlice(buf, buf)
		if i := firstDiff(buf, want); i >= 0 {
			t.Fatalf("%s in place: exp(%g) = %g, want %g", v.name, xs[i], buf[i], want[i])
		}
	}
}

func TestExpLengthMismatchPanics(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Fatal("no panic")
		}
	}()
	Exp(make([]float32, 3), make([]float32, 4))
}
