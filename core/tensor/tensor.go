// Package tensor holds lorafn's float32 matrix kernels behind one small
// interface, so that faster kernels can replace them without touching model
// code.
//
// Layout: every matrix is row-major with an explicit leading dimension (the
// distance in elements between the starts of two rows), as in BLAS. A matrix
// with r rows and leading dimension ld occupies a[0 : (r-1)*ld + cols].
//
// Invariants: inputs are never modified; results go to the dst argument. A
// shape mismatch is a programming error and panics with ErrShape; nothing in
// this package reads files or user input.
package tensor

import (
	"errors"
	"fmt"
)

// ErrShape is the panic value (wrapped) for inconsistent matrix arguments.
var ErrShape = errors.New("tensor: shape mismatch")

// Backend computes general matrix products.
//
// Gemm computes C = alpha·op(A)·op(B) + beta·C where op(X) is X or Xᵀ as
// selected by transA and transB; op(A) is m×k, op(B) is k×n and C is m×n.
// When beta is 0, C is overwritten and its prior contents (even NaN) are
// ignored. Implementations must give results that do not depend on the
// number of threads they use.
type Backend interface {
	Gemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int)
}

// Default returns the backend lorafn uses unless told otherwise: Fast,
// whose results are the same on every CPU and at every thread count.
func Default() Backend { return Fast{} }

// checkGemm panics with ErrShape when the arguments cannot describe the
// product; it is shared by every backend so they fail identically.
func checkGemm(transA, transB bool, m, n, k int, a []float32, lda int, b []float32, ldb int, c []float32, ldc int) {
	ar, ac := m, k
	if transA {
		ar, ac = k, m
	}
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	bad := m < 0 || n < 0 || k < 0 ||
		!fits(len(a), ar, ac, lda) || !fits(len(b), br, bc, ldb) || !fits(len(c), m, n, ldc)
	if bad {
		panic(fmt.Errorf("%w: gemm(transA=%v, transB=%v, m=%d, n=%d, k=%d, len(a)=%d lda=%d, len(b)=%d ldb=%d, len(c)=%d ldc=%d)",
			ErrShape, transA, transB, m, n, k, len(a), lda, len(b), ldb, len(c), ldc))
	}
}

// fits reports whether a rows×cols matrix with leading dimension ld fits in
// a slice of length n.
func fits(n, rows, cols, ld int) bool {
	if ld < max(cols, 1) {
		return false
	}
	if rows == 0 || cols == 0 {
		return true
	}
	return (rows-1)*ld+cols <= n
}
