package model

import (
	"math"
	"testing"

	"github.com/lorafn/lorafn/core/tensor"
)

// TestAttentionBlocksMatchReference runs attention over several causal row
// blocks (and a ragged last one), with a prefix, GQA and padded keys, and
// compares the output and every gradient with a direct float64
// computation of softmax(q·kᵀ/√d + mask)·v and its derivatives.
func TestAttentionBlocksMatchReference(t *testing.T) {
	dim := attnDims{heads: 4, kvHeads: 2, d: 8}
	for _, past := range []int{0, 3} {
		tq := 2*causalBlock + 5
		tk := past + tq
		qs, ks := dim.heads*dim.d, dim.kvHeads*dim.d
		rng := newTestRNG(uint64(7 + past))
		q, k, v, dout := randVec(rng, tq*qs, 1), randVec(rng, tk*ks, 1), randVec(rng, tk*ks, 1), randVec(rng, tq*qs, 1)
		keyOK := make([]bool, tk)
		for j := range keyOK {
			keyOK[j] = j%7 != 4
		}
		s := &attnSeq{q: q, k: k, v: v, out: make([]float32, tq*qs), probs: make([]float32, dim.heads*tq*tk),
			tq: tq, tk: tk, past: past, keyOK: keyOK}
		for h := 0; h < dim.heads; h++ {
			attnForward(tensor.Fast{}, dim, s, h)
		}
		dq, dk, dv := make([]float32, tq*qs), make([]float32, tk*ks), make([]float32, tk*ks)
		for kvh := 0; kvh < dim.kvHeads; kvh++ {
			attnBackward(tensor.Fast{}, dim, s, kvh, dout, dq, dk, dv, make([]float32, tq*tk))
		}

		// The reference, head by head, in float64.
		wantOut, wantDq := make([]float64, tq*qs), make([]float64, tq*qs)
		wantDk, wantDv := make([]float64, tk*ks), make([]float64, tk*ks)
		scale := 1 / math.Sqrt(float64(dim.d))
		for h := 0; h < dim.heads; h++ {
			kvh := h / dim.group()
			for i := 0; i < tq; i++ {
				qi := q[i*qs+h*dim.d:]
				p := make([]float64, tk)
				mx := math.Inf(-1)
				for j := 0; j <= past+i; j++ {
					if !keyOK[j] {
						continue
					}
					var dot float64
					for c := 0; c < dim.d; c++ {
						dot += float64(qi[c]) * float64(k[j*ks+kvh*dim.d+c])
					}
					p[j] = dot * scale
					mx = math.Max(mx, p[j])
				}
				var sum float64
				for j := 0; j <= past+i; j++ {
					if keyOK[j] {
						p[j] = math.Exp(p[j] - mx)
						sum += p[j]
					}
				}
				dp := make([]float64, tk)
				var rowDot float64
				for j := 0; j <= past+i; j++ {
					if !keyOK[j] {
						continue
					}
					p[j] /= sum
					for c := 0; c < dim.d; c++ {
						wantOut[i*qs+h*dim.d+c] += p[j] * float64(v[j*ks+kvh*dim.d+c])
						dp[j] += float64(dout[i*qs+h*dim.d+c]) * float64(v[j*ks+kvh*dim.d+c])
						wantDv[j*ks+kvh*dim.d+c] += p[j] * float64(dout[i*qs+h*dim.d+c])
					}
					rowDot += p[j] * dp[j]
				}
				for j := 0; j <= past+i; j++ {
					ds := p[j] * (dp[j] - rowDot) * scale
					for c := 0; c < dim.d; c++ {
						wantDq[i*qs+h*dim.d+c] += ds * float64(k[j*ks+kvh*dim.d+c])
						wantDk[j*ks+kvh*dim.d+c] += ds * float64(qi[c])
					}
				}
			}
		}
		for _, c := range []struct {
			name string
			got  []float32
			want []float64
		}{{"out", s.out, wantOut}, {"dq", dq, wantDq}, {"dk", dk, wantDk}, {"dv", dv, wantDv}} {
			for i, w := range c.want {
				if d := math.Abs(float64(c.got[i]) - w); d > 1e-5*(1+math.Abs(w)) {
					t.Fatalf("past %d: %s[%d] = %v, reference %v", past, c.name, i, c.got[i], w)
				}
			}
		}
	}
}
