package eval

import (
	"context"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/lorafn/lorafn/core/model"
	"github.com/lorafn/lorafn/core/train"
)

// greedyRef continues prompt by n tokens, taking the argmax of the last row
// of a full forward pass each time (no KV cache) and stopping after EOS.
func greedyRef(t *testing.T, m *model.Model, prompt []int, n int) []int {
	t.Helper()
	V := m.Config.VocabSize
	seq := slices.Clone(prompt)
	var out []int
	for range n {
		logits, err := m.Logits(&model.Batch{B: 1, T: len(seq), IDs: seq})
		if err != nil {
			t.Fatal(err)
		}
		last := logits[(len(seq)-1)*V:]
		best := 0
		for i, v := range last {
			if v > last[best] {
				best = i
			}
		}
		out = append(out, best)
		seq = append(seq, best)
		if slices.Contains(m.Config.EOS, best) {
			break
		}
	}
	return out
}

func TestExactMatchOnTinyModel(t *testing.T) {
	m := newModel(t, tinyLlama, 31)
	V := m.Config.VocabSize
	rng := rand.New(rand.NewPCG(5, 5))
	var ds train.Examples
	var want []bool
	for i := range 8 {
		prompt := randomIDs(rng, 3+rng.IntN(6), V)
		answer := greedyRef(t, m, prompt, 1+i%4)
		match := i%2 == 0
		if !match { // change one token: the greedy model cannot produce it
			j := rng.IntN(len(answer))
			answer[j] = 3 + (answer[j]-3+1+rng.IntN(V-4))%(V-3)
		}
		ds = append(ds, promptAnswer(prompt, answer))
		want = append(want, match)
	}
	// An answer that ends with EOS matches a generation that stops there.
	prompt := randomIDs(rng, 4, V)
	eosAnswer := append(greedyRef(t, m, prompt, 2), m.Config.EOS[0])
	if slices.Contains(m.Config.EOS, eosAnswer[0]) {
		t.Fatal("pick another seed: the greedy continuation starts with EOS")
	}
	ds = append(ds, promptAnswer(prompt, eosAnswer))
	want = append(want, false) // the model continues instead of emitting EOS here
	task, err := Tasks(ds, ClassRule{})
	if err != nil {
		t.Fatal(err)
	}
	if task.Classes != nil {
		t.Fatalf("distinct answers must make a completion task, got classes %v", task.Classes)
	}
	got, err := ExactMatch(context.Background(), m, task, TaskOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.Matched, want) {
		t.Errorf("matched %v, want %v", got.Matched, want)
	}
	if got.Matches != 4 || got.Examples != 9 || !eq(got.ExactMatch, 4.0/9) {
		t.Errorf("%d/%d = %v, want 4/9", got.Matches, got.Examples, got.ExactMatch)
	}
	capped, err := ExactMatch(context.Background(), m, task, TaskOptions{MaxExamples: 3})
	if err != nil {
		t.Fatal(err)
	}
	if capped.Examples != 3 || capped.Matches != 2 {
		t.Errorf("MaxExamples 3: %d/%d, want 2/3", capped.Matches, capped.Examples)
	}
}

func TestExactMatchStopsAtEOS(t *testing.T) {
	// Make EOS the greedy choice after the prompt by giving it a large
	// head row: the answer [EOS] matches, and [EOS, x] does not, because
	// generation stops after EOS.
	m := newModel(t, tinyLlama, 41)
	eos, H := m.Config.EOS[0], m.Config.Hidden
	head := m.Weights.Head.Data
	prompt := []int{7, 8, 9}
	logits, err := m.Logits(&model.Batch{B: 1, T: len(prompt), IDs: prompt})
	if err != nil {
		t.Fatal(err)
	}
	// Copy the row of the current favourite to EOS and scale it up.
	V := m.Config.VocabSize
	last := logits[(len(prompt)-1)*V:]
	best := 0
	for i, v := range last {
		if v > last[best] {
			best = i
		}
	}
	if last[best] <= 0 {
		t.Fatal("pick another seed: the best logit is not positive")
	}
	for j := range H {
		head[eos*H+j] = 2 * head[best*H+j]
	}
	task := &Task{Examples: []TaskExample{{Prompt: prompt, Answer: []int{eos}}, {Prompt: prompt, Answer: []int{eos, 5}}}}
	got, err := ExactMatch(context.Background(), m, task, TaskOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.Matched, []bool{true, false}) {
		t.Errorf("matched %v, want [true false]", got.Matched)
	}
}
