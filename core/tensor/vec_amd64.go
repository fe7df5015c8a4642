//go:build !purego

package tensor

// The vectorised row kernels of vec_amd64.s; vec.go holds their Go
// specifications and the contract (n a multiple of redLanes).

func avx512Vecs() *vecKernel {
	return &vecKernel{name: "avx512", width: 16, exp: expAVX512, asm: true,
		max: maxAVX512, expSumK: expSumAVX512,
		scaleK: scaleAVX512, addToK: addToAVX512, sumSqK: sumSqAVX512, dotK: dotAVX512,
		swiGLUK: swiGLUAVX512, swiGLUBackK: swiGLUBackAVX512, softmaxBackK: softmaxBackAVX512,
		rmsApplyK: rmsApplyAVX512, rmsDotK: rmsDotAVX512, rmsDxK: rmsDxAVX512,
		rmsDwK: rmsDwAVX512, ropeK: ropeAVX512}
}

func avx2Vecs() *vecKernel {
	return &vecKernel{name: "avx2", width: 8, exp: expAVX2, asm: true,
		max: maxAVX2, expSumK: expSumAVX2,
		scaleK: scaleAVX2, addToK: addToAVX2, sumSqK: sumSqAVX2, dotK: dotAVX2,
		swiGLUK: swiGLUAVX2, swiGLUBackK: swiGLUBackAVX2, softmaxBackK: softmaxBackAVX2,
		rmsApplyK: rmsApplyAVX2, rmsDotK: rmsDotAVX2, rmsDxK: rmsDxAVX2,
		rmsDwK: rmsDwAVX2, ropeK: ropeAVX2}
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
