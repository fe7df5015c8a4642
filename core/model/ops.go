package model

import (
	"math"

	"github.com/lorafn/lorafn/core/tensor"
)

// This file holds the elementwise and row-wise layers as forward/backward
// pairs over row-major [n, width] buffers. Reductions accumulate in float64:
// it costs little here and makes the result independent of loop order.
// Backward functions add into their gradient outputs (+=), so callers can
// accumulate; forward functions overwrite theirs.

// rmsNormForward: out = w ⊙ (x · rstd) with rstd = 1/sqrt(mean(x²) + eps) per
// row, computed in float32 as Hugging Face's LlamaRMSNorm does. rstd[n] is
// saved for the backward pass. The vectorised row kernels of tensor do the
// work, splitting many rows across threads without changing a bit.
func rmsNormForward(out, rstd, x, w []float32, n, width int, eps float64) {
	tensor.RMSNorm(out, rstd, x, w, n, width, eps)
}

// rmsNormBackward adds to dx, and to dw when it is non-nil.
func rmsNormBackward(dx, dw, dy, x, w, rstd []float32, n, width int) {
	tensor.RMSNormBackward(dx, dw, dy, x, w, rstd, n, width)
}

// layerNormForward: out = (x - mean)·rstd ⊙ w + b per row (torch.nn.LayerNorm,
// biased variance). mean and rstd are saved for the backward pass.
func layerNormForward(out, mean, rstd, x, w, b []float32, n, width int, eps float64) {
	tensor.ParallelBlocks(n, elementBlock/max(width, 1), func(i0, i1 int) {
		for i := i0; i < i1; i++ {
			row := x[i*width : (i+1)*width]
			var s float64
			for _, v := range row {
				s += float64(v)
			}
			mu := s / float64(width)
			var ss float64
			for _, v := range row {
				d := float64(v) - mu
				ss += d * d
			}
			r := 1 / math.Sqrt(ss/float64(width)+eps)
			mean[i], rstd[i] = float32(mu), float32(r)
			o := out[i*width : (i+1)*width]
			for j, v := range row {
				o[j] = float32((float64(v)-mu)*r)*w[j] + b[j]
			}
		}
	})
}

// layerNormBackward adds to dx, dw and db (each may be nil). Rows run in
// parallel for dx; dw and db, sums over rows, are split by columns, each
// column summing its rows in order.
func layerNormBackward(dx, dw, db, dy, x, w, mean, rstd []float32, n, width int) {
	if dx != nil {
		tensor.ParallelBlocks(n, elementBlock/max(width, 1), func(i0, i1 int) {
			for i := i0; i < i1; i++ {
				row := x[i*width : (i+1)*width]
				g := dy[i*width : (i+1)*width]
				mu, r := float64(mean[i]), float64(rstd[i])
				var sum, dot float64 // Σ dx̂ and Σ dx̂·x̂, with dx̂ = dy·w
				for j, v := range row {
					xhat := (float64(v) - mu) * r
					dxhat := float64(g[j]) * float64(w[j])
					sum += dxhat
					dot += dxhat * xhat
				}
				sum /= float64(width)
				dot /= float64(width)
				d := dx[i*width : (i+1)*width]
				for j, v := range row {
					xhat := (float64(v) - mu) * r
					d[j] += float32(r * (float64(g[j])*float64(w[j]) - sum - xhat*dot))
				}
			}
		})
	}
	if dw == nil && db == nil {
		return
	}
	tensor.ParallelBlocks(width, max(16, elementBlock/max(n, 1)), func(j0, j1 int) {
		for i := 0; i < n; i++ {
			mu, r := float64(mean[i]), float64(rstd[i])
			for j := j0; j < j1; j++ {
				g := dy[i*width+j]
				if dw != nil {
					dw[j] += float32(float64(g) * ((float64(x[i*width+j]) - mu) * r))
				}
				if db != nil {
					db[j] += g
				}
			}
		}
	})
}

// swiGLUForward: a = silu(g) ⊙ u, with silu(z) = z·sigmoid(z), in float32
// with the vectorised exp, as PyTorch computes it.
func swiGLUForward(a, g, u []float32) { tensor.SwiGLU(a, g, u) }

// swiGLUBackward adds to dg and du.
func swiGLUBackward(dg, du, da, g, u []float32) { tensor.SwiGLUBackward(dg, du, da, g, u) }

// geluNewForward is GPT-2's gelu_new, the tanh approximation
// 0.5·x·(1 + tanh(sqrt(2/π)·(x + 0.044715·x³))), in float32 as PyTorch
// computes it (tensor.GELUNew), in parallel blocks.
func geluNewForward(a, x []float32) {
	tensor.ParallelBlocks(len(x), elementBlock, func(i0, i1 int) { tensor.GELUNew(a[i0:i1], x[i0:i1]) })
}

// geluNewBackward adds to dx.
func geluNewBackward(dx, da, x []float32) {
	tensor.ParallelBlocks(len(x), elementBlock, func(i0, i1 int) { tensor.GELUNewBackward(dx[i0:i1], da[i0:i1], x[i0:i1]) })
}

// elementBlock is how many elements one parallel task of an elementwise
// layer handles.
const elementBlock = 1 << 15

// softmaxRow replaces s by its softmax. Entries equal to -Inf are masked
// and get probability zero; a row with every entry masked becomes all zeros.
func softmaxRow(s []float32) { tensor.Softmax(s) }

// addBias adds b to every row of y [n, len(b)].
func addBias(y, b []float32, n int) {
	w := len(b)
	for i := 0; i < n; i++ {
		tensor.AddTo(y[i*w:(i+1)*w], b)
	}
}

// sumRows adds the column sums of dy [n, len(db)] to db, in row order.
func sumRows(db, dy []float32, n int) {
	w := len(db)
	acc := make([]float64, w)
	for i := 0; i < n; i++ {
		for j, v := range dy[i*w : (i+1)*w] {
			acc[j] += float64(v)
		}
	}
	for j, v := range acc {
		db[j] += float32(v)
	}
}

// addTo adds src to dst elementwise.
func addTo(dst, src []float32) { tensor.AddTo(dst, src) }
