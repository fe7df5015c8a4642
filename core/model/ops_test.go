package model

import (
	"math/rand/v2"
	"testing"

	"github.com/lorafn/lorafn/core/tensor"
)

// checkOp verifies a backward function against finite differences.
// forward maps the inputs to an output; backward receives dy and must add
// the gradients of Σ dy·y into the returned slices (same order as inputs).
// The scalar probed is L = Σ r ⊙ forward(inputs) with fixed random r.
func checkOp(t *testing.T, name string, inputs [][]float32, forward func(in [][]float32) []float32, backward func(in [][]float32, dy []float32) [][]float32) {
	t.Helper()
	rng := rand.New(rand.NewPCG(11, 12))
	y := forward(inputs)
	r := make([]float32, len(y))
	for i := range r {
		r[i] = float32(rng.NormFloat64())
	}
	loss := func() float64 {
		var s float64
		for i, v := range forward(inputs) {
			s += float64(v) * float64(r[i])
		}
		return s
	}
	grads := backward(inputs, r)
	for k, in := range inputs {
		if grads[k] == nil {
			continue
		}
		for i := range in {
			fd := richardson(func(h float64) float64 {
				old := in[i]
				in[i] = old + float32(h)
				up := loss()
				in[i] = old - float32(h)
				down := loss()
				in[i] = old
				return (up - down) / (2 * h)
			}, 1e-2)
			if g := float64(grads[k][i]); abs(g-fd) > 1e-4+1e-3*abs(fd) {
				t.Errorf("%s: input %d [%d]: backward %.6g, finite difference %.6g", name, k, i, g, fd)
			}
		}
	}
}

func randVec(rng *rand.Rand, n int, scale float64) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(rng.NormFloat64() * scale)
	}
	return v
}

func TestOpGradients(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const n, w = 3, 8
	x, wt, b := randVec(rng, n*w, 1), randVec(rng, w, 1), randVec(rng, w, 1)

	checkOp(t, "rmsnorm", [][]float32{x, wt},
		func(in [][]float32) []float32 {
			out := make([]float32, n*w)
			rmsNormForward(out, make([]float32, n), in[0], in[1], n, w, 1e-5)
			return out
		},
		func(in [][]float32, dy []float32) [][]float32 {
			rstd := make([]float32, n)
			rmsNormForward(make([]float32, n*w), rstd, in[0], in[1], n, w, 1e-5)
			dx, dw := make([]float32, n*w), make([]float32, w)
			rmsNormBackward(dx, dw, dy, in[0], in[1], rstd, n, w)
			return [][]float32{dx, dw}
		})

	checkOp(t, "layernorm", [][]float32{x, wt, b},
		func(in [][]float32) []float32 {
			out := make([]float32, n*w)
			layerNormForward(out, make([]float32, n), make([]float32, n), in[0], in[1], in[2], n, w, 1e-5)
			return out
		},
		func(in [][]float32, dy []float32) [][]float32 {
			mean, rstd := make([]float32, n), make([]float32, n)
			layerNormForward(make([]float32, n*w), mean, rstd, in[0], in[1], in[2], n, w, 1e-5)
			dx, dw, db := make([]float32, n*w), make([]float32, w), make([]float32, w)
			layerNormBackward(dx, dw, db, dy, in[0], in[1], mean, rstd, n, w)
			return [][]float32{dx, dw, db}
		})

	g, u := randVec(rng, 20, 2), randVec(rng, 20, 1)
	checkOp(t, "swiglu", [][]float32{g, u},
		func(in [][]float32) []float32 {
			a := make([]float32, len(in[0]))
			swiGLUForward(a, in[0], in[1])
			return a
		},
		func(in [][]float32, dy []float32) [][]float32 {
			dg, du := make([]float32, len(g)), make([]float32, len(u))
			swiGLUBackward(dg, du, dy, in[0], in[1])
			return [][]float32{dg, du}
		})

	checkOp(t, "gelu_new", [][]float32{g},
		func(in [][]float32) []float32 {
			a := make([]float32, len(in[0]))
			geluNewForward(a, in[0])
			return a
		},
		func(in [][]float32, dy []float32) [][]float32 {
			dx := make([]float32, len(g))
			geluNewBackward(dx, dy, in[0])
			return [][]float32{dx}
		})

	c := &Config{HeadDim: 8, RopeTheta: 10000, RopeScaling: &RopeScaling{Factor: 8, LowFreqFactor: 1, HighFreqFactor: 4, OriginalMaxPositions: 16}}
	table := newRopeTable(ropeFreqs(c), 3, 4)
	pos := func(r int) int { return r % 4 }
	q := randVec(rng, 4*2*8, 1) // 4 rows, 2 heads, d = 8
	checkOp(t, "rope", [][]float32{q},
		func(in [][]float32) []float32 {
			out := append([]float32(nil), in[0]...)
			table.apply(out, 4, 2, pos)
			return out
		},
		func(in [][]float32, dy []float32) [][]float32 {
			dx := append([]float32(nil), dy...)
			table.applyBackward(dx, 4, 2, pos)
			return [][]float32{dx}
		})

	logits := randVec(rng, 11, 2)
	checkOp(t, "cross-entropy", [][]float32{logits},
		func(in [][]float32) []float32 {
			return []float32{float32(crossEntropy(append([]float32(nil), in[0]...), 4, false, 1))}
		},
		func(in [][]float32, dy []float32) [][]float32 {
			grad := append([]float32(nil), in[0]...)
			crossEntropy(grad, 4, true, dy[0])
			return [][]float32{grad}
		})

	for _, conv := range []bool{false, true} {
		l := newLinear("l", 5, 3, true, conv)
		l.W.Data, l.B.Data = randVec(rng, 15, 1), randVec(rng, 3, 1)
		l.W.Grad, l.B.Grad = make([]float32, 15), make([]float32, 3)
		xin := randVec(rng, 2*5, 1)
		checkOp(t, "linear", [][]float32{xin, l.W.Data, l.B.Data},
			func(in [][]float32) []float32 {
				y := make([]float32, 2*3)
				l.forward(tensor.Ref{}, y, in[0], 2)
				return y
			},
			func(in [][]float32, dy []float32) [][]float32 {
				clear(l.W.Grad)
				clear(l.B.Grad)
				dx := make([]float32, 2*5)
				l.backward(tensor.Ref{}, dx, dy, in[0], 2)
				return [][]float32{dx, l.W.Grad, l.B.Grad}
			})
	}

	// Attention with GQA (4 query heads on 2 KV heads), a causal mask, a
	// padded key and a cached prefix of 2 positions.
	dim := attnDims{heads: 4, kvHeads: 2, d: 4}
	const tq, past = 3, 2
	tk := past + tq
	aq, ak, av := randVec(rng, tq*16, 1), randVec(rng, tk*8, 1), randVec(rng, tk*8, 1)
	keyOK := []bool{true, false, true, true, true}
	newSeq := func(in [][]float32) *attnSeq {
		return &attnSeq{q: in[0], k: in[1], v: in[2], out: make([]float32, tq*16), probs: make([]float32, 4*tq*tk), tq: tq, tk: tk, past: past, keyOK: keyOK}
	}
	checkOp(t, "attention", [][]float32{aq, ak, av},
		func(in [][]float32) []float32 {
			s := newSeq(in)
			for h := 0; h < 4; h++ {
				attnForward(tensor.Ref{}, dim, s, h)
			}
			return s.out
		},
		func(in [][]float32, dy []float32) [][]float32 {
			s := newSeq(in)
			for h := 0; h < 4; h++ {
				attnForward(tensor.Ref{}, dim, s, h)
			}
			dq, dk, dv := make([]float32, tq*16), make([]float32, tk*8), make([]float32, tk*8)
			for kvh := 0; kvh < 2; kvh++ {
				attnBackward(tensor.Ref{}, dim, s, kvh, dy, dq, dk, dv, make([]float32, tq*tk))
			}
			return [][]float32{dq, dk, dv}
		})
}

