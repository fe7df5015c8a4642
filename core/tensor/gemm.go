package tensor

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// The GEMM driver follows the GotoBLAS/BLIS scheme: op(B) is packed into
// column panels nr wide, and an assembly micro-kernel computes one mr×nr
// tile of C per call, kc steps of k at a time, reading op(A) in place
// (only a partial last row tile is packed, zero-padded, unless an edge
// kernel with fewer rows fits it). C is cut into mc×nc blocks, one task
// each, run in parallel. A product with only a row tile or two reads a
// row-major B in place instead of packing it (kernStrideShift).
//
// Determinism: every element of C is one fused multiply-add chain over
// p = 0 … k-1 in order, starting from zero. Between kc blocks the partial
// sums are saved as float32 and reloaded, which is exact, so neither the
// block sizes, the tile shape, the number of threads nor the kernel (all
// use the same FMA rounding, see fma32) can change a bit of the result.

// kernelFunc computes one mr×nr tile: acc = Σ_p A[r][p]·b[p][j] over k
// steps, by FMA in order of p, where A[r][p] is the float32 at byte offset
// r·rs + p·ks from a (a packed panel has rs = 4, ks = 4·mr; a plain or
// transposed A is read in place) and b is a panel of k rows of nr values,
// packed or, with a stride in flags (kernStrideShift), in place.
// It starts from zero or, when flags&kernLoad, from the tile in w
// (row-major mr×nr). With flags&kernFinal it writes
// epilogue(acc, C, alpha, beta) to the tile of C at c with leading
// dimension ldc (beta treated as 0 unless flags&kernBeta); otherwise it
// saves acc to w.
type kernelFunc func(k int, a *float32, rs, ks int, b, w, c *float32, ldc int, alpha, beta float32, flags int)

const (
	kernLoad  = 1 << iota // start from the partial sums in w
	kernFinal             // write the result to C (else save partial sums to w)
	kernBeta              // add beta·C

	// kernStrideShift: flags>>kernStrideShift, when not 0, is the byte
	// stride between rows of the B panel, which the kernel then reads in
	// place from a row-major B instead of from a packed panel (only
	// kernels with kernel.stridedB honour it).
	kernStrideShift = 8
)

// stridedMaxTiles is the most row tiles of C for which Gemm reads a
// row-major B in place rather than packing it: with so few rows each B
// value is used at most this many times, so packing would cost more than
// the kernel's strided reads.
const stridedMaxTiles = 2

// kernel is a micro-kernel with the blocking that suits it.
type kernel struct {
	name   string
	mr, nr int // tile of C per call
	kc     int // k steps per packed block: an nr-wide B panel stays in L1
	mc     int // rows of C per task: their A block (mc×kc) stays in L2
	ncMax  int // most columns of C per task: a B block (kc×ncMax) stays in L2
	fn     kernelFunc
	final  bool // fn honours kernFinal; if not, the driver writes C
	// stridedB: fn honours a B row stride in flags (kernStrideShift).
	stridedB bool
	// edge, if not nil, computes row tiles of at most edge.mr < mr rows
	// (the last partial tile of a block) at less cost than fn on a
	// zero-padded tile.
	edge *edgeKernel
	// scratch holds per-task buffers (packed edge panel of A and partial
	// sums), packedB per-call packed B; they are caches of allocations and
	// never affect results.
	scratch, packedB sync.Pool
}

// edgeKernel is a kernelFunc for tiles of mr rows (and the kernel's nr
// columns), with the same contract and the same FMA chains.
type edgeKernel struct {
	mr int
	fn kernelFunc
}

func newKernel(name string, mr, nr int, fn kernelFunc) *kernel {
	k := &kernel{name: name, mr: mr, nr: nr, kc: 256, fn: fn, final: true, stridedB: kernStridesB(name), edge: edgeKernelFor(name)}
	k.mc = mr * max(1, 96/mr)
	k.ncMax = nr * max(1, 512/nr)
	k.scratch.New = func() any { return new([]float32) }
	k.packedB.New = func() any { return new([]float32) }
	return k
}

