package model

import (
	"fmt"
	"math"

	"github.com/lorafn/lorafn/core/tensor"
)

// IgnoreIndex marks a label that contributes no loss, as in PyTorch.
const IgnoreIndex = -100

// Batch is B sequences of T token ids, row-major.
//
// Mask is the attention mask (true = real token, false = padding); nil means
// every token is real. Padded keys are never attended to; outputs at padded
// query positions are unspecified and carry no loss.
//
// Labels follow Hugging Face's causal-LM convention: Labels[b·T+t] is the
// token position t is trained to produce *before* the shift, so position t
// predicts Labels[b·T+t+1]; IgnoreIndex contributes nothing. Nil Labels mean
// the ids themselves, with padded positions ignored.
type Batch struct {
	B, T   int
	IDs    []int
	Mask   []bool
	Labels []int
}

// validate checks the batch against the model; errors name the offending
// position.
func (b *Batch) validate(c *Config) error {
	n := b.B * b.T
	switch {
	case b.B <= 0 || b.T <= 0:
		return fmt.Errorf("model: batch shape %d×%d: both must be positive", b.B, b.T)
	case len(b.IDs) != n:
		return fmt.Errorf("model: batch has %d ids, want %d×%d", len(b.IDs), b.B, b.T)
	case b.Mask != nil && len(b.Mask) != n:
		return fmt.Errorf("model: batch has %d mask entries, want %d", len(b.Mask), n)
	case b.Labels != nil && len(b.Labels) != n:
		return fmt.Errorf("model: batch has %d labels, want %d", len(b.Labels), n)
	case c.Family == GPT2 && b.T > c.MaxPositions:
		return fmt.Errorf("model: sequence length %d exceeds n_positions = %d", b.T, c.MaxPositions)
	}
	for i, id := range b.IDs {
		if id < 0 || id >= c.VocabSize {
			return fmt.Errorf("model: sequence %d position %d: token id %d outside vocabulary [0, %d)", i/b.T, i%b.T, id, c.VocabSize)
		}
	}
	for i, l := range b.Labels {
		if l != IgnoreIndex && (l < 0 || l >= c.VocabSize) {
			return fmt.Errorf("model: sequence %d position %d: label %d is neither %d nor in [0, %d)", i/b.T, i%b.T, l, IgnoreIndex, c.VocabSize)
		}
	}
	return nil
}

// targets returns, for every row, the token it must predict (the shifted
// label) or IgnoreIndex.
func (b *Batch) targets() []int {
	out := make([]int, b.B*b.T)
	for s := 0; s < b.B; s++ {
		for t := 0; t < b.T; t++ {
			i := s*b.T + t
			out[i] = IgnoreIndex
			if t+1 == b.T {
				continue
			}
			j := i + 1
			switch {
			case b.Labels != nil:
				out[i] = b.Labels[j]
			case b.Mask == nil || b.Mask[j]:
				out[i] = b.IDs[j]
			}
		}
	}
	return out
}

// Result is what a forward pass measured.
type Result struct {
	SumLoss float64 // Σ cross-entropy (natural log) over target tokens
	Tokens  int     // number of target tokens
	// EmbedGrad is dL/d(input embeddings) [B·T, H] when requested; for GPT-2
	// the input embedding is wte[id] + wpe[pos].
	EmbedGrad []float32
}

// Mean returns the mean loss per target token (NaN when there is none), as
// Hugging Face's causal-LM loss reports it.
func (r Result) Mean() float64 {
	if r.Tokens == 0 {
		return math.NaN()
	}
	return r.SumLoss / float64(r.Tokens)
}

// Options control a training forward/backward pass.
type Options struct {
	// LossScale multiplies the gradients: they are those of
	// LossScale·SumLoss. Zero means 1/Tokens, the gradient of the mean.
	// With gradient accumulation pass 1/(target tokens of all micro-batches).
	LossScale float32
	// Recompute keeps only each layer's input during the forward pass and
	// recomputes the layer's activations in the backward pass, trading about
	// one more forward pass for memory.
	Recompute bool
	// EmbedGrad asks for dL/d(input embeddings) in the Result.
	EmbedGrad bool
	// Dropout turns on the dropout of adapters (lora_dropout) with masks
	// drawn from DropoutSeed; the base model itself never uses dropout.
	Dropout     bool
	DropoutSeed uint64
}

