//go:build !purego

package tensor

// The vectorised row kernels of vec_amd64.s; vec.go holds their Go
// specifications and the contract (n a multiple of redLanes).

func avx512Vecs() *vecKernel { return &vecKernel{name: "avx512", width: 16, exp: expAVX512, asm: true} }

func avx2Vecs() *vecKernel { return &vecKernel{name: "avx2", width: 8, exp: expAVX2, asm: true} }

func (v *vecKernel) max(m *maxes, x *float32, n int) {
	if v.width == 16 {
		maxAVX512(m, x, n)
	} else {
		maxAVX2(m, x, n)
	}
}

func (v *vecKernel) expSumK(dst, src *float32, c float32, acc *partials, n int) {
	if v.width == 16 {
		expSumAVX512(dst, src, c, acc, n)
	} else {
		expSumAVX2(dst, src, c, acc, n)
	}
}

func (v *vecKernel) scaleK(x *float32, s float32, n int) {
	if v.width == 16 {
		scaleAVX512(x, s, n)
	} else {
		scaleAVX2(x, s, n)
	}
}

func (v *vecKernel) addToK(dst, src *float32, n int) {
	if v.width == 16 {
		addToAVX512(dst, src, n)
	} else {
		addToAVX2(dst, src, n)
	}
}

func (v *vecKernel) sumSqK(acc *partials, x *float32, n int) {
	if v.width == 16 {
		sumSqAVX512(acc, x, n)
	} else {
		sumSqAVX2(acc, x, n)
	}
}

func (v *vecKernel) dotK(acc *partials, a, b *float32, n int) {
	if v.width == 16 {
		dotAVX512(acc, a, b, n)
	} else {
		dotAVX2(acc, a, b, n)
	}
}

func (v *vecKernel) swiGLUK(a, g, u *float32, n int) {
	if v.width == 16 {
		swiGLUAVX512(a, g, u, n)
	} else {
		swiGLUAVX2(a, g, u, n)
	}
}

func (v *vecKernel) swiGLUBackK(dg, du, da, g, u *float32, n int) {
	if v.width == 16 {
		swiGLUBackAVX512(dg, du, da, g, u, n)
	} else {
		swiGLUBackAVX2(dg, du, da, g, u, n)
	}
}

func (v *vecKernel) softmaxBackK(dr, p *float32, dot float64, n int) {
	if v.width == 16 {
		softmaxBackAVX512(dr, p, dot, n)
	} else {
		softmaxBackAVX2(dr, p, dot, n)
	}
}

func (v *vecKernel) rmsApplyK(out, x, w *float32, r float32, n int) {
	if v.width == 16 {
		rmsApplyAVX512(out, x, w, r, n)
	} else {
		rmsApplyAVX2(out, x, w, r, n)
	}
}

func (v *vecKernel) rmsDotK(acc *partials, dy, w, x *float32, r float64, n int) {
	if v.width == 16 {
		rmsDotAVX512(acc, dy, w, x, r, n)
	} else {
		rmsDotAVX2(acc, dy, w, x, r, n)
	}
}

func (v *vecKernel) rmsDxK(dx, dy, w, x *float32, r, mean float64, n int) {
	if v.width == 16 {
		rmsDxAVX512(dx, dy, w, x, r, mean, n)
	} else {
		rmsDxAVX2(dx, dy, w, x, r, mean, n)
	}
}

func (v *vecKernel) rmsDwK(dw, dy, x *float32, r float64, n int) {
	if v.width == 16 {
		rmsDwAVX512(dw, dy, x, r, n)
	} else {
		rmsDwAVX2(dw, dy, x, r, n)
	}
}

func (v *vecKernel) ropeK(x1, x2, cos, sin *float32, n int, neg uint32) {
	if v.width == 16 {
		ropeAVX512(x1, x2, cos, sin, n, neg)
	} else {
		ropeAVX2(x1, x2, cos, sin, n, neg)
	}
}

//go:noescape
func maxAVX512(m *maxes, x *float32, n int)

//go:noescape
func expSumAVX512(dst, src *float32, c float32, acc *partials, n int)

//go:noescape
func scaleAVX512(x *float32, s float32, n int)

//go:noescape
func addToAVX512(dst, src *float32, n int)

//go:noescape
func sumSqAVX512(acc *partials, x *float32, n int)

//go:noescape
func dotAVX512(acc *partials, a, b *float32, n int)

//go:noescape
func swiGLUAVX512(a, gate, u *float32, n int)

//go:noescape
func swiGLUBackAVX512(dg, du, da, gate, u *float32, n int)

//go:noescape
func softmaxBackAVX512(dr, p *float32, dot float64, n int)

//go:noescape
func rmsApplyAVX512(out, x, w *float32, r float32, n int)

//go:noescape
func rmsDotAVX512(acc *partials, dy, w, x *float32, r float64, n int)

//go:noescape
func rmsDxAVX512(dx, dy, w, x *float32, r, mean float64, n int)

//go:noescape
func rmsDwAVX512(dw, dy, x *float32, r float64, n int)

//go:noescape
func ropeAVX512(x1, x2, cos, sin *float32, n int, neg uint32)

//go:noescape
func maxAVX2(m *maxes, x *float32, n int)

//go:noescape
func expSumAVX2(dst, src *float32, c float32, acc *partials, n int)

//go:noescape
func scaleAVX2(x *float32, s float32, n int)

//go:noescape
func addToAVX2(dst, src *float32, n int)

//go:noescape
func sumSqAVX2(acc *partials, x *float32, n int)

//go:noescape
func dotAVX2(acc *partials, a, b *float32, n int)

//go:noescape
func swiGLUAVX2(a, gate, u *float32, n int)

//go:noescape
func swiGLUBackAVX2(dg, du, da, gate, u *float32, n int)

//go:noescape
func softmaxBackAVX2(dr, p *float32, dot float64, n int)

//go:noescape
func rmsApplyAVX2(out, x, w *float32, r float32, n int)

//go:noescape
func rmsDotAVX2(acc *partials, dy, w, x *float32, r float64, n int)

//go:noescape
func rmsDxAVX2(dx, dy, w, x *float32, r, mean float64, n int)

//go:noescape
func rmsDwAVX2(dw, dy, x *float32, r float64, n int)

//go:noescape
func ropeAVX2(x1, x2, cos, sin *float32, n int, neg uint32)
