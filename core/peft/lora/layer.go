package lora

import (
	"math"

	"github.com/lorafn/lorafn/core/model"
	"github.com/lorafn/lorafn/core/tensor"
)

// Layer is the LoRA pair attached to one linear layer; it implements
// model.Delta.
//
// With DoRA (Magnitude set) the layer's output is, as in PEFT,
//
//	y = x·Wᵀ + b + (f − 1) ⊙ (x'·Wᵀ) + f ⊙ scaling·(x'·Aᵀ)·Bᵀ,  f = m / ‖W + scaling·B·A‖
//
// with the norm taken per output row and treated as a constant in the
// backward pass (DoRA paper §4.3), and x' = dropout(x). Without dropout
// x'·Wᵀ is the base product itself.
type Layer struct {
	Module    string // PEFT module path, e.g. "model.layers.0.self_attn.q_proj"
	Base      *model.Linear
	A         *model.Param // [r, in]
	B         *model.Param // [out, r]
	Magnitude *model.Param // [out], DoRA only
	Scaling   float32
	Dropout   float32
}

// state is what Forward keeps for Backward.
type state struct {
	xd   []float32 // dropout(x) [n, in]; x itself without dropout
	h    []float32 // xd·Aᵀ [n, r]
	drop bool      // dropout was applied with mask seed
	seed uint64

	// DoRA: the scale f per output, x'·Wᵀ and (x'·Aᵀ)·Bᵀ·scaling, [n, out].
	f, base, lr []float32
	norm        []float32
}

// Forward adds scaling·(dropout(x)·Aᵀ)·Bᵀ to y (and DoRA's rescaling).
func (l *Layer) Forward(eng tensor.Backend, y, x []float32, n int, noise model.Noise) model.DeltaState {
	in, out, r := l.Base.In, l.Base.Out, l.A.Shape[0]
	st := &state{xd: x, drop: noise.Train && l.Dropout > 0, seed: noise.Seed}
	if st.drop {
		st.xd = make([]float32, n*in)
		dropout(st.xd, x[:n*in], l.Dropout, noise.Seed)
	}
	st.h = make([]float32, n*r)
	eng.Gemm(false, true, n, r, in, 1, st.xd, in, l.A.Data, in, 0, st.h, r)
	if l.Magnitude == nil {
		eng.Gemm(false, true, n, out, r, l.Scaling, st.h, r, l.B.Data, r, 1, y, out)
		return st
	}
	l.doraForward(eng, st, y, n)
	return st
}

// doraForward adds (f − 1) ⊙ base + f ⊙ lr to y.
func (l *Layer) doraForward(eng tensor.Backend, st *state, y []float32, n int) {
	in, out, r := l.Base.In, l.Base.Out, l.A.Shape[0]
	st.norm = l.weightNorm()
	st.f = make([]float32, out)
	for o := range st.f {
		st.f[o] = l.Magnitude.Data[o] / st.norm[o]
	}
	st.lr = make([]float32, n*out)
	eng.Gemm(false, true, n, out, r, l.Scaling, st.h, r, l.B.Data, r, 0, st.lr, out)
	st.base = make([]float32, n*out)
	if st.drop {
		w := l.Base.W.Data
		if l.Base.Transposed {
			eng.Gemm(false, false, n, out, in, 1, st.xd, in, w, out, 0, st.base, out)
		} else {
			eng.Gemm(false, true, n, out, in, 1, st.xd, in, w, in, 0, st.base, out)
		}
	} else {
		copy(st.base, y[:n*out])
		if l.Base.B != nil {
			for i := 0; i < n; i++ {
				for o, b := range l.Base.B.Data {
					st.base[i*out+o] -= b
				}
			}
		}
	}
	for i := 0; i < n; i++ {
		for o, f := range st.f {
			k := i*out + o
			y[k] += (f-1)*st.base[k] + f*st.lr[k]
		}
	}
}

// weightNorm returns ‖W + scaling·B·A‖ per output row (Linear orientation),
// accumulated in float64.
func (l *Layer) weightNorm() []float32 {
	in, out, r := l.Base.In, l.Base.Out, l.A.Shape[0]
	w, a, b := l.Base.W.Data, l.A.Data, l.B.Data
	norm := make([]float32, out)
	row := make([]float32, in)
	for o := 0; o < out; o++ {
		for i := range row {
			var s float32
			for k := 0; k < r; k++ {
				s += b[o*r+k] * a[k*in+i]
			}
			row[i] = s * l.Scaling
		}
		var sum float64
		for i, d := range row {
			wv := w[o*in+i]
			if l.Base.Transposed {
				wv = w[i*out+o]
			}
			v := float64(wv + d)
			sum += v * v
		}
		norm[o] = float32(math.Sqrt(sum))
	}
	return norm
}