// newPass prepares the layout of a training or scoring pass (no cache).
// With a prefix the real tokens follow its P positions.
func (m *Model) newPass(b *Batch, noise Noise) *pass {
	ps := &pass{B: b.B, T: b.T, keyOK: b.Mask, noise: noise}
	if m.Prefix != nil {
		ps.past = m.Prefix.Shape[0]
		ps.keyOK = withPrefixMask(b.Mask, b.B, ps.past, b.T)
	}
	if m.invFreq != nil {
		ps.rope = newRopeTable(m.invFreq, ps.past, b.T)
	}
	return ps
}

// prepare validates b and, with prompt tuning, returns it with the virtual
// positions in front.
func (m *Model) prepare(b *Batch) (*Batch, error) {
	if err := b.validate(m.Config); err != nil {
		return nil, err
	}
	if err := m.checkVirtual(); err != nil {
		return nil, err
	}
	if P := m.virtualLen(); P > 0 && m.Config.Family == GPT2 && P+b.T > m.Config.MaxPositions {
		return nil, fmt.Errorf("model: %d virtual tokens + sequence length %d exceed n_positions = %d", P, b.T, m.Config.MaxPositions)
	}
	if m.Prompt != nil {
		return m.withPrompt(b), nil
	}
	return b, nil
}

// embed returns the input embeddings [N, H] of ids at positions past+t.
func (m *Model) embed(ids []int, T, past int) []float32 {
	H, w := m.Config.Hidden, m.Weights
	x := m.bufs.getRaw(len(ids) * H)
	for i, id := range ids {
		copy(x[i*H:(i+1)*H], w.Embed.Data[id*H:(id+1)*H])
		if w.Positions != nil {
			p := past + i%T
			addTo(x[i*H:(i+1)*H], w.Positions.Data[p*H:(p+1)*H])
		}
	}
	return x
}

// embedBackward adds dx [N, H] into the gradients of the embedding rows
// (and positions past…), in row order so the sum is reproducible. With
// prompt tuning the first P positions of each sequence are the prompt's.
func (m *Model) embedBackward(dx []float32, ids []int, T, past int) {
	H, w := m.Config.Hidden, m.Weights
	for i, id := range ids {
		g := dx[i*H : (i+1)*H]
		switch {
		case m.Prompt != nil && i%T < m.Prompt.Shape[0]:
			if p := i % T; m.Prompt.Grad != nil {
				addTo(m.Prompt.Grad[p*H:(p+1)*H], g)
			}
		case w.Embed.Grad != nil:
			addTo(w.Embed.Grad[id*H:(id+1)*H], g)
		}
		if w.Positions != nil && w.Positions.Grad != nil {
			p := past + i%T
			addTo(w.Positions.Grad[p*H:(p+1)*H], g)
		}
	}
}

// trunk runs the embedding, every layer and the final norm. It returns the
// final normed states hn [N, H] and the last layer's output, which the
// caller hands back to m.bufs. When keep is non-nil it is called with each
// layer's cache (only its input, when recompute is set) and returns whether
// it keeps it; caches not kept go back to m.bufs at once.
func (m *Model) trunk(b *Batch, ps *pass, keep func(li int, c *blockCache) bool, recompute bool) (hn, last, mean, rstd []float32) {
	N, H := ps.rows(), m.Config.Hidden
	x := m.embed(b.IDs, b.T, ps.past)
	if m.Prompt != nil {
		m.promptEmbed(x, b.B, b.T)
	}
	for li := range m.Weights.Blocks {
		c := &blockCache{}
		out := m.bufs.getRaw(N * H)
		m.blockForward(li, c, x, out, ps)
		switch {
		case keep == nil:
			m.release(c, true)
		case recompute:
			m.release(c, false)
			if !keep(li, &blockCache{x: x}) {
				m.bufs.put(x)
			}
		case !keep(li, c):
			m.release(c, true)
		}
		x = out
	}
	hn, mean, rstd = m.bufs.getRaw(N*H), m.bufs.getRaw(N), m.bufs.getRaw(N)
	m.Weights.FinalNorm.forward(hn, mean, rstd, x, N, m.Config.NormEps)
	return hn, x, mean, rstd
}

