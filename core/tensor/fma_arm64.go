//go:build !purego

package tensor

// fma32 returns x·y + z rounded once to float32. On arm64 the Go compiler
// fuses this expression into one FMADDS instruction (the language spec
// allows fusion, and the arm64 backend always does it for a product used
// once in a sum); TestFma32, run for arm64 under qemu in CI, fails if a
// compiler ever stops doing so. Elsewhere fma.go emulates it exactly.
func fma32(x, y, z float32) float32 { return x*y + z }

// fma32Fast and fma32Slow mirror fma.go's split for the portable kernel;
// here the fused product-sum is always exact, so the fast path always
// applies and fma32Slow is never reached.
func fma32Fast(x, y, z float32) (p, zz, s float64, ok bool) { return 0, 0, float64(x*y + z), true }

func fma32Slow(p, zz, s float64) float32 { return float32(s) }
