package tensor

// peakLoop is an assembly loop of independent register-only FMAs, one per
// kernel ISA: its rate is the core's measured floating-point peak, the
// yardstick for the GEMM kernels (BenchmarkPeak).
type peakLoop struct {
	name  string
	flops int       // floating-point operations per iteration (2 per FMA lane)
	run   func(int) // run(n) executes n iterations
}