// packChunk is how many k steps a transposing pack copies per pass.
const packChunk = 16

// parallelMinFlops is the smallest product (m·n·k multiply-adds) worth
// splitting across goroutines: about 15 µs of one core's work, as long as
// waking a parked goroutine can take on a virtual machine. (1 << 18 made
// the 2-thread training step 4-6% slower: attention's small products,
// already run per head in parallel, were split again.) Each test shape of
// TestFastBitIdentity stays above it.
const parallelMinFlops = 1 << 21

// parallelMinPack is the smallest packed B (floats) worth packing on
// several goroutines.
const parallelMinPack = 1 << 18

// gemm computes C = alpha·op(A)·op(B) + beta·C with kernel kn. Arguments
// must have passed checkGemm.
func (kn *kernel) gemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	if k == 0 {
		for i := 0; i < m; i++ {
			row := c[i*ldc : i*ldc+n]
			for j := range row {
				row[j] = epilogue(0, row[j], alpha, beta)
			}
		}
		return
	}
	bufp := kn.packedB.Get().(*[]float32)
	defer kn.packedB.Put(bufp)
	if !transB && kn.stridedB && m <= stridedMaxTiles*kn.mr {
		// Few rows: read B in place; pack only a partial last panel.
		ob := operandB{raw: b, ldb: ldb, n: n}
		if cols := n % kn.nr; cols != 0 {
			ob.packed = kn.packBuf(bufp, k*kn.nr)
			kn.packB(ob.packed, false, k, cols, b[n-cols:], ldb)
		}
		kn.gemmB(transA, m, n, k, alpha, a, lda, &ob, beta, c, ldc)
		return
	}
	bp := kn.packBuf(bufp, kn.packedSize(k, n))
	kn.packB(bp, transB, k, n, b, ldb)
	kn.gemmPacked(transA, m, n, k, alpha, a, lda, bp, beta, c, ldc)
}

// packBuf returns the first size floats of *bufp, grown if need be.
func (kn *kernel) packBuf(bufp *[]float32, size int) []float32 {
	if len(*bufp) < size {
		*bufp = make([]float32, size)
	}
	return (*bufp)[:size]
}

// operandB is op(B) as the kernels read it: packed panels (packB's
// layout), or a row-major B read in place (raw non-nil), whose full
// panels the kernel reads with row stride ldb; then only a partial last
// panel is packed, in packed.
type operandB struct {
	packed []float32
	raw    []float32
	ldb, n int
}

// panel returns the B panel of columns j … j+nr-1 from step pc on, and
// the flags that tell the kernel its row stride.
func (kn *kernel) panel(ob *operandB, j, pc, k int) (*float32, int) {
	nr := kn.nr
	switch {
	case ob.raw == nil:
		return &ob.packed[(j/nr)*k*nr+pc*nr], 0
	case j+nr <= ob.n:
		return &ob.raw[pc*ob.ldb+j], 4 * ob.ldb << kernStrideShift
	default:
		return &ob.packed[pc*nr], 0
	}
}

// gemmPacked is gemm with op(B) already packed by packB.
func (kn *kernel) gemmPacked(transA bool, m, n, k int, alpha float32, a []float32, lda int, bp []float32, beta float32, c []float32, ldc int) {
	kn.gemmB(transA, m, n, k, alpha, a, lda, &operandB{packed: bp, n: n}, beta, c, ldc)
}