// TestOpGradientsVectorised repeats the row-kernel checks on widths that
// reach the vectorised kernels (multiples of 16 plus a tail).
func TestOpGradientsVectorised(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	const n, w = 2, 33
	x, wt := randVec(rng, n*w, 1), randVec(rng, w, 1)
	checkOp(t, "rmsnorm", [][]float32{x, wt},
		func(in [][]float32) []float32 {
			out := make([]float32, n*w)
			rmsNormForward(out, make([]float32, n), in[0], in[1], n, w, 1e-5)
			return out
		},
		func(in [][]float32, dy []float32) [][]float32 {
			rstd := make([]float32, n)
			rmsNormForward(make([]float32, n*w), rstd, in[0], in[1], n, w, 1e-5)
			dx, dw := make([]float32, n*w), make([]float32, w)
			rmsNormBackward(dx, dw, dy, in[0], in[1], rstd, n, w)
			return [][]float32{dx, dw}
		})

	g, u := randVec(rng, 40, 2), randVec(rng, 40, 1)
	checkOp(t, "swiglu", [][]float32{g, u},
		func(in [][]float32) []float32 {
			a := make([]float32, len(in[0]))
			swiGLUForward(a, in[0], in[1])
			return a
		},
		func(in [][]float32, dy []float32) [][]float32 {
			dg, du := make([]float32, len(g)), make([]float32, len(u))
			swiGLUBackward(dg, du, dy, in[0], in[1])
			return [][]float32{dg, du}
		})

	c := &Config{HeadDim: 40, RopeTheta: 10000}
	table := newRopeTable(ropeFreqs(c), 0, 3)
	pos := func(r int) int { return 2 - r%3 }
	q := randVec(rng, 3*2*40, 1) // 3 rows, 2 heads, d = 40
	checkOp(t, "rope", [][]float32{q},
		func(in [][]float32) []float32 {
			out := append([]float32(nil), in[0]...)
			table.apply(out, 3, 2, pos)
			return out
		},
		func(in [][]float32, dy []float32) [][]float32 {
			dx := append([]float32(nil), dy...)
			table.applyBackward(dx, 3, 2, pos)
			return [][]float32{dx}
		})

	logits := randVec(rng, 300, 2)
	checkOp(t, "cross-entropy", [][]float32{logits},
		func(in [][]float32) []float32 {
			return []float32{float32(crossEntropy(append([]float32(nil), in[0]...), 17, false, 1))}
		},
		func(in [][]float32, dy []float32) [][]float32 {
			grad := append([]float32(nil), in[0]...)
			crossEntropy(grad, 17, true, dy[0])
			return [][]float32{grad}
		})
}
