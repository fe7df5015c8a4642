package eval

// Confusion counts predictions by class: Counts[gold][predicted].
type Confusion struct {
	Counts [][]int `json:"counts"`
}

// NewConfusion returns an empty confusion matrix of k classes.
func NewConfusion(k int) *Confusion {
	c := &Confusion{Counts: make([][]int, k)}
	for i := range c.Counts {
		c.Counts[i] = make([]int, k)
	}
	return c
}

// Add counts one example.
func (c *Confusion) Add(gold, predicted int) { c.Counts[gold][predicted]++ }

// Total is the number of examples counted.
func (c *Confusion) Total() int {
	n := 0
	for _, row := range c.Counts {
		for _, v := range row {
			n += v
		}
	}
	return n
}

// Accuracy is the share of examples on the diagonal (0 when empty).
func (c *Confusion) Accuracy() float64 {
	n, ok := c.Total(), 0
	for i := range c.Counts {
		ok += c.Counts[i][i]
	}
	if n == 0 {
		return 0
	}
	return float64(ok) / float64(n)
}

// ClassStat is the one-vs-rest score of one class.
type ClassStat struct {
	Precision float64 `json:"precision"`
	Recall    float64 `json:"recall"`
	F1        float64 `json:"f1"`
	Support   int     `json:"support"`   // examples whose gold answer is the class
	Predicted int     `json:"predicted"` // examples predicted as the class
}

// PerClass returns each class's precision, recall and F1. As in
// scikit-learn with zero_division=0, a ratio with a zero denominator is 0:
// a class never predicted has precision 0, a class never in the gold
// answers recall 0, and F1 is 0 when precision + recall is 0.
func (c *Confusion) PerClass() []ClassStat {
	out := make([]ClassStat, len(c.Counts))
	for k := range c.Counts {
		tp := c.Counts[k][k]
		s := &out[k]
		for j := range c.Counts {
			s.Support += c.Counts[k][j]
			s.Predicted += c.Counts[j][k]
		}
		s.Precision = ratio(tp, s.Predicted)
		s.Recall = ratio(tp, s.Support)
		if s.Precision+s.Recall > 0 {
			s.F1 = 2 * s.Precision * s.Recall / (s.Precision + s.Recall)
		}
	}
	return out
}

// MacroF1 is the unweighted mean F1 over the classes that occur as a gold
// answer or a prediction (scikit-learn's f1_score(average="macro") with the
// labels it infers); 0 when there are none.
func (c *Confusion) MacroF1() float64 {
	var sum float64
	n := 0
	for _, s := range c.PerClass() {
		if s.Support == 0 && s.Predicted == 0 {
			continue
		}
		sum += s.F1
		n++
	}
	if n == 0 {
		return 0
	}
	return sum / float64(n)
}

// Majority returns the confusion matrix of the baseline that always
// predicts the most frequent gold class (the lowest index among equals).
func (c *Confusion) Majority() (class int, baseline *Confusion) {
	best, bestN := 0, -1
	for k, row := range c.Counts {
		n := 0
		for _, v := range row {
			n += v
		}
		if n > bestN {
			best, bestN = k, n
		}
	}
	b := NewConfusion(len(c.Counts))
	for k, row := range c.Counts {
		for _, v := range row {
			b.Counts[k][best] += v
		}
	}
	return best, b
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}
