package model

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
)

// KVCache holds the keys and values (after RoPE) of the tokens already seen
// by one sequence, so each generated token costs one row of work.
type KVCache struct {
	k, v  [][]float32 // per layer [max, kvHeads·d]
	len   int
	max   int
	width int
}

// NewKVCache returns an empty cache for up to maxLen tokens. With prompt or
// prefix tuning it has room for the P virtual positions too; a prefix fills
// them at once, a prompt with the first Extend.
func (m *Model) NewKVCache(maxLen int) *KVCache {
	P := m.virtualLen()
	maxLen += P
	c := &KVCache{max: maxLen, width: m.Config.KVHeads * m.Config.HeadDim}
	for li := range m.Weights.Blocks {
		c.k = append(c.k, make([]float32, maxLen*c.width))
		c.v = append(c.v, make([]float32, maxLen*c.width))
		if m.Prefix != nil {
			k, v := m.prefixKV(li)
			copy(c.k[li], k)
			copy(c.v[li], v)
		}
	}
	if m.Prefix != nil {
		c.len = P
	}
	return c
}

// Len returns the number of cached positions, virtual ones (a prefix, a
// prompt once fed) included.
func (c *KVCache) Len() int { return c.len }

// appendLayer stores layer li's new keys and values at rows past… and
// returns the views of all cached rows.
func (c *KVCache) appendLayer(li, past int, k, v []float32) ([]float32, []float32) {
	copy(c.k[li][past*c.width:], k)
	copy(c.v[li][past*c.width:], v)
	end := (past + len(k)/c.width) * c.width
	return c.k[li][:end], c.v[li][:end]
}

// Extend feeds ids after the cached tokens and returns the logits [V] of
// the last one.
func (m *Model) Extend(c *KVCache, ids []int) ([]float32, error) {
	if len(ids) == 0 {
		return nil, errors.New("model: extend: no tokens")
	}
	if c.len+len(ids) > c.max {
		return nil, fmt.Errorf("model: extend: %d cached + %d new tokens exceed the cache size %d", c.len, len(ids), c.max)
	}
	if m.Config.Family == GPT2 && c.len+len(ids) > m.Config.MaxPositions {
		return nil, fmt.Errorf("model: extend: position %d exceeds n_positions = %d", c.len+len(ids)-1, m.Config.MaxPositions)
	}
	for i, id := range ids {
		if id < 0 || id >= m.Config.VocabSize {
			return nil, fmt.Errorf("model: extend: token %d: id %d outside vocabulary [0, %d)", i, id, m.Config.VocabSize)
		}
	}
	if err := m.checkVirtual(); err != nil {
		return nil, err
	}
	prompt := m.Prompt != nil && c.len == 0
	if prompt { // the virtual tokens go first
		P := m.Prompt.Shape[0]
		ids = append(make([]int, P), ids...)
		if c.len+len(ids) > c.max || (m.Config.Family == GPT2 && len(ids) > m.Config.MaxPositions) {
			return nil, fmt.Errorf("model: extend: %d virtual + %d new tokens exceed the cache size %d or the positions", P, len(ids)-P, c.max)
		}
	}
	T, H, V := len(ids), m.Config.Hidden, m.Config.VocabSize
	ps := &pass{B: 1, T: T, past: c.len, kv: c}
	if m.invFreq != nil {
		ps.rope = newRopeTable(m.invFreq, c.len, T)
	}
	x := m.embed(ids, T, c.len)
	if prompt {
		m.promptEmbed(x, 1, T)
	}
	for li := range m.Weights.Blocks {
		out := m.bufs.getRaw(T * H)
		bc := &blockCache{}
		m.blockForward(li, bc, x, out, ps) // keys and values are copied into c
		m.release(bc, true)
		x = out
	}
	c.len += T
	last := x[(T-1)*H:]
	hn, mean, rstd := m.bufs.getRaw(H), m.bufs.getRaw(1), m.bufs.getRaw(1)
	m.Weights.FinalNorm.forward(hn, mean, rstd, last, 1, m.Config.NormEps)
	logits := make([]float32, V) // the caller's
	m.eng.Gemm(false, true, 1, V, H, 1, hn, H, m.Weights.Head.Data, H, 0, logits, V)
	m.bufs.put(x, hn, mean, rstd)
	return logits, nil
}

