package tensor

import (
	"encoding/binary"
	"math"
	"math/big"
	"math/rand/v2"
	"runtime"
	"testing"
)

// gemmCase is one product with its operands laid out as Gemm takes them.
type gemmCase struct {
	ta, tb        bool
	m, n, k       int
	alpha, beta   float32
	a, b, c       []float32
	lda, ldb, ldc int
}

// newCase builds random operands with leading dimensions padded by pad
// (lda > cols exercises strides) and guard values past every matrix. With
// beta == 0, C starts as NaN, which Gemm must ignore.
func newCase(r *rand.Rand, ta, tb bool, m, n, k, pad int, alpha, beta float32) gemmCase {
	ar, ac := m, k
	if ta {
		ar, ac = k, m
	}
	br, bc := k, n
	if tb {
		br, bc = n, k
	}
	g := gemmCase{ta: ta, tb: tb, m: m, n: n, k: k, alpha: alpha, beta: beta,
		lda: max(ac, 1) + pad, ldb: max(bc, 1) + pad, ldc: max(n, 1) + pad}
	g.a = padded(r, ar*g.lda)
	g.b = padded(r, br*g.ldb)
	g.c = padded(r, m*g.ldc)
	if beta == 0 {
		for i := range m * g.ldc {
			g.c[i] = float32(math.NaN())
		}
	}
	return g
}

func (g gemmCase) run(be Backend) []float32 {
	c := append([]float32(nil), g.c...)
	be.Gemm(g.ta, g.tb, g.m, g.n, g.k, g.alpha, g.a, g.lda, g.b, g.ldb, g.beta, c, g.ldc)
	return c
}

// spec computes the product exactly as Fast defines it: per element, a
// float32 FMA chain over k in order from zero, then epilogue. It is the
// scalar statement of the contract every kernel must meet bit for bit.
func (g gemmCase) spec() []float32 {
	c := append([]float32(nil), g.c...)
	for i := 0; i < g.m; i++ {
		for j := 0; j < g.n; j++ {
			var acc float32
			for p := 0; p < g.k; p++ {
				var av, bv float32
				if g.ta {
					av = g.a[p*g.lda+i]
				} else {
					av = g.a[i*g.lda+p]
				}
				if g.tb {
					bv = g.b[j*g.ldb+p]
				} else {
					bv = g.b[p*g.ldb+j]
				}
				acc = fma32(av, bv, acc)
			}
			c[i*g.ldc+j] = epilogue(acc, c[i*g.ldc+j], g.alpha, g.beta)
		}
	}
	return c
}

func (g gemmCase) String() string {
	return fmtCase(g.ta, g.tb, g.m, g.n, g.k, g.alpha, g.beta, g.lda, g.ldb, g.ldc)
}

func fmtCase(ta, tb bool, m, n, k int, alpha, beta float32, lda, ldb, ldc int) string {
	return "gemm(ta=" + btoa(ta) + " tb=" + btoa(tb) + " m=" + itoa(m) + " n=" + itoa(n) + " k=" + itoa(k) +
		" alpha=" + ftoa(alpha) + " beta=" + ftoa(beta) + " lda=" + itoa(lda) + " ldb=" + itoa(ldb) + " ldc=" + itoa(ldc) + ")"
}

func fastKernels(t testing.TB) []Fast {
	var fs []Fast
	for _, isa := range FastISAs() {
		f, err := FastFor(isa)
		if err != nil {
			t.Fatal(err)
		}
		fs = append(fs, f)
	}
	return fs
}

// checkGuards fails when anything past C's last element changed.
func checkGuards(t *testing.T, what string, g gemmCase, got []float32) {
	t.Helper()
	for i := (g.m-1)*g.ldc + g.n; i < len(got); i++ {
		if i >= 0 && i >= g.m*g.ldc && got[i] != guard {
			t.Fatalf("%s %v: wrote past C at %d", what, g, i)
		}
	}
	// Padding between rows of C must be untouched too.
	for i := 0; i < g.m; i++ {
		for j := g.n; j < g.ldc && i*g.ldc+j < g.m*g.ldc; j++ {
			if x, y := got[i*g.ldc+j], g.c[i*g.ldc+j]; math.Float32bits(x) != math.Float32bits(y) {
				t.Fatalf("%s %v: wrote into C's row padding at (%d,%d)", what, g, i, j)
			}
		}
	}
}

func TestFastMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	shapes := []struct{ m, n, k int }{
		{1, 1, 1}, {1, 7, 3}, {5, 1, 9}, {3, 5, 0}, {7, 13, 17}, {12, 32, 8}, {13, 33, 1},
		{6, 16, 5}, {25, 47, 258}, {97, 40, 31}, {40, 530, 3}, {2, 9, 600},
	}
	for _, f := range fastKernels(t) {
		for _, s := range shapes {
			for _, ta := range []bool{false, true} {
				for _, tb := range []bool{false, true} {
					for _, ab := range [][2]float32{{1, 0}, {1.5, 0}, {-0.75, 1}, {1, 0.5}} {
						g := newCase(r, ta, tb, s.m, s.n, s.k, r.IntN(3), ab[0], ab[1])
						got := g.run(f)
						want := g.run(Ref{})
						bound := g.errorBound()
						for i := 0; i < g.m; i++ {
							for j := 0; j < g.n; j++ {
								x, y := got[i*g.ldc+j], want[i*g.ldc+j]
								if d := math.Abs(float64(x) - float64(y)); !(d <= bound[i*g.ldc+j]) {
									t.Fatalf("%s %v: c[%d,%d]=%v want %v (bound %g)", f.ISA(), g, i, j, x, y, bound[i*g.ldc+j])
								}
							}
						}
						checkGuards(t, f.ISA(), g, got)
					}
				}
			}
		}
	}
}

// errorBound is a rigorous bound on |fast − exact| for each element of C:
// a float32 dot product of length k has error at most about k·u·Σ|a·b|,
// plus the roundings of the epilogue (u = 2⁻²⁴).
func (g gemmCase) errorBound() []float64 {
	abs := func(s []float32) []float32 {
		o := make([]float32, len(s))
		for i, v := range s {
			o[i] = float32(math.Abs(float64(v)))
			if v != v {
				o[i] = 0
			}
		}
		return o
	}
	h := g
	h.a, h.b, h.c = abs(g.a), abs(g.b), abs(g.c)
	h.alpha, h.beta = float32(math.Abs(float64(g.alpha))), float32(math.Abs(float64(g.beta)))
	if g.beta == 0 {
		h.beta = 0
	}
	mag := h.run(Ref{})
	const u = 1.0 / (1 << 24)
	out := make([]float64, len(mag))
	for i, v := range mag {
		out[i] = float64(g.k+3)*u*float64(v)*1.01 + 1e-30
	}
	return out
}

// TestFastMatchesSpec checks every kernel bit for bit against the scalar
// FMA chain, on shapes that cross the tile, block and task boundaries.
func TestFastMatchesSpec(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	shapes := []struct{ m, n, k int }{{1, 1, 1}, {11, 31, 7}, {13, 33, 257}, {100, 20, 520}, {30, 530, 40}}
	for _, f := range fastKernels(t) {
		for _, s := range shapes {
			for _, ta := range []bool{false, true} {
				for _, tb := range []bool{false, true} {
					for _, ab := range [][2]float32{{1, 0}, {0.3, -1.25}} {
						g := newCase(r, ta, tb, s.m, s.n, s.k, 1, ab[0], ab[1])
						got, want := g.run(f), g.spec()
						if i := firstDiff(got, want); i >= 0 {
							t.Fatalf("%s %v: c[%d] = %v (%#x), spec %v (%#x)", f.ISA(), g, i, got[i], math.Float32bits(got[i]), want[i], math.Float32bits(want[i]))
						}
					}
				}
			}
		}
	}
}

// firstDiff returns the first index where a and b differ in bits (all NaNs
// count as equal), or -1.
func firstDiff(a, b []float32) int {
	for i := range a {
		if math.Float32bits(a[i]) != math.Float32bits(b[i]) && !(a[i] != a[i] && b[i] != b[i]) {
			return i
		}
	}
	return -1
}

