//go:build !purego

package tensor

import "sync"

// transpose8AVX2 is the 8×8 in-register transposing pack (pack_amd64.s).
//
//go:noescape
func transpose8AVX2(dst, src *float32, nr, ldb, k8, groups int)

// copy8AVX2 is the row copy of a non-transposed pack (pack_amd64.s).
//
//go:noescape
func copy8AVX2(dst, src *float32, nr, ldb, k, groups int)

// copy8 is copy8AVX2 where the CPU has it; false means the caller must
// copy row by row.
func copy8(dst, src *float32, nr, ldb, k, groups int) bool {
	if !hasAVX2() {
		return false
	}
	copy8AVX2(dst, src, nr, ldb, k, groups)
	return true
}

// hasAVX2 is computed once: the CPU does not change under us.
var hasAVX2 = sync.OnceValue(func() bool { avx2, _ := x86Features(); return avx2 })

// transpose8 is transpose8AVX2 where the CPU has it; false means the
// caller must use the scalar loop.
func transpose8(dst, src *float32, nr, ldb, k8, groups int) bool {
	if !hasAVX2() {
		return false
	}
	transpose8AVX2(dst, src, nr, ldb, k8, groups)
	return true
}

// kernStridesB reports whether the named kernel (kernel_amd64.s) reads a
// B row stride from its flags (kernStrideShift).
func kernStridesB(name string) bool { return name == "avx512" || name == "avx2" }

// kernAVX512x8 is the 8×32 edge kernel (kernel_amd64.s).
//
//go:noescape
func kernAVX512x8(k int, a *float32, rs, ks int, b, w, c *float32, ldc int, alpha, beta float32, flags int)

// edgeKernelFor returns the edge kernel of the named kernel, or nil.
func edgeKernelFor(name string) *edgeKernel {
	if name == "avx512" {
		return &edgeKernel{mr: 8, fn: kernAVX512x8}
	}
	return nil
}
