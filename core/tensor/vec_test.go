package tensor

import (
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"
)

// vecLengths exercise empty rows, tails only, whole vectors, vectors plus
// tails, and the training step's rows.
var vecLengths = []int{0, 1, 5, 15, 16, 17, 31, 33, 64, 100, 256, 576, 1000, 1536}

// vecInputs returns k random vectors of length n; with specials, some
// entries are NaN, ±Inf, ±0, huge or tiny.
func vecInputs(seed uint64, n, k int, specials bool) [][]float32 {
	r := rand.New(rand.NewPCG(seed, uint64(n)))
	vs := make([][]float32, k)
	sp := []float32{float32(math.NaN()), float32(math.Inf(1)), float32(math.Inf(-1)), 0,
		float32(math.Copysign(0, -1)), 200, -200, 1e-30, -3e38, math.SmallestNonzeroFloat32}
	for i := range vs {
		vs[i] = randVec(r, n, 2)
		if specials {
			for j := range vs[i] {
				if r.IntN(4) == 0 {
					vs[i][j] = sp[r.IntN(len(sp))]
				}
			}
		}
	}
	return vs
}

// sameBits reports the first index where a and b differ in bits (two NaNs
// count as equal, as the sign and payload of a NaN are not specified), or -1.
func sameBits(a, b []float32) int {
	if len(a) != len(b) {
		return 0
	}
	return firstDiff(a, b)
}

// vecOps runs one kernel of v on fresh copies of in and returns everything
// it wrote, float64 results split into two float32 bit patterns.
var vecOps = []struct {
	name string
	k    int // inputs
	run  func(v *vecKernel, in [][]float32) []float32
}{
	{"rowMax", 1, func(v *vecKernel, in [][]float32) []float32 { return []float32{v.rowMax(in[0])} }},
	{"expSum", 1, func(v *vecKernel, in [][]float32) []float32 {
		var acc partials
		acc[3] = 0.5 // accumulates onto what is there
		dst := make([]float32, len(in[0]))
		v.expSum(dst, in[0], 0.75, &acc)
		return append(dst, f64s(acc[:]...)...)
	}},
	{"scale", 1, func(v *vecKernel, in [][]float32) []float32 { v.scale(in[0], 1.7); return in[0] }},
	{"addTo", 2, func(v *vecKernel, in [][]float32) []float32 { v.addTo(in[0], in[1]); return in[0] }},
	{"sumSq", 1, func(v *vecKernel, in [][]float32) []float32 {
		var acc partials
		v.sumSq(&acc, in[0])
		return f64s(acc[:]...)
	}},
	{"dot", 2, func(v *vecKernel, in [][]float32) []float32 {
		var acc partials
		v.dot(&acc, in[0], in[1])
		return f64s(acc[:]...)
	}},
	{"swiGLU", 2, func(v *vecKernel, in [][]float32) []float32 {
		a := make([]float32, len(in[0]))
		v.swiGLU(a, in[0], in[1])
		return a
	}},
	{"swiGLUBackward", 5, func(v *vecKernel, in [][]float32) []float32 {
		v.swiGLUBackward(in[0], in[1], in[2], in[3], in[4])
		return append(in[0], in[1]...)
	}},
	{"softmax", 1, func(v *vecKernel, in [][]float32) []float32 { v.softmax(in[0]); return in[0] }},
	{"softmaxBack", 2, func(v *vecKernel, in [][]float32) []float32 { v.softmaxBack(in[0], in[1]); return in[0] }},
	{"logSoftmaxLoss", 1, func(v *vecKernel, in [][]float32) []float32 {
		if len(in[0]) == 0 {
			return nil
		}
		l := v.logSoftmaxLoss(in[0], len(in[0])/2, true, 0.5)
		return append(in[0], f64s(l)...)
	}},
	{"rmsApply", 2, func(v *vecKernel, in [][]float32) []float32 {
		out := make([]float32, len(in[0]))
		v.rmsApply(out, in[0], in[1], 0.37)
		return out
	}},
	{"rmsDot", 3, func(v *vecKernel, in [][]float32) []float32 {
		var acc partials
		v.rmsDot(&acc, in[0], in[1], in[2], 0.37)
		return f64s(acc[:]...)
	}},
	{"rmsDx", 4, func(v *vecKernel, in [][]float32) []float32 {
		v.rmsDx(in[0], in[1], in[2], in[3], 0.37, -0.0123)
		return in[0]
	}},
	{"rmsDw", 3, func(v *vecKernel, in [][]float32) []float32 { v.rmsDw(in[0], in[1], in[2], 0.37); return in[0] }},
	{"rope", 4, func(v *vecKernel, in [][]float32) []float32 {
		v.rope(in[0], in[1], in[2], in[3], false)
		return append(in[0], in[1]...)
	}},
	{"ropeBack", 4, func(v *vecKernel, in [][]float32) []float32 {
		v.rope(in[0], in[1], in[2], in[3], true)
		return append(in[0], in[1]...)
	}},
	{"rmsNorm", 2, func(v *vecKernel, in [][]float32) []float32 {
		n, w := rowsOf(len(in[0]))
		out, rstd := make([]float32, n*w), make([]float32, n)
		v.rmsNorm(out, rstd, in[0][:n*w], in[1][:w], n, w, 1e-5)
		return append(out, rstd...)
	}},
	{"rmsNormBackward", 5, func(v *vecKernel, in [][]float32) []float32 {
		n, w := rowsOf(len(in[0]))
		dx, dw := in[0][:n*w], in[1][:w]
		v.rmsNormBackward(dx, dw, in[2][:n*w], in[3][:n*w], in[4][:w], in[4][w:w+n], n, w)
		return append(dx, dw...)
	}},
}

