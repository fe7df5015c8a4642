package eval

import (
	"fmt"
	"slices"
	"testing"

	"github.com/lorafn/lorafn/core/model"
	"github.com/lorafn/lorafn/core/train"
)

const ig = model.IgnoreIndex

func TestSplitExample(t *testing.T) {
	for _, c := range []struct {
		name           string
		ex             train.Example
		prompt, answer []int
		ok             bool
	}{
		{"completion", train.Example{IDs: []int{5, 6, 7, 8}, Labels: []int{ig, ig, 7, 8}}, []int{5, 6}, []int{7, 8}, true},
		{"labels differ from ids", train.Example{IDs: []int{5, 6, 7}, Labels: []int{ig, 9, 10}}, []int{5}, []int{9, 10}, true},
		{"label at position 0 carries no loss", train.Example{IDs: []int{5, 6, 7}, Labels: []int{5, ig, 7}}, []int{5, 6}, []int{7}, true},
		{"plain text", train.Example{IDs: []int{5, 6, 7}}, nil, nil, false},
		{"two trained turns", train.Example{IDs: []int{5, 6, 7, 8}, Labels: []int{ig, 6, ig, 8}}, nil, nil, false},
		{"no target", train.Example{IDs: []int{5, 6}, Labels: []int{ig, ig}}, nil, nil, false},
		{"answer not at the end", train.Example{IDs: []int{5, 6, 7}, Labels: []int{ig, 6, ig}}, nil, nil, false},
	} {
		p, a, ok := SplitExample(c.ex)
		if ok != c.ok || !slices.Equal(p, c.prompt) || !slices.Equal(a, c.answer) {
			t.Errorf("%s: %v %v %v, want %v %v %v", c.name, p, a, ok, c.prompt, c.answer, c.ok)
		}
	}
}

func TestClassRule(t *testing.T) {
	var r ClassRule
	many := make([]int, 33)
	for i := range many {
		many[i] = 5
	}
	for _, c := range []struct {
		counts []int
		want   bool
	}{
		{[]int{2, 2}, true},
		{[]int{10}, false},             // one answer: nothing to rank
		{[]int{10, 1}, false},          // an answer seen once
		{many[:32], true},              // 32 classes
		{many, false},                  // 33 classes
		{[]int{}, false},               // nothing
		{[]int{100, 3, 2, 2, 9}, true}, // imbalance is fine
	} {
		if got := r.IsClassification(c.counts); got != c.want {
			t.Errorf("default rule, counts %v: %v, want %v", c.counts, got, c.want)
		}
	}
	strict := ClassRule{MaxClasses: 3, MinPerClass: 4}
	if strict.IsClassification([]int{4, 4, 4, 4}) || strict.IsClassification([]int{4, 3}) || !strict.IsClassification([]int{4, 5}) {
		t.Error("MaxClasses/MinPerClass not applied")
	}
}

func TestTasksFindsClassesInFrequencyOrder(t *testing.T) {
	var ds train.Examples
	add := func(answer []int, n int) {
		for i := range n {
			ds = append(ds, promptAnswer([]int{3, 4 + i}, answer))
		}
	}
	add([]int{9, 2}, 2)
	add([]int{7, 2}, 3)
	add([]int{8, 2}, 2)
	ds = append(ds, train.Example{IDs: []int{5, 6, 7}}) // plain text: skipped
	task, err := Tasks(ds, ClassRule{})
	if err != nil {
		t.Fatal(err)
	}
	want := [][]int{{7, 2}, {8, 2}, {9, 2}} // most frequent, then by ids
	if fmt.Sprint(task.Classes) != fmt.Sprint(want) {
		t.Errorf("classes %v, want %v", task.Classes, want)
	}
	if len(task.Examples) != 7 || task.Skipped != 1 {
		t.Errorf("%d examples, %d skipped; want 7 and 1", len(task.Examples), task.Skipped)
	}
	if e := task.Examples[2]; e.Index != 2 || !slices.Equal(e.Prompt, []int{3, 4}) || !slices.Equal(e.Answer, []int{7, 2}) {
		t.Errorf("example 2 = %+v", e)
	}

	ds = append(ds, promptAnswer([]int{3}, []int{11, 12})) // an answer seen once
	task, err = Tasks(ds, ClassRule{})
	if err != nil {
		t.Fatal(err)
	}
	if task.Classes != nil {
		t.Errorf("an answer seen once must make a completion task, got classes %v", task.Classes)
	}
}
