package lora

import (
	"github.com/lorafn/lorafn/core/model"
	"github.com/lorafn/lorafn/core/tensor"
)

// Layer is the LoRA pair attached to one linear layer; it implements
// model.Delta.
type Layer struct {
	Module  string // PEFT module path, e.g. "model.layers.0.self_attn.q_proj"
	Base    *model.Linear
	A       *model.Param // [r, in]
	B       *model.Param // [out, r]
	Scaling float32
	Dropout float32
}

// state is what Forward keeps for Backward.
type state struct {
	xd   []float32 // dropout(x) [n, in]; x itself without dropout
	h    []float32 // xd·Aᵀ [n, r]
	drop bool      // dropout was applied with mask seed
	seed uint64
}

// Forward adds scaling·(dropout(x)·Aᵀ)·Bᵀ to y.
func (l *Layer) Forward(eng tensor.Backend, y, x []float32, n int, noise model.Noise) model.DeltaState {
	in, out, r := l.Base.In, l.Base.Out, l.A.Shape[0]
	st := &state{xd: x, drop: noise.Train && l.Dropout > 0, seed: noise.Seed}
	if st.drop {
		st.xd = make([]float32, n*in)
		dropout(st.xd, x[:n*in], l.Dropout, noise.Seed)
	}
	st.h = make([]float32, n*r)
	eng.Gemm(false, true, n, r, in, 1, st.xd, in, l.A.Data, in, 0, st.h, r)
	eng.Gemm(false, true, n, out, r, l.Scaling, st.h, r, l.B.Data, r, 1, y, out)
	return st
}

// Backward accumulates the gradients of A and B and adds dL/dx to dx.
func (l *Layer) Backward(eng tensor.Backend, dx, dy, x []float32, n int, st model.DeltaState) {
	s := st.(*state)
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

// Params returns A and B.
func (l *Layer) Params() []*model.Param { return []*model.Param{l.A, l.B} }

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
