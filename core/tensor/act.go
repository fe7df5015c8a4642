package tensor

import (
	"math"
)

// Activations and normalisers built on Exp. They replace the scalar
// float64 loops of the model with float32 arithmetic whose every step is
// the same on every CPU, so results stay bit-identical across machines.

// actChunk is how many elements the chunked functions stage on the stack.
const actChunk = 256

// Softmax replaces s by its softmax. Entries equal to -Inf are masked and
// get probability zero; a row with every entry masked becomes all zeros.
// The sum is accumulated in float64 (see sum64).
func Softmax(s []float32) {
	mx := rowMax(s)
	if math.IsInf(float64(mx), -1) {
		clear(s)
		return
	}
	for j := range s {
		s[j] -= mx
	}
	Exp(s, s)
	inv := float32(1 / sum64(s))
	for j := range s {
		s[j] *= inv
	}
}

// rowMax returns the largest value of s (-Inf for an empty row); NaNs are
// skipped, which the builtin max would not do at a cost of speed.
func rowMax(s []float32) float32 {
	mx := float32(math.Inf(-1))
	for _, v := range s {
		if v > mx {
			mx = v
		}
	}
	return mx
}

// sum64 adds s in float64 with four partial sums in a fixed pattern
// (index mod 4), combined in a fixed order: fast and deterministic.
func sum64(s []float32) float64 {
	var a0, a1, a2, a3 float64
	i := 0
	for ; i+4 <= len(s); i += 4 {
		a0 += float64(s[i])
		a1 += float64(s[i+1])
		a2 += float64(s[i+2])
		a3 += float64(s[i+3])
	}
	for ; i < len(s); i++ {
		a0 += float64(s[i])
	}
	return (a0 + a1) + (a2 + a3)
}

// LogSoftmaxLoss returns -log softmax(logits)[target] and, when grad is
// true, overwrites logits with scale·(softmax − onehot(target)): the
// cross-entropy loss of one position and its gradient. Sums are float64.
func LogSoftmaxLoss(logits []float32, target int, grad bool, scale float32) float64 {
	mx := rowMax(logits)
	var buf [actChunk]float32
	var s float64
	for i := 0; i < len(logits); i += actChunk {
		src := logits[i:min(i+actChunk, len(logits))]
		t := buf[:len(src)]
		for j, v := range src {
			t[j] = v - mx
		}
		Exp(t, t)
		s += sum64(t)
	}
	loss := float64(mx) + math.Log(s) - float64(logits[target])
	if !grad {
		return loss
	}
	inv := float32(float64(scale) / s)
	for i := 0; i < len(logits); i += actChunk {
		src := logits[i:min(i+actChunk, len(logits))]
		for j, v := range src {
			src[j] = v - mx
		}
		Exp(src, src)
		for j := range src {
			src[j] *= inv
		}
	}
	logits[target] -= scale
	return loss
}

// SwiGLU sets a = silu(g) ⊙ u with silu(z) = z·sigmoid(z) = z / (1 + e^-z).
func SwiGLU(a, g, u []float32) {
	if len(a) != len(g) || len(u) != len(g) {
		panic(ErrShape)
	}
	var buf [actChunk]float32
	for i := 0; i < len(g); i += actChunk {
		z := g[i:min(i+actChunk, len(g))]
		e := buf[:len(z)]
		for j, v := range z {
			e[j] = -v
		}
		Exp(e, e)
		av, uv := a[i:i+len(z)], u[i:i+len(z)]
		for j, v := range z {
			av[j] = float32(v/(1+e[j])) * uv[j]
		}
	}
}

// SwiGLUBackward adds to dg and du the gradients of a = silu(g) ⊙ u given
// da: du += da·silu(g), dg += da·u·s·(1 + g·(1 − s)) with s = sigmoid(g).
func SwiGLUBackward(dg, du, da, g, u []float32) {
	if len(dg) != len(g) || len(du) != len(g) || len(da) != len(g) || len(u) != len(g) {
		panic(ErrShape)
	}
	var buf [actChunk]float32
	for i := 0; i < len(g); i += actChunk {
		z := g[i:min(i+actChunk, len(g))]
		e := buf[:len(z)]
		for j, v := range z {
			e[j] = -v
		}
		Exp(e, e)
		n := len(z)
		dgv, duv, dav, uv := dg[i:i+n], du[i:i+n], da[i:i+n], u[i:i+n]
		for j, v := range z {
			s := 1 / (1 + e[j])
			silu := float32(v * s)
			duv[j] += float32(dav[j] * silu)
			dgv[j] += float32(float32(dav[j]*uv[j]) * float32(s*float32(1+float32(v*float32(1-s)))))
		}
	}
}
