package model

import (
	"github.com/lorafn/lorafn/core/tensor"
)

// pass describes the token layout of one forward pass: B sequences of T
// new tokens each (N = B·T rows), at positions past … past+T-1.
type pass struct {
	B, T  int
	past  int
	keyOK []bool     // [B·(past+T)] key padding mask; nil: all real
	rope  *ropeTable // positions past … past+T-1; nil for GPT-2
	kv    *KVCache   // non-nil only in generation (B = 1)
	noise Noise      // dropout of adapters; zero in evaluation
}

// Slots of a block's linear layers, for per-layer state and noise.
const (
	slotQ = iota
	slotK
	slotV
	slotQKV
	slotO
	slotGate
	slotUp
	slotDown
	numSlots
)

// noiseFor derives the dropout seed of one layer call from the pass seed,
// so that recomputing a layer redraws exactly the same masks.
func (ps *pass) noiseFor(layer, slot int) Noise {
	if !ps.noise.Train {
		return Noise{}
	}
	return Noise{Train: true, Seed: mix64(ps.noise.Seed ^ mix64(uint64(layer*numSlots+slot+1)))}
}

// mix64 is SplitMix64's finaliser: a bijective scramble of 64 bits.
func mix64(z uint64) uint64 {
	z += 0x9e3779b97f4a7c15
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

func (p *pass) rows() int { return p.B * p.T }

// blockCache holds one layer's activations for its backward pass. Shapes use
// N rows, H = hidden, Q = heads·d, K = kvHeads·d, I = intermediate.
type blockCache struct {
	x            []float32 // [N, H] layer input
	n1           []float32 // [N, H] normed input
	mean1, rstd1 []float32 // [N]
	q            []float32 // [N, Q] after RoPE
	k, v         []float32 // [N, K] after RoPE
	probs        []float32 // [B, heads, T, past+T]
	att          []float32 // [N, Q] attention output before o_proj
	h            []float32 // [N, H] residual stream after attention
	n2           []float32 // [N, H]
	mean2, rstd2 []float32 // [N]
	g, u, a      []float32 // [N, I] gate and up pre-activations, MLP activation
	deltas       [numSlots]DeltaState
}

// linearForward runs a block's linear layer in its slot, keeping the
// delta's state in the cache.
func (m *Model) linearForward(c *blockCache, li, slot int, l *Linear, y, x []float32, ps *pass) {
	c.deltas[slot] = l.forwardAll(m.eng, y, x, ps.rows(), ps.noiseFor(li, slot))
}

func (m *Model) linearBackward(c *blockCache, slot int, l *Linear, dx, dy, x []float32, ps *pass) {
	l.backwardAll(m.eng, dx, dy, x, ps.rows(), c.deltas[slot])
}

// blockForward runs layer li on x [N, H] and writes out [N, H], filling c.
func (m *Model) blockForward(li int, c *blockCache, x, out []float32, ps *pass) {
	cfg, blk, eng := m.Config, m.Weights.Blocks[li], m.eng
	N, H, I := ps.rows(), cfg.Hidden, cfg.Intermediate
	dim := m.attnDims()
	qs, ks := dim.heads*dim.d, dim.kvHeads*dim.d

	bs := &m.bufs
	c.x = x
	c.n1, c.mean1, c.rstd1 = bs.getRaw(N*H), bs.getRaw(N), bs.getRaw(N)
	blk.Norm1.forward(c.n1, c.mean1, c.rstd1, x, N, cfg.NormEps)

	c.q, c.k, c.v = bs.getRaw(N*qs), bs.getRaw(N*ks), bs.getRaw(N*ks)
	if blk.QKV != nil {
		qkv := bs.getRaw(N * 3 * H)
		defer bs.put(qkv)
		m.linearForward(c, li, slotQKV, blk.QKV, qkv, c.n1, ps)
		for r := 0; r < N; r++ {
			row := qkv[r*3*H : (r+1)*3*H]
			copy(c.q[r*H:(r+1)*H], row[:H])
			copy(c.k[r*H:(r+1)*H], row[H:2*H])
			copy(c.v[r*H:(r+1)*H], row[2*H:])
		}
	} else {
		m.linearForward(c, li, slotQ, blk.Q, c.q, c.n1, ps)
		m.linearForward(c, li, slotK, blk.K, c.k, c.n1, ps)
		m.linearForward(c, li, slotV, blk.V, c.v, c.n1, ps)
	}
	if ps.rope != nil {
		pos := func(r int) int { return r % ps.T }
		ps.rope.apply(c.q, N, dim.heads, pos)
		ps.rope.apply(c.k, N, dim.kvHeads, pos)
	}

	c.att = bs.getRaw(N * qs)
	c.probs = bs.getRaw(ps.B * dim.heads * ps.T * (ps.past + ps.T))
	seqs := m.attnSeqs(c, li, ps)
	tensor.Parallel(len(seqs)*dim.heads, func(i int) {
		attnForward(eng, dim, seqs[i/dim.heads], i%dim.heads)
	})

	attnOut := bs.getRaw(N * H)
	m.linearForward(c, li, slotO, blk.O, attnOut, c.att, ps)
	c.h = bs.getRaw(N * H)
	for i := range c.h {
		c.h[i] = x[i] + attnOut[i]
	}
	bs.put(attnOut)

	c.n2, c.mean2, c.rstd2 = bs.getRaw(N*H), bs.getRaw(N), bs.getRaw(N)
	blk.Norm2.forward(c.n2, c.mean2, c.rstd2, c.h, N, cfg.NormEps)
	c.u, c.a = bs.getRaw(N*I), bs.getRaw(N*I)
	m.linearForward(c, li, slotUp, blk.Up, c.u, c.n2, ps)
	if blk.Gate != nil {
		c.g = bs.getRaw(N * I)
		m.linearForward(c, li, slotGate, blk.Gate, c.g, c.n2, ps)
		swiGLUForward(c.a, c.g, c.u)
	} else {
		geluNewForward(c.a, c.u)
	}
	m.linearForward(c, li, slotDown, blk.Down, out, c.a, ps)
	for i := range out {
		out[i] += c.h[i]
	}
}

// release hands c's activations back to m.bufs, and its input too when
// withInput is set; c must not be used afterwards.
func (m *Model) release(c *blockCache, withInput bool) {
	m.bufs.put(c.n1, c.mean1, c.rstd1, c.q, c.k, c.v, c.probs, c.att, c.h, c.n2, c.mean2, c.rstd2, c.g, c.u, c.a)
	if withInput {
		m.bufs.put(c.x)
	}
	*c = blockCache{}
}

// attnSeqs splits the pass into per-sequence views of c's buffers. In
// generation the new keys and values are appended to the KV cache first and
// attention runs over the whole cache.
func (m *Model) attnSeqs(c *blockCache, li int, ps *pass) []*attnSeq {
	dim := m.attnDims()
	qs, ks := dim.heads*dim.d, dim.kvHeads*dim.d
	T, tk := ps.T, ps.past+ps.T
	var preK, preV []float32
	if ps.kv == nil && ps.past > 0 { // a training pass after a prefix
		preK, preV = m.prefixKV(li)
	}
	seqs := make([]*attnSeq, ps.B)
	for b := range seqs {
		s := &attnSeq{
			q:     c.q[b*T*qs : (b+1)*T*qs],
			k:     c.k[b*T*ks : (b+1)*T*ks],
			v:     c.v[b*T*ks : (b+1)*T*ks],
			out:   c.att[b*T*qs : (b+1)*T*qs],
			probs: c.probs[b*dim.heads*T*tk : (b+1)*dim.heads*T*tk],
			tq:    T, tk: tk, past: ps.past,
		}
		if ps.keyOK != nil {
			s.keyOK = ps.keyOK[b*tk : (b+1)*tk]
		}
		if ps.kv != nil {
			s.k, s.v = ps.kv.appendLayer(li, ps.past, c.k, c.v)
		}
		if preK != nil {
			s.k = append(preK[:len(preK):len(preK)], s.k...)
			s.v = append(preV[:len(preV):len(preV)], s.v...)
		}
		seqs[b] = s
	}
	return seqs
}

// prefixAttnBackward is the attention backward pass of a training pass
// after a prefix: the key and value gradients cover P+T rows per sequence;
// the first P go to the prefix's gradient, in sequence order.
func (m *Model) prefixAttnBackward(li int, seqs []*attnSeq, datt, dq, dk, dv []float32, ps *pass) {
	dim := m.attnDims()
	qs, ks := dim.heads*dim.d, dim.kvHeads*dim.d
	T, P := ps.T, ps.past
	dkAll, dvAll := m.bufs.get(ps.B*(P+T)*ks), m.bufs.get(ps.B*(P+T)*ks)
	defer m.bufs.put(dkAll, dvAll)
	seq := func(x []float32, b, rows, width int) []float32 { return x[b*rows*width : (b+1)*rows*width] }
	dp := m.bufs.getRaw(ps.B * dim.kvHeads * T * (P + T))
	defer m.bufs.put(dp)
	tensor.Parallel(ps.B*dim.kvHeads, func(i int) {
		b, kvh := i/dim.kvHeads, i%dim.kvHeads
		attnBackward(m.eng, dim, seqs[b], kvh, seq(datt, b, T, qs), seq(dq, b, T, qs), seq(dkAll, b, P+T, ks), seq(dvAll, b, P+T, ks), seq(dp, i, T, P+T))
	})
	for b := 0; b < ps.B; b++ {
		k, v := seq(dkAll, b, P+T, ks), seq(dvAll, b, P+T, ks)
		copy(seq(dk, b, T, ks), k[P*ks:])
		copy(seq(dv, b, T, ks), v[P*ks:])
		if m.Prefix.Grad != nil {
			m.prefixGrad(li, k[:P*ks], v[:P*ks])
		}
	}
}

// blockBackward takes dout = dL/d(out) [N, H] and adds dL/dx to dx (skipped
// when dx is nil) and the gradients of the layer's trainable parameters.
func (m *Model) blockBackward(li int, c *blockCache, dout, dx []float32, ps *pass) {
	cfg, blk, eng := m.Config, m.Weights.Blocks[li], m.eng
	N, H, I := ps.rows(), cfg.Hidden, cfg.Intermediate
	dim := m.attnDims()
	qs, ks := dim.heads*dim.d, dim.kvHeads*dim.d

	// MLP: out = h + Down(act(n2)).
	bs := &m.bufs
	dh := bs.getRaw(N * H)
	copy(dh, dout)
	da, dn2, du := bs.get(N*I), bs.get(N*H), bs.get(N*I)
	defer bs.put(dh, da, dn2, du)
	m.linearBackward(c, slotDown, blk.Down, da, dout, c.a, ps)
	if blk.Gate != nil {
		dg := bs.get(N * I)
		defer bs.put(dg)
		swiGLUBackward(dg, du, da, c.g, c.u)
		m.linearBackward(c, slotGate, blk.Gate, dn2, dg, c.n2, ps)
	} else {
		geluNewBackward(du, da, c.u)
	}
	m.linearBackward(c, slotUp, blk.Up, dn2, du, c.n2, ps)
	blk.Norm2.backward(dh, dn2, c.h, c.mean2, c.rstd2, N)

	// Attention: h = x + O(attn(q, k, v)).
	datt, dq, dk, dv := bs.get(N*qs), bs.get(N*qs), bs.get(N*ks), bs.get(N*ks)
	defer bs.put(datt, dq, dk, dv)
	m.linearBackward(c, slotO, blk.O, datt, dh, c.att, ps)
	seqs := m.attnSeqs(c, li, ps) // ps.kv is nil: no generation in training
	T := ps.T
	if ps.past > 0 {
		m.prefixAttnBackward(li, seqs, datt, dq, dk, dv, ps)
	} else {
		dp := bs.getRaw(ps.B * dim.kvHeads * T * T)
		defer bs.put(dp)
		tensor.Parallel(ps.B*dim.kvHeads, func(i int) {
			b, kvh := i/dim.kvHeads, i%dim.kvHeads
			attnBackward(eng, dim, seqs[b], kvh, datt[b*T*qs:(b+1)*T*qs], dq[b*T*qs:(b+1)*T*qs], dk[b*T*ks:(b+1)*T*ks], dv[b*T*ks:(b+1)*T*ks], dp[i*T*T:(i+1)*T*T])
		})
	}
	if ps.rope != nil {
		pos := func(r int) int { return r % ps.T }
		ps.rope.applyBackward(dq, N, dim.heads, pos)
		ps.rope.applyBackward(dk, N, dim.kvHeads, pos)
	}
	// dL/d(n1) is needed below this layer and by a trainable norm only;
	// the lowest layer of a LoRA run needs just the adapters' gradients.
	norm1Trainable := blk.Norm1.W.Grad != nil || (blk.Norm1.B != nil && blk.Norm1.B.Grad != nil)
	var dn1 []float32
	if dx != nil || norm1Trainable {
		dn1 = bs.get(N * H)
		defer bs.put(dn1)
	}
	if blk.QKV != nil {
		dqkv := bs.getRaw(N * 3 * H)
		defer bs.put(dqkv)
		for r := 0; r < N; r++ {
			row := dqkv[r*3*H : (r+1)*3*H]
			copy(row[:H], dq[r*H:(r+1)*H])
			copy(row[H:2*H], dk[r*H:(r+1)*H])
			copy(row[2*H:], dv[r*H:(r+1)*H])
		}
		m.linearBackward(c, slotQKV, blk.QKV, dn1, dqkv, c.n1, ps)
	} else {
		m.linearBackward(c, slotQ, blk.Q, dn1, dq, c.n1, ps)
		m.linearBackward(c, slotK, blk.K, dn1, dk, c.n1, ps)
		m.linearBackward(c, slotV, blk.V, dn1, dv, c.n1, ps)
	}
	if dx == nil {
		if norm1Trainable {
			blk.Norm1.backward(nil, dn1, c.x, c.mean1, c.rstd1, N)
		}
		return
	}
	addTo(dx, dh)
	blk.Norm1.backward(dx, dn1, c.x, c.mean1, c.rstd1, N)
}
