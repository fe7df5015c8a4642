//go:build !purego

package tensor

// Assembly micro-kernels (kernel_amd64.s); see kernelFunc for the contract.

//go:noescape
func kernAVX2(k int, a *float32, rs, ks int, b, w, c *float32, ldc int, alpha, beta float32, flags int)

//go:noescape
func kernAVX512(k int, a *float32, rs, ks int, b, w, c *float32, ldc int, alpha, beta float32, flags int)

func cpuid(leaf, sub uint32) (eax, ebx, ecx, edx uint32)

func xgetbv() (eax uint32)

// cpuKernels lists the micro-kernels this CPU and OS support, fastest first.
func cpuKernels() []*kernel {
	var ks []*kernel
	hasAVX2, hasAVX512 := x86Features()
	if hasAVX512 {
		ks = append(ks, newKernel("avx512", 12, 32, kernAVX512))
	}
	if hasAVX2 {
		ks = append(ks, newKernel("avx2", 6, 16, kernAVX2))
	}
	return append(ks, goKernel())
}

// x86Features reports AVX2+FMA and AVX-512F support, each only when the OS
// also saves the registers involved (XCR0), as the Intel manual requires.
func x86Features() (avx2fma, avx512 bool) {
	maxLeaf, _, _, _ := cpuid(0, 0)
	if maxLeaf < 7 {
		return false, false
	}
	_, _, ecx1, _ := cpuid(1, 0)
	const fma, osxsave, avx = 1 << 12, 1 << 27, 1 << 28
	if ecx1&(fma|osxsave|avx) != fma|osxsave|avx {
		return false, false
	}
	xcr0 := xgetbv()
	const ymmState, zmmState = 0x6, 0xe0
	_, ebx7, _, _ := cpuid(7, 0)
	const avx2Bit, avx512fBit = 1 << 5, 1 << 16
	avx2fma = ebx7&avx2Bit != 0 && xcr0&ymmState == ymmState
	avx512 = avx2fma && ebx7&avx512fBit != 0 && xcr0&zmmState == zmmState
	return avx2fma, avx512
}

//go:noescape
func expAVX2(dst, src *float32, n int)

//go:noescape
func expAVX512(dst, src *float32, n int)

// cpuVecs lists the elementwise kernels this CPU supports, fastest first.
func cpuVecs() []*vecKernel {
	var vs []*vecKernel
	hasAVX2, hasAVX512 := x86Features()
	if hasAVX512 {
		vs = append(vs, avx512Vecs())
	}
	if hasAVX2 {
		vs = append(vs, avx2Vecs())
	}
	return append(vs, goVecs())
}