// gemmB cuts C into tasks and runs them.
func (kn *kernel) gemmB(transA bool, m, n, k int, alpha float32, a []float32, lda int, ob *operandB, beta float32, c []float32, ldc int) {
	mt := (m + kn.mc - 1) / kn.mc
	// Columns are cut into blocks of at most ncMax so that the packed B
	// block a task sweeps (kc×nc) stays in cache while the tasks that share
	// it, numbered consecutively, run; more finely when there are too few
	// tasks to keep every thread busy: at least 8 per thread, so that
	// handing them out one at a time leaves the threads within about a
	// task of each other (11 row blocks on 2 threads would idle one for
	// a ninth of the time). A is read in place, so extra column blocks
	// cost little. The split changes which goroutine computes what, never
	// the result.
	nt := (n + kn.ncMax - 1) / kn.ncMax
	serial := m*n*k < parallelMinFlops
	if procs := runtime.GOMAXPROCS(0); !serial && procs > 1 && mt*nt < 8*procs {
		nt = max(nt, min((n+kn.nr-1)/kn.nr, (8*procs+mt-1)/mt))
	}
	nc := ((n+nt-1)/nt + kn.nr - 1) / kn.nr * kn.nr
	nt = (n + nc - 1) / nc
	task := func(t int) {
		i0, j0 := (t%mt)*kn.mc, (t/mt)*nc
		kn.block(transA, i0, min(kn.mc, m-i0), j0, min(nc, n-j0), k, alpha, a, lda, ob, beta, c, ldc)
	}
	if serial {
		for t := 0; t < mt*nt; t++ {
			task(t)
		}
		return
	}
	runTasks(mt*nt, task)
}

// runTasks calls task(t) for every t in [0, n) on up to GOMAXPROCS
// goroutines, the caller's included, and returns when all have finished.
// It is Parallel tuned for short products (a few µs per task): tasks are
// handed out by an atomic counter rather than a channel, and the calling
// goroutine works instead of waiting for a new one to be scheduled.
// Which goroutine runs a task never changes its result.
func runTasks(n int, task func(int)) {
	var next atomic.Int64
	work := func() {
		for t := int(next.Add(1) - 1); t < n; t = int(next.Add(1) - 1) {
			task(t)
		}
	}
	workers := min(runtime.GOMAXPROCS(0), n)
	var wg sync.WaitGroup
	wg.Add(workers - 1)
	for range workers - 1 {
		go func() {
			defer wg.Done()
			work()
		}()
	}
	work()
	wg.Wait()
}

// block computes the mb×nb block of C at (i0, j0). Full row tiles read A
// in place; only a last, partial row tile is packed (zero-padded), so the
// kernel never reads outside A.
func (kn *kernel) block(transA bool, i0, mb, j0, nb, k int, alpha float32, a []float32, lda int, ob *operandB, beta float32, c []float32, ldc int) {
	mr, nr := kn.mr, kn.nr
	tilesM := (mb + mr - 1) / mr
	sp := kn.scratch.Get().(*[]float32)
	defer kn.scratch.Put(sp)
	need := mr*kn.kc + tilesM*mr*(nb+nr-1)/nr*nr
	if len(*sp) < need {
		*sp = make([]float32, need)
	}
	ap, w := (*sp)[:mr*kn.kc], (*sp)[mr*kn.kc:]
	const f32 = 4 // bytes per float32, for the kernel's strides
	edge := mb % mr
	ek := kn.edge
	if ek != nil && edge > ek.mr {
		ek = nil // too many rows for it
	}
	// A partial tile is packed, zero-padded to mr rows, unless the edge
	// kernel takes exactly its rows: then, like a full tile, it is read
	// in place.
	packEdge := edge != 0 && (ek == nil || edge != ek.mr)
	for pc := 0; pc < k; pc += kn.kc {
		kb := min(kn.kc, k-pc)
		if packEdge {
			kn.packA(ap, transA, a, lda, i0+mb-edge, edge, pc, kb)
		}
		last := pc+kb == k
		for jr := 0; jr < nb; jr += nr {
			cols := min(nr, nb-jr)
			j := j0 + jr
			bpan, bflags := kn.panel(ob, j, pc, k)
			for ir := 0; ir < mb; ir += mr {
				rows := min(mr, mb-ir)
				fn, tile := kn.fn, mr // kernel, and rows it computes
				if rows < mr && ek != nil {
					fn, tile = ek.fn, ek.mr
				}
				var pa *float32
				var rs, ks int
				switch {
				case rows < tile:
					pa, rs, ks = &ap[0], f32, mr*f32
				case transA: // op(A)[i][p] = a[p·lda+i]
					pa, rs, ks = &a[pc*lda+i0+ir], f32, lda*f32
				default:
					pa, rs, ks = &a[(i0+ir)*lda+pc], lda*f32, f32
				}
				wt := w[((jr/nr)*tilesM+ir/mr)*mr*nr:]
				flags := bflags
				if pc > 0 {
					flags |= kernLoad
				}
				full := rows == tile && cols == nr && kn.final
				cp := &wt[0] // unused unless the kernel writes C
				if last && full {
					flags |= kernFinal
					if beta != 0 {
						flags |= kernBeta
					}
					cp = &c[(i0+ir)*ldc+j]
				}
				fn(kb, pa, rs, ks, bpan, &wt[0], cp, ldc, alpha, beta, flags)
				if last && !full {
					// Edge tile (or a kernel that never writes C): the
					// kernel saved the sums; write the part inside C.
					for r := 0; r < rows; r++ {
						row := c[(i0+ir+r)*ldc+j : (i0+ir+r)*ldc+j+cols]
						for jj := range row {
							row[jj] = epilogue(wt[r*nr+jj], row[jj], alpha, beta)
						}
					}
				}
			}
		}
	}
}