// rowsOf splits a length into rows for the normalisation tests, leaving
// room for rstd at the end of a weight-sized input.
func rowsOf(l int) (n, w int) {
	if l < 4 {
		return 0, 0
	}
	return 3, l / 4
}

func f64s(xs ...float64) []float32 {
	var out []float32
	for _, x := range xs {
		if x != x { // any NaN, as in sameBits
			out = append(out, float32(x), float32(x))
			continue
		}
		b := math.Float64bits(x)
		out = append(out, math.Float32frombits(uint32(b)), math.Float32frombits(uint32(b>>32)))
	}
	return out
}

func clone2(in [][]float32) [][]float32 {
	out := make([][]float32, len(in))
	for i, v := range in {
		out[i] = append([]float32(nil), v...)
	}
	return out
}

// TestVecKernelsAgree checks every kernel of every instruction set this
// CPU offers bit for bit against the Go specification.
func TestVecKernelsAgree(t *testing.T) {
	spec := goVecs()
	vs := availableVecs()
	if len(vs) < 2 {
		t.Logf("only the Go kernels on this CPU")
	}
	for _, op := range vecOps {
		for _, specials := range []bool{false, true} {
			for _, n := range vecLengths {
				in := vecInputs(uint64(len(op.name)), n, op.k, specials)
				want := op.run(spec, clone2(in))
				for _, v := range vs {
					got := op.run(v, clone2(in))
					if i := sameBits(got, want); i >= 0 {
						t.Fatalf("%s/%s n=%d specials=%v: output %d = %g (%#x), spec %g (%#x)", op.name, v.name, n, specials,
							i, got[i], math.Float32bits(got[i]), want[i], math.Float32bits(want[i]))
					}
				}
			}
		}
	}
}

