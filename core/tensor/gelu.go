package tensor

// GPT-2's activation gelu_new, the tanh approximation
// 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))), in float32 as PyTorch
// computes it, with tanh(u) = 1 − 2/(e^(2u) + 1) on the vectorised exp.
// Every other step is a float32 operation rounded on its own (explicit
// conversions keep the compiler from fusing them), so results are the same
// on every CPU. Near u = 0 the formula loses a few bits of tanh itself, but
// not of 1 + tanh, the only place it enters.

const (
	geluC  = float32(0.7978845608028654) // √(2/π)
	geluK  = float32(0.044715)
	geluK3 = float32(3 * 0.044715)
)

// geluTanh2 writes 2u = 2·√(2/π)·(x + 0.044715·x³) of each x into dst.
func geluTanh2(dst, x []float32) {
	for i, v := range x {
		x3 := float32(float32(v*v) * v)
		dst[i] = float32(2*geluC) * float32(v+float32(geluK*x3))
	}
}

// tanhFromExp turns e = e^(2u) into tanh(u).
func tanhFromExp(e float32) float32 { return 1 - float32(2/float32(e+1)) }

// GELUNew sets a = gelu_new(x).
func GELUNew(a, x []float32) {
	if len(a) != len(x) {
		panic(ErrShape)
	}
	v := best()
	buf := make([]float32, min(actChunk, len(x)))
	for i := 0; i < len(x); i += actChunk {
		xs := x[i:min(i+actChunk, len(x))]
		e := buf[:len(xs)]
		geluTanh2(e, xs)
		v.expSlice(e, e)
		as := a[i : i+len(xs)]
		for j, z := range xs {
			t := tanhFromExp(e[j])
			as[j] = float32(float32(0.5)*z) * float32(1+t)
		}
	}
}

// GELUNewBackward adds da·gelu_new'(x) to dx, where
// gelu_new'(x) = 0.5·(1 + t) + 0.5·x·(1 − t²)·√(2/π)·(1 + 3·0.044715·x²).
func GELUNewBackward(dx, da, x []float32) {
	if len(dx) != len(x) || len(da) != len(x) {
		panic(ErrShape)
	}
	v := best()
	buf := make([]float32, min(actChunk, len(x)))
	for i := 0; i < len(x); i += actChunk {
		xs := x[i:min(i+actChunk, len(x))]
		e := buf[:len(xs)]
		geluTanh2(e, xs)
		v.expSlice(e, e)
		ds, das := dx[i:i+len(xs)], da[i:i+len(xs)]
		for j, z := range xs {
			t := tanhFromExp(e[j])
			inner := float32(geluC * float32(1+float32(geluK3*float32(z*z))))
			d := float32(float32(0.5)*float32(1+t)) + float32(float32(float32(float32(0.5)*z)*float32(1-float32(t*t)))*inner)
			ds[j] += float32(das[j] * d)
		}
	}
}
