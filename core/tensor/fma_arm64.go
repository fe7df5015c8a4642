//go:build !purego

package tensor

// fma32 returns x·y + z rounded once to float32. On arm64 the Go compiler
// fuses this expression into one FMADDS instruction (the language spec
// allows fusion, and the arm64 backend always does it for a product used
// once in a sum); TestFma32, run for arm64 under qemu in CI, fails if a
// compiler ever stops doing so. Elsewhere fma.go emulates it exactly.
func fma32(x, y, z float32) float32 { return x*y + z }
