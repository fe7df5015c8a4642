//go:build (!amd64 && !arm64) || purego

package tensor

// transpose8 has no vector version here: the caller uses the scalar loop.
func transpose8(dst, src *float32, nr, ldb, k8, groups int) bool { return false }

// copy8 has no vector version here: the caller copies row by row.
func copy8(dst, src *float32, nr, ldb, k, groups int) bool { return false }

// kernStridesB: no kernel here reads a strided B.
func kernStridesB(name string) bool { return false }

// edgeKernelFor: no edge kernels here.
func edgeKernelFor(name string) *edgeKernel { return nil }
