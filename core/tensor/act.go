package tensor

import (
	"math"
)

// Activations and normalisers of the model, each a thin driver over the
// row kernels of vec.go: float32 arithmetic whose every step is the same
// on every CPU, so results stay bit-identical across machines. Sums are
// accumulated in float64 in the canonical order of vec.go (16 partial sums
// by index mod 16, combined in a fixed tree).

// actChunk is how many elements the chunked functions stage on the stack;
// a multiple of redLanes, so chunks keep the lanes of the sums.
const actChunk = 256

// best is the fastest kernel set of this CPU.
func best() *vecKernel { return availableVecs()[0] }

// Softmax replaces s by its softmax. Entries equal to -Inf are masked and
// get probability zero; a row with every entry masked becomes all zeros.
func Softmax(s []float32) { best().softmax(s) }

func (v *vecKernel) softmax(s []float32) {
	mx := v.rowMax(s)
	if math.IsInf(float64(mx), -1) {
		clear(s)
		return
	}
	var acc partials
	v.expSum(s, s, mx, &acc)
	v.scale(s, float32(1/acc.reduce64()))
}

// SoftmaxBackward turns dr, the gradient with respect to the softmax
// output p of one row, into the gradient with respect to its input:
// dr[j] = p[j]·(dr[j] − Σ p·dr), in float64 rounded once to float32.
func SoftmaxBackward(dr, p []float32) {
	if len(dr) != len(p) {
		panic(ErrShape)
	}
	best().softmaxBack(dr, p)
}

func (v *vecKernel) softmaxBack(dr, p []float32) {
	var acc partials
	v.dot(&acc, p, dr)
	v.softmaxBackward(dr, p, acc.reduce64())
}

// LogSoftmaxLoss returns -log softmax(logits)[target] and, when grad is
// true, overwrites logits with scale·(softmax − onehot(target)): the
// cross-entropy loss of one position and its gradient. Sums are float64.
func LogSoftmaxLoss(logits []float32, target int, grad bool, scale float32) float64 {
	return best().logSoftmaxLoss(logits, target, grad, scale)
}

func (v *vecKernel) logSoftmaxLoss(logits []float32, target int, grad bool, scale float32) float64 {
	mx := v.rowMax(logits)
	lt := float64(logits[target])
	var acc partials
	if grad {
		// Keep e^(x−mx) in place: the gradient is it times 1/Σ.
		v.expSum(logits, logits, mx, &acc)
		s := acc.reduce64()
		v.scale(logits, float32(float64(scale)/s))
		logits[target] -= scale
		return float64(mx) + math.Log(s) - lt
	}
	var buf [actChunk]float32
	for i := 0; i < len(logits); i += actChunk {
		src := logits[i:min(i+actChunk, len(logits))]
		v.expSum(buf[:len(src)], src, mx, &acc)
	}
	return float64(mx) + math.Log(acc.reduce64()) - lt
}

// SwiGLU sets a = silu(g) ⊙ u with silu(z) = z·sigmoid(z) = z / (1 + e^-z).
func SwiGLU(a, g, u []float32) {
	if len(a) != len(g) || len(u) != len(g) {
		panic(ErrShape)
	}
	best().swiGLU(a, g, u)
}

// SwiGLUBackward adds to dg and du the gradients of a = silu(g) ⊙ u given
// da: du += da·silu(g), dg += da·u·s·(1 + g·(1 − s)) with s = sigmoid(g).
func SwiGLUBackward(dg, du, da, g, u []float32) {
	if len(dg) != len(g) || len(du) != len(g) || len(da) != len(g) || len(u) != len(g) {
		panic(ErrShape)
	}
	best().swiGLUBackward(dg, du, da, g, u)
}

// AddTo adds src to dst elementwise.
func AddTo(dst, src []float32) {
	if len(dst) != len(src) {
		panic(ErrShape)
	}
	best().addTo(dst, src)
}

// Scale multiplies x by s elementwise.
func Scale(x []float32, s float32) { best().scale(x, s) }

// RoPE rotates one attention head x = [x1 | x2] (halves of len(cos)) by
// the rotary embedding: x1' = x1·cos − x2·sin, x2' = x2·cos + x1·sin, each
// product rounded, as Hugging Face's x·cos + rotate_half(x)·sin.
func RoPE(x, cos, sin []float32) { ropeHead(x, cos, sin, false) }

// RoPEBackward maps the gradient of a rotated head back to the gradient of
// the head: the transpose of a rotation is the rotation by minus the angle.
func RoPEBackward(dx, cos, sin []float32) { ropeHead(dx, cos, sin, true) }

func ropeHead(x, cos, sin []float32, back bool) {
	h := len(cos)
	if len(sin) != h || len(x) != 2*h {
		panic(ErrShape)
	}
	best().rope(x[:h], x[h:], cos, sin, back)
}
