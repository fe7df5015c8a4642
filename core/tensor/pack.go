package tensor

// packTransB fills one packed panel from a transposed B:
// pan[p·nr+jj] = src[jj·ldb+p] for p < k, jj < cols (cols ≤ nr; the
// caller has zeroed the columns past cols). src starts at the panel's
// first source row. Whole 8×8 blocks go through the vector transpose
// where there is one, the rest through the scalar loop; both only move
// bits, so the panel is the same either way.
func packTransB(pan, src []float32, nr, ldb, k, cols int) {
	k8, groups := k&^7, cols/8
	if k8 > 0 && groups > 0 && transpose8(&pan[0], &src[0], nr, ldb, k8, groups) {
		if j := cols - 8; cols%8 != 0 {
			// The last cols%8 columns: one more block, overlapping the
			// previous one, which it rewrites with the same values.
			transpose8(&pan[j], &src[j*ldb], nr, ldb, k8, 1)
		}
		packTransGo(pan, src, nr, ldb, k8, k, 0, cols) // last k%8 steps
		return
	}
	packTransGo(pan, src, nr, ldb, 0, k, 0, cols)
}

// packTransGo is packTransB's scalar loop over steps p0 … p1-1 and
// columns j0 … j1-1. It gathers packChunk steps at a time so that the
// writes stay in a few cache lines while each source row is read
// sequentially.
func packTransGo(pan, src []float32, nr, ldb, p0, p1, j0, j1 int) {
	for pc := p0; pc < p1; pc += packChunk {
		pn := min(packChunk, p1-pc)
		for jj := j0; jj < j1; jj++ {
			s := src[jj*ldb+pc : jj*ldb+pc+pn]
			d := pan[pc*nr+jj:]
			for p, v := range s {
				d[p*nr] = v
			}
		}
	}
}

// packCopyB fills one packed panel from a row-major B:
// pan[p·nr+jj] = src[p·ldb+jj] for p < k, jj < cols (cols ≤ nr; the
// caller has zeroed the columns past cols). Whole groups of 8 columns go
// through the vector copy where there is one (a call to copy per step
// costs more than the 128 bytes it moves), the rest through copy.
func packCopyB(pan, src []float32, nr, ldb, k, cols int) {
	j0 := 0
	if groups := cols / 8; groups > 0 && copy8(&pan[0], &src[0], nr, ldb, k, groups) {
		j0 = 8 * groups
	}
	if j0 == cols {
		return
	}
	for p := 0; p < k; p++ {
		copy(pan[p*nr+j0:p*nr+cols], src[p*ldb+j0:])
	}
}
