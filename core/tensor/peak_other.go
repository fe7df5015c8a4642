//go:build (!amd64 && !arm64) || purego

package tensor

// peakLoops: no assembly kernels here, so no peak to measure.
func peakLoops() []peakLoop { return nil }
