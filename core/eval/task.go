package eval

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/lorafn/lorafn/core/model"
	"github.com/lorafn/lorafn/core/train"
)

// TaskExample is a prepared example read as a question and its answer.
type TaskExample struct {
	Index  int   `json:"index"`  // position in the dataset
	Prompt []int `json:"prompt"` // ids before the first target token
	Answer []int `json:"answer"` // the target tokens (labels), to the end of the example
}

// SplitExample reads ex as a prompt and an answer. The answer is the run of
// target labels (not IgnoreIndex) that starts at the first target position
// t >= 1 and must reach the end of the example; the prompt is IDs[:t]. An
// example without labels, without a prompt, or whose targets are not one
// final run (a conversation with several trained turns, a packed sequence)
// is not a task example: ok is false.
func SplitExample(ex train.Example) (prompt, answer []int, ok bool) {
	if ex.Labels == nil || len(ex.Labels) != len(ex.IDs) {
		return nil, nil, false
	}
	first := -1
	for t := 1; t < len(ex.Labels); t++ {
		if ex.Labels[t] != model.IgnoreIndex {
			first = t
			break
		}
	}
	if first < 0 {
		return nil, nil, false
	}
	for _, l := range ex.Labels[first:] {
		if l == model.IgnoreIndex {
			return nil, nil, false
		}
	}
	return ex.IDs[:first], ex.Labels[first:], true
}

// Task is the task examples of a dataset and, when it is a classification
// task, its classes.
type Task struct {
	Examples []TaskExample `json:"-"`
	Skipped  int           `json:"skipped"` // examples that are not task examples
	// Classes are the distinct answers, most frequent first, ties broken by
	// comparing the token ids; nil for a completion task.
	Classes [][]int `json:"classes,omitempty"`
}

// ClassRule decides when a task is a classification task.
type ClassRule struct {
	MaxClasses  int // most distinct answers (0: 32)
	MinPerClass int // fewest examples of every answer (0: 2)
}

// IsClassification reports whether answers with these counts form a
// classification task: at least 2 and at most MaxClasses distinct answers,
// each seen at least MinPerClass times. A single answer is not a task to
// rank, and an answer seen once looks like free text.
func (r ClassRule) IsClassification(counts []int) bool {
	maxC, minN := r.MaxClasses, r.MinPerClass
	if maxC <= 0 {
		maxC = 32
	}
	if minN <= 0 {
		minN = 2
	}
	if len(counts) < 2 || len(counts) > maxC {
		return false
	}
	for _, n := range counts {
		if n < minN {
			return false
		}
	}
	return true
}

// Tasks reads every example of ds as a task example (skipping, and
// counting, those SplitExample rejects) and classifies the task by rule.
func Tasks(ds train.Dataset, rule ClassRule) (*Task, error) {
	t := &Task{}
	counts := map[string]int{}
	answers := map[string][]int{}
	for i := 0; i < ds.Len(); i++ {
		ex, err := ds.Example(i)
		if err != nil {
			return nil, fmt.Errorf("eval: example %d: %w", i, err)
		}
		p, a, ok := SplitExample(ex)
		if !ok {
			t.Skipped++
			continue
		}
		t.Examples = append(t.Examples, TaskExample{Index: i, Prompt: p, Answer: a})
		k := key(a)
		counts[k]++
		answers[k] = a
	}
	classes := make([][]int, 0, len(answers))
	n := make([]int, 0, len(answers))
	for k, a := range answers {
		classes = append(classes, a)
		n = append(n, counts[k])
	}
	if !rule.IsClassification(n) {
		return t, nil
	}
	slices.SortFunc(classes, func(a, b []int) int {
		if d := counts[key(b)] - counts[key(a)]; d != 0 {
			return d
		}
		return slices.Compare(a, b)
	})
	t.Classes = classes
	return t, nil
}

// key is a map key for a token sequence.
func key(ids []int) string {
	var b strings.Builder
	for i, id := range ids {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(strconv.Itoa(id))
	}
	return b.String()
}

// classOf returns the index of answer among classes, or -1.
func classOf(classes [][]int, answer []int) int {
	for i, c := range classes {
		if slices.Equal(c, answer) {
			return i
		}
	}
	return -1
}
