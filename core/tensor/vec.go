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

// ---- Dispatch. The vectorised kernels handle the first bulk elements; the
// last rem < redLanes run through the same kernel on zero-padded copies
// (block), whose extra lanes are dropped: a Go tail would cost more than
// the vector step on short rows. For a reduction the tail goes to fresh
// partials t and then t[k] (= 0 + x, exactly x) is added to acc[k], the
// same single rounding as adding x. Lanes of acc are never -0 (they start
// at +0, and +0 + -0 = +0), so adding t[k] = +0 for x = -0 is no change.
// Without vectors the Go specification does everything.

// block is one vector step of float32 lanes.
type block [redLanes]float32

func pad(s []float32) (b block) {
	copy(b[:], s)
	return b
}

// addLanes adds the first rem lanes of t to acc.
func addLanes(acc, t *partials, rem int) {
	for k := 0; k < rem; k++ {
		acc[k] += t[k]
	}
}

func (v *vecKernel) rowMax(x []float32) float32 {
	m := maxes{}
	for k := range m {
		m[k] = float32(math.Inf(-1))
	}
	if !v.asm {
		maxGo(&m, x)
	} else {
		n := v.bulk(len(x))
		if n > 0 {
			v.max(&m, &x[0], n)
		}
		if rem := len(x) - n; rem > 0 {
			// Padding with -Inf never wins, like NaN.
			t := block{}
			for k := range t {
				t[k] = float32(math.Inf(-1))
			}
			copy(t[:], x[n:])
			v.max(&m, &t[0], redLanes)
		}
	}
	// Fold the lanes as reduce64 does. No lane is NaN, so the builtin max,
	// which does not branch, only differs from > in preferring +0 to -0,
	// which no caller can tell apart: it is subtracted from each entry.
	for h := redLanes / 2; h > 0; h /= 2 {
		for k := 0; k < h; k++ {
			m[k] = max(m[k], m[k+h])
		}
	}
	return m[0]
}

func (v *vecKernel) expSum(dst, src []float32, c float32, acc *partials) {
	if !v.asm {
		expSumGo(dst[:len(src)], src, c, acc)
		return
	}
	n := v.bulk(len(src))
	if n > 0 {
		v.expSumK(&dst[0], &src[0], c, acc, n)
	}
	if rem := len(src) - n; rem > 0 {
		var d block
		var t partials
		x := pad(src[n:])
		v.expSumK(&d[0], &x[0], c, &t, redLanes)
		copy(dst[n:len(src)], d[:rem])
		addLanes(acc, &t, rem)
	}
}

func (v *vecKernel) scale(x []float32, s float32) {
	if !v.asm {
		scaleGo(x, s)
		return
	}
	n := v.bulk(len(x))
	if n > 0 {
		v.scaleK(&x[0], s, n)
	}
	if rem := len(x) - n; rem > 0 {
		t := pad(x[n:])
		v.scaleK(&t[0], s, redLanes)
		copy(x[n:], t[:rem])
	}
}

func (v *vecKernel) addTo(dst, src []float32) {
	if !v.asm {
		addToGo(dst[:len(src)], src)
		return
	}
	n := v.bulk(len(src))
	if n > 0 {
		v.addToK(&dst[0], &src[0], n)
	}
	if rem := len(src) - n; rem > 0 {
		d, s := pad(dst[n:len(src)]), pad(src[n:])
		v.addToK(&d[0], &s[0], redLanes)
		copy(dst[n:len(src)], d[:rem])
	}
}

func (v *vecKernel) sumSq(acc *partials, x []float32) {
	if !v.asm {
		sumSqGo(acc, x)
		return
	}
	n := v.bulk(len(x))
	if n > 0 {
		v.sumSqK(acc, &x[0], n)
	}
	if rem := len(x) - n; rem > 0 {
		var t partials
		b := pad(x[n:])
		v.sumSqK(&t, &b[0], redLanes)
		addLanes(acc, &t, rem)
	}
}

func (v *vecKernel) dot(acc *partials, a, b []float32) {
	if !v.asm {
		dotGo(acc, a, b[:len(a)])
		return
	}
	n := v.bulk(len(a))
	if n > 0 {
		v.dotK(acc, &a[0], &b[0], n)
	}
	if rem := len(a) - n; rem > 0 {
		var t partials
		ab, bb := pad(a[n:]), pad(b[n:len(a)])
		v.dotK(&t, &ab[0], &bb[0], redLanes)
		addLanes(acc, &t, rem)
	}
}

func (v *vecKernel) swiGLU(a, g, u []float32) {
	if !v.asm {
		swiGLUGo(a, g, u)
		return
	}
	n := v.bulk(len(g))
	if n > 0 {
		v.swiGLUK(&a[0], &g[0], &u[0], n)
	}
	if rem := len(g) - n; rem > 0 {
		var ab block
		gb, ub := pad(g[n:]), pad(u[n:])
		v.swiGLUK(&ab[0], &gb[0], &ub[0], redLanes)
		copy(a[n:], ab[:rem])
	}
}

