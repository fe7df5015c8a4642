package tensor

// epilogue is how every kernel writes one element of C from its
// accumulator: alpha·acc when beta is 0 (C's old value, even NaN, unread),
// else round(alpha·acc) + round(beta·old). The conversions forbid the
// compiler from fusing either product into the sum.
func epilogue(acc, old, alpha, beta float32) float32 {
	if beta == 0 {
		return alpha * acc
	}
	return float32(alpha*acc) + float32(beta*old)
}