// TestReduce64Order pins the canonical order: lanes fold k+8, k+4, k+2,
// k+1. The values are chosen so that any other order rounds differently.
func TestReduce64Order(t *testing.T) {
	var p partials
	p[0], p[8] = 1, 1e16
	p[4], p[12] = 1, -1e16
	// Tree: (p0+p8)+(p4+p12) = (1e16+1 → 1e16) + (-1e16+1 → -1e16) = 0.
	// A serial sum would give 1e16+1+... = 2 or 1 depending on order.
	if got := p.reduce64(); got != 0 {
		t.Fatalf("reduce64 = %v, want 0", got)
	}
	var q partials
	for k := range q {
		q[k] = float64(k + 1)
	}
	if got := q.reduce64(); got != 136 {
		t.Fatalf("reduce64 of 1..16 = %v, want 136", got)
	}
}

// TestSumsMatchExact checks the canonical float64 sums against exact
// rational arithmetic (via float64 sums of exactly representable parts).
func TestSumsMatchReference(t *testing.T) {
	for _, n := range vecLengths {
		in := vecInputs(7, n, 2, false)
		var acc, dacc partials
		goVecs().sumSq(&acc, in[0])
		goVecs().dot(&dacc, in[0], in[1])
		var ss, dot float64
		for i, v := range in[0] {
			ss += float64(v) * float64(v)
			dot += float64(v) * float64(in[1][i])
		}
		if d := math.Abs(acc.reduce64() - ss); d > 1e-12*ss {
			t.Fatalf("n=%d: sumSq %v, serial %v", n, acc.reduce64(), ss)
		}
		if d := math.Abs(dacc.reduce64() - dot); d > 1e-12*(1+math.Abs(dot))*float64(n+1) {
			t.Fatalf("n=%d: dot %v, serial %v", n, dacc.reduce64(), dot)
		}
	}
}

func TestRowMaxSkipsNaN(t *testing.T) {
	for _, v := range availableVecs() {
		x := make([]float32, 40)
		for i := range x {
			x[i] = float32(math.NaN())
		}
		x[37] = -5
		if m := v.rowMax(x); m != -5 {
			t.Fatalf("%s: rowMax = %v, want -5", v.name, m)
		}
		if m := v.rowMax(nil); !math.IsInf(float64(m), -1) {
			t.Fatalf("%s: rowMax(empty) = %v, want -Inf", v.name, m)
		}
	}
}

// TestSoftmaxMaskedRows: every ISA zeroes masked entries and all-masked rows.
func TestSoftmaxMaskedRows(t *testing.T) {
	inf := float32(math.Inf(-1))
	for _, v := range availableVecs() {
		for _, n := range []int{1, 16, 33} {
			all := make([]float32, n)
			for i := range all {
				all[i] = inf
			}
			v.softmax(all)
			for i, p := range all {
				if p != 0 {
					t.Fatalf("%s n=%d: all-masked row[%d] = %v", v.name, n, i, p)
				}
			}
			row := vecInputs(3, n, 1, false)[0]
			for i := 0; i < n; i += 2 {
				row[i] = inf
			}
			if n == 1 {
				row[0] = 2
			}
			v.softmax(row)
			var s float64
			for i, p := range row {
				if i%2 == 0 && n > 1 && p != 0 {
					t.Fatalf("%s n=%d: masked row[%d] = %v", v.name, n, i, p)
				}
				s += float64(p)
			}
			if math.Abs(s-1) > 1e-6 {
				t.Fatalf("%s n=%d: sum %v", v.name, n, s)
			}
		}
	}
}

func TestSoftmaxBackwardReference(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	for _, n := range []int{1, 17, 256} {
		p := randVec(r, n, 1)
		Softmax(p)
		dr := randVec(r, n, 1)
		want := make([]float32, n)
		var dot float64
		for j := range p {
			dot += float64(p[j]) * float64(dr[j])
		}
		for j := range p {
			want[j] = float32(float64(p[j]) * (float64(dr[j]) - dot))
		}
		SoftmaxBackward(dr, p)
		closeTo(t, "softmax backward", dr, want, 1e-6, 1e-9)
	}
}