// TestFastBitIdentity checks that the result does not depend on the number
// of threads or on the kernel, on shapes large enough to be split into
// several tasks and kc blocks.
func TestFastBitIdentity(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	for _, tc := range []struct {
		ta, tb  bool
		m, n, k int
	}{{false, true, 110, 530, 270}, {true, false, 97, 520, 300},
		{true, false, 20, 600, 300}, {false, false, 9, 700, 350}} { // B read in place
		if tc.m*tc.n*tc.k < parallelMinFlops {
			t.Fatalf("%d×%d×%d runs serially: it cannot test thread counts", tc.m, tc.n, tc.k)
		}
		g := newCase(r, tc.ta, tc.tb, tc.m, tc.n, tc.k, 3, 1, 1)
		var first []float32
		for _, f := range fastKernels(t) {
			for _, procs := range []int{1, 2, 3, 8} {
				runtime.GOMAXPROCS(procs)
				got := g.run(f)
				if first == nil {
					first = got
					continue
				}
				if i := firstDiff(got, first); i >= 0 {
					t.Fatalf("%s GOMAXPROCS=%d %v: c[%d] = %v, first run %v", f.ISA(), procs, g, i, got[i], first[i])
				}
			}
		}
	}
}

// TestFma32 checks fma32 against exact arithmetic, including inputs built
// so that rounding through float64 first would give the wrong answer.
func TestFma32(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	doubleRoundingCaught := 0
	for i := 0; i < 200000; i++ {
		var x, y, z float32
		switch i % 4 {
		case 3: // subnormal results, where float32's midpoints sit elsewhere
			x = float32(math.Ldexp(1+r.Float64(), -65-r.IntN(12))) * float32(1-2*r.IntN(2))
			y = float32(math.Ldexp(1+r.Float64(), -65-r.IntN(12)))
			z = math.Float32frombits(r.Uint32() & 0x807fffff)
		case 0: // random bit patterns, finite only
			x, y, z = randFinite(r), randFinite(r), randFinite(r)
		case 1: // similar magnitudes: cancellation
			x = float32(r.NormFloat64())
			y = float32(r.NormFloat64())
			z = -x * y * (1 + float32(r.NormFloat64())*1e-6)
		default:
			// x·y = (1 + 2⁻ᵃ)(1 + 2⁻ᵇ) with a+b = 24 lies exactly halfway
			// between two float32 values; a tiny z decides the rounding, but
			// through float64 it is lost and ties-to-even decides instead.
			a := 1 + r.IntN(23)
			x = float32(math.Ldexp(1+math.Ldexp(1, -a), r.IntN(20)-10))
			y = float32(1 + math.Ldexp(1, a-24))
			z = float32(math.Ldexp(float64(1-2*r.IntN(2)), -40-r.IntN(40)))
			z = float32(math.Ldexp(float64(z), int(math.Ilogb(float64(x)))))
		}
		want := exactFMA(x, y, z)
		got := fma32(x, y, z)
		if math.Float32bits(got) != math.Float32bits(want) {
			t.Fatalf("fma32(%g, %g, %g) = %g (%#x), want %g (%#x)", x, y, z, got, math.Float32bits(got), want, math.Float32bits(want))
		}
		if naive := float32(math.FMA(float64(x), float64(y), float64(z))); naive != want {
			doubleRoundingCaught++
		}
	}
	// The hard cases really are hard: the naive formula fails on some.
	if doubleRoundingCaught == 0 {
		t.Fatal("no double-rounding case generated; the test would not catch the naive formula")
	}
	t.Logf("%d inputs where float32(math.FMA) double-rounds", doubleRoundingCaught)
}

// exactFMA rounds x·y+z computed exactly with big.Float to float32
// (nearest, ties to even).
func exactFMA(x, y, z float32) float32 {
	var p, s big.Float
	p.SetPrec(200).Mul(big.NewFloat(float64(x)), big.NewFloat(float64(y)))
	s.SetPrec(200).Add(&p, big.NewFloat(float64(z)))
	if s.Sign() == 0 {
		// Exact zero: IEEE gives +0 unless both x·y and z are -0.
		return float32(float64(x)*float64(y) + float64(z))
	}
	f, _ := s.Float32()
	return f
}