func (v *vecKernel) swiGLUBackward(dg, du, da, g, u []float32) {
	if !v.asm {
		swiGLUBackwardGo(dg, du, da, g, u)
		return
	}
	n := v.bulk(len(g))
	if n > 0 {
		v.swiGLUBackK(&dg[0], &du[0], &da[0], &g[0], &u[0], n)
	}
	if rem := len(g) - n; rem > 0 {
		dgb, dub, dab, gb, ub := pad(dg[n:]), pad(du[n:]), pad(da[n:]), pad(g[n:]), pad(u[n:])
		v.swiGLUBackK(&dgb[0], &dub[0], &dab[0], &gb[0], &ub[0], redLanes)
		copy(dg[n:], dgb[:rem])
		copy(du[n:], dub[:rem])
	}
}

func (v *vecKernel) softmaxBackward(dr, p []float32, dot float64) {
	if !v.asm {
		softmaxBackwardGo(dr[:len(p)], p, dot)
		return
	}
	n := v.bulk(len(p))
	if n > 0 {
		v.softmaxBackK(&dr[0], &p[0], dot, n)
	}
	if rem := len(p) - n; rem > 0 {
		db, pb := pad(dr[n:len(p)]), pad(p[n:])
		v.softmaxBackK(&db[0], &pb[0], dot, redLanes)
		copy(dr[n:len(p)], db[:rem])
	}
}

func (v *vecKernel) rmsApply(out, x, w []float32, r float32) {
	if !v.asm {
		rmsApplyGo(out[:len(x)], x, w[:len(x)], r)
		return
	}
	n := v.bulk(len(x))
	if n > 0 {
		v.rmsApplyK(&out[0], &x[0], &w[0], r, n)
	}
	if rem := len(x) - n; rem > 0 {
		var ob block
		xb, wb := pad(x[n:]), pad(w[n:len(x)])
		v.rmsApplyK(&ob[0], &xb[0], &wb[0], r, redLanes)
		copy(out[n:len(x)], ob[:rem])
	}
}

func (v *vecKernel) rmsDot(acc *partials, dy, w, x []float32, r float64) {
	if !v.asm {
		rmsDotGo(acc, dy[:len(x)], w[:len(x)], x, r)
		return
	}
	n := v.bulk(len(x))
	if n > 0 {
		v.rmsDotK(acc, &dy[0], &w[0], &x[0], r, n)
	}
	if rem := len(x) - n; rem > 0 {
		var t partials
		db, wb, xb := pad(dy[n:len(x)]), pad(w[n:len(x)]), pad(x[n:])
		v.rmsDotK(&t, &db[0], &wb[0], &xb[0], r, redLanes)
		addLanes(acc, &t, rem)
	}
}

func (v *vecKernel) rmsDx(dx, dy, w, x []float32, r, mean float64) {
	if !v.asm {
		rmsDxGo(dx[:len(x)], dy[:len(x)], w[:len(x)], x, r, mean)
		return
	}
	n := v.bulk(len(x))
	if n > 0 {
		v.rmsDxK(&dx[0], &dy[0], &w[0], &x[0], r, mean, n)
	}
	if rem := len(x) - n; rem > 0 {
		ob, db, wb, xb := pad(dx[n:len(x)]), pad(dy[n:len(x)]), pad(w[n:len(x)]), pad(x[n:])
		v.rmsDxK(&ob[0], &db[0], &wb[0], &xb[0], r, mean, redLanes)
		copy(dx[n:len(x)], ob[:rem])
	}
}

func (v *vecKernel) rmsDw(dw, dy, x []float32, r float64) {
	if !v.asm {
		rmsDwGo(dw[:len(x)], dy[:len(x)], x, r)
		return
	}
	n := v.bulk(len(x))
	if n > 0 {
		v.rmsDwK(&dw[0], &dy[0], &x[0], r, n)
	}
	if rem := len(x) - n; rem > 0 {
		ob, db, xb := pad(dw[n:len(x)]), pad(dy[n:len(x)]), pad(x[n:])
		v.rmsDwK(&ob[0], &db[0], &xb[0], r, redLanes)
		copy(dw[n:len(x)], ob[:rem])
	}
}

func (v *vecKernel) rope(x1, x2, cos, sin []float32, back bool) {
	if !v.asm {
		ropeGo(x1, x2[:len(x1)], cos[:len(x1)], sin[:len(x1)], back)
		return
	}
	var neg uint32
	if back {
		neg = 1 << 31
	}
	n := v.bulk(len(x1))
	if n > 0 {
		v.ropeK(&x1[0], &x2[0], &cos[0], &sin[0], n, neg)
	}
	if rem := len(x1) - n; rem > 0 {
		ab, bb, cb, sb := pad(x1[n:]), pad(x2[n:len(x1)]), pad(cos[n:len(x1)]), pad(sin[n:len(x1)])
		v.ropeK(&ab[0], &bb[0], &cb[0], &sb[0], redLanes, neg)
		copy(x1[n:], ab[:rem])
		copy(x2[n:len(x1)], bb[:rem])
	}
}
