package model

import (
	"fmt"
)

// Param is one named weight tensor. Name is the Hugging Face tensor name as
// stored in model.safetensors. Grad is nil for a frozen parameter: frozen
// weights get no gradient storage.
type Param struct {
	Name  string
	Shape []int
	Data  []float32
	Grad  []float32
}

// Trainable reports whether the parameter receives gradients.
func (p *Param) Trainable() bool { return p.Grad != nil }

func newParam(name string, shape ...int) *Param {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return &Param{Name: name, Shape: shape, Data: make([]float32, n)}
}

// Linear is an affine map y = x·Wᵀ + b from In to Out features.
//
// W is stored as Hugging Face stores it: [Out, In] for nn.Linear, and
// [In, Out] for GPT-2's Conv1D (Transposed set), which computes y = x·W + b.
// The products pick the orientation, so weights are never copied.
type Linear struct {
	Name       string // module path, e.g. "model.layers.0.self_attn.q_proj"
	In, Out    int
	Transposed bool
	W          *Param
	B          *Param // nil when the layer has no bias

	// Delta, when set, is a trainable change of the layer (a LoRA pair,
	// say) applied on top of the frozen base product.
	Delta Delta
}

func newLinear(name string, in, out int, bias, conv1D bool) *Linear {
	l := &Linear{Name: name, In: in, Out: out, Transposed: conv1D}
	if conv1D {
		l.W = newParam(name+".weight", in, out)
	} else {
		l.W = newParam(name+".weight", out, in)
	}
	if bias {
		l.B = newParam(name+".bias", out)
	}
	return l
}

// Norm is RMSNorm (Llama) or LayerNorm (GPT-2, with a bias).
type Norm struct {
	W, B *Param // B is nil for RMSNorm
}

// Block is one decoder layer. Llama uses Q, K, V, O, Gate, Up, Down; GPT-2
// uses QKV (c_attn), O (attn.c_proj), Up (mlp.c_fc) and Down (mlp.c_proj).
type Block struct {
	Norm1, Norm2    Norm
	Q, K, V, QKV, O *Linear
	Gate, Up, Down  *Linear
}

// Linears returns the block's projection layers in a fixed order.
func (b *Block) Linears() []*Linear {
	var out []*Linear
	for _, l := range []*Linear{b.Q, b.K, b.V, b.QKV, b.O, b.Gate, b.Up, b.Down} {
		if l != nil {
			out = append(out, l)
		}
	}
	return out
}

// Weights holds every parameter of a model.
type Weights struct {
	Embed     *Param // [V, H]: model.embed_tokens.weight or wte.weight
	Positions *Param // [maxPos, H]: GPT-2's wpe.weight; nil for Llama
	Blocks    []*Block
	FinalNorm Norm
	Head      *Param // [V, H]; the same *Param as Embed when tied
}

// newWeights allocates zeroed weights with Hugging Face names. GPT-2 names
// carry no "transformer." prefix, as in the published checkpoint files.
func newWeights(c *Config) *Weights {
	H, I, V := c.Hidden, c.Intermediate, c.VocabSize
	qDim, kvDim := c.Heads*c.HeadDim, c.KVHeads*c.HeadDim
	w := &Weights{}
	if c.Family == GPT2 {
		w.Embed = newParam("wte.weight", V, H)
		w.Positions = newParam("wpe.weight", c.MaxPositions, H)
		for i := 0; i < c.Layers; i++ {
			p := fmt.Sprintf("h.%d.", i)
			w.Blocks = append(w.Blocks, &Block{
				Norm1: Norm{newParam(p+"ln_1.weight", H), newParam(p+"ln_1.bias", H)},
				Norm2: Norm{newParam(p+"ln_2.weight", H), newParam(p+"ln_2.bias", H)},
				QKV:   newLinear(p+"attn.c_attn", H, 3*H, true, true),
				O:     newLinear(p+"attn.c_proj", H, H, true, true),
				Up:    newLinear(p+"mlp.c_fc", H, I, true, true),
				Down:  newLinear(p+"mlp.c_proj", I, H, true, true),
			})
		}
		w.FinalNorm = Norm{newParam("ln_f.weight", H), newParam("ln_f.bias", H)}
		w.Head = w.Embed
		return w
	}
	w.Embed = newParam("model.embed_tokens.weight", V, H)
	for i := 0; i < c.Layers; i++ {
		p := fmt.Sprintf("model.layers.%d.", i)
		w.Blocks = append(w.Blocks, &Block{
			Norm1: Norm{W: newParam(p+"input_layernorm.weight", H)},
			Norm2: Norm{W: newParam(p+"post_attention_layernorm.weight", H)},
			Q:     newLinear(p+"self_attn.q_proj", H, qDim, c.QKVBias, false),
			K:     newLinear(p+"self_attn.k_proj", H, kvDim, c.QKVBias, false),
			V:     newLinear(p+"self_attn.v_proj", H, kvDim, c.QKVBias, false),
			O:     newLinear(p+"self_attn.o_proj", qDim, H, c.OBias, false),
			Gate:  newLinear(p+"mlp.gate_proj", H, I, c.MLPBias, false),
			Up:    newLinear(p+"mlp.up_proj", H, I, c.MLPBias, false),
			Down:  newLinear(p+"mlp.down_proj", I, H, c.MLPBias, false),
		})
	}
	w.FinalNorm = Norm{W: newParam("model.norm.weight", H)}
	if c.TieEmbeddings {
		w.Head = w.Embed
	} else {
		w.Head = newParam("lm_head.weight", V, H)
	}
	return w
}

// Params lists every distinct parameter once, in checkpoint order.
func (w *Weights) Params() []*Param {
	var ps []*Param
	add := func(p *Param) {
		if p != nil {
			ps = append(ps, p)
		}
	}
	add(w.Embed)
	add(w.Positions)
	for _, b := range w.Blocks {
		add(b.Norm1.W)
		add(b.Norm1.B)
		for _, l := range b.Linears() {
			if l == b.Gate || l == b.Up && b.Gate == nil {
				add(b.Norm2.W) // keep HF order: the second norm precedes the MLP
				add(b.Norm2.B)
			}
			add(l.W)
			add(l.B)
		}
	}
	add(w.FinalNorm.W)
	add(w.FinalNorm.B)
	if w.Head != w.Embed {
		add(w.Head)
	}
	return ps
}
