package tensor

import (
	"math"
	"math/rand/v2"
	"testing"
)

func geluRef(x float64) (a, d float64) {
	const c = 0.7978845608028654
	t := math.Tanh(c * (x + 0.044715*x*x*x))
	return 0.5 * x * (1 + t), 0.5*(1+t) + 0.5*x*(1-t*t)*c*(1+3*0.044715*x*x)
}

// TestGELUNewMatchesFloat64: gelu_new and its derivative against a float64
// computation with math.Tanh, over the range activations take and beyond
// (where e^(2u) overflows or underflows), on lengths around the chunk.
func TestGELUNewMatchesFloat64(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{0, 1, 17, actChunk, actChunk + 5, 3*actChunk - 1} {
		x := make([]float32, n)
		for i := range x {
			switch i % 4 {
			case 0:
				x[i] = float32(r.NormFloat64())
			case 1:
				x[i] = float32(r.NormFloat64() * 4)
			case 2:
				x[i] = float32(r.NormFloat64() * 1e-4)
			default:
				x[i] = float32((r.Float64()*2 - 1) * 200)
			}
		}
		a := make([]float32, n)
		GELUNew(a, x)
		da := make([]float32, n)
		for i := range da {
			da[i] = float32(r.NormFloat64())
		}
		dx := make([]float32, n)
		for i := range dx {
			dx[i] = 1
		}
		GELUNewBackward(dx, da, x)
		for i, v := range x {
			wa, wd := geluRef(float64(v))
			if e := math.Abs(float64(a[i]) - wa); e > 4e-7*math.Abs(wa)+1e-7*math.Abs(float64(v))+1e-30 {
				t.Fatalf("n %d: gelu_new(%g) = %g, float64 %g", n, v, a[i], wa)
			}
			want := 1 + float64(da[i])*wd
			if e := math.Abs(float64(dx[i]) - want); e > 1e-6*(math.Abs(want)+math.Abs(float64(da[i]))) {
				t.Fatalf("n %d: 1 + da·gelu_new'(%g) = %g, float64 %g", n, v, dx[i], want)
			}
		}
	}
}

func TestGELUNewSpecialValues(t *testing.T) {
	x := []float32{float32(math.Inf(1)), float32(math.Inf(-1)), 0, float32(math.Copysign(0, -1)), 1e30, -1e30}
	a := make([]float32, len(x))
	GELUNew(a, x)
	want := []float32{float32(math.Inf(1)), float32(math.NaN()), 0, 0, 1e30, 0}
	for i := range x {
		if i == 1 {
			continue // -Inf·0: NaN, as in PyTorch
		}
		if a[i] != want[i] {
			t.Errorf("gelu_new(%g) = %g, want %g", x[i], a[i], want[i])
		}
	}
}

// BenchmarkGELUNew compares gelu_new with the float64 math.Tanh loop it
// replaced, on GPT-2's MLP width:
//
//	go test ./core/tensor -run '^$' -bench GELUNew -cpu 1
func BenchmarkGELUNew(b *testing.B) {
	r := rand.New(rand.NewPCG(5, 6))
	x, a := make([]float32, 3072*16), make([]float32, 3072*16)
	for i := range x {
		x[i] = float32(r.NormFloat64() * 2)
	}
	b.Run("float64-tanh", func(b *testing.B) {
		for b.Loop() {
			for i, v := range x {
				z := float64(v)
				a[i] = float32(0.5 * z * (1 + math.Tanh(0.7978845608028654*(z+0.044715*z*z*z))))
			}
		}
		b.ReportMetric(float64(len(x))*float64(b.N)/b.Elapsed().Seconds()/1e9, "Gelem/s")
	})
	b.Run("vectorised-exp", func(b *testing.B) {
		for b.Loop() {
			GELUNew(a, x)
		}
		b.ReportMetric(float64(len(x))*float64(b.N)/b.Elapsed().Seconds()/1e9, "Gelem/s")
	})
}
