package eval

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// The loss plot's geometry in SVG user units.
const (
	svgWidth   = 640
	svgHeight  = 360
	plotLeft   = 64
	plotRight  = 620
	plotTop    = 36
	plotBottom = 304
)

// LossCurveSVG draws the training loss of every step as a line and the
// validation losses as points joined by a dashed line, on axes with ticks
// and labels. The output is a standalone SVG document and a pure function
// of lines: the same log always gives the same bytes.
func LossCurveSVG(lines []LogLine) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, `<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", svgWidth, svgHeight, svgWidth, svgHeight)
	fmt.Fprintf(&b, `<rect width="%d" height="%d" fill="white"/>`+"\n", svgWidth, svgHeight)
	b.WriteString(`<text x="320" y="20" text-anchor="middle" font-size="14">Loss per step</text>` + "\n")
	if len(lines) == 0 {
		b.WriteString(`<text x="320" y="180" text-anchor="middle">no training steps logged</text>` + "\n</svg>\n")
		return []byte(b.String())
	}

	x0, x1 := float64(lines[0].Step), float64(lines[len(lines)-1].Step)
	y0, y1 := math.Inf(1), math.Inf(-1)
	for _, l := range lines {
		y0, y1 = math.Min(y0, clampLoss(l.Loss)), math.Max(y1, clampLoss(l.Loss))
		if l.ValLoss != nil {
			y0, y1 = math.Min(y0, clampLoss(*l.ValLoss)), math.Max(y1, clampLoss(*l.ValLoss))
		}
	}
	xs, ys := niceTicks(x0, x1, 8, true), niceTicks(y0, y1, 6, false)
	x0, x1 = xs[0], xs[len(xs)-1]
	y0, y1 = ys[0], ys[len(ys)-1]
	px := func(v float64) float64 { return plotLeft + (v-x0)/(x1-x0)*(plotRight-plotLeft) }
	py := func(v float64) float64 { return plotBottom - (v-y0)/(y1-y0)*(plotBottom-plotTop) }

	// Axes, grid and ticks.
	fmt.Fprintf(&b, `<g stroke="#888" stroke-width="1">`+"\n")
	fmt.Fprintf(&b, `<line class="axis" x1="%d" y1="%d" x2="%d" y2="%d"/>`+"\n", plotLeft, plotBottom, plotRight, plotBottom)
	fmt.Fprintf(&b, `<line class="axis" x1="%d" y1="%d" x2="%d" y2="%d"/>`+"\n", plotLeft, plotTop, plotLeft, plotBottom)
	b.WriteString("</g>\n")
	xStep, yStep := xs[1]-xs[0], ys[1]-ys[0]
	for _, v := range xs {
		x := num(px(v))
		fmt.Fprintf(&b, `<line class="xtick" x1="%s" y1="%d" x2="%s" y2="%d" stroke="#888"/>`+"\n", x, plotBottom, x, plotBottom+5)
		fmt.Fprintf(&b, `<text class="xtick-label" x="%s" y="%d" text-anchor="middle">%s</text>`+"\n", x, plotBottom+19, tickLabel(v, xStep))
	}
	for _, v := range ys {
		y := num(py(v))
		fmt.Fprintf(&b, `<line class="grid" x1="%d" y1="%s" x2="%d" y2="%s" stroke="#eee"/>`+"\n", plotLeft, y, plotRight, y)
		fmt.Fprintf(&b, `<line class="ytick" x1="%d" y1="%s" x2="%d" y2="%s" stroke="#888"/>`+"\n", plotLeft-5, y, plotLeft, y)
		fmt.Fprintf(&b, `<text class="ytick-label" x="%d" y="%s" text-anchor="end" dominant-baseline="middle">%s</text>`+"\n", plotLeft-8, y, tickLabel(v, yStep))
	}
	fmt.Fprintf(&b, `<text x="%d" y="%d" text-anchor="middle">step</text>`+"\n", (plotLeft+plotRight)/2, svgHeight-16)
	fmt.Fprintf(&b, `<text x="16" y="%d" text-anchor="middle" transform="rotate(-90 16 %d)">loss (nats per token)</text>`+"\n", (plotTop+plotBottom)/2, (plotTop+plotBottom)/2)

	// Data.
	var train, val []string
	for _, l := range lines {
		train = append(train, num(px(float64(l.Step)))+","+num(py(clampLoss(l.Loss))))
		if l.ValLoss != nil {
			val = append(val, num(px(float64(l.Step)))+","+num(py(clampLoss(*l.ValLoss))))
		}
	}
	fmt.Fprintf(&b, `<polyline class="train" fill="none" stroke="#1f77b4" stroke-width="1.5" points="%s"/>`+"\n", strings.Join(train, " "))
	if len(val) > 0 {
		fmt.Fprintf(&b, `<polyline class="validation" fill="none" stroke="#d62728" stroke-width="1.5" stroke-dasharray="4 3" points="%s"/>`+"\n", strings.Join(val, " "))
		for _, p := range val {
			x, y, _ := strings.Cut(p, ",")
			fmt.Fprintf(&b, `<circle class="validation" cx="%s" cy="%s" r="3" fill="#d62728"/>`+"\n", x, y)
		}
	}

	// Legend.
	fmt.Fprintf(&b, `<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="#1f77b4" stroke-width="1.5"/>`+"\n", plotRight-150, plotTop+4, plotRight-130, plotTop+4)
	fmt.Fprintf(&b, `<text x="%d" y="%d" dominant-baseline="middle">training</text>`+"\n", plotRight-125, plotTop+4)
	if len(val) > 0 {
		fmt.Fprintf(&b, `<circle cx="%d" cy="%d" r="3" fill="#d62728"/>`+"\n", plotRight-140, plotTop+20)
		fmt.Fprintf(&b, `<text x="%d" y="%d" dominant-baseline="middle">validation</text>`+"\n", plotRight-125, plotTop+20)
	}
	b.WriteString("</svg>\n")
	return []byte(b.String())
}

// niceTicks returns evenly spaced round values (1, 2 or 5 times a power of
// ten apart) from at or below lo to at or above hi, about want of them;
// integer keeps the spacing at least 1. A range of zero width is widened.
func niceTicks(lo, hi float64, want int, integer bool) []float64 {
	if hi-lo <= 0 {
		pad := math.Max(math.Abs(lo)*0.05, 0.5)
		if integer {
			pad = 1
		}
		lo, hi = lo-pad, hi+pad
	}
	raw := (hi - lo) / float64(want)
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := 10 * mag
	for _, f := range []float64{1, 2, 5} {
		if f*mag >= raw {
			step = f * mag
			break
		}
	}
	if integer {
		step = math.Max(1, math.Round(step))
	}
	first, last := math.Floor(lo/step+1e-9), math.Ceil(hi/step-1e-9)
	var out []float64
	for i := first; i <= last || len(out) < 2; i++ {
		out = append(out, i*step)
	}
	return out
}

// num formats a coordinate with two decimals.
func num(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) }

// maxPlotted bounds the losses drawn, so that a diverged step cannot
// overflow the axis arithmetic; such a step is drawn at the bound.
const maxPlotted = 1e12

func clampLoss(v float64) float64 { return math.Min(v, maxPlotted) }

// tickLabel formats a tick value with as many decimals as the tick spacing
// needs, so that no float noise (0.30000000000000004) shows.
func tickLabel(v, step float64) string {
	if v == 0 {
		return "0"
	}
	d := max(0, int(-math.Floor(math.Log10(step)+1e-9)))
	if math.Abs(v) >= 1e7 || d > 8 {
		return strconv.FormatFloat(v, 'g', 6, 64)
	}
	return strconv.FormatFloat(v, 'f', d, 64)
}
