package tensor

import "math"

// Row kernels of the model's elementwise and row-wise layers. Each has a
// portable Go version, the specification, and vectorised versions (see
// vecKernel) that perform, lane by lane, exactly the same float32 and
// float64 operations, so every CPU produces the same bits.
//
// Reductions use one canonical order that vectors can follow: element i is
// added to partial sum i mod redLanes, in increasing i, and the partials are
// combined by the fixed halving tree of reduce64. Products that feed a sum
// are written with explicit conversions, which forbid the compiler from
// fusing them into an FMA the vector code would not perform.

// redLanes is the number of partial sums (and partial maxima) of every
// reduction; the vectorised kernels handle multiples of it.
const redLanes = 16

// partials are the float64 partial sums of a reduction, lane i mod redLanes.
type partials [redLanes]float64

// reduce64 combines the partial sums: lane k with lane k+8, then k+4,
// k+2 and k+1, the order in which halves of a vector register fold.
func (p *partials) reduce64() float64 {
	a := *p
	for h := redLanes / 2; h > 0; h /= 2 {
		for k := 0; k < h; k++ {
			a[k] += a[k+h]
		}
	}
	return a[0]
}

// maxes are the partial maxima of rowMax, lane i mod redLanes.
type maxes [redLanes]float32

// goVecs is the portable implementation: the specifications themselves.
func goVecs() *vecKernel { return &vecKernel{name: "go", width: 1, exp: expGoPtr} }

// bulk is how many leading elements of an n-element row the vectorised
// kernels of v handle; the Go specification does the rest.
func (v *vecKernel) bulk(n int) int {
	if !v.asm {
		return 0
	}
	return n &^ (redLanes - 1)
}

// ---- Go specifications. Each works on a whole slice, from index 0; when
// called on a tail after bulk elements, bulk is a multiple of redLanes, so
// lane i mod redLanes is still right.

func maxGo(m *maxes, x []float32) {
	for i, v := range x {
		if v > m[i%redLanes] { // NaN never wins
			m[i%redLanes] = v
		}
	}
}

func expSumGo(dst, src []float32, c float32, acc *partials) {
	for i, v := range src {
		e := expGo(v - c)
		dst[i] = e
		acc[i%redLanes] += float64(e)
	}
}

func scaleGo(x []float32, s float32) {
	for i := range x {
		x[i] *= s
	}
}

func addToGo(dst, src []float32) {
	for i, v := range src {
		dst[i] += v
	}
}

// sumSqGo: the float64 square of a float32 is exact, so fusing cannot
// change it.
func sumSqGo(acc *partials, x []float32) {
	for i, v := range x {
		acc[i%redLanes] += float64(v) * float64(v)
	}
}

// dotGo: exact products, as in sumSqGo.
func dotGo(acc *partials, a, b []float32) {
	for i, v := range a {
		acc[i%redLanes] += float64(v) * float64(b[i])
	}
}

func swiGLUGo(a, g, u []float32) {
	for i, v := range g {
		e := expGo(-v)
		a[i] = float32(v/(1+e)) * u[i]
	}
}

func swiGLUBackwardGo(dg, du, da, g, u []float32) {
	for i, v := range g {
		e := expGo(-v)
		s := 1 / (1 + e)
		silu := float32(v * s)
		du[i] += float32(da[i] * silu)
		dg[i] += float32(float32(da[i]*u[i]) * float32(s*float32(1+float32(v*float32(1-s)))))
	}
}

func softmaxBackwardGo(dr, p []float32, dot float64) {
	for i, pv := range p {
		dr[i] = float32(float64(pv) * float64(float64(dr[i])-dot))
	}
}

func rmsApplyGo(out, x, w []float32, r float32) {
	for i, v := range x {
		out[i] = w[i] * float32(v*r)
	}
}

// rmsDotGo accumulates dy·w·x̂ with x̂ = x·r: (dy·w is exact) · x̂, rounded,
// then added.
func rmsDotGo(acc *partials, dy, w, x []float32, r float64) {
	for i, v := range x {
		xhat := float64(v) * r
		acc[i%redLanes] += float64(float64(float64(dy[i])*float64(w[i])) * xhat)
	}
}

func rmsDxGo(dx, dy, w, x []float32, r, mean float64) {
	for i, v := range x {
		xhat := float64(v) * r
		dx[i] += float32(r * float64(float64(dy[i])*float64(w[i])-float64(xhat*mean)))
	}
}

func rmsDwGo(dw, dy, x []float32, r float64) {
	for i, v := range x {
		xhat := float64(v) * r
		dw[i] += float32(float64(dy[i]) * xhat)
	}
}

