package tensor

import "fmt"

// PackedB is a right-hand operand op(B) (k×n) stored in the panel layout
// of Fast's kernel, so that products with the same B — a frozen weight,
// multiplied in every training step — skip the packing. It is read-only
// after PackB and safe for concurrent use.
//
// A frozen weight W [out, in] of a linear layer y = x·Wᵀ is used as
// PackB(true, in, out, W, in) in the forward pass and as
// PackB(false, out, in, W, in) for dx = dy·W in the backward pass: two
// packed copies, each the size of W.
type PackedB struct {
	kn   *kernel
	k, n int
	data []float32
}

// Packer is a Backend that can pack a right-hand operand once for several
// products with it (Fast does).
type Packer interface {
	Backend
	PackedLen(k, n int) int
	PackBInto(buf []float32, transB bool, k, n int, b []float32, ldb int) *PackedB
	GemmPacked(transA bool, m int, alpha float32, a []float32, lda int, p *PackedB, beta float32, c []float32, ldc int)
}

// PackB packs op(B), where op(B) is k×n (B is n×k when transB).
func (f Fast) PackB(transB bool, k, n int, b []float32, ldb int) *PackedB {
	return f.PackBInto(make([]float32, f.PackedLen(k, n)), transB, k, n, b, ldb)
}

// PackedLen is how many float32 the packed op(B) (k×n) occupies.
func (f Fast) PackedLen(k, n int) int { return f.kernel().packedSize(max(k, 0), max(n, 0)) }

// PackBInto is PackB writing the panels into buf, at least PackedLen(k, n)
// long, which the PackedB then holds: a caller packing per call can reuse
// its memory.
func (f Fast) PackBInto(buf []float32, transB bool, k, n int, b []float32, ldb int) *PackedB {
	br, bc := k, n
	if transB {
		br, bc = n, k
	}
	if k < 0 || n < 0 || !fits(len(b), br, bc, ldb) || len(buf) < f.PackedLen(k, n) {
		panic(fmt.Errorf("%w: PackB(transB=%v, k=%d, n=%d, len(b)=%d, ldb=%d, len(buf)=%d)", ErrShape, transB, k, n, len(b), ldb, len(buf)))
	}
	kn := f.kernel()
	p := &PackedB{kn: kn, k: k, n: n}
	if k > 0 && n > 0 {
		p.data = buf[:kn.packedSize(k, n)]
		kn.packB(p.data, transB, k, n, b, ldb)
	}
	return p
}

// Dims returns op(B)'s shape k×n.
func (p *PackedB) Dims() (k, n int) { return p.k, p.n }

// GemmPacked computes C = alpha·op(A)·B + beta·C with B packed by PackB:
// the same bits as Gemm with the unpacked B.
func (f Fast) GemmPacked(transA bool, m int, alpha float32, a []float32, lda int, p *PackedB, beta float32, c []float32, ldc int) {
	k, n := p.k, p.n
	// checkGemm with a B that trivially fits: B's own shape was checked by PackB.
	ar, ac := m, k
	if transA {
		ar, ac = k, m
	}
	if m < 0 || !fits(len(a), ar, ac, lda) || !fits(len(c), m, n, ldc) {
		panic(fmt.Errorf("%w: GemmPacked(transA=%v, m=%d, n=%d, k=%d, len(a)=%d lda=%d, len(c)=%d ldc=%d)",
			ErrShape, transA, m, n, k, len(a), lda, len(c), ldc))
	}
	if m == 0 || n == 0 {
		return
	}
	if k == 0 {
		p.kn.gemm(transA, false, m, n, 0, alpha, a, lda, nil, 1, beta, c, ldc)
		return
	}
	p.kn.gemmPacked(transA, m, n, k, alpha, a, lda, p.data, beta, c, ldc)
}
