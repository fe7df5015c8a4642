package model

import (
	"math"

	"github.com/lorafn/lorafn/core/tensor"
)

// ropeFreqs returns the d/2 inverse frequencies 1/θ^(2i/d), with Llama-3
// rescaling when configured. The arithmetic is float32 in the order
// transformers uses, so angles match PyTorch's to the last bit as far as
// possible.
func ropeFreqs(c *Config) []float32 {
	d := c.HeadDim
	inv := make([]float32, d/2)
	for i := range inv {
		exp := float32(2*i) / float32(d)
		inv[i] = 1 / float32(math.Pow(c.RopeTheta, float64(exp)))
	}
	if s := c.RopeScaling; s != nil {
		factor := float32(s.Factor)
		lowWavelen := float32(s.OriginalMaxPositions) / float32(s.LowFreqFactor)
		highWavelen := float32(s.OriginalMaxPositions) / float32(s.HighFreqFactor)
		for i, f := range inv {
			wavelen := float32(2*math.Pi) / f
			switch {
			case wavelen > lowWavelen: // low frequencies are slowed down
				inv[i] = f / factor
			case wavelen < highWavelen: // high frequencies are kept
			default: // in between, interpolate
				smooth := (float32(s.OriginalMaxPositions)/wavelen - float32(s.LowFreqFactor)) /
					float32(s.HighFreqFactor-s.LowFreqFactor)
				inv[i] = (1-smooth)*f/factor + smooth*f
			}
		}
	}
	return inv
}

// ropeTable holds cos and sin of position·inv_freq for a run of positions:
// row p holds d/2 values (the second half of HF's concat(freqs, freqs) repeats
// the first, so it is not stored).
type ropeTable struct {
	half     int
	cos, sin []float32
}

// newRopeTable covers positions [start, start+n).
func newRopeTable(inv []float32, start, n int) *ropeTable {
	half := len(inv)
	t := &ropeTable{half: half, cos: make([]float32, n*half), sin: make([]float32, n*half)}
	for p := 0; p < n; p++ {
		pos := float32(start + p)
		for i, f := range inv {
			angle := float64(pos * f) // float32 product, as torch computes it
			t.cos[p*half+i] = float32(math.Cos(angle))
			t.sin[p*half+i] = float32(math.Sin(angle))
		}
	}
	return t
}

// apply rotates each head of x [rows, heads·d] in place:
// x' = x·cos + rotate_half(x)·sin, with rotate_half(x) = concat(-x[d/2:], x[:d/2]).
// Row r uses table position pos(r).
func (t *ropeTable) apply(x []float32, rows, heads int, pos func(r int) int) {
	t.rotate(x, rows, heads, pos, tensor.RoPE)
}

// applyBackward maps the gradient of the rotated x back to the gradient of
// x in place: the transpose of a rotation is the rotation by -angle.
func (t *ropeTable) applyBackward(dx []float32, rows, heads int, pos func(r int) int) {
	t.rotate(dx, rows, heads, pos, tensor.RoPEBackward)
}

func (t *ropeTable) rotate(x []float32, rows, heads int, pos func(r int) int, f func(x, cos, sin []float32)) {
	d := 2 * t.half
	for r := 0; r < rows; r++ {
		p := pos(r)
		cos, sin := t.cos[p*t.half:(p+1)*t.half], t.sin[p*t.half:(p+1)*t.half]
		for h := 0; h < heads; h++ {
			f(x[(r*heads+h)*d:(r*heads+h+1)*d], cos, sin)
		}
	}
}
