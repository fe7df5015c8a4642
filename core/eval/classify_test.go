package eval

import (
	"context"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/lorafn/lorafn/core/model"
	"github.com/lorafn/lorafn/core/train"
)

// bruteScore is −model.Loss of prompt+candidate scored alone: the summed
// log-likelihood of the candidate, one forward pass per candidate.
func bruteScore(t *testing.T, m *model.Model, prompt, cand []int) float64 {
	t.Helper()
	ex := promptAnswer(prompt, cand)
	res, err := m.Loss(&model.Batch{B: 1, T: len(ex.IDs), IDs: ex.IDs, Labels: ex.Labels})
	if err != nil {
		t.Fatal(err)
	}
	if res.Tokens != len(cand) {
		t.Fatalf("%d target tokens, want %d", res.Tokens, len(cand))
	}
	return -res.SumLoss
}

// classTask builds n examples with random prompts whose answers cycle
// through classes.
func classTask(V, n int, classes [][]int, seed uint64) train.Examples {
	rng := rand.New(rand.NewPCG(seed, 2))
	var ds train.Examples
	for i := range n {
		ds = append(ds, promptAnswer(randomIDs(rng, 2+rng.IntN(9), V), classes[i%len(classes)]))
	}
	return ds
}

func TestRankClassificationMatchesBruteForce(t *testing.T) {
	for name, cfg := range map[string]string{"llama": tinyLlama, "gpt2": tinyGPT2} {
		t.Run(name, func(t *testing.T) {
			m := newModel(t, cfg, 11)
			classes := [][]int{{7}, {9, 13}, {20, 21, 22}, {13}}
			ds := classTask(m.Config.VocabSize, 12, classes, 12)
			task, err := Tasks(ds, ClassRule{})
			if err != nil {
				t.Fatal(err)
			}
			if len(task.Classes) != len(classes) {
				t.Fatalf("%d classes, want %d", len(task.Classes), len(classes))
			}
			// One batch for all candidates, then one row per batch.
			for _, budget := range []int{0, 1} {
				got, err := Classify(context.Background(), m, task, TaskOptions{LogitsBudget: budget})
				if err != nil {
					t.Fatal(err)
				}
				conf := NewConfusion(len(task.Classes))
				for i, ex := range task.Examples {
					scores, err := CandidateScores(m, ex.Prompt, task.Classes, TaskOptions{LogitsBudget: budget})
					if err != nil {
						t.Fatal(err)
					}
					best := 0
					for k, c := range task.Classes {
						want := bruteScore(t, m, ex.Prompt, c)
						if !near(scores[k], want, 1e-5) {
							t.Errorf("budget %d example %d class %v: score %.7f, brute force %.7f", budget, i, c, scores[k], want)
						}
						if want > bruteScore(t, m, ex.Prompt, task.Classes[best]) {
							best = k
						}
					}
					if got.Predictions[i] != best {
						t.Errorf("budget %d example %d: predicted %d, brute force %d", budget, i, got.Predictions[i], best)
					}
					conf.Add(classOf(task.Classes, ex.Answer), best)
				}
				if !eq(got.Accuracy, conf.Accuracy()) || !eq(got.MacroF1, conf.MacroF1()) || got.Examples != len(ds) {
					t.Errorf("budget %d: accuracy %v macro-F1 %v over %d, brute force %v %v over %d", budget, got.Accuracy, got.MacroF1, got.Examples, conf.Accuracy(), conf.MacroF1(), len(ds))
				}
				if got.MajorityAccuracy != 0.25 {
					t.Errorf("majority accuracy %v, want 0.25 for four balanced classes", got.MajorityAccuracy)
				}
			}
		})
	}
}

func TestClassifyRanksTheLikelyAnswerFirst(t *testing.T) {
	// A model trained on nothing still ranks a candidate it rates likely
	// above one it rates unlikely: make class A the greedy continuation of
	// every prompt and class B its least likely token.
	m := newModel(t, tinyLlama, 21)
	V := m.Config.VocabSize
	rng := rand.New(rand.NewPCG(3, 3))
	prompt := randomIDs(rng, 6, V)
	logits, err := m.Logits(&model.Batch{B: 1, T: len(prompt), IDs: prompt})
	if err != nil {
		t.Fatal(err)
	}
	last := logits[(len(prompt)-1)*V:]
	hi, lo := 0, 0
	for i, v := range last {
		if v > last[hi] {
			hi = i
		}
		if v < last[lo] {
			lo = i
		}
	}
	task := &Task{Classes: [][]int{{lo}, {hi}}}
	for range 2 {
		task.Examples = append(task.Examples, TaskExample{Prompt: prompt, Answer: []int{hi}}, TaskExample{Prompt: prompt, Answer: []int{lo}})
	}
	got, err := Classify(context.Background(), m, task, TaskOptions{})
	if err != nil {
		t.Fatal(err)
	}
	want := [][]int{{0, 2}, {0, 2}} // every example predicted as class 1 ({hi})
	for g := range want {
		for p := range want[g] {
			if got.Confusion.Counts[g][p] != want[g][p] {
				t.Fatalf("confusion %v, want %v", got.Confusion.Counts, want)
			}
		}
	}
	if got.Accuracy != 0.5 || !eq(got.MacroF1, (0+2.0/3)/2) {
		t.Errorf("accuracy %v macro-F1 %v, want 0.5 and 1/3", got.Accuracy, got.MacroF1)
	}
}

func TestClassifyOptionsAndErrors(t *testing.T) {
	m := newModel(t, tinyLlama, 11)
	classes := [][]int{{7}, {9, 13}}
	task, err := Tasks(classTask(m.Config.VocabSize, 10, classes, 1), ClassRule{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := Classify(context.Background(), m, task, TaskOptions{MaxExamples: 3})
	if err != nil {
		t.Fatal(err)
	}
	if got.Examples != 3 || got.Confusion.Total() != 3 {
		t.Errorf("MaxExamples 3: scored %d (%d counted)", got.Examples, got.Confusion.Total())
	}
	// A short SeqLen keeps the prompt's last tokens and the whole answer.
	ex := task.Examples[0]
	short, err := CandidateScores(m, ex.Prompt, classes, TaskOptions{SeqLen: 3})
	if err != nil {
		t.Fatal(err)
	}
	kept := ex.Prompt[len(ex.Prompt)-1:] // 3 − the longest answer (2)
	for k, c := range classes {
		if want := bruteScore(t, m, kept, c); !near(short[k], want, 1e-5) {
			t.Errorf("SeqLen 3, class %v: %.7f, brute force on the cut prompt %.7f", c, short[k], want)
		}
	}
	if _, err := CandidateScores(m, ex.Prompt, classes, TaskOptions{SeqLen: 2}); err == nil {
		t.Error("SeqLen 2 leaves no prompt token beside a 2-token answer: want an error")
	}
	task.Examples = append(task.Examples, TaskExample{Index: 99, Prompt: []int{4}, Answer: []int{5}})
	if _, err := Classify(context.Background(), m, task, TaskOptions{}); err == nil || !strings.Contains(err.Error(), "example 99") {
		t.Errorf("answer outside the classes: err = %v", err)
	}
	if _, err := Classify(context.Background(), m, &Task{Classes: classes[:1]}, TaskOptions{}); err == nil {
		t.Error("one class: want an error")
	}
}
