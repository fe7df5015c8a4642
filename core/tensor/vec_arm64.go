//go:build !purego

package tensor

// The vectorised row kernels of vec_arm64.s (NEON, part of every ARMv8-A
// core); vec.go holds their Go specifications and the contract (n a
// multiple of redLanes).

func neonVecs() *vecKernel { return &vecKernel{name: "neon", width: 16, exp: expNEON, asm: true} }

func (v *vecKernel) max(m *maxes, x *float32, n int) { maxNEON(m, x, n) }

func (v *vecKernel) expSumK(dst, src *float32, c float32, acc *partials, n int) {
	expSumNEON(dst, src, c, acc, n)
}

func (v *vecKernel) scaleK(x *float32, s float32, n int) { scaleNEON(x, s, n) }

func (v *vecKernel) addToK(dst, src *float32, n int) { addToNEON(dst, src, n) }

func (v *vecKernel) sumSqK(acc *partials, x *float32, n int) { sumSqNEON(acc, x, n) }

func (v *vecKernel) dotK(acc *partials, a, b *float32, n int) { dotNEON(acc, a, b, n) }

func (v *vecKernel) swiGLUK(a, g, u *float32, n int) { swiGLUNEON(a, g, u, n) }

func (v *vecKernel) swiGLUBackK(dg, du, da, g, u *float32, n int) {
	swiGLUBackNEON(dg, du, da, g, u, n)
}

func (v *vecKernel) softmaxBackK(dr, p *float32, dot float64, n int) {
	softmaxBackNEON(dr, p, dot, n)
}

func (v *vecKernel) rmsApplyK(out, x, w *float32, r float32, n int) {
	rmsApplyNEON(out, x, w, r, n)
}

func (v *vecKernel) rmsDotK(acc *partials, dy, w, x *float32, r float64, n int) {
	rmsDotNEON(acc, dy, w, x, r, n)
}

func (v *vecKernel) rmsDxK(dx, dy, w, x *float32, r, mean float64, n int) {
	rmsDxNEON(dx, dy, w, x, r, mean, n)
}

func (v *vecKernel) rmsDwK(dw, dy, x *float32, r float64, n int) { rmsDwNEON(dw, dy, x, r, n) }

func (v *vecKernel) ropeK(x1, x2, cos, sin *float32, n int, neg uint32) {
	ropeNEON(x1, x2, cos, sin, n, neg)
}

//go:noescape
func expNEON(dst, src *float32, n int)

//go:noescape
func maxNEON(m *maxes, x *float32, n int)

//go:noescape
func expSumNEON(dst, src *float32, c float32, acc *partials, n int)

//go:noescape
func scaleNEON(x *float32, s float32, n int)

//go:noescape
func addToNEON(dst, src *float32, n int)

//go:noescape
func sumSqNEON(acc *partials, x *float32, n int)

//go:noescape
func dotNEON(acc *partials, a, b *float32, n int)

//go:noescape
func swiGLUNEON(a, gate, u *float32, n int)

//go:noescape
func swiGLUBackNEON(dg, du, da, gate, u *float32, n int)

//go:noescape
func softmaxBackNEON(dr, p *float32, dot float64, n int)

//go:noescape
func rmsApplyNEON(out, x, w *float32, r float32, n int)

//go:noescape
func rmsDotNEON(acc *partials, dy, w, x *float32, r float64, n int)

//go:noescape
func rmsDxNEON(dx, dy, w, x *float32, r, mean float64, n int)

//go:noescape
func rmsDwNEON(dw, dy, x *float32, r float64, n int)

//go:noescape
func ropeNEON(x1, x2, cos, sin *float32, n int, neg uint32)
