package model

import "github.com/lorafn/lorafn/core/tensor"

// forward computes y [n, Out] = x [n, In]·Wᵀ + b.
func (l *Linear) forward(eng tensor.Backend, y, x []float32, n int) {
	if l.Transposed { // Conv1D: W is [In, Out]
		eng.Gemm(false, false, n, l.Out, l.In, 1, x, l.In, l.W.Data, l.Out, 0, y, l.Out)
	} else {
		eng.Gemm(false, true, n, l.Out, l.In, 1, x, l.In, l.W.Data, l.In, 0, y, l.Out)
	}
	if l.B != nil {
		addBias(y, l.B.Data, n)
	}
}

// backward adds dL/dx to dx (when dx is non-nil) and, for trainable
// parameters, dL/dW and dL/db to their gradients.
func (l *Linear) backward(eng tensor.Backend, dx, dy, x []float32, n int) {
	if dx != nil {
		if l.Transposed {
			eng.Gemm(false, true, n, l.In, l.Out, 1, dy, l.Out, l.W.Data, l.Out, 1, dx, l.In)
		} else {
			eng.Gemm(false, false, n, l.In, l.Out, 1, dy, l.Out, l.W.Data, l.In, 1, dx, l.In)
		}
	}
	if l.W.Grad != nil {
		if l.Transposed {
			eng.Gemm(true, false, l.In, l.Out, n, 1, x, l.In, dy, l.Out, 1, l.W.Grad, l.Out)
		} else {
			eng.Gemm(true, false, l.Out, l.In, n, 1, dy, l.Out, x, l.In, 1, l.W.Grad, l.In)
		}
	}
	if l.B != nil && l.B.Grad != nil {
		sumRows(l.B.Grad, dy, n)
	}
}

// forward applies the norm to x [n, width].
func (nm *Norm) forward(out, mean, rstd, x []float32, n int, eps float64) {
	width := len(nm.W.Data)
	if nm.B == nil {
		rmsNormForward(out, rstd, x, nm.W.Data, n, width, eps)
	} else {
		layerNormForward(out, mean, rstd, x, nm.W.Data, nm.B.Data, n, width, eps)
	}
}

// backward adds to dx and to the norm's parameter gradients.
func (nm *Norm) backward(dx, dy, x, mean, rstd []float32, n int) {
	width := len(nm.W.Data)
	if nm.B == nil {
		rmsNormBackward(dx, nm.W.Grad, dy, x, nm.W.Data, rstd, n, width)
	} else {
		layerNormBackward(dx, nm.W.Grad, nm.B.Grad, dy, x, nm.W.Data, mean, rstd, n, width)
	}
}
