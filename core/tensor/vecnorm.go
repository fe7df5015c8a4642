package tensor

import "math"

// RMS normalisation over rows, forward and backward. Rows are independent,
// so large inputs are split across threads by fixed blocks without
// changing a bit; the weight gradient, a sum over rows, is split by
// columns instead, each column still summed over rows in order.

// normBlock is roughly how many elements one parallel task handles: large
// enough that a task costs more than handing it out.
const normBlock = 1 << 14

// RMSNorm sets, for each of the n rows of x [n, width], out = w ⊙ (x·r)
// with r = 1/sqrt(mean(x²) + eps) computed as Hugging Face's LlamaRMSNorm
// does (mean rounded to float32), and saves r in rstd[row].
func RMSNorm(out, rstd, x, w []float32, n, width int, eps float64) {
	if len(x) < n*width || len(out) < n*width || len(rstd) < n || len(w) != width {
		panic(ErrShape)
	}
	best().rmsNorm(out, rstd, x, w, n, width, eps)
}

func (v *vecKernel) rmsNorm(out, rstd, x, w []float32, n, width int, eps float64) {
	forRows(n, width, func(i0, i1 int) {
		for i := i0; i < i1; i++ {
			row := x[i*width : (i+1)*width]
			var acc partials
			v.sumSq(&acc, row)
			r := float32(1 / math.Sqrt(float64(float32(acc.reduce64()/float64(width)))+eps))
			rstd[i] = r
			v.rmsApply(out[i*width:(i+1)*width], row, w, r)
		}
	})
}

// RMSNormBackward adds to dx, and to dw, the gradients of RMSNorm given dy
// and the saved rstd; either output may be nil.
func RMSNormBackward(dx, dw, dy, x, w, rstd []float32, n, width int) {
	if len(x) < n*width || len(dy) < n*width || len(rstd) < n || len(w) != width ||
		(dx != nil && len(dx) < n*width) || (dw != nil && len(dw) != width) {
		panic(ErrShape)
	}
	best().rmsNormBackward(dx, dw, dy, x, w, rstd, n, width)
}

func (v *vecKernel) rmsNormBackward(dx, dw, dy, x, w, rstd []float32, n, width int) {
	if dx != nil {
		forRows(n, width, func(i0, i1 int) {
			for i := i0; i < i1; i++ {
				row, g := x[i*width:(i+1)*width], dy[i*width:(i+1)*width]
				r := float64(rstd[i])
				var acc partials // Σ dy·w·x̂
				v.rmsDot(&acc, g, w, row, r)
				v.rmsDx(dx[i*width:(i+1)*width], g, w, row, r, acc.reduce64()/float64(width))
			}
		})
	}
	if dw != nil {
		// Column blocks (multiples of redLanes), each summing rows in order.
		cols := max(redLanes, normBlock/max(n, 1)&^(redLanes-1))
		tasks := (width + cols - 1) / cols
		run(tasks, n*width, func(t int) {
			j0, j1 := t*cols, min((t+1)*cols, width)
			for i := 0; i < n; i++ {
				v.rmsDw(dw[j0:j1], dy[i*width+j0:i*width+j1], x[i*width+j0:i*width+j1], float64(rstd[i]))
			}
		})
	}
}

// forRows calls f on consecutive blocks of rows [i0, i1) covering [0, n),
// in parallel when the work is large.
func forRows(n, width int, f func(i0, i1 int)) {
	rows := max(1, normBlock/max(width, 1))
	if n*width < 2*normBlock {
		rows = max(n, 1) // too little work to repay the hand-off
	}
	ParallelBlocks(n, rows, f)
}

// run calls f(t) for t in [0, tasks), on several threads only when there is
// more than one task and enough elements to repay the hand-off.
func run(tasks, elems int, f func(t int)) {
	if tasks <= 1 || elems < 2*normBlock {
		for t := 0; t < tasks; t++ {
			f(t)
		}
		return
	}
	Parallel(tasks, f)
}
