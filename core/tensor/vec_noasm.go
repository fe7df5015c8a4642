//go:build (!amd64 && !arm64) || purego

package tensor

import "unsafe"

// Without assembly, asm is never set and vec.go runs the Go
// specifications itself; these methods complete vecKernel's method set
// with the same specifications over n elements.

// sliceAt is the n-element slice at p.
func sliceAt(p *float32, n int) []float32 { return unsafe.Slice(p, n) }

func (v *vecKernel) max(m *maxes, x *float32, n int) { maxGo(m, sliceAt(x, n)) }

func (v *vecKernel) expSumK(dst, src *float32, c float32, acc *partials, n int) {
	expSumGo(sliceAt(dst, n), sliceAt(src, n), c, acc)
}

func (v *vecKernel) scaleK(x *float32, s float32, n int) { scaleGo(sliceAt(x, n), s) }

func (v *vecKernel) addToK(dst, src *float32, n int) { addToGo(sliceAt(dst, n), sliceAt(src, n)) }

func (v *vecKernel) sumSqK(acc *partials, x *float32, n int) { sumSqGo(acc, sliceAt(x, n)) }

func (v *vecKernel) dotK(acc *partials, a, b *float32, n int) {
	dotGo(acc, sliceAt(a, n), sliceAt(b, n))
}

func (v *vecKernel) swiGLUK(a, g, u *float32, n int) {
	swiGLUGo(sliceAt(a, n), sliceAt(g, n), sliceAt(u, n))
}

func (v *vecKernel) swiGLUBackK(dg, du, da, g, u *float32, n int) {
	swiGLUBackwardGo(sliceAt(dg, n), sliceAt(du, n), sliceAt(da, n), sliceAt(g, n), sliceAt(u, n))
}

func (v *vecKernel) softmaxBackK(dr, p *float32, dot float64, n int) {
	softmaxBackwardGo(sliceAt(dr, n), sliceAt(p, n), dot)
}

func (v *vecKernel) rmsApplyK(out, x, w *float32, r float32, n int) {
	rmsApplyGo(sliceAt(out, n), sliceAt(x, n), sliceAt(w, n), r)
}

func (v *vecKernel) rmsDotK(acc *partials, dy, w, x *float32, r float64, n int) {
	rmsDotGo(acc, sliceAt(dy, n), sliceAt(w, n), sliceAt(x, n), r)
}

func (v *vecKernel) rmsDxK(dx, dy, w, x *float32, r, mean float64, n int) {
	rmsDxGo(sliceAt(dx, n), sliceAt(dy, n), sliceAt(w, n), sliceAt(x, n), r, mean)
}

func (v *vecKernel) rmsDwK(dw, dy, x *float32, r float64, n int) {
	rmsDwGo(sliceAt(dw, n), sliceAt(dy, n), sliceAt(x, n), r)
}

func (v *vecKernel) ropeK(x1, x2, cos, sin *float32, n int, neg uint32) {
	ropeGo(sliceAt(x1, n), sliceAt(x2, n), sliceAt(cos, n), sliceAt(sin, n), neg != 0)
}