func TestRoPEReference(t *testing.T) {
	r := rand.New(rand.NewPCG(23, 24))
	for _, h := range []int{1, 16, 32, 40} {
		x := randVec(r, 2*h, 1)
		cos, sin := make([]float32, h), make([]float32, h)
		for i := range cos {
			a := r.Float64() * 2 * math.Pi
			cos[i], sin[i] = float32(math.Cos(a)), float32(math.Sin(a))
		}
		want := make([]float32, 2*h)
		for i := 0; i < h; i++ {
			a, b := float64(x[i]), float64(x[i+h])
			want[i] = float32(a*float64(cos[i]) - b*float64(sin[i]))
			want[i+h] = float32(b*float64(cos[i]) + a*float64(sin[i]))
		}
		got := append([]float32(nil), x...)
		RoPE(got, cos, sin)
		closeTo(t, "rope", got, want, 1e-6, 1e-7)
		RoPEBackward(got, cos, sin) // the inverse rotation
		closeTo(t, "rope back", got, x, 1e-6, 1e-6)
	}
}

// TestRMSNormThreads checks that splitting rows and columns across threads
// changes no bit, with dw accumulated across many rows.
func TestRMSNormThreads(t *testing.T) {
	n, w := 200, 576
	in := vecInputs(9, n*w, 3, false)
	wt := vecInputs(10, w, 2, false)
	run := func(v *vecKernel, serial bool) []float32 {
		out, rstd := make([]float32, n*w), make([]float32, n)
		dx, dw := append([]float32(nil), in[2]...), append([]float32(nil), wt[1]...)
		if serial {
			for i := 0; i < n; i++ {
				v.rmsNorm(out[i*w:], rstd[i:], in[0][i*w:(i+1)*w], wt[0], 1, w, 1e-6)
				v.rmsNormBackward(dx[i*w:(i+1)*w], dw, in[1][i*w:], in[0][i*w:(i+1)*w], wt[0], rstd[i:], 1, w)
			}
		} else {
			v.rmsNorm(out, rstd, in[0], wt[0], n, w, 1e-6)
			v.rmsNormBackward(dx, dw, in[1], in[0], wt[0], rstd, n, w)
		}
		return append(append(append(out, rstd...), dx...), dw...)
	}
	want := run(goVecs(), true)
	for _, v := range availableVecs() {
		if i := sameBits(run(v, false), want); i >= 0 {
			t.Fatalf("%s: rows together differ from one by one at %d", v.name, i)
		}
	}
}

// TestRMSNormMatchesScalar compares the vectorised RMSNorm with the
// float64 scalar code it replaced: only the order of the sums changed.
func TestRMSNormMatchesScalar(t *testing.T) {
	for _, w := range []int{8, 37, 576} {
		in := vecInputs(1, 3*w, 3, false)
		wt := vecInputs(2, w, 1, false)[0]
		o1, o2 := make([]float32, 3*w), make([]float32, 3*w)
		r1, r2 := make([]float32, 3), make([]float32, 3)
		RMSNorm(o1, r1, in[0], wt, 3, w, 1e-5)
		oldRMSNorm(o2, r2, in[0], wt, 3, w, 1e-5)
		closeTo(t, "fwd", o1, o2, 1e-6, 1e-7)
		closeTo(t, "rstd", r1, r2, 1e-6, 1e-7)
		dx1, dx2 := make([]float32, 3*w), make([]float32, 3*w)
		dw1, dw2 := make([]float32, w), make([]float32, w)
		RMSNormBackward(dx1, dw1, in[1], in[0], wt, r1, 3, w)
		oldRMSNormBackward(dx2, dw2, in[1], in[0], wt, r2, 3, w)
		closeTo(t, "dx", dx1, dx2, 1e-6, 1e-7)
		closeTo(t, "dw", dw1, dw2, 1e-6, 1e-7)
	}
}

// The scalar versions the row kernels replaced: the baselines of the
// benchmarks below.

func oldRowMax(s []float32) float32 {
	mx := float32(math.Inf(-1))
	for _, v := range s {
		if v > mx {
			mx = v
		}
	}
	return mx
}

