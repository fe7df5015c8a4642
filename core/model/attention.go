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

// attnForward computes softmax(q·kᵀ/√d + mask)·v for head h of s.
func attnForward(eng tensor.Backend, dim attnDims, s *attnSeq, h int) {
	d, tq, tk := dim.d, s.tq, s.tk
	qs, ks := dim.heads*d, dim.kvHeads*d
	kvh := h / dim.group()
	p := s.probs[h*tq*tk : (h+1)*tq*tk]
	scale := float32(1 / math.Sqrt(float64(d)))
	eng.Gemm(false, true, tq, tk, d, scale, s.q[h*d:], qs, s.k[kvh*d:], ks, 0, p, tk)
	negInf := float32(math.Inf(-1))
	for i := 0; i < tq; i++ {
		row := p[i*tk : (i+1)*tk]
		for j := range row {
			if j > s.past+i || (s.keyOK != nil && !s.keyOK[j]) {
				row[j] = negInf
			}
		}
		softmaxRow(row)
	}
	eng.Gemm(false, false, tq, d, tk, 1, p, tk, s.v[kvh*d:], ks, 0, s.out[h*d:], qs)
}

// attnBackward computes the gradients of key/value head kvh and of the query
// heads it serves, from dout [tq, heads·d]. dq is overwritten for those
// heads; dk and dv are accumulated (+=), heads in increasing order, so the
// result does not depend on scheduling.
func attnBackward(eng tensor.Backend, dim attnDims, s *attnSeq, kvh int, dout, dq, dk, dv []float32) {
	attnBackwardIn(eng, dim, s, kvh, dout, dq, dk, dv, make([]float32, s.tq*s.tk))
}

// attnBackwardIn is attnBackward with its scratch dp [tq·tk] given.
func attnBackwardIn(eng tensor.Backend, dim attnDims, s *attnSeq, kvh int, dout, dq, dk, dv, dp []float32) {
	d, tq, tk := dim.d, s.tq, s.tk
	qs, ks := dim.heads*d, dim.kvHeads*d
	scale := float32(1 / math.Sqrt(float64(d)))
	for h := kvh * dim.group(); h < (kvh+1)*dim.group(); h++ {
		p := s.probs[h*tq*tk : (h+1)*tq*tk]
		// dV += Pᵀ·dO
		eng.Gemm(true, false, tk, d, tq, 1, p, tk, dout[h*d:], qs, 1, dv[kvh*d:], ks)
		// dP = dO·Vᵀ, then dS = P ⊙ (dP − rowsum(dP ⊙ P))
		eng.Gemm(false, true, tq, tk, d, 1, dout[h*d:], qs, s.v[kvh*d:], ks, 0, dp, tk)
		for i := 0; i < tq; i++ {
			pr, dr := p[i*tk:(i+1)*tk], dp[i*tk:(i+1)*tk]
			var dot float64
			for j, pv := range pr {
				dot += float64(pv) * float64(dr[j])
			}
			for j, pv := range pr {
				dr[j] = float32(float64(pv) * (float64(dr[j]) - dot))
			}
		}
		// dQ = scale·dS·K; dK += scale·dSᵀ·Q
		eng.Gemm(false, false, tq, d, tk, scale, dp, tk, s.k[kvh*d:], ks, 0, dq[h*d:], qs)
		eng.Gemm(true, false, tk, d, tq, scale, dp, tk, s.q[h*d:], qs, 1, dk[kvh*d:], ks)
	}
}
