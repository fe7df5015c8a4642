package tensor

import "unsafe"

// Portable micro-kernel: 4×8 tiles, accumulated with fma32 so that it
// matches the assembly kernels bit for bit. It is the fallback on CPUs
// without an assembly kernel.
const goMR, goNR = 4, 8

func goKernel() *kernel { return newKernel("go", goMR, goNR, kernGo) }

// kernGo implements kernelFunc for 4×8 tiles.
func kernGo(k int, a *float32, rs, ks int, b, w, c *float32, ldc int, alpha, beta float32, flags int) {
	rs, ks = rs/4, ks/4 // bytes to elements
	ap := unsafe.Slice(a, (goMR-1)*rs+max(k-1, 0)*ks+1)
	bp := unsafe.Slice(b, k*goNR)
	wt := (*[goMR * goNR]float32)(unsafe.Slice(w, goMR*goNR))
	var acc [goMR * goNR]float32
	if flags&kernLoad != 0 {
		acc = *wt
	}
	for p := 0; p < k; p++ {
		bv := (*[goNR]float32)(bp[p*goNR : p*goNR+goNR])
		for r := 0; r < goMR; r++ {
			x := ap[r*rs+p*ks]
			row := (*[goNR]float32)(acc[r*goNR : r*goNR+goNR])
			for j, y := range bv {
				// fma32, with its common path inlined.
				if p, zz, s, ok := fma32Fast(x, y, row[j]); ok {
					row[j] = float32(s)
				} else {
					row[j] = fma32Slow(p, zz, s)
				}
			}
		}
	}
	if flags&kernFinal == 0 {
		*wt = acc
		return
	}
	ct := unsafe.Slice(c, (goMR-1)*ldc+goNR)
	if flags&kernBeta == 0 {
		beta = 0
	}
	for r := 0; r < goMR; r++ {
		row := ct[r*ldc : r*ldc+goNR]
		for j := range row {
			row[j] = epilogue(acc[r*goNR+j], row[j], alpha, beta)
		}
	}
}