func oldSum64(s []float32) float64 {
	var a0, a1, a2, a3 float64
	i := 0
	for ; i+4 <= len(s); i += 4 {
		a0 += float64(s[i])
		a1 += float64(s[i+1])
		a2 += float64(s[i+2])
		a3 += float64(s[i+3])
	}
	for ; i < len(s); i++ {
		a0 += float64(s[i])
	}
	return (a0 + a1) + (a2 + a3)
}

func oldSoftmax(s []float32) {
	mx := oldRowMax(s)
	if math.IsInf(float64(mx), -1) {
		clear(s)
		return
	}
	for j := range s {
		s[j] -= mx
	}
	Exp(s, s)
	inv := float32(1 / oldSum64(s))
	for j := range s {
		s[j] *= inv
	}
}

func oldLogSoftmaxLoss(logits []float32, target int, grad bool, scale float32) float64 {
	mx := oldRowMax(logits)
	var buf [actChunk]float32
	var s float64
	for i := 0; i < len(logits); i += actChunk {
		src := logits[i:min(i+actChunk, len(logits))]
		t := buf[:len(src)]
		for j, v := range src {
			t[j] = v - mx
		}
		Exp(t, t)
		s += oldSum64(t)
	}
	loss := float64(mx) + math.Log(s) - float64(logits[target])
	if !grad {
		return loss
	}
	inv := float32(float64(scale) / s)
	for i := 0; i < len(logits); i += actChunk {
		src := logits[i:min(i+actChunk, len(logits))]
		for j, v := range src {
			src[j] = v - mx
		}
		Exp(src, src)
		for j := range src {
			src[j] *= inv
		}
	}
	logits[target] -= scale
	return loss
}

func oldSwiGLU(a, g, u []float32) {
	var buf [actChunk]float32
	for i := 0; i < len(g); i += actChunk {
		z := g[i:min(i+actChunk, len(g))]
		e := buf[:len(z)]
		for j, v := range z {
			e[j] = -v
		}
		Exp(e, e)
		av, uv := a[i:i+len(z)], u[i:i+len(z)]
		for j, v := range z {
			av[j] = float32(v/(1+e[j])) * uv[j]
		}
	}
}

func oldSwiGLUBackward(dg, du, da, g, u []float32) {
	var buf [actChunk]float32
	for i := 0; i < len(g); i += actChunk {
		z := g[i:min(i+actChunk, len(g))]
		e := buf[:len(z)]
		for j, v := range z {
			e[j] = -v
		}
		Exp(e, e)
		n := len(z)
		dgv, duv, dav, uv := dg[i:i+n], du[i:i+n], da[i:i+n], u[i:i+n]
		for j, v := range z {
			s := 1 / (1 + e[j])
			silu := float32(v * s)
			duv[j] += float32(dav[j] * silu)
			dgv[j] += float32(float32(dav[j]*uv[j]) * float32(s*float32(1+float32(v*float32(1-s)))))
		}
	}
}

func oldSoftmaxBackward(dr, pr []float32) {
	var dot float64
	for j, pv := range pr {
		dot += float64(pv) * float64(dr[j])
	}
	for j, pv := range pr {
		dr[j] = float32(float64(pv) * (float64(dr[j]) - dot))
	}
}

func oldRMSNorm(out, rstd, x, w []float32, n, width int, eps float64) {
	for i := 0; i < n; i++ {
		row := x[i*width : (i+1)*width]
		var ss float64
		for _, v := range row {
			ss += float64(v) * float64(v)
		}
		r := float32(1 / math.Sqrt(float64(float32(ss/float64(width)))+eps))
		rstd[i] = r
		o := out[i*width : (i+1)*width]
		for j, v := range row {
			o[j] = w[j] * (v * r)
		}
	}
}

