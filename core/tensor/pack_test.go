package tensor

import (
	"math"
	"math/rand/v2"
	"testing"
)

// randomBits fills a slice with arbitrary float32 bit patterns (NaN
// payloads and denormals included): a pack must move bits, not values.
func randomBits(r *rand.Rand, n int) []float32 {
	s := make([]float32, n)
	for i := range s {
		s[i] = math.Float32frombits(r.Uint32())
	}
	return s
}

// packCopyLoop is the plain row-by-row pack of a non-transposed B.
func packCopyLoop(pan, src []float32, nr, ldb, k, cols int) {
	for p := 0; p < k; p++ {
		copy(pan[p*nr:p*nr+cols], src[p*ldb:])
	}
}

// TestPackTransBMatchesScalar checks the vectorised packs (transposing and
// copying) bit for bit against plain loops, on panel widths of every
// kernel and on shapes that are not multiples of the 8×8 block.
func TestPackTransBMatchesScalar(t *testing.T) {
	r := rand.New(rand.NewPCG(31, 32))
	for _, nr := range []int{8, 16, 32} {
		for _, k := range []int{1, 5, 7, 8, 9, 16, 23, 64, 67} {
			for _, cols := range []int{1, 7, 8, 9, 15, 16, 17, 24, 31, 32} {
				if cols > nr {
					continue
				}
				ldb := k + r.IntN(3)
				src := randomBits(r, (cols-1)*ldb+k)
				want := randomBits(r, k*nr)
				got := append([]float32(nil), want...)
				packTransGo(want, src, nr, ldb, 0, k, 0, cols)
				packTransB(got, src, nr, ldb, k, cols)
				for i := range want {
					if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
						t.Fatalf("nr=%d k=%d cols=%d ldb=%d: pan[%d] = %#x, scalar %#x",
							nr, k, cols, ldb, i, math.Float32bits(got[i]), math.Float32bits(want[i]))
					}
				}
				// The row copy of a non-transposed B (k rows of ldb ≥ cols).
				ldb = cols + r.IntN(3)
				src = randomBits(r, (k-1)*ldb+cols)
				want = randomBits(r, k*nr)
				got = append(got[:0], want...)
				packCopyLoop(want, src, nr, ldb, k, cols)
				packCopyB(got, src, nr, ldb, k, cols)
				for i := range want {
					if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
						t.Fatalf("copy nr=%d k=%d cols=%d ldb=%d: pan[%d] = %#x, want %#x",
							nr, k, cols, ldb, i, math.Float32bits(got[i]), math.Float32bits(want[i]))
					}
				}
			}
		}
	}
}

// TestPackBMatchesDefinition checks whole packed operands, both layouts of
// B, against the packed layout's definition, for every kernel's panel
// width: panel q holds op(B)[p][q·nr+j] at q·k·nr + p·nr + j, zero past n.
func TestPackBMatchesDefinition(t *testing.T) {
	r := rand.New(rand.NewPCG(33, 34))
	for _, f := range fastKernels(t) {
		kn := f.kernel()
		for _, s := range []struct{ k, n int }{{1, 1}, {9, 33}, {64, 256}, {67, 70}, {600, 5}} {
			for _, tb := range []bool{false, true} {
				br, bc := s.k, s.n
				if tb {
					br, bc = s.n, s.k
				}
				ldb := bc + 1
				b := randomBits(r, br*ldb)
				dst := randomBits(r, kn.packedSize(s.k, s.n))
				kn.packB(dst, tb, s.k, s.n, b, ldb)
				for q := 0; q*kn.nr < s.n; q++ {
					for p := 0; p < s.k; p++ {
						for jj := 0; jj < kn.nr; jj++ {
							var want float32
							if j := q*kn.nr + jj; j < s.n && tb {
								want = b[j*ldb+p]
							} else if j < s.n {
								want = b[p*ldb+j]
							}
							got := dst[q*s.k*kn.nr+p*kn.nr+jj]
							if math.Float32bits(got) != math.Float32bits(want) {
								t.Fatalf("%s tb=%v k=%d n=%d: panel %d (%d,%d) = %#x, want %#x",
									f.ISA(), tb, s.k, s.n, q, p, jj, math.Float32bits(got), math.Float32bits(want))
							}
						}
					}
				}
			}
		}
	}
}

