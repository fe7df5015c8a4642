package tensor

import (
	"math"
	"math/rand/v2"
	"testing"
)

// The float64 formulas below are the references (and benchmark baselines)
// for the float32 activations.

func softmaxRef(s []float32) {
	mx := math.Inf(-1)
	for _, v := range s {
		mx = max(mx, float64(v))
	}
	if math.IsInf(mx, -1) {
		clear(s)
		return
	}
	var sum float64
	for j, v := range s {
		e := math.Exp(float64(v) - mx)
		s[j] = float32(e)
		sum += e
	}
	for j, v := range s {
		s[j] = float32(float64(v) / sum)
	}
}

func lossRef(logits []float32, target int, grad bool, scale float32) float64 {
	mx := math.Inf(-1)
	for _, v := range logits {
		mx = max(mx, float64(v))
	}
	var s float64
	for _, v := range logits {
		s += math.Exp(float64(v) - mx)
	}
	lse := mx + math.Log(s)
	loss := lse - float64(logits[target])
	if grad {
		for j, v := range logits {
			p := math.Exp(float64(v) - lse)
			if j == target {
				p--
			}
			logits[j] = float32(p * float64(scale))
		}
	}
	return loss
}

func swiGLURef(a, g, u []float32) {
	for i, z := range g {
		s := 1 / (1 + math.Exp(-float64(z)))
		a[i] = float32(float64(z) * s * float64(u[i]))
	}
}

func swiGLUBackwardRef(dg, du, da, g, u []float32) {
	for i, z := range g {
		s := 1 / (1 + math.Exp(-float64(z)))
		du[i] += float32(float64(da[i]) * float64(z) * s)
		dg[i] += float32(float64(da[i]) * float64(u[i]) * s * (1 + float64(z)*(1-s)))
	}
}

func randVec(r *rand.Rand, n int, scale float64) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.NormFloat64() * scale)
	}
	return v
}

// closeTo checks |got − want| ≤ rel·|want| + abs elementwise.
func closeTo(t *testing.T, what string, got, want []float32, rel, abs float64) {
	t.Helper()
	for i := range want {
		if d := math.Abs(float64(got[i]) - float64(want[i])); !(d <= rel*math.Abs(float64(want[i]))+abs) {
			t.Fatalf("%s[%d] = %g, want %g", what, i, got[i], want[i])
		}
	}
}

func TestSoftmax(t *testing.T) {
	r := rand.New(rand.NewPCG(15, 16))
	for _, n := range []int{1, 5, 16, 257} {
		x := randVec(r, n, 4)
		if n > 3 {
			x[1], x[3] = float32(math.Inf(-1)), float32(math.Inf(-1))
		}
		got, want := append([]float32(nil), x...), append([]float32(nil), x...)
		Softmax(got)
		softmaxRef(want)
		closeTo(t, "softmax", got, want, 1e-6, 1e-12)
		if n > 3 && (got[1] != 0 || got[3] != 0) {
			t.Fatalf("masked entries got %v, %v", got[1], got[3])
		}
	}
	all := []float32{float32(math.Inf(-1)), float32(math.Inf(-1))}
	Softmax(all)
	if all[0] != 0 || all[1] != 0 {
		t.Fatalf("all-masked row = %v, want zeros", all)
	}
}

func TestLogSoftmaxLoss(t *testing.T) {
	r := rand.New(rand.NewPCG(17, 18))
	for _, n := range []int{1, 3, 300, 8192} {
		x := randVec(r, n, 3)
		target := r.IntN(n)
		got, want := append([]float32(nil), x...), append([]float32(nil), x...)
		l := LogSoftmaxLoss(got, target, true, 0.25)
		lw := lossRef(want, target, true, 0.25)
		if math.Abs(l-lw) > 1e-6*(1+math.Abs(lw)) {
			t.Fatalf("n=%d: loss %v, want %v", n, l, lw)
		}
		closeTo(t, "grad", got, want, 1e-5, 1e-9)
		if l2 := LogSoftmaxLoss(append([]float32(nil), x...), target, false, 1); l2 != l {
			t.Fatalf("loss without grad %v, with grad %v", l2, l)
		}
	}
}

func TestSwiGLU(t *testing.T) {
	r := rand.New(rand.NewPCG(19, 20))
	n := 1000
	g, u, da := randVec(r, n, 3), randVec(r, n, 1), randVec(r, n, 1)
	g[0], g[1] = -200, 200 // exp overflow on one side
	got, want := make([]float32, n), make([]float32, n)
	SwiGLU(got, g, u)
	swiGLURef(want, g, u)
	closeTo(t, "a", got, want, 1e-6, 1e-30)
	dg, du := randVec(r, n, 1), randVec(r, n, 1)
	dgw, duw := append([]float32(nil), dg...), append([]float32(nil), du...)
	SwiGLUBackward(dg, du, da, g, u)
	swiGLUBackwardRef(dgw, duw, da, g, u)
	closeTo(t, "du", du, duw, 1e-5, 1e-6)
	closeTo(t, "dg", dg, dgw, 1e-5, 1e-6)
}

func BenchmarkExp(b *testing.B) {
	x := randVec(rand.New(rand.NewPCG(1, 2)), 4096, 5)
	y := make([]float32, len(x))
	b.Run("math.Exp", func(b *testing.B) {
		for b.Loop() {
			for i, v := range x {
				y[i] = float32(math.Exp(float64(v)))
			}
		}
	})
	for _, v := range availableVecs() {
		b.Run(v.name, func(b *testing.B) {
			for b.Loop() {
				v.expSlice(y, x)
			}
		})
	}
}

// BenchmarkActivations compares each activation with its float64 scalar
// baseline on the training step's sizes (attention row 256, vocabulary
// 8192, MLP activations 1024 × 1536).
func BenchmarkActivations(b *testing.B) {
	r := rand.New(rand.NewPCG(3, 4))
	row := randVec(r, 256, 3)
	logits := randVec(r, 8192, 3)
	g, u, da := randVec(r, 1536*64, 2), randVec(r, 1536*64, 1), randVec(r, 1536*64, 1)
	a, dg, du := make([]float32, len(g)), make([]float32, len(g)), make([]float32, len(g))
	buf := make([]float32, len(logits))
	for _, bc := range []struct {
		name string
		f    func()
	}{
		{"softmax256/ref", func() { copy(buf, row); softmaxRef(buf[:256]) }},
		{"softmax256/fast", func() { copy(buf, row); Softmax(buf[:256]) }},
		{"loss8192/ref", func() { copy(buf, logits); lossRef(buf, 7, true, 1) }},
		{"loss8192/fast", func() { copy(buf, logits); LogSoftmaxLoss(buf, 7, true, 1) }},
		{"swiglu/ref", func() { swiGLURef(a, g, u) }},
		{"swiglu/fast", func() { SwiGLU(a, g, u) }},
		{"swigluBack/ref", func() { swiGLUBackwardRef(dg, du, da, g, u) }},
		{"swigluBack/fast", func() { SwiGLUBackward(dg, du, da, g, u) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				bc.f()
			}
		})
	}
}
