package train

import (
	"math"

	"github.com/lorafn/lorafn/core/model"
)

// Group is a set of trainable parameters that share optimizer settings.
type Group struct {
	Name   string
	Params []*model.Param
	// LRScale multiplies the learning rate (LoRA+ trains B faster); 0 means 1.
	LRScale float64
	// Decay applies the decoupled weight decay; it is off for biases and
	// norm weights, as Hugging Face's Trainer does.
	Decay bool
}

func (g *Group) lrScale() float64 {
	if g.LRScale == 0 {
		return 1
	}
	return g.LRScale
}

// moments are AdamW's running averages of one parameter.
type moments struct {
	expAvg, expAvgSq []float32
}

// adamW is torch.optim.AdamW (amsgrad off, maximize off).
type adamW struct {
	beta1, beta2, eps, weightDecay float64
	state                          map[*model.Param]*moments
}

func newAdamW(cfg *Config, groups []Group) *adamW {
	o := &adamW{beta1: cfg.Beta1, beta2: cfg.Beta2, eps: cfg.Eps, weightDecay: cfg.WeightDecay, state: map[*model.Param]*moments{}}
	for _, g := range groups {
		for _, p := range g.Params {
			o.state[p] = &moments{make([]float32, len(p.Data)), make([]float32, len(p.Data))}
		}
	}
	return o
}

// step applies update number t (counting from 1) with learning rate lr of
// group g. Scalars are computed in float64 and rounded to float32, and each
// float32 operation is rounded on its own, as torch's single-tensor AdamW
// does; the explicit conversions also stop the compiler from fusing
// multiply-adds, so every architecture computes the same bits.
func (o *adamW) step(g *Group, lr float64, t int) {
	decay := float32(1)
	if g.Decay {
		decay = float32(1 - lr*o.weightDecay)
	}
	b1, b2 := float32(o.beta1), float32(o.beta2)
	omb1, omb2 := float32(1-o.beta1), float32(1-o.beta2)
	bc1 := 1 - math.Pow(o.beta1, float64(t))
	bc2 := 1 - math.Pow(o.beta2, float64(t))
	negStep := float32(-lr / bc1)
	bc2Sqrt := float32(math.Sqrt(bc2))
	eps := float32(o.eps)
	for _, p := range g.Params {
		st := o.state[p]
		m, v, w, grad := st.expAvg, st.expAvgSq, p.Data, p.Grad
		for i := range w {
			gi := grad[i]
			w[i] = float32(w[i] * decay)
			m[i] = float32(m[i]*b1) + float32(omb1*gi)
			v[i] = float32(v[i]*b2) + float32(float32(omb2*gi)*gi)
			denom := float32(float32(math.Sqrt(float64(v[i])))/bc2Sqrt) + eps
			w[i] = w[i] + float32(negStep*float32(m[i]/denom))
		}
	}
}
