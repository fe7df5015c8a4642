//go:build (!amd64 && !arm64) || purego

package tensor

// cpuKernels lists the micro-kernels available on this architecture,
// fastest first: only the portable Go kernel so far.
func cpuKernels() []*kernel { return []*kernel{goKernel()} }

// cpuVecs lists the elementwise kernels: only the portable one so far.
func cpuVecs() []*vecKernel { return []*vecKernel{goVecs()} }
