package eval

import (
	"math"
	"testing"
)

func confusionOf(k int, gold, pred []int) *Confusion {
	c := NewConfusion(k)
	for i := range gold {
		c.Add(gold[i], pred[i])
	}
	return c
}

// Three classes, the third never predicted. By hand:
// class 0: tp 2, predicted 4, support 3 → P 1/2, R 2/3, F1 4/7
// class 1: tp 2, predicted 3, support 2 → P 2/3, R 1, F1 4/5
// class 2: tp 0, predicted 0, support 2 → P 0, R 0, F1 0
func TestMetricsWithAClassNeverPredicted(t *testing.T) {
	gold := []int{0, 0, 0, 1, 1, 2, 2}
	pred := []int{0, 0, 1, 1, 1, 0, 0}
	c := confusionOf(3, gold, pred)
	want := []ClassStat{
		{Precision: 0.5, Recall: 2.0 / 3, F1: 4.0 / 7, Support: 3, Predicted: 4},
		{Precision: 2.0 / 3, Recall: 1, F1: 0.8, Support: 2, Predicted: 3},
		{Precision: 0, Recall: 0, F1: 0, Support: 2, Predicted: 0},
	}
	for k, s := range c.PerClass() {
		w := want[k]
		if s.Support != w.Support || s.Predicted != w.Predicted || !eq(s.Precision, w.Precision) || !eq(s.Recall, w.Recall) || !eq(s.F1, w.F1) {
			t.Errorf("class %d: %+v, want %+v", k, s, w)
		}
	}
	if got := c.Accuracy(); !eq(got, 4.0/7) {
		t.Errorf("accuracy %v, want 4/7", got)
	}
	if got, want := c.MacroF1(), (4.0/7+0.8+0)/3; !eq(got, want) {
		t.Errorf("macro-F1 %v, want %v", got, want)
	}
	maj, base := c.Majority()
	if maj != 0 || !eq(base.Accuracy(), 3.0/7) {
		t.Errorf("majority class %d accuracy %v, want 0 and 3/7", maj, base.Accuracy())
	}
	// Always predicting class 0: P 3/7, R 1, F1 0.6; the others score 0.
	if got := base.MacroF1(); !eq(got, 0.2) {
		t.Errorf("majority macro-F1 %v, want 0.2", got)
	}
	if base.Total() != len(gold) {
		t.Errorf("baseline counts %d examples, want %d", base.Total(), len(gold))
	}
}

func TestMacroF1SkipsAbsentClassesLikeScikitLearn(t *testing.T) {
	gold := []int{0, 0, 0, 1, 1, 2, 2}
	pred := []int{0, 0, 1, 1, 1, 0, 0}
	three, four := confusionOf(3, gold, pred), confusionOf(4, gold, pred)
	if a, b := three.MacroF1(), four.MacroF1(); !eq(a, b) {
		t.Errorf("a class in neither gold nor predictions changed macro-F1: %v vs %v", a, b)
	}
	// A class predicted but never gold counts, with F1 0.
	spurious := confusionOf(3, []int{0, 0, 1, 1}, []int{0, 2, 1, 1})
	// class 0: P 1, R 1/2, F1 2/3; class 1: F1 1; class 2: F1 0.
	if got, want := spurious.MacroF1(), (2.0/3+1+0)/3; !eq(got, want) {
		t.Errorf("macro-F1 %v, want %v", got, want)
	}
}

func TestMajorityTieTakesLowestClassAndEmptyIsZero(t *testing.T) {
	c := confusionOf(3, []int{2, 2, 1, 1, 0}, []int{0, 0, 0, 0, 0})
	if maj, _ := c.Majority(); maj != 1 {
		t.Errorf("majority %d, want 1 (tied with 2, lower index)", maj)
	}
	empty := NewConfusion(2)
	if empty.Accuracy() != 0 || empty.MacroF1() != 0 {
		t.Errorf("empty matrix: accuracy %v macro-F1 %v, want 0", empty.Accuracy(), empty.MacroF1())
	}
	perfect := confusionOf(2, []int{0, 1, 1}, []int{0, 1, 1})
	if perfect.Accuracy() != 1 || perfect.MacroF1() != 1 {
		t.Errorf("perfect: accuracy %v macro-F1 %v, want 1", perfect.Accuracy(), perfect.MacroF1())
	}
}

func eq(a, b float64) bool { return math.Abs(a-b) < 1e-12 }