// Loss runs the forward pass only and returns the summed loss and the
// number of target tokens.
func (m *Model) Loss(b *Batch) (Result, error) {
	b, err := m.prepare(b)
	if err != nil {
		return Result{}, err
	}
	hn, last, mean, rstd := m.trunk(b, m.newPass(b, Noise{}), nil, false)
	sum, n := m.headLoss(hn, b.targets(), nil, 0)
	m.bufs.put(hn, last, mean, rstd)
	return Result{SumLoss: sum, Tokens: n}, nil
}

// Logits runs the forward pass and returns the logits [B·T, V] of the
// real tokens.
func (m *Model) Logits(b *Batch) ([]float32, error) {
	T := b.T
	b, err := m.prepare(b)
	if err != nil {
		return nil, err
	}
	hn, last, mean, rstd := m.trunk(b, m.newPass(b, Noise{}), nil, false)
	N, H, V := b.B*b.T, m.Config.Hidden, m.Config.VocabSize
	logits := make([]float32, N*V) // the caller's
	m.eng.Gemm(false, true, N, V, H, 1, hn, H, m.Weights.Head.Data, H, 0, logits, V)
	m.bufs.put(hn, last, mean, rstd)
	if b.T != T {
		logits = realRows(logits, b.B, b.T-T, T, V)
	}
	return logits, nil
}

// Backward runs the forward and backward passes, adding the gradients of
// opt.LossScale·SumLoss to every trainable parameter's Grad.
func (m *Model) Backward(b *Batch, opt Options) (Result, error) {
	T0 := b.T
	b, err := m.prepare(b)
	if err != nil {
		return Result{}, err
	}
	w, N, H := m.Weights, b.B*b.T, m.Config.Hidden
	ps := m.newPass(b, Noise{Train: opt.Dropout, Seed: opt.DropoutSeed})
	targets := b.targets()

	// Layers below the lowest one with a trainable parameter need no
	// backward pass unless the embeddings want a gradient.
	embedNeedsGrad := opt.EmbedGrad || w.Embed.Grad != nil || (w.Positions != nil && w.Positions.Grad != nil) ||
		(m.Prompt != nil && m.Prompt.Grad != nil)
	lowest := len(w.Blocks)
	if embedNeedsGrad || (m.Prefix != nil && m.Prefix.Grad != nil) {
		lowest = 0
	} else {
		for li := len(w.Blocks) - 1; li >= 0; li-- {
			if blockTrainable(w.Blocks[li]) {
				lowest = li
			}
		}
	}

	caches := make([]*blockCache, len(w.Blocks))
	hn, last, fmean, frstd := m.trunk(b, ps, func(li int, c *blockCache) bool {
		if li >= lowest {
			caches[li] = c
		}
		return li >= lowest
	}, opt.Recompute)

	tokens := 0
	for _, t := range targets {
		if t != IgnoreIndex {
			tokens++
		}
	}
	scale := opt.LossScale
	if scale == 0 && tokens > 0 {
		scale = float32(1 / float64(tokens))
	}
	dhn := m.bufs.get(N * H)
	sum, n := m.headLoss(hn, targets, dhn, scale)
	res := Result{SumLoss: sum, Tokens: n}

	var dx []float32
	if lowest < len(w.Blocks) || embedNeedsGrad {
		dx = m.bufs.get(N * H)
	}
	m.Weights.FinalNorm.backward(dx, dhn, last, fmean, frstd, N)
	m.bufs.put(hn, last, fmean, frstd, dhn)
	for li := len(w.Blocks) - 1; li >= lowest; li-- {
		c := caches[li]
		if opt.Recompute {
			full := &blockCache{}
			out := m.bufs.getRaw(N * H)
			m.blockForward(li, full, c.x, out, ps)
			m.bufs.put(out)
			c = full
		}
		var dxIn []float32
		if li > lowest || embedNeedsGrad {
			dxIn = m.bufs.get(N * H)
		}
		m.blockBackward(li, c, dx, dxIn, ps)
		// Free activations as soon as possible: the layer's input was the
		// layer below's output, needed by nothing else.
		m.release(c, true)
		caches[li] = nil
		m.bufs.put(dx)
		dx = dxIn
	}
	if embedNeedsGrad {
		m.embedBackward(dx, b.IDs, b.T, ps.past)
		if opt.EmbedGrad {
			if b.T != T0 {
				res.EmbedGrad = realRows(dx, b.B, b.T-T0, T0, H)
			} else {
				res.EmbedGrad = append([]float32(nil), dx...) // the caller's
			}
		}
	}
	m.bufs.put(dx)
	return res, nil
}

