package model

import (
	"math"
	"runtime"
	"slices"
	"testing"
)

// layerNormBackwardSerial is the row-by-row loop layerNormBackward
// replaced: the specification of its bits.
func layerNormBackwardSerial(dx, dw, db, dy, x, w, mean, rstd []float32, n, width int) {
	for i := 0; i < n; i++ {
		row, g := x[i*width:(i+1)*width], dy[i*width:(i+1)*width]
		mu, r := float64(mean[i]), float64(rstd[i])
		var sum, dot float64
		for j, v := range row {
			xhat := (float64(v) - mu) * r
			dxhat := float64(g[j]) * float64(w[j])
			sum += dxhat
			dot += dxhat * xhat
			dw[j] += float32(float64(g[j]) * xhat)
			db[j] += g[j]
		}
		sum /= float64(width)
		dot /= float64(width)
		for j, v := range row {
			xhat := (float64(v) - mu) * r
			dx[i*width+j] += float32(r * (float64(g[j])*float64(w[j]) - sum - xhat*dot))
		}
	}
}

// TestLayerNormParallelIsSerial: split into row and column blocks on any
// number of threads, LayerNorm gives the bits of the plain row loop.
func TestLayerNormParallelIsSerial(t *testing.T) {
	defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(0))
	const n, width = 300, 700 // several row blocks and column blocks
	rng := newTestRNG(11)
	x, w, b, dy := randVec(rng, n*width, 2), randVec(rng, width, 1), randVec(rng, width, 1), randVec(rng, n*width, 1)
	mean, rstd := make([]float32, n), make([]float32, n)
	want := make([]float32, n*width)
	layerNormForward(want, mean, rstd, x, w, b, n, width, 1e-5)
	wantDx, wantDw, wantDb := make([]float32, n*width), make([]float32, width), make([]float32, width)
	layerNormBackwardSerial(wantDx, wantDw, wantDb, dy, x, w, mean, rstd, n, width)
	for _, procs := range []int{1, 2, 5} {
		runtime.GOMAXPROCS(procs)
		out, m2, r2 := make([]float32, n*width), make([]float32, n), make([]float32, n)
		layerNormForward(out, m2, r2, x, w, b, n, width, 1e-5)
		if !slices.Equal(out, want) || !slices.Equal(m2, mean) || !slices.Equal(r2, rstd) {
			t.Errorf("GOMAXPROCS %d: forward differs", procs)
		}
		dx, dw, db := make([]float32, n*width), make([]float32, width), make([]float32, width)
		layerNormBackward(dx, dw, db, dy, x, w, mean, rstd, n, width)
		for _, c := range []struct {
			name      string
			got, want []float32
		}{{"dx", dx, wantDx}, {"dw", dw, wantDw}, {"db", db, wantDb}} {
			for i := range c.got {
				if math.Float32bits(c.got[i]) != math.Float32bits(c.want[i]) {
					t.Fatalf("GOMAXPROCS %d: %s[%d] = %v, row loop %v", procs, c.name, i, c.got[i], c.want[i])
				}
			}
		}
	}
}
