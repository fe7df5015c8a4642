package model

import "github.com/lorafn/lorafn/core/tensor"

// Delta is a trainable modification of a Linear layer: LoRA, DoRA, (IA)³…
// Forward receives y [n, Out] holding the base product x·Wᵀ + b and
// changes it in place (LoRA adds scaling·B·A·x); it returns whatever its
// Backward needs. Backward receives dy = dL/dy, adds dL/dx to dx when dx is
// non-nil, and accumulates the gradients of Params. Implementations must be
// deterministic functions of their inputs and noise, so that recomputing a
// layer reproduces it bit for bit.
type Delta interface {
	Forward(eng tensor.Backend, y, x []float32, n int, noise Noise) DeltaState
	Backward(eng tensor.Backend, dx, dy, x []float32, n int, st DeltaState)
	Params() []*Param
}

// DeltaState is what a Delta's Forward saves for its Backward.
type DeltaState any

// Noise seeds the randomness (dropout) of one layer call. The zero Noise
// means evaluation mode: no dropout.
type Noise struct {
	Train bool
	Seed  uint64
}

// forwardAll runs the base product and then the delta, if any.
func (l *Linear) forwardAll(eng tensor.Backend, y, x []float32, n int, noise Noise) DeltaState {
	l.forward(eng, y, x, n)
	if l.Delta == nil {
		return nil
	}
	return l.Delta.Forward(eng, y, x, n, noise)
}

// backwardAll is forwardAll's backward pass.
func (l *Linear) backwardAll(eng tensor.Backend, dx, dy, x []float32, n int, st DeltaState) {
	l.backward(eng, dx, dy, x, n)
	if l.Delta != nil {
		l.Delta.Backward(eng, dx, dy, x, n, st)
	}
}

// trainable reports whether the layer has a parameter with a gradient.
func (l *Linear) trainable() bool {
	if l.W.Grad != nil || (l.B != nil && l.B.Grad != nil) {
		return true
	}
	if l.Delta != nil {
		for _, p := range l.Delta.Params() {
			if p.Grad != nil {
				return true
			}
		}
	}
	return false
}

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
