package tensor

import (
	"fmt"
	"sync"
)

// Fast is the backend built on lorafn's own packed GEMM with assembly
// micro-kernels (AVX-512 or AVX2+FMA on amd64) and a portable Go kernel
// elsewhere. Its zero value uses the fastest kernel the CPU supports.
//
// Results are bit-identical whatever the number of threads and whichever
// kernel runs: each element of C is one chain of float32 fused
// multiply-adds over k in order, then alpha and beta applied as in
// epilogue.
type Fast struct {
	kn *kernel // nil: the fastest available
}

// availableKernels is computed once: the CPU does not change under us.
var availableKernels = sync.OnceValue(cpuKernels)

// FastISAs lists the kernels this machine can run, fastest first, for
// FastFor ("avx512", "avx2", "go").
func FastISAs() []string {
	var names []string
	for _, k := range availableKernels() {
		names = append(names, k.name)
	}
	return names
}

// FastFor returns a Fast backend pinned to the named kernel, for tests and
// benchmarks that compare kernels.
func FastFor(isa string) (Fast, error) {
	for _, k := range availableKernels() {
		if k.name == isa {
			return Fast{kn: k}, nil
		}
	}
	return Fast{}, fmt.Errorf("tensor: kernel %q not available on this CPU (have %v)", isa, FastISAs())
}

// ISA names the kernel f uses.
func (f Fast) ISA() string { return f.kernel().name }

func (f Fast) kernel() *kernel {
	if f.kn != nil {
		return f.kn
	}
	return availableKernels()[0]
}

// Gemm implements Backend.
func (f Fast) Gemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	checkGemm(transA, transB, m, n, k, a, lda, b, ldb, c, ldc)
	f.kernel().gemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}
