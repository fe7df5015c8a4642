//go:build !arm64 || purego

package tensor

import "math"

// fma32 returns x·y + z rounded once to float32, as the FMA instructions
// of the assembly kernels compute it, so that the portable kernel agrees
// with them bit for bit.
//
// float32(math.FMA(…)) would round twice (to float64, then to float32) and
// can differ in the last bit. Instead the float64 sum is made to round to
// odd: x·y is exact in float64 (24+24 bits ≤ 53), TwoSum gives the sum's
// rounding error exactly, and when the sum was inexact its last bit is
// forced to 1 by stepping to the neighbour on the side of the true value.
// A round-to-odd result with at least two more bits than the target
// rounds correctly to the target (Boldo and Melquiond, 2008).
func fma32(x, y, z float32) float32 {
	p := float64(float64(x) * float64(y)) // exact
	zz := float64(z)
	s := p + zz
	// TwoSum: e is exactly (p + zz) - s.
	pp := s - zz
	zp := s - pp
	e := (p - pp) + (zz - zp)
	if e == 0 || e != e { // exact, or s is ±Inf/NaN
		return float32(s)
	}
	bits := math.Float64bits(s)
	if bits&1 == 0 {
		// s is even, so the odd neighbour is one step toward the true value:
		// away from zero when e has s's sign, toward zero otherwise.
		if (e > 0) == (s > 0) {
			bits++
		} else {
			bits--
		}
	}
	return float32(math.Float64frombits(bits))
}