func randFinite(r *rand.Rand) float32 {
	for {
		// Exponents near the middle keep x·y+z finite and in range of
		// interesting cancellations.
		f := math.Float32frombits(r.Uint32())
		if !math.IsInf(float64(f), 0) && f == f && math.Abs(float64(f)) < 1e18 && math.Abs(float64(f)) > 1e-18 {
			return f
		}
	}
}

// TestKernelsFMA checks each kernel's single-step FMA against fma32 on
// arbitrary bit patterns, including Inf, NaN and subnormals.
func TestKernelsFMA(t *testing.T) {
	r := rand.New(rand.NewPCG(11, 12))
	special := []float32{0, float32(math.Copysign(0, -1)), 1, -1, float32(math.Inf(1)), float32(math.Inf(-1)),
		float32(math.NaN()), math.SmallestNonzeroFloat32, math.MaxFloat32, 1e-40, -3e-39}
	pick := func() float32 {
		if r.IntN(4) == 0 {
			return special[r.IntN(len(special))]
		}
		return math.Float32frombits(r.Uint32())
	}
	for _, k := range availableKernels() {
		mr, nr := k.mr, k.nr
		a, b, w := make([]float32, mr), make([]float32, nr), make([]float32, mr*nr)
		for iter := 0; iter < 2000; iter++ {
			for i := range a {
				a[i] = pick()
			}
			for i := range b {
				b[i] = pick()
			}
			for i := range w {
				w[i] = pick()
			}
			w0 := append([]float32(nil), w...)
			k.fn(1, &a[0], 4, 4*mr, &b[0], &w[0], &w[0], nr, 1, 0, kernLoad)
			for i := 0; i < mr; i++ {
				for j := 0; j < nr; j++ {
					want := fma32(a[i], b[j], w0[i*nr+j])
					got := w[i*nr+j]
					if firstDiff([]float32{got}, []float32{want}) >= 0 {
						t.Fatalf("%s: fma(%g, %g, %g) = %g (%#x), fma32 %g (%#x)", k.name, a[i], b[j], w0[i*nr+j], got, math.Float32bits(got), want, math.Float32bits(want))
					}
				}
			}
		}
	}
}

func TestFastForUnknown(t *testing.T) {
	t.Logf("kernels on this machine: %v", FastISAs())
	if _, err := FastFor("vax"); err == nil {
		t.Fatal("FastFor(vax) succeeded")
	}
	if got := (Fast{}).ISA(); got != FastISAs()[0] {
		t.Fatalf("zero Fast uses %q, want the fastest %q", got, FastISAs()[0])
	}
}

// FuzzFastGemm decodes a small product from the input and checks every
// kernel bit for bit against the scalar specification.
func FuzzFastGemm(f *testing.F) {
	f.Add([]byte{0, 1, 1, 1, 0, 0, 0, 0})
	f.Add([]byte{3, 13, 33, 17, 2, 9, 5, 1})
	f.Add([]byte{1, 40, 7, 255, 1, 200, 7, 3})
	f.Fuzz(func(t *testing.T, in []byte) {
		var buf [16]byte
		copy(buf[:], in)
		flags := buf[0]
		m, n, k := int(buf[1]%50), int(buf[2]%70), int(buf[3])+int(buf[4])%2*256
		alpha := float32(int8(buf[5])) / 16
		beta := float32(int8(buf[6])) / 16
		pad := int(buf[7] % 4)
		seed := binary.LittleEndian.Uint64(buf[8:])
		g := newCase(rand.New(rand.NewPCG(seed, 1)), flags&1 != 0, flags&2 != 0, m, n, k, pad, alpha, beta)
		want := g.spec()
		for _, fa := range fastKernels(t) {
			got := g.run(fa)
			if i := firstDiff(got, want); i >= 0 {
				t.Fatalf("%s %v: c[%d] = %v, spec %v", fa.ISA(), g, i, got[i], want[i])
			}
			checkGuards(t, fa.ISA(), g, got)
		}
	})
}
