package model

import "fmt"

// Virtual tokens: prompt tuning and prefix tuning give every sequence
// trainable context before its real tokens, as PEFT does.
//
// Prompt tuning (Model.Prompt, [P, H]) prepends P input embeddings: the
// model runs on P+T positions, the virtual ones attended like real tokens
// and carrying no loss (label -100), so the last virtual token is trained
// to predict the first real one. Logits and loss are reported for the real
// tokens only.
//
// Prefix tuning (Model.Prefix, [P, Layers·2·KVHeads·HeadDim]) gives every
// layer P extra keys and values, visible to every query, that enter
// attention without RoPE, as a Hugging Face past_key_values cache does. Row
// p holds, for each layer l, the key (kv = 0) and value (kv = 1) of every
// KV head h at column ((2l + kv)·KVHeads + h)·HeadDim. Real tokens then sit
// at positions P … P+T-1, as Hugging Face derives them from the cache
// length.

// virtualLen returns P, the number of virtual positions before real tokens.
func (m *Model) virtualLen() int {
	switch {
	case m.Prompt != nil:
		return m.Prompt.Shape[0]
	case m.Prefix != nil:
		return m.Prefix.Shape[0]
	}
	return 0
}

// checkVirtual validates the shapes of Prompt and Prefix.
func (m *Model) checkVirtual() error {
	c := m.Config
	switch {
	case m.Prompt != nil && m.Prefix != nil:
		return fmt.Errorf("model: prompt and prefix tuning cannot be combined")
	case m.Prompt != nil && (len(m.Prompt.Shape) != 2 || m.Prompt.Shape[1] != c.Hidden || m.Prompt.Shape[0] <= 0):
		return fmt.Errorf("model: prompt embeddings have shape %v, want [P, %d]", m.Prompt.Shape, c.Hidden)
	case m.Prefix != nil && (len(m.Prefix.Shape) != 2 || m.Prefix.Shape[1] != c.Layers*2*c.KVHeads*c.HeadDim || m.Prefix.Shape[0] <= 0):
		return fmt.Errorf("model: prefix has shape %v, want [P, %d]", m.Prefix.Shape, c.Layers*2*c.KVHeads*c.HeadDim)
	}
	return nil
}

// withPrompt returns b with P virtual positions in front of every sequence:
// placeholder ids, mask true, labels IgnoreIndex (and the default labels of
// b made explicit).
func (m *Model) withPrompt(b *Batch) *Batch {
	P := m.Prompt.Shape[0]
	T := P + b.T
	out := &Batch{B: b.B, T: T, IDs: make([]int, b.B*T), Labels: make([]int, b.B*T)}
	if b.Mask != nil {
		out.Mask = make([]bool, b.B*T)
	}
	for s := 0; s < b.B; s++ {
		for t := 0; t < T; t++ {
			i := s*T + t
			if t < P {
				out.Labels[i] = IgnoreIndex
				if out.Mask != nil {
					out.Mask[i] = true
				}
				continue
			}
			j := s*b.T + t - P
			out.IDs[i] = b.IDs[j]
			switch {
			case b.Labels != nil:
				out.Labels[i] = b.Labels[j]
			case b.Mask == nil || b.Mask[j]:
				out.Labels[i] = b.IDs[j]
			default:
				out.Labels[i] = IgnoreIndex
			}
			if out.Mask != nil {
				out.Mask[i] = b.Mask[j]
			}
		}
	}
	return out
}

// realRows keeps the rows of the real tokens of x [B·(P+T), width].
func realRows(x []float32, B, P, T, width int) []float32 {
	out := make([]float32, 0, B*T*width)
	for s := 0; s < B; s++ {
		start := (s*(P+T) + P) * width
		out = append(out, x[start:start+T*width]...)
	}
	return out
}

// promptEmbed overwrites the virtual rows of x [B·T, H] (T counting the
// virtual positions) with the prompt embeddings, plus GPT-2's positions.
func (m *Model) promptEmbed(x []float32, B, T int) {
	H, P := m.Config.Hidden, m.Prompt.Shape[0]
	for s := 0; s < B; s++ {
		for p := 0; p < P; p++ {
			row := x[(s*T+p)*H : (s*T+p+1)*H]
			copy(row, m.Prompt.Data[p*H:(p+1)*H])
			if pos := m.Weights.Positions; pos != nil {
				addTo(row, pos.Data[p*H:(p+1)*H])
			}
		}
	}
}

// prefixKV returns layer li's prefix keys and values, [P, KVHeads·HeadDim]
// each.
func (m *Model) prefixKV(li int) (k, v []float32) {
	P, width := m.Prefix.Shape[0], m.Prefix.Shape[1]
	ks := m.Config.KVHeads * m.Config.HeadDim
	k, v = make([]float32, P*ks), make([]float32, P*ks)
	for p := 0; p < P; p++ {
		row := m.Prefix.Data[p*width : (p+1)*width]
		copy(k[p*ks:(p+1)*ks], row[2*li*ks:(2*li+1)*ks])
		copy(v[p*ks:(p+1)*ks], row[(2*li+1)*ks:(2*li+2)*ks])
	}
	return k, v
}

// prefixGrad adds layer li's prefix key and value gradients [P, ks].
func (m *Model) prefixGrad(li int, dk, dv []float32) {
	P, width := m.Prefix.Shape[0], m.Prefix.Shape[1]
	ks := m.Config.KVHeads * m.Config.HeadDim
	for p := 0; p < P; p++ {
		row := m.Prefix.Grad[p*width : (p+1)*width]
		addTo(row[2*li*ks:(2*li+1)*ks], dk[p*ks:(p+1)*ks])
		addTo(row[(2*li+1)*ks:(2*li+2)*ks], dv[p*ks:(p+1)*ks])
	}
}

// withPrefixMask returns the key mask [B·(P+T)] of a prefix pass: the P
// prefix keys are always real. Nil stays nil.
func withPrefixMask(mask []bool, B, P, T int) []bool {
	if mask == nil {
		return nil
	}
	out := make([]bool, 0, B*(P+T))
	for s := 0; s < B; s++ {
		for range P {
			out = append(out, true)
		}
		out = append(out, mask[s*T:(s+1)*T]...)
	}
	return out
}

// TargetTokens returns the number of tokens b is trained on, as Result.Tokens
// will count them. With prompt tuning it can exceed the count of b alone:
// the last virtual token predicts each sequence's first token, as in PEFT.
func (m *Model) TargetTokens(b *Batch) (int, error) {
	b, err := m.prepare(b)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, t := range b.targets() {
		if t != IgnoreIndex {
			n++
		}
	}
	return n, nil
}