func oldRMSNormBackward(dx, dw, dy, x, w, rstd []float32, n, width int) {
	for i := 0; i < n; i++ {
		row := x[i*width : (i+1)*width]
		g := dy[i*width : (i+1)*width]
		r := float64(rstd[i])
		var dot float64
		for j, v := range row {
			xhat := float64(v) * r
			dot += float64(g[j]) * float64(w[j]) * xhat
			if dw != nil {
				dw[j] += float32(float64(g[j]) * xhat)
			}
		}
		mean := dot / float64(width)
		d := dx[i*width : (i+1)*width]
		for j, v := range row {
			xhat := float64(v) * r
			d[j] += float32(r * (float64(g[j])*float64(w[j]) - xhat*mean))
		}
	}
}

func oldRoPE(v, cos, sin []float32) {
	h := len(cos)
	for i := 0; i < h; i++ {
		a, b := v[i], v[i+h]
		v[i] = a*cos[i] - b*sin[i]
		v[i+h] = b*cos[i] + a*sin[i]
	}
}

// TestOldVersionsKeepElementwiseBits: where the new kernels only map
// elements (no sum), they reproduce the replaced code exactly.
func TestOldVersionsKeepElementwiseBits(t *testing.T) {
	in := vecInputs(11, 1000, 5, true)
	a, b := make([]float32, 1000), make([]float32, 1000)
	SwiGLU(a, in[0], in[1])
	oldSwiGLU(b, in[0], in[1])
	if i := sameBits(a, b); i >= 0 {
		t.Fatalf("SwiGLU changed at %d: %g vs %g", i, a[i], b[i])
	}
	c := clone2(in)
	d := clone2(in)
	SwiGLUBackward(c[2], c[3], c[4], c[0], c[1])
	oldSwiGLUBackward(d[2], d[3], d[4], d[0], d[1])
	if i := sameBits(append(c[2], c[3]...), append(d[2], d[3]...)); i >= 0 {
		t.Fatalf("SwiGLUBackward changed at %d", i)
	}
	// The maps inside the normalisations and softmax backward, given the
	// same row statistic.
	x, g, w, o := in[0][:600], in[1][:600], in[2][:600], in[3][:600]
	got, want := make([]float32, 600), make([]float32, 600)
	RMSNorm(got, make([]float32, 1), x, w, 1, 600, 1e-5)
	var acc partials
	best().sumSq(&acc, x)
	r := float32(1 / math.Sqrt(float64(float32(acc.reduce64()/600))+1e-5))
	for j, v := range x {
		want[j] = w[j] * (v * r)
	}
	if i := sameBits(got, want); i >= 0 {
		t.Fatalf("RMSNorm map changed at %d", i)
	}
	r64, mean, dot := float64(r), -0.0123, 0.0456
	gotDw, wantDw := append([]float32(nil), o...), append([]float32(nil), o...)
	best().rmsDw(gotDw, g, x, r64)
	for j, v := range x {
		wantDw[j] += float32(float64(g[j]) * (float64(v) * r64))
	}
	if i := sameBits(gotDw, wantDw); i >= 0 {
		t.Fatalf("RMSNorm dw changed at %d", i)
	}
	gotSm, wantSm := append([]float32(nil), g...), append([]float32(nil), g...)
	best().softmaxBackward(gotSm, x, dot)
	for j, pv := range x {
		wantSm[j] = float32(float64(pv) * (float64(wantSm[j]) - dot))
	}
	if i := sameBits(gotSm, wantSm); i >= 0 {
		t.Fatalf("softmax backward map changed at %d", i)
	}
	if runtime.GOARCH != "amd64" {
		// The old RoPE's a·c − b·s was fused into FMAs by the arm64
		// compiler, so its bits were never those of amd64; the new
		// kernels round each product, on every CPU.
		return
	}
	gotDx, wantDx := append([]float32(nil), o...), append([]float32(nil), o...)
	best().rmsDx(gotDx, g, w, x, r64, mean)
	for j, v := range x {
		xhat := float64(v) * r64
		wantDx[j] += float32(r64 * (float64(g[j])*float64(w[j]) - xhat*mean))
	}
	if i := sameBits(gotDx, wantDx); i >= 0 {
		t.Fatalf("RMSNorm dx changed at %d", i)
	}
	e, f := clone2(in[:1]), clone2(in[:1])
	cos, sin := in[2][:500], in[3][:500]
	RoPE(e[0], cos, sin)
	oldRoPE(f[0], cos, sin)
	if i := sameBits(e[0], f[0]); i >= 0 {
		t.Fatalf("RoPE changed at %d", i)
	}
}

