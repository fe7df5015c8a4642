//go:build !purego

package tensor

// transpose8 has no NEON version yet: the caller uses the scalar loop.
func transpose8(dst, src *float32, nr, ldb, k8, groups int) bool { return false }

// copy8 has no NEON version yet: the caller copies row by row.
func copy8(dst, src *float32, nr, ldb, k, groups int) bool { return false }

// kernStridesB reports whether the named kernel (kernel_arm64.s) reads a
// B row stride from its flags (kernStrideShift).
func kernStridesB(name string) bool { return name == "neon" }

// edgeKernelFor: no edge kernels on arm64 yet.
func edgeKernelFor(name string) *edgeKernel { return nil }
