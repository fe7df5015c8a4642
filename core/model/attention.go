package model

import (
	"math"

	"github.com/lorafn/lorafn/core/tensor"
)

// attnDims fixes the head layout: q rows hold heads·d values, k and v rows
// kvHeads·d; query head h reads key/value head h/(heads/kvHeads) (GQA).
type attnDims struct {
	heads, kvHeads, d int
}

func (a attnDims) group() int { return a.heads / a.kvHeads }

// attnSeq describes one sequence's attention: tq queries at absolute
// positions past … past+tq-1 against tk = past+tq keys. Query i may attend to
// key j when j ≤ past+i and keyOK[j] (keyOK nil means every key is real).
type attnSeq struct {
	q, k, v []float32 // [tq, heads·d], [tk, kvHeads·d], [tk, kvHeads·d]
	out     []float32 // [tq, heads·d]
	probs   []float32 // [heads, tq, tk], saved for the backward pass
	tq, tk  int
	past    int
	keyOK   []bool
}

// causalBlock is how many query rows share one product in the attention
// passes. Query row i sees keys 0 … past+i only, so a block of rows
// [i0, i1) needs keys 0 … past+i1-1: cutting the rows into blocks skips most
// of the masked upper triangle of q·kᵀ and of every product after it. The
// skipped terms are exact zeros at the end (or, for the key gradients, the
// start) of each fused multiply-add chain, so blocking changes no bit of the
// result. A multiple of every kernel's row tile (12, 6, 8) avoids edge tiles.
const causalBlock = 48

// rowBlocks calls f for each block [i0, i1) of tq query rows.
func rowBlocks(tq int, f func(i0, i1 int)) {
	for i0 := 0; i0 < tq; i0 += causalBlock {
		f(i0, min(i0+causalBlock, tq))
	}
}

// attnForward computes softmax(q·kᵀ/√d + mask)·v for head h of s. Row i of
// the saved probabilities is zero from key past+i+1 to the end of its row
// block; entries further right are never read.
func attnForward(eng tensor.Backend, dim attnDims, s *attnSeq, h int) {
	d, tq, tk, past := dim.d, s.tq, s.tk, s.past
	qs, ks := dim.heads*d, dim.kvHeads*d
	kvh := h / dim.group()
	p := s.probs[h*tq*tk : (h+1)*tq*tk]
	scale := float32(1 / math.Sqrt(float64(d)))
	negInf := float32(math.Inf(-1))
	rowBlocks(tq, func(i0, i1 int) {
		keys := past + i1
		eng.Gemm(false, true, i1-i0, keys, d, scale, s.q[i0*qs+h*d:], qs, s.k[kvh*d:], ks, 0, p[i0*tk:], tk)
		for i := i0; i < i1; i++ {
			row := p[i*tk : i*tk+keys]
			n := past + i + 1
			if s.keyOK != nil {
				for j, ok := range s.keyOK[:n] {
					if !ok {
						row[j] = negInf
					}
				}
			}
			softmaxRow(row[:n])
			clear(row[n:])
		}
		eng.Gemm(false, false, i1-i0, d, keys, 1, p[i0*tk:], tk, s.v[kvh*d:], ks, 0, s.out[i0*qs+h*d:], qs)
	})
}

// attnBackward computes the gradients of key/value head kvh and of the query
// heads it serves, from dout [tq, heads·d]. dq is overwritten for those
// heads; dk and dv are accumulated (+=), heads in increasing order, so the
// result does not depend on scheduling. dp [tq·tk] is scratch.
func attnBackward(eng tensor.Backend, dim attnDims, s *attnSeq, kvh int, dout, dq, dk, dv, dp []float32) {
	d, tq, tk, past := dim.d, s.tq, s.tk, s.past
	qs, ks := dim.heads*d, dim.kvHeads*d
	scale := float32(1 / math.Sqrt(float64(d)))
	for h := kvh * dim.group(); h < (kvh+1)*dim.group(); h++ {
		p := s.probs[h*tq*tk : (h+1)*tq*tk]
		// Per row block: dP = dO·Vᵀ, then dS = P ⊙ (dP − rowsum(dP ⊙ P)),
		// zero right of the causal edge like P; then dQ = scale·dS·K.
		rowBlocks(tq, func(i0, i1 int) {
			keys := past + i1
			eng.Gemm(false, true, i1-i0, keys, d, 1, dout[i0*qs+h*d:], qs, s.v[kvh*d:], ks, 0, dp[i0*tk:], tk)
			for i := i0; i < i1; i++ {
				n := past + i + 1
				dr := dp[i*tk : i*tk+keys]
				tensor.SoftmaxBackward(dr[:n], p[i*tk:i*tk+n])
				clear(dr[n:])
			}
			eng.Gemm(false, false, i1-i0, d, keys, scale, dp[i0*tk:], tk, s.k[kvh*d:], ks, 0, dq[i0*qs+h*d:], qs)
		})
		// dV += Pᵀ·dO and dK += scale·dSᵀ·Q, per block of keys: the keys
		// of the past (a prefix) are seen by every query, key past+j by
		// queries j … tq-1 only.
		keyBlock := func(j0, j1, i0 int) {
			eng.Gemm(true, false, j1-j0, d, tq-i0, 1, p[i0*tk+j0:], tk, dout[i0*qs+h*d:], qs, 1, dv[j0*ks+kvh*d:], ks)
			eng.Gemm(true, false, j1-j0, d, tq-i0, scale, dp[i0*tk+j0:], tk, s.q[i0*qs+h*d:], qs, 1, dk[j0*ks+kvh*d:], ks)
		}
		if past > 0 {
			keyBlock(0, past, 0)
		}
		rowBlocks(tq, func(i0, i1 int) { keyBlock(past+i0, past+i1, i0) })
	}
}
