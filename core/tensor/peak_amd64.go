//go:build !purego

package tensor

// FMA throughput loops (peak_amd64.s) for BenchmarkPeak.

//go:noescape
func peakAVX512(n int)

//go:noescape
func peakAVX2(n int)

// peakLoops lists an in-register FMA loop per kernel ISA this CPU runs,
// named as the kernels are.
func peakLoops() []peakLoop {
	hasAVX2, hasAVX512 := x86Features()
	var ls []peakLoop
	if hasAVX512 {
		ls = append(ls, peakLoop{"avx512", 24 * 16 * 2, peakAVX512})
	}
	if hasAVX2 {
		ls = append(ls, peakLoop{"avx2", 12 * 8 * 2, peakAVX2})
	}
	return ls
}
