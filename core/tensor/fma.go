//go:build !arm64 || purego

package tensor

import "math"

// fma32 returns x·y + z rounded once to float32, as the FMA instructions
// of the assembly kernels compute it, so that the portable kernel agrees
// with them bit for bit.
//
// x·y is exact in float64 (24+24 bits ≤ 53), so s = x·y + z rounded to
// float64 is off only by float64's rounding, and rounding s to float32
// gives the right answer unless that first rounding landed exactly on a
// float32 midpoint (float32(math.FMA(…)) has this double-rounding flaw).
// Rounding is monotone and midpoints are float64 numbers, so s can never
// cross one; the rare exact hits, and subnormal results, where the
// midpoints sit elsewhere, take fma32Slow.
func fma32(x, y, z float32) float32 {
	p, zz, s, ok := fma32Fast(x, y, z)
	if ok {
		return float32(s)
	}
	return fma32Slow(p, zz, s)
}

// fma32Fast computes p = x·y (exact), zz = z and s = p + zz in float64 and
// reports whether float32(s) is the correctly rounded result: s is not a
// float32 midpoint (the 29 mantissa bits below float32's are not 1000…0)
// and |s| ≥ 2⁻¹²⁶ (biased exponent ≥ 897). Small enough to inline into
// the portable kernel's inner loop.
func fma32Fast(x, y, z float32) (p, zz, s float64, ok bool) {
	p = float64(float64(x) * float64(y))
	zz = float64(z)
	s = p + zz
	b := math.Float64bits(s)
	return p, zz, s, b&(1<<29-1) != 1<<28 && (b>>52)&0x7ff >= 1023-126
}

// fma32Slow rounds p + zz (p exact, s = p + zz in float64) to float32 by
// making the float64 sum round to odd: TwoSum gives its rounding error
// exactly, and when the sum was inexact its last bit is forced to 1 by
// stepping to the neighbour on the side of the true value. A round-to-odd
// result with at least two more bits than the target rounds correctly to
// the target (Boldo and Melquiond, 2008). It is kept out of line so that
// fma32's common path inlines.
//
//go:noinline
func fma32Slow(p, zz, s float64) float32 {
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