func blockTrainable(b *Block) bool {
	for _, p := range []*Param{b.Norm1.W, b.Norm1.B, b.Norm2.W, b.Norm2.B} {
		if p != nil && p.Grad != nil {
			return true
		}
	}
	for _, l := range b.Linears() {
		if l.trainable() {
			return true
		}
	}
	return false
}

// headChunkElems bounds the logits held at once (rows × vocabulary, 64 MiB),
// so a 150k-token vocabulary never needs a [N, V] buffer.
const headChunkElems = 1 << 24

// lossRowsPerTask is how many rows of logits one parallel task scores.
const lossRowsPerTask = 16

// headLoss computes the logits of the rows that have a target, their summed
// cross-entropy and, when dhn is non-nil, adds scale·dL/dhn to dhn and
// scale·dL/dHead to the head's gradient. It works in chunks of rows.
func (m *Model) headLoss(hn []float32, targets []int, dhn []float32, scale float32) (float64, int) {
	H, V := m.Config.Hidden, m.Config.VocabSize
	head := m.Weights.Head
	var rows []int
	for i, t := range targets {
		if t != IgnoreIndex {
			rows = append(rows, i)
		}
	}
	elems := headChunkElems
	if m.headChunk > 0 {
		elems = m.headChunk
	}
	chunk := max(1, min(len(rows), elems/V))
	// The products with the head. With several chunks the head is packed
	// once for all of them: packing costs as much as tens of rows of the
	// product, and a large vocabulary makes chunks short.
	logitsOf := func(n int, x, logits []float32) {
		m.eng.Gemm(false, true, n, V, H, 1, x, H, head.Data, H, 0, logits, V)
	}
	inputGrad := func(n int, logits, dx []float32) {
		m.eng.Gemm(false, false, n, H, V, 1, logits, V, head.Data, H, 0, dx, H)
	}
	if pk, ok := m.eng.(tensor.Packer); ok && len(rows) > chunk {
		buf := m.bufs.getRaw(pk.PackedLen(H, V))
		defer m.bufs.put(buf)
		fwd := pk.PackBInto(buf, true, H, V, head.Data, H)
		logitsOf = func(n int, x, logits []float32) { pk.GemmPacked(false, n, 1, x, H, fwd, 0, logits, V) }
		if dhn != nil {
			buf := m.bufs.getRaw(pk.PackedLen(V, H))
			defer m.bufs.put(buf)
			bwd := pk.PackBInto(buf, false, V, H, head.Data, H)
			inputGrad = func(n int, logits, dx []float32) { pk.GemmPacked(false, n, 1, logits, V, bwd, 0, dx, H) }
		}
	}
	var sum float64
	for start := 0; start < len(rows); start += chunk {
		rs := rows[start:min(start+chunk, len(rows))]
		n := len(rs)
		x := m.bufs.getRaw(n * H)
		for i, r := range rs {
			copy(x[i*H:(i+1)*H], hn[r*H:(r+1)*H])
		}
		logits := m.bufs.getRaw(n * V)
		logitsOf(n, x, logits)
		// Rows in parallel, each loss in its own slot, summed in row order.
		losses := make([]float64, n)
		tensor.Parallel((n+lossRowsPerTask-1)/lossRowsPerTask, func(t int) {
			for i := t * lossRowsPerTask; i < min(n, (t+1)*lossRowsPerTask); i++ {
				losses[i] = crossEntropy(logits[i*V:(i+1)*V], targets[rs[i]], dhn != nil, scale)
			}
		})
		for _, l := range losses {
			sum += l
		}
		if dhn != nil {
			dx := m.bufs.getRaw(n * H)
			inputGrad(n, logits, dx)
			for i, r := range rs {
				addTo(dhn[r*H:(r+1)*H], dx[i*H:(i+1)*H])
			}
			m.bufs.put(dx)
			if head.Grad != nil {
				m.eng.Gemm(true, false, V, H, n, 1, logits, V, x, H, 1, head.Grad, H)
			}
		}
		m.bufs.put(x, logits)
	}
	return sum, len(rows)
}

// crossEntropy returns -log softmax(logits)[target] (the sum in float64);
// with grad it overwrites logits by scale·(softmax − onehot(target)).
func crossEntropy(logits []float32, target int, grad bool, scale float32) float64 {
	return tensor.LogSoftmaxLoss(logits, target, grad, scale)
}
