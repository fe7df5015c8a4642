//go:build !purego

package tensor

import (
	"math/rand/v2"
	"testing"
)

// TestNEONVecsSelected guards the other tests: if the NEON kernels were
// not the default, TestVecKernelsAgree would compare the Go
// specifications with themselves.
func TestNEONVecsSelected(t *testing.T) {
	v := best()
	if v.name != "neon" || !v.asm || v.width != redLanes {
		t.Fatalf("default row kernels on arm64: %q (asm %v, width %d), want neon with asm", v.name, v.asm, v.width)
	}
}

// TestNEONExpRowKernelsFullRange runs the row kernels built on the
// vectorised exp over exp's whole input range (clamps, subnormal and
// overflowing results, random bit patterns, NaN), which the random rows
// of TestVecKernelsAgree do not reach, and checks them bit for bit
// against the Go specifications.
func TestNEONExpRowKernelsFullRange(t *testing.T) {
	spec, neon := goVecs(), best()
	xs := expInputs()
	r := rand.New(rand.NewPCG(21, 22))
	u, da := randVec(r, len(xs), 2), randVec(r, len(xs), 2)

	for _, c := range []float32{0, 0.75, -3} {
		var accW, accG partials
		want, got := make([]float32, len(xs)), make([]float32, len(xs))
		spec.expSum(want, xs, c, &accW)
		neon.expSum(got, xs, c, &accG)
		if i := sameBits(got, want); i >= 0 {
			t.Fatalf("expSum c=%g: exp(%g) = %g, spec %g", c, xs[i]-c, got[i], want[i])
		}
		if i := sameBits(f64s(accG[:]...), f64s(accW[:]...)); i >= 0 {
			t.Fatalf("expSum c=%g: partial sum %d = %g, spec %g", c, i/2, accG[i/2], accW[i/2])
		}
	}

	want, got := make([]float32, len(xs)), make([]float32, len(xs))
	spec.swiGLU(want, xs, u)
	neon.swiGLU(got, xs, u)
	if i := sameBits(got, want); i >= 0 {
		t.Fatalf("swiGLU(g=%g, u=%g) = %g, spec %g", xs[i], u[i], got[i], want[i])
	}

	dgW, duW := randVec(rand.New(rand.NewPCG(3, 4)), len(xs), 1), randVec(rand.New(rand.NewPCG(5, 6)), len(xs), 1)
	dgG, duG := append([]float32(nil), dgW...), append([]float32(nil), duW...)
	spec.swiGLUBackward(dgW, duW, da, xs, u)
	neon.swiGLUBackward(dgG, duG, da, xs, u)
	if i := sameBits(dgG, dgW); i >= 0 {
		t.Fatalf("swiGLUBackward g=%g: dg = %g, spec %g", xs[i], dgG[i], dgW[i])
	}
	if i := sameBits(duG, duW); i >= 0 {
		t.Fatalf("swiGLUBackward g=%g: du = %g, spec %g", xs[i], duG[i], duW[i])
	}
}