// BenchmarkPackB measures packing op(B) into the default kernel's panels,
// in GB/s of packed output: for a transposed B, "scalar" is the plain
// gather loop and "vec" the pack Gemm uses, so the two compare in one
// run; "copyloop" and "copy" likewise for a row-major B of the same shape.
//
//	go test ./core/tensor -run '^$' -bench PackB -cpu 1
func BenchmarkPackB(b *testing.B) {
	kn := Fast{}.kernel()
	r := rand.New(rand.NewPCG(35, 36))
	for _, s := range benchShapes {
		if !s.tb || (s.name != "q_fwd" && s.name != "up_fwd" && s.name != "head_fwd" && s.name != "attn_qk") {
			continue
		}
		k, n := s.k, s.n
		src := randomBits(r, n*k)
		dst := make([]float32, kn.packedSize(k, n))
		for _, v := range []struct {
			name string
			pack func(pan, src []float32, cols int)
		}{
			{"scalar", func(pan, src []float32, cols int) { packTransGo(pan, src, kn.nr, k, 0, k, 0, cols) }},
			{"vec", func(pan, src []float32, cols int) { packTransB(pan, src, kn.nr, k, k, cols) }},
		} {
			b.Run(s.name+"/"+v.name, func(b *testing.B) {
				for b.Loop() {
					for j := 0; j < n; j += kn.nr {
						v.pack(dst[j*k:], src[j*k:], min(kn.nr, n-j))
					}
				}
				b.ReportMetric(float64(4*k*n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
			})
		}
		// The same B not transposed (k×n row-major): "copyloop" copies a
		// step at a time, "copy" is the pack Gemm uses.
		for _, v := range []struct {
			name string
			pack func(pan, src []float32, cols int)
		}{
			{"copyloop", func(pan, src []float32, cols int) { packCopyLoop(pan, src, kn.nr, n, k, cols) }},
			{"copy", func(pan, src []float32, cols int) { packCopyB(pan, src, kn.nr, n, k, cols) }},
		} {
			b.Run(s.name+"/"+v.name, func(b *testing.B) {
				for b.Loop() {
					for j := 0; j < n; j += kn.nr {
						v.pack(dst[j*k:], src[j:], min(kn.nr, n-j))
					}
				}
				b.ReportMetric(float64(4*k*n)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GB/s")
			})
		}
	}
}

// TestFastStridedBMatchesSpec covers the path that reads a row-major B in
// place (few rows of C): every kernel, row counts around the cut-off
// stridedMaxTiles·mr, full and partial column panels, k across kc blocks,
// bit for bit against the scalar FMA chain.
func TestFastStridedBMatchesSpec(t *testing.T) {
	r := rand.New(rand.NewPCG(37, 38))
	for _, f := range fastKernels(t) {
		kn := f.kernel()
		cut := stridedMaxTiles * kn.mr
		for _, m := range []int{1, kn.mr - 1, kn.mr + 1, cut, cut + 1} {
			for _, s := range []struct{ n, k int }{{kn.nr, 1}, {2*kn.nr + 3, 300}, {3 * kn.nr, 257}} {
				ta := r.IntN(2) == 0
				beta := []float32{0, 0.5}[r.IntN(2)]
				g := newCase(r, ta, false, m, s.n, s.k, r.IntN(3), 1.25, beta)
				got, want := g.run(f), g.spec()
				if i := firstDiff(got, want); i >= 0 {
					t.Fatalf("%s %v: c[%d] = %v, spec %v", f.ISA(), g, i, got[i], want[i])
				}
				checkGuards(t, f.ISA(), g, got)
			}
		}
	}
}

// TestFastEdgeRowsMatchSpec covers the last row tile of a block with
// every kernel: rows equal to an edge kernel's (read in place), fewer
// (packed), and blocks after the first (m > mc), bit for bit against the
// scalar FMA chain.
func TestFastEdgeRowsMatchSpec(t *testing.T) {
	r := rand.New(rand.NewPCG(39, 40))
	for _, f := range fastKernels(t) {
		for _, m := range []int{3, 8, 20, 44, 101, 104} {
			for _, ta := range []bool{false, true} {
				for _, tb := range []bool{false, true} {
					g := newCase(r, ta, tb, m, 40, 300, r.IntN(3), 0.75, []float32{0, -1.5}[r.IntN(2)])
					got, want := g.run(f), g.spec()
					if i := firstDiff(got, want); i >= 0 {
						t.Fatalf("%s %v: c[%d] = %v, spec %v", f.ISA(), g, i, got[i], want[i])
					}
					checkGuards(t, f.ISA(), g, got)
				}
			}
		}
	}
}