// Backward accumulates the gradients of A and B and adds dL/dx to dx.
func (l *Layer) Backward(eng tensor.Backend, dx, dy, x []float32, n int, st model.DeltaState) {
	s := st.(*state)
	if l.Magnitude != nil {
		l.doraBackward(eng, dx, dy, n, s)
		return
	}
	l.loraBackward(eng, dx, dy, n, s)
}

// doraBackward: with f constant in the norm, dL/dm = Σ dy ⊙ (base + lr) / norm,
// the LoRA branch sees dy ⊙ f, and x' gets (dy ⊙ (f − 1))·W more.
func (l *Layer) doraBackward(eng tensor.Backend, dx, dy []float32, n int, s *state) {
	in, out := l.Base.In, l.Base.Out
	if l.Magnitude.Grad != nil {
		for i := 0; i < n; i++ {
			for o := 0; o < out; o++ {
				k := i*out + o
				l.Magnitude.Grad[o] += dy[k] * (s.base[k] + s.lr[k]) / s.norm[o]
			}
		}
	}
	dyf := make([]float32, n*out) // dy ⊙ f, into the LoRA branch
	dyb := make([]float32, n*out) // dy ⊙ (f − 1), into x'·Wᵀ
	for i := 0; i < n; i++ {
		for o, f := range s.f {
			k := i*out + o
			dyf[k] = dy[k] * f
			dyb[k] = dy[k] * (f - 1)
		}
	}
	if dx == nil {
		l.loraBackward(eng, nil, dyf, n, s)
		return
	}
	dxd := make([]float32, n*in) // dL/dx' of the DoRA terms
	w := l.Base.W.Data
	if l.Base.Transposed {
		eng.Gemm(false, true, n, in, out, 1, dyb, out, w, out, 0, dxd, in)
	} else {
		eng.Gemm(false, false, n, in, out, 1, dyb, out, w, in, 0, dxd, in)
	}
	if !s.drop {
		addTo(dx, dxd)
		l.loraBackward(eng, dx, dyf, n, s)
		return
	}
	// Both terms pass through the same dropout mask: sum them first.
	l.loraBackward(eng, nil, dyf, n, s)
	r := l.A.Shape[0]
	dh := make([]float32, n*r)
	eng.Gemm(false, false, n, r, out, l.Scaling, dyf, out, l.B.Data, r, 0, dh, r)
	eng.Gemm(false, false, n, in, r, 1, dh, r, l.A.Data, in, 1, dxd, in)
	dropout(dxd, dxd, l.Dropout, s.seed)
	addTo(dx, dxd)
}

// loraBackward accumulates the gradients of A and B for dy and adds dL/dx
// to dx (when non-nil).
func (l *Layer) loraBackward(eng tensor.Backend, dx, dy []float32, n int, s *state) {
	in, out, r := l.Base.In, l.Base.Out, l.A.Shape[0]
	if l.B.Grad != nil { // dB += scaling·dyᵀ·h
		eng.Gemm(true, false, out, r, n, l.Scaling, dy, out, s.h, r, 1, l.B.Grad, r)
	}
	dh := make([]float32, n*r) // scaling·dy·B
	eng.Gemm(false, false, n, r, out, l.Scaling, dy, out, l.B.Data, r, 0, dh, r)
	if l.A.Grad != nil { // dA += dhᵀ·dropout(x)
		eng.Gemm(true, false, r, in, n, 1, dh, r, s.xd, in, 1, l.A.Grad, in)
	}
	if dx == nil {
		return
	}
	if !s.drop { // dx += dh·A
		eng.Gemm(false, false, n, in, r, 1, dh, r, l.A.Data, in, 1, dx, in)
		return
	}
	dxd := make([]float32, n*in)
	eng.Gemm(false, false, n, in, r, 1, dh, r, l.A.Data, in, 0, dxd, in)
	dropout(dxd, dxd, l.Dropout, s.seed) // the same mask and 1/(1−p) scale
	addTo(dx, dxd)
}

func addTo(dst, src []float32) {
	for i, v := range src {
		dst[i] += v
	}
}

// Params returns A and B (and DoRA's magnitude).
func (l *Layer) Params() []*model.Param {
	if l.Magnitude != nil {
		return []*model.Param{l.A, l.B, l.Magnitude}
	}
	return []*model.Param{l.A, l.B}
}

// dropout writes x with each element zeroed with probability p and the
// survivors scaled by 1/(1−p) (inverted dropout, as torch.nn.Dropout). The
// mask is a pure function of seed and the element index.
func dropout(dst, x []float32, p float32, seed uint64) {
	scale := 1 / (1 - p)
	threshold := uint64(float64(p) * (1 << 53))
	for i, v := range x {
		if keepBits(seed, uint64(i)) >= threshold {
			dst[i] = v * scale
		} else {
			dst[i] = 0
		}
	}
}

// keepBits returns 53 uniform bits for element i of a mask (SplitMix64).
func keepBits(seed, i uint64) uint64 {
	z := seed + (i+1)*0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return (z ^ (z >> 31)) >> 11
}
