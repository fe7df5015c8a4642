//go:build !purego

package tensor

// FMA throughput loop (peak_arm64.s) for BenchmarkPeak.

//go:noescape
func peakNEON(n int)

// peakLoops lists an in-register FMA loop per kernel ISA, named as the
// kernels are.
func peakLoops() []peakLoop { return []peakLoop{{"neon", 24 * 4 * 2, peakNEON}} }
