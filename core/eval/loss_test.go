package eval

import (
	"context"
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/lorafn/lorafn/core/model"
	"github.com/lorafn/lorafn/core/train"
)

// lossSet mixes prompt/completion examples, plain text (nil labels) and
// lengths that force padding inside a batch.
func lossSet(V int, seed uint64) train.Examples {
	rng := rand.New(rand.NewPCG(seed, 1))
	var exs train.Examples
	for i := range 7 {
		switch i % 3 {
		case 0:
			exs = append(exs, train.Example{IDs: randomIDs(rng, 5+rng.IntN(12), V)})
		default:
			exs = append(exs, promptAnswer(randomIDs(rng, 2+rng.IntN(8), V), randomIDs(rng, 1+rng.IntN(4), V)))
		}
	}
	return exs
}

func TestLossIsExpOfMeanAgainstIndependentLogSoftmax(t *testing.T) {
	for name, cfg := range map[string]string{"llama": tinyLlama, "gpt2": tinyGPT2} {
		t.Run(name, func(t *testing.T) {
			m := newModel(t, cfg, 3)
			exs := lossSet(m.Config.VocabSize, 4)
			var sum float64
			tokens := 0
			for _, ex := range exs {
				s, n := refSumLoss(t, m, ex)
				sum += s
				tokens += n
			}
			want := sum / float64(tokens)
			for _, bs := range []int{1, 3, 100} {
				got, err := Loss(context.Background(), m, exs, LossOptions{BatchSize: bs})
				if err != nil {
					t.Fatal(err)
				}
				if got.Tokens != tokens || got.Examples != len(exs) {
					t.Fatalf("batch %d: %d tokens %d examples, want %d and %d", bs, got.Tokens, got.Examples, tokens, len(exs))
				}
				if !near(got.Loss, want, 1e-5) {
					t.Errorf("batch %d: loss %.8f, independent %.8f", bs, got.Loss, want)
				}
				if !near(got.Perplexity, math.Exp(want), 1e-5) {
					t.Errorf("batch %d: perplexity %.8f, exp(independent mean) %.8f", bs, got.Perplexity, math.Exp(want))
				}
			}
		})
	}
}

func TestLossSeqLenCutsLikeTraining(t *testing.T) {
	m := newModel(t, tinyLlama, 5)
	exs := lossSet(m.Config.VocabSize, 6)
	const seqLen = 6
	var sum float64
	tokens := 0
	for _, ex := range exs {
		cut := train.Example{IDs: ex.IDs[:min(seqLen, len(ex.IDs))]}
		if ex.Labels != nil {
			cut.Labels = ex.Labels[:len(cut.IDs)]
		}
		s, n := refSumLoss(t, m, cut)
		sum += s
		tokens += n
	}
	got, err := Loss(context.Background(), m, exs, LossOptions{BatchSize: 4, SeqLen: seqLen})
	if err != nil {
		t.Fatal(err)
	}
	if got.Tokens != tokens || !near(got.Loss, sum/float64(tokens), 1e-5) {
		t.Errorf("cut to %d: loss %.8f over %d tokens, independent %.8f over %d", seqLen, got.Loss, got.Tokens, sum/float64(tokens), tokens)
	}
}

func TestLossErrors(t *testing.T) {
	m := newModel(t, tinyLlama, 5)
	noTarget := train.Examples{{IDs: []int{4, 5, 6}, Labels: []int{model.IgnoreIndex, model.IgnoreIndex, model.IgnoreIndex}}}
	if _, err := Loss(context.Background(), m, noTarget, LossOptions{}); err == nil || !strings.Contains(err.Error(), "no target token") {
		t.Errorf("no target: err = %v", err)
	}
	bad := train.Examples{{IDs: []int{4, 5}}, {IDs: []int{4, 500}}}
	if _, err := Loss(context.Background(), m, bad, LossOptions{BatchSize: 1}); err == nil || !strings.Contains(err.Error(), "examples 1..1") {
		t.Errorf("bad id: err = %v, want the example named", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Loss(ctx, m, lossSet(61, 1), LossOptions{}); err != context.Canceled {
		t.Errorf("cancelled: err = %v", err)
	}
}

func TestSampleIsEvenAndStable(t *testing.T) {
	ds := make(train.Examples, 10)
	for i := range ds {
		ds[i] = train.Example{IDs: []int{i}}
	}
	s := Sample(ds, 4)
	want := []int{0, 2, 5, 7}
	if len(s.Indices) != len(want) {
		t.Fatalf("indices %v, want %v", s.Indices, want)
	}
	for i, w := range want {
		ex, _ := s.Example(i)
		if s.Indices[i] != w || ex.IDs[0] != w {
			t.Fatalf("indices %v, want %v", s.Indices, want)
		}
	}
	if all := Sample(ds, 0); all.Len() != 10 {
		t.Errorf("n = 0: %d examples, want all 10", all.Len())
	}
	if all := Sample(ds, 50); all.Len() != 10 {
		t.Errorf("n = 50: %d examples, want all 10", all.Len())
	}
}