// ropeGo rotates the pairs (x1[i], x2[i]) by the angle whose cosine and
// sine are cos[i] and sin[i] (by minus that angle when back).
func ropeGo(x1, x2, cos, sin []float32, back bool) {
	for i, a := range x1 {
		b, c, s := x2[i], cos[i], sin[i]
		if back {
			s = -s
		}
		x1[i] = float32(a*c) - float32(b*s)
		x2[i] = float32(b*c) + float32(a*s)
	}
}

// ---- Dispatch: the vectorised part, then the Go tail.

func (v *vecKernel) rowMax(x []float32) float32 {
	m := maxes{}
	for k := range m {
		m[k] = float32(math.Inf(-1))
	}
	n := v.bulk(len(x))
	if n > 0 {
		v.max(&m, &x[0], n)
	}
	maxGo(&m, x[n:])
	for h := redLanes / 2; h > 0; h /= 2 {
		for k := 0; k < h; k++ {
			if m[k+h] > m[k] {
				m[k] = m[k+h]
			}
		}
	}
	return m[0]
}

func (v *vecKernel) expSum(dst, src []float32, c float32, acc *partials) {
	n := v.bulk(len(src))
	if n > 0 {
		v.expSumK(&dst[0], &src[0], c, acc, n)
	}
	expSumGo(dst[n:len(src)], src[n:], c, acc)
}

func (v *vecKernel) scale(x []float32, s float32) {
	n := v.bulk(len(x))
	if n > 0 {
		v.scaleK(&x[0], s, n)
	}
	scaleGo(x[n:], s)
}

func (v *vecKernel) addTo(dst, src []float32) {
	n := v.bulk(len(src))
	if n > 0 {
		v.addToK(&dst[0], &src[0], n)
	}
	addToGo(dst[n:len(src)], src[n:])
}

func (v *vecKernel) sumSq(acc *partials, x []float32) {
	n := v.bulk(len(x))
	if n > 0 {
		v.sumSqK(acc, &x[0], n)
	}
	sumSqGo(acc, x[n:])
}

func (v *vecKernel) dot(acc *partials, a, b []float32) {
	n := v.bulk(len(a))
	if n > 0 {
		v.dotK(acc, &a[0], &b[0], n)
	}
	dotGo(acc, a[n:], b[n:len(a)])
}

func (v *vecKernel) swiGLU(a, g, u []float32) {
	n := v.bulk(len(g))
	if n > 0 {
		v.swiGLUK(&a[0], &g[0], &u[0], n)
	}
	swiGLUGo(a[n:], g[n:], u[n:])
}

func (v *vecKernel) swiGLUBackward(dg, du, da, g, u []float32) {
	n := v.bulk(len(g))
	if n > 0 {
		v.swiGLUBackK(&dg[0], &du[0], &da[0], &g[0], &u[0], n)
	}
	swiGLUBackwardGo(dg[n:], du[n:], da[n:], g[n:], u[n:])
}

func (v *vecKernel) softmaxBackward(dr, p []float32, dot float64) {
	n := v.bulk(len(p))
	if n > 0 {
		v.softmaxBackK(&dr[0], &p[0], dot, n)
	}
	softmaxBackwardGo(dr[n:len(p)], p[n:], dot)
}

func (v *vecKernel) rmsApply(out, x, w []float32, r float32) {
	n := v.bulk(len(x))
	if n > 0 {
		v.rmsApplyK(&out[0], &x[0], &w[0], r, n)
	}
	rmsApplyGo(out[n:len(x)], x[n:], w[n:len(x)], r)
}

func (v *vecKernel) rmsDot(acc *partials, dy, w, x []float32, r float64) {
	n := v.bulk(len(x))
	if n > 0 {
		v.rmsDotK(acc, &dy[0], &w[0], &x[0], r, n)
	}
	rmsDotGo(acc, dy[n:len(x)], w[n:len(x)], x[n:], r)
}

func (v *vecKernel) rmsDx(dx, dy, w, x []float32, r, mean float64) {
	n := v.bulk(len(x))
	if n > 0 {
		v.rmsDxK(&dx[0], &dy[0], &w[0], &x[0], r, mean, n)
	}
	rmsDxGo(dx[n:len(x)], dy[n:len(x)], w[n:len(x)], x[n:], r, mean)
}

func (v *vecKernel) rmsDw(dw, dy, x []float32, r float64) {
	n := v.bulk(len(x))
	if n > 0 {
		v.rmsDwK(&dw[0], &dy[0], &x[0], r, n)
	}
	rmsDwGo(dw[n:len(x)], dy[n:len(x)], x[n:], r)
}

func (v *vecKernel) rope(x1, x2, cos, sin []float32, back bool) {
	n := v.bulk(len(x1))
	if n > 0 {
		var neg uint32
		if back {
			neg = 1 << 31
		}
		v.ropeK(&x1[0], &x2[0], &cos[0], &sin[0], n, neg)
	}
	ropeGo(x1[n:], x2[n:len(x1)], cos[n:len(x1)], sin[n:len(x1)], back)
}
