//go:build !purego

package tensor

// NEON micro-kernel (kernel_arm64.s); see kernelFunc for the contract.
//
//go:noescape
func kernNEON(k int, a *float32, rs, ks int, b, w, c *float32, ldc int, alpha, beta float32, flags int)

// cpuKernels lists the micro-kernels for arm64, fastest first. NEON
// (Advanced SIMD) is part of every ARMv8-A core.
func cpuKernels() []*kernel {
	neon := newKernel("neon", 8, 8, kernNEON)
	neon.final = false
	return []*kernel{neon, goKernel()}
}

// cpuVecs lists the elementwise kernels, fastest first: NEON, then the
// portable Go specifications.
func cpuVecs() []*vecKernel { return []*vecKernel{neonVecs(), goVecs()} }