// BenchmarkRowKernels compares each row kernel with the scalar code it
// replaced, on the training step's sizes: hidden rows of 576, MLP rows of
// 1536, vocabulary rows of 8192 and attention rows of 256.
func BenchmarkRowKernels(b *testing.B) {
	r := rand.New(rand.NewPCG(5, 6))
	const rows = 16
	for _, w := range []int{256, 576, 1536, 8192} {
		x, y, z, u := randVec(r, rows*w, 1), randVec(r, rows*w, 1), randVec(r, rows*w, 1), randVec(r, rows*w, 1)
		wt := randVec(r, w, 1)
		out, rstd := make([]float32, rows*w), make([]float32, rows)
		buf := make([]float32, rows*w)
		RMSNorm(out, rstd, x, wt, rows, w, 1e-5)
		probs := append([]float32(nil), x...)
		for i := 0; i < rows; i++ {
			Softmax(probs[i*w : (i+1)*w])
		}
		cos, sin := randVec(r, w/2, 1), randVec(r, w/2, 1)
		type pair struct {
			name     string
			old, new func()
		}
		eachRow := func(f func(row []float32)) func() {
			return func() {
				copy(buf, x)
				for i := 0; i < rows; i++ {
					f(buf[i*w : (i+1)*w])
				}
			}
		}
		for _, p := range []pair{
			{"softmax", eachRow(oldSoftmax), eachRow(Softmax)},
			{"loss", eachRow(func(s []float32) { oldLogSoftmaxLoss(s, 3, true, 1) }),
				eachRow(func(s []float32) { LogSoftmaxLoss(s, 3, true, 1) })},
			{"softmaxBack", func() {
				copy(buf, y)
				for i := 0; i < rows; i++ {
					oldSoftmaxBackward(buf[i*w:(i+1)*w], probs[i*w:(i+1)*w])
				}
			}, func() {
				copy(buf, y)
				for i := 0; i < rows; i++ {
					SoftmaxBackward(buf[i*w:(i+1)*w], probs[i*w:(i+1)*w])
				}
			}},
			{"swiglu", func() { oldSwiGLU(buf, x, y) }, func() { SwiGLU(buf, x, y) }},
			{"swigluBack", func() { oldSwiGLUBackward(buf, u, z, x, y) }, func() { SwiGLUBackward(buf, u, z, x, y) }},
			{"rmsnorm", func() { oldRMSNorm(buf, rstd, x, wt, rows, w, 1e-5) }, func() { RMSNorm(buf, rstd, x, wt, rows, w, 1e-5) }},
			{"rmsnormBack", func() { oldRMSNormBackward(buf, u, y, x, wt, rstd, rows, w) },
				func() { RMSNormBackward(buf, u[:w], y, x, wt, rstd, rows, w) }},
			{"rope", eachRow(func(s []float32) { oldRoPE(s, cos, sin) }), eachRow(func(s []float32) { RoPE(s, cos, sin) })},
			{"addTo", func() {
				for i, v := range y {
					buf[i] += v
				}
			}, func() { AddTo(buf, y) }},
		} {
			for _, c := range []struct {
				impl string
				f    func()
			}{{"old", p.old}, {"new", p.new}} {
				b.Run(fmt.Sprintf("%s/%d/%s", p.name, w, c.impl), func(b *testing.B) {
					for b.Loop() {
						c.f()
					}
					b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*rows), "ns/row")
				})
			}
		}
	}
}
