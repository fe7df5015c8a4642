package eval

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"testing"
)

// element is one parsed SVG element: its name, attributes and text.
type element struct {
	name string
	attr map[string]string
	text string
}

// parseSVG decodes doc strictly and returns its elements in order.
func parseSVG(doc []byte) ([]*element, error) {
	d := xml.NewDecoder(bytes.NewReader(doc))
	d.Strict = true
	var out, stack []*element
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			e := &element{name: tok.Name.Local, attr: map[string]string{}}
			for _, a := range tok.Attr {
				e.attr[a.Name.Local] = a.Value
			}
			if len(out) == 0 && (e.name != "svg" || tok.Name.Space != "http://www.w3.org/2000/svg") {
				return nil, fmt.Errorf("root element %v, want svg in the SVG namespace", tok.Name)
			}
			out, stack = append(out, e), append(stack, e)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].text += string(tok)
			}
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no elements")
	}
	return out, nil
}

func wellFormed(doc []byte) error {
	if _, err := parseSVG(doc); err != nil {
		return err
	}
	if bytes.Contains(doc, []byte("NaN")) || bytes.Contains(doc, []byte("Inf")) {
		return fmt.Errorf("non-finite number in %s", doc)
	}
	return nil
}

func byClass(es []*element, class string) []*element {
	var out []*element
	for _, e := range es {
		if e.attr["class"] == class {
			out = append(out, e)
		}
	}
	return out
}

func atof(t *testing.T, s string) float64 {
	t.Helper()
	v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// axis maps a pixel coordinate back to a data value through the first and
// last tick: their labels and positions are all the plot tells a reader.
func axis(t *testing.T, lines, labels []*element, coord string) func(float64) float64 {
	t.Helper()
	if len(lines) < 2 || len(lines) != len(labels) {
		t.Fatalf("%d tick lines and %d labels", len(lines), len(labels))
	}
	p0, p1 := atof(t, lines[0].attr[coord]), atof(t, lines[len(lines)-1].attr[coord])
	v0, v1 := atof(t, labels[0].text), atof(t, labels[len(labels)-1].text)
	return func(p float64) float64 { return v0 + (p-p0)/(p1-p0)*(v1-v0) }
}

func points(t *testing.T, e *element) [][2]float64 {
	t.Helper()
	var out [][2]float64
	for _, p := range strings.Fields(e.attr["points"]) {
		x, y, ok := strings.Cut(p, ",")
		if !ok {
			t.Fatalf("point %q", p)
		}
		out = append(out, [2]float64{atof(t, x), atof(t, y)})
	}
	return out
}

func TestLossCurveReadsBackThroughItsAxes(t *testing.T) {
	var lines []LogLine
	for s := 1; s <= 37; s++ {
		l := LogLine{Step: s, Loss: 3.2*math.Exp(-float64(s)/12) + 0.4 + 0.05*math.Sin(float64(s))}
		if s%9 == 0 || s == 37 {
			v := l.Loss + 0.3
			l.ValLoss = &v
		}
		lines = append(lines, l)
	}
	doc := LossCurveSVG(lines)
	if !bytes.Equal(doc, LossCurveSVG(lines)) {
		t.Fatal("two renderings of one log differ")
	}
	if err := wellFormed(doc); err != nil {
		t.Fatal(err)
	}
	es, _ := parseSVG(doc)
	xOf := axis(t, byClass(es, "xtick"), byClass(es, "xtick-label"), "x1")
	yOf := axis(t, byClass(es, "ytick"), byClass(es, "ytick-label"), "y1")

	train := byClass(es, "train")
	if len(train) != 1 || train[0].name != "polyline" {
		t.Fatalf("want one training polyline, got %d", len(train))
	}
	pts := points(t, train[0])
	if len(pts) != len(lines) {
		t.Fatalf("%d training points for %d steps", len(pts), len(lines))
	}
	// Coordinates carry two decimals: a read-back error of 0.005 px.
	for i, l := range lines {
		if s := xOf(pts[i][0]); math.Abs(s-float64(l.Step)) > 0.01 {
			t.Errorf("point %d: step %v, want %d", i, s, l.Step)
		}
		if v := yOf(pts[i][1]); math.Abs(v-l.Loss) > 1e-3 {
			t.Errorf("point %d: loss %v, want %v", i, v, l.Loss)
		}
	}
	var val []LogLine
	for _, l := range lines {
		if l.ValLoss != nil {
			val = append(val, l)
		}
	}
	var circles []*element
	for _, e := range byClass(es, "validation") {
		if e.name == "circle" {
			circles = append(circles, e)
		}
	}
	if len(circles) != len(val) {
		t.Fatalf("%d validation points, want %d", len(circles), len(val))
	}
	for i, c := range circles {
		if s, v := xOf(atof(t, c.attr["cx"])), yOf(atof(t, c.attr["cy"])); math.Abs(s-float64(val[i].Step)) > 0.01 || math.Abs(v-*val[i].ValLoss) > 1e-3 {
			t.Errorf("validation point %d at (%v, %v), want (%d, %v)", i, s, v, val[i].Step, *val[i].ValLoss)
		}
	}
	// Every point lies inside the axes' range.
	for _, p := range pts {
		if p[0] < plotLeft || p[0] > plotRight || p[1] < plotTop || p[1] > plotBottom {
			t.Errorf("point %v outside the plot", p)
		}
	}
	for _, label := range []string{"step", "loss (nats per token)"} {
		if !bytes.Contains(doc, []byte(">"+label+"<")) {
			t.Errorf("axis label %q missing", label)
		}
	}
}

func TestLossCurveEdgeCases(t *testing.T) {
	v := 2.0
	for name, lines := range map[string][]LogLine{
		"empty":     nil,
		"one step":  {{Step: 5, Loss: 2, ValLoss: &v}},
		"flat loss": {{Step: 1, Loss: 1}, {Step: 2, Loss: 1}},
		"zero loss": {{Step: 1, Loss: 0}, {Step: 1000, Loss: 0}},
	} {
		doc := LossCurveSVG(lines)
		if err := wellFormed(doc); err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		es, _ := parseSVG(doc)
		if train := byClass(es, "train"); len(lines) > 0 && (len(train) != 1 || len(points(t, train[0])) != len(lines)) {
			t.Errorf("%s: training line missing or wrong", name)
		}
	}
}

func TestNiceTicks(t *testing.T) {
	for _, c := range []struct {
		lo, hi  float64
		want    int
		integer bool
		ticks   string
	}{
		{0.43, 3.61, 6, false, "[0 1 2 3 4]"},
		{0.43, 1.61, 6, false, "[0.4 0.6 0.8 1 1.2 1.4 1.6 1.8]"},
		{1, 37, 8, true, "[0 5 10 15 20 25 30 35 40]"},
		{1, 3, 8, true, "[1 2 3]"},
		{5, 5, 8, true, "[4 5 6]"},
	} {
		var labels []string
		for _, v := range niceTicks(c.lo, c.hi, c.want, c.integer) {
			labels = append(labels, strconv.FormatFloat(v, 'g', 6, 64))
		}
		if got := "[" + strings.Join(labels, " ") + "]"; got != c.ticks {
			t.Errorf("niceTicks(%v, %v, %d, %v) = %s, want %s", c.lo, c.hi, c.want, c.integer, got, c.ticks)
		}
	}
}
