package model

import (
	"fmt"
	"math"
	"testing"

	"github.com/lorafn/lorafn/internal/torchref"
)

// TestMatchesPyTorch builds each tiny model in PyTorch from the same
// safetensors file and compares loss, logits, the input-embedding gradient
// and every parameter gradient. Tolerances (float32): relative error 1e-5 on
// loss and logits, 1e-4 on gradients, where relative error is the largest
// absolute difference over the tensor's largest magnitude.
func TestMatchesPyTorch(t *testing.T) {
	torchref.Python(t)
	for name := range tinyConfigs {
		t.Run(name, func(t *testing.T) {
			m := tinyModel(t, name, 21)
			dir := t.TempDir()
			if err := m.Save(dir); err != nil {
				t.Fatal(err)
			}
			// Two sequences, the second right-padded, with some labels ignored.
			b := randomBatch(m.Config, 2, 9, []int{9, 6}, 22)
			b.Labels = make([]int, len(b.IDs))
			for i, id := range b.IDs {
				b.Labels[i] = id
				if !b.Mask[i] || i%5 == 2 {
					b.Labels[i] = IgnoreIndex
				}
			}
			want := torchref.Run(t, dir, torchCase(b))

			m.SetTrainable(allTrainable)
			res, err := m.Backward(b, Options{EmbedGrad: true})
			if err != nil {
				t.Fatal(err)
			}
			if e := math.Abs(res.Mean()-want.Loss) / math.Abs(want.Loss); e > 1e-5 {
				t.Errorf("loss %.9g, PyTorch %.9g (relative error %.2g)", res.Mean(), want.Loss, e)
			}
			logits, err := m.Logits(b)
			if err != nil {
				t.Fatal(err)
			}
			var worst float64 // largest relative error seen, for the log
			check := func(what string, got []float32, want []float64, tol float64) {
				t.Helper()
				e := relErr(got, f32(want))
				if e > tol {
					t.Errorf("%s: relative error %.3g > %g", what, e, tol)
				}
				worst = max(worst, e)
			}
			check("logits", logits, want.Logits, 1e-5)
			check("d loss/d embeddings", res.EmbedGrad, want.EmbedsGrad, 1e-4)
			for _, p := range m.Params() {
				g, ok := want.Grads[p.Name]
				if !ok {
					t.Errorf("PyTorch reported no gradient for %s", p.Name)
					continue
				}
				check(fmt.Sprintf("gradient of %s", p.Name), p.Grad, g, 1e-4)
			}
			t.Logf("loss %.9g vs PyTorch %.9g; worst tensor relative error %.2g", res.Mean(), want.Loss, worst)
			if len(want.Grads) != len(m.Params()) {
				t.Errorf("PyTorch has %d parameters, lorafn %d", len(want.Grads), len(m.Params()))
			}
		})
	}
}

func torchCase(b *Batch) torchref.Case {
	var c torchref.Case
	for s := 0; s < b.B; s++ {
		row := b.IDs[s*b.T : (s+1)*b.T]
		c.InputIDs = append(c.InputIDs, row)
		if b.Mask != nil {
			mask := make([]int, b.T)
			for t, ok := range b.Mask[s*b.T : (s+1)*b.T] {
				if ok {
					mask[t] = 1
				}
			}
			c.AttentionMask = append(c.AttentionMask, mask)
		}
		if b.Labels != nil {
			c.Labels = append(c.Labels, b.Labels[s*b.T:(s+1)*b.T])
		}
	}
	return c
}

func f32(xs []float64) []float32 {
	out := make([]float32, len(xs))
	for i, v := range xs {
		out[i] = float32(v)
	}
	return out
}