// packA copies rows i0 … i0+mb-1 (mb ≤ mr in use), columns pc … pc+kb-1
// of op(A) into dst as row panels of mr rows: panel q holds, for each p, the mr values
// op(A)[i0+q·mr+r][pc+p]. Rows past mb are zero.
func (kn *kernel) packA(dst []float32, transA bool, a []float32, lda, i0, mb, pc, kb int) {
	mr := kn.mr
	for q := 0; q*mr < mb; q++ {
		pan := dst[q*mr*kb : (q+1)*mr*kb]
		rows := min(mr, mb-q*mr)
		if rows < mr {
			clear(pan)
		}
		i := i0 + q*mr
		if transA {
			// op(A)[i][p] = a[p·lda+i]: mr consecutive values per p.
			for p := 0; p < kb; p++ {
				copy(pan[p*mr:p*mr+rows], a[(pc+p)*lda+i:])
			}
			continue
		}
		// op(A)[i][p] = a[i·lda+p]: the transpose that packs a B panel.
		packTransB(pan, a[i*lda+pc:], mr, lda, kb, rows)
	}
}

// packedSize is the length of op(B) (k×n) packed by packB.
func (kn *kernel) packedSize(k, n int) int { return (n + kn.nr - 1) / kn.nr * kn.nr * k }

// packB copies op(B) (k×n) into dst (packedSize(k, n) long) as column
// panels nr wide: panel q holds, for each p, the nr values
// op(B)[p][q·nr+j]. Columns past n are zero.
func (kn *kernel) packB(dst []float32, transB bool, k, n int, b []float32, ldb int) {
	nr := kn.nr
	panels := (n + nr - 1) / nr
	pack := func(q int) {
		pan := dst[q*k*nr : (q+1)*k*nr]
		j := q * nr
		cols := min(nr, n-j)
		if cols < nr {
			clear(pan)
		}
		if transB {
			// op(B)[p][j] = b[j·ldb+p]: one source row per column.
			packTransB(pan, b[j*ldb:], nr, ldb, k, cols)
			return
		}
		packCopyB(pan, b[j:], nr, ldb, k, cols)
	}
	// Packing is a memory-bound copy: splitting it pays only when it is
	// large enough to dwarf the goroutine start-up (a few µs).
	if panels*k*nr < parallelMinPack {
		for q := 0; q < panels; q++ {
			pack(q)
		}
	} else {
		runTasks(panels, pack)
	}
}