// Sampling chooses the next token from logits.
//
// Temperature 0 is greedy decoding (the first maximum). Otherwise logits
// are divided by Temperature, restricted to the TopK largest (0: all), then
// to the smallest set of most probable tokens whose probability reaches TopP
// (0 or 1: all), renormalised, and sampled with a PCG generator seeded by
// Seed: the same inputs always give the same tokens.
type Sampling struct {
	Temperature float64
	TopK        int
	TopP        float64
	Seed        uint64
}

// GenerateOptions control Generate.
type GenerateOptions struct {
	MaxNewTokens int
	Sampling
	// Stop ends generation after any of these ids (default: config.json's
	// eos_token_id). The stop token is included in the output.
	Stop []int
}

// Generate continues prompt and returns the new token ids.
func (m *Model) Generate(ctx context.Context, prompt []int, opt GenerateOptions) ([]int, error) {
	if opt.MaxNewTokens <= 0 {
		return nil, fmt.Errorf("model: generate: max new tokens %d must be positive", opt.MaxNewTokens)
	}
	if opt.Temperature < 0 || opt.TopK < 0 || opt.TopP < 0 || opt.TopP > 1 {
		return nil, fmt.Errorf("model: generate: invalid sampling %+v", opt.Sampling)
	}
	stop := opt.Stop
	if stop == nil {
		stop = m.Config.EOS
	}
	total := len(prompt) + opt.MaxNewTokens
	if m.Config.Family == GPT2 {
		total = min(total, m.Config.MaxPositions-m.virtualLen())
	}
	cache := m.NewKVCache(total)
	rng := rand.New(rand.NewPCG(opt.Seed, 0x73616d706c65)) // "sample"
	var out []int
	next := prompt
	for len(out) < opt.MaxNewTokens && cache.Len()-m.virtualLen()+len(next) <= total {
		if err := ctx.Err(); err != nil {
			return out, err
		}
		logits, err := m.Extend(cache, next)
		if err != nil {
			return out, err
		}
		id := sample(logits, opt.Sampling, rng)
		out = append(out, id)
		if slices.Contains(stop, id) {
			break
		}
		next = []int{id}
	}
	return out, nil
}

// sample picks a token from logits as documented on Sampling.
func sample(logits []float32, s Sampling, rng *rand.Rand) int {
	if s.Temperature == 0 {
		best := 0
		for i, v := range logits {
			if v > logits[best] {
				best = i
			}
		}
		return best
	}
	idx := make([]int, len(logits))
	for i := range idx {
		idx[i] = i
	}
	// Stable sort by decreasing logit: ties keep the lower id first.
	sort.SliceStable(idx, func(a, b int) bool { return logits[idx[a]] > logits[idx[b]] })
	if s.TopK > 0 && s.TopK < len(idx) {
		idx = idx[:s.TopK]
	}
	probs := make([]float64, len(idx))
	mx := float64(logits[idx[0]]) / s.Temperature
	var sum float64
	for i, id := range idx {
		probs[i] = math.Exp(float64(logits[id])/s.Temperature - mx)
		sum += probs[i]
	}
	if s.TopP > 0 && s.TopP < 1 {
		var cum float64
		for i, p := range probs {
			cum += p / sum
			if cum >= s.TopP {
				idx, probs = idx[:i+1], probs[:i+1]
				break
			}
		}
		sum = 0
		for _, p := range probs {
			sum += p
		}
	}
	u := rng.Float64() * sum
	for i, p := range probs {
		u -= p
		if u < 0 {
			return idx[i]
		}
	}
	return idx[len(idx)-1]
}
