package train

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/lorafn/lorafn/core/model"
)

func TestScheduleFactors(t *testing.T) {
	// Values worked out by hand from Hugging Face's formulas.
	cases := []struct {
		s    Schedule
		want []float64
	}{
		{Schedule{Name: Constant, Total: 4}, []float64{1, 1, 1, 1}},
		{Schedule{Name: ConstantWithWarmup, Warmup: 2, Total: 4}, []float64{0, 0.5, 1, 1}},
		{Schedule{Name: Linear, Warmup: 2, Total: 6}, []float64{0, 0.5, 1, 0.75, 0.5, 0.25}},
		{Schedule{Name: Linear, Total: 4}, []float64{1, 0.75, 0.5, 0.25}},
		{Schedule{Name: Cosine, Warmup: 1, Total: 5}, []float64{0, 1, (1 + math.Sqrt2/2) / 2, 0.5, (1 - math.Sqrt2/2) / 2}},
	}
	for _, c := range cases {
		for i, want := range c.want {
			if got := c.s.Factor(i); math.Abs(got-want) > 1e-15 {
				t.Errorf("%+v step %d: factor %v, want %v", c.s, i, got, want)
			}
		}
	}
	if err := (Schedule{Name: Constant, Warmup: 3}).validate(); err == nil {
		t.Error("constant schedule with warmup accepted")
	}
	if err := (Schedule{Name: "polynomial"}).validate(); err == nil {
		t.Error("unknown schedule accepted")
	}
}

// adamWRef is AdamW written in float64 straight from Loshchilov & Hutter's
// algorithm as torch documents it.
func adamWRef(p, g [][]float64, lr []float64, b1, b2, eps, wd float64) []float64 {
	w := slices.Clone(p[0])
	m := make([]float64, len(w))
	v := make([]float64, len(w))
	for t := range g {
		for i := range w {
			w[i] -= lr[t] * wd * w[i]
			m[i] = b1*m[i] + (1-b1)*g[t][i]
			v[i] = b2*v[i] + (1-b2)*g[t][i]*g[t][i]
			mh := m[i] / (1 - math.Pow(b1, float64(t+1)))
			vh := v[i] / (1 - math.Pow(b2, float64(t+1)))
			w[i] -= lr[t] * mh / (math.Sqrt(vh) + eps)
		}
	}
	return w
}

func TestAdamWMatchesFloat64Reference(t *testing.T) {
	cfg := DefaultConfig()
	cfg.WeightDecay = 0.1
	p := &model.Param{Name: "w", Shape: []int{2, 3}, Data: []float32{0.5, -1, 2, 0.01, -0.3, 1.5}, Grad: make([]float32, 6)}
	init := []float64{0.5, -1, 2, 0.01, -0.3, 1.5}
	g := &Group{Params: []*model.Param{p}, Decay: true}
	o := newAdamW(&cfg, []Group{*g})
	grads := [][]float64{{0.1, -0.2, 0.3, 1e-4, -5, 0}, {0.2, 0.1, -0.3, 2e-4, 4, 1}, {-0.1, 0.1, 0.1, 0, 3, -1}}
	lrs := []float64{1e-2, 5e-3, 2e-3}
	for s, gr := range grads {
		for i := range gr {
			p.Grad[i] = float32(gr[i])
		}
		o.step(g, lrs[s], s+1)
	}
	want := adamWRef([][]float64{init}, grads, lrs, cfg.Beta1, cfg.Beta2, cfg.Eps, cfg.WeightDecay)
	for i := range want {
		if d := math.Abs(float64(p.Data[i]) - want[i]); d > 1e-6*math.Max(1, math.Abs(want[i])) {
			t.Errorf("w[%d] = %v, float64 reference %v", i, p.Data[i], want[i])
		}
	}
	// The first step moves each weight by lr·sign(g) (bias correction makes
	// m̂/√v̂ = g/|g|), after the decay.
	q := &model.Param{Name: "q", Shape: []int{2}, Data: []float32{1, 1}, Grad: []float32{0.3, -7}}
	gq := &Group{Params: []*model.Param{q}}
	newAdamW(&cfg, []Group{*gq}).step(gq, 0.1, 1)
	if math.Abs(float64(q.Data[0])-0.9) > 1e-6 || math.Abs(float64(q.Data[1])-1.1) > 1e-6 {
		t.Errorf("first step without decay: %v, want [0.9 1.1]", q.Data)
	}
}

func TestClipGradNorm(t *testing.T) {
	a := &model.Param{Grad: []float32{3, 0}}
	b := &model.Param{Grad: []float32{0, 4}}
	if n := clipGradNorm([]*model.Param{a, b}, 10); math.Abs(n-5) > 1e-6 || a.Grad[0] != 3 {
		t.Fatalf("norm %v, grads %v: want 5 and no clipping", n, a.Grad)
	}
	if n := clipGradNorm([]*model.Param{a, b}, 1); math.Abs(n-5) > 1e-6 {
		t.Fatalf("norm %v, want 5", n)
	}
	want := float32(3 / (5 + 1e-6))
	if math.Abs(float64(a.Grad[0]-want)) > 1e-7 || math.Abs(float64(b.Grad[1]-4*want/3)) > 1e-7 {
		t.Fatalf("clipped grads %v %v, want %v and %v", a.Grad, b.Grad, want, 4*want/3)
	}
}

func TestPermutation(t *testing.T) {
	for _, n := range []int{1, 2, 7, 100} {
		p0 := permutation(n, 42, 0, true)
		sorted := slices.Sorted(slices.Values(p0))
		for i, v := range sorted {
			if v != i {
				t.Fatalf("n=%d: %v is not a permutation", n, p0)
			}
		}
		if !slices.Equal(p0, permutation(n, 42, 0, true)) {
			t.Fatalf("n=%d: permutation not reproducible", n)
		}
		if n >= 7 && slices.Equal(p0, permutation(n, 42, 1, true)) {
			t.Errorf("n=%d: epochs 0 and 1 have the same order", n)
		}
		if n >= 7 && slices.Equal(p0, permutation(n, 43, 0, true)) {
			t.Errorf("n=%d: seeds 42 and 43 give the same order", n)
		}
		if id := permutation(n, 42, 3, false); !slices.Equal(id, sorted) {
			t.Errorf("n=%d: unshuffled order %v", n, id)
		}
	}
	if dropoutSeed(1, 0, 1) == dropoutSeed(1, 1, 0) || dropoutSeed(1, 2, 0) == dropoutSeed(2, 2, 0) {
		t.Error("dropout seeds collide")
	}
}

func TestCollate(t *testing.T) {
	exs := []Example{
		{IDs: []int{5, 6, 7}, Labels: []int{-100, 6, 7}},
		{IDs: []int{8, 9, 10, 11, 12}},
	}
	b, tokens := Collate(exs, 4)
	if b.B != 2 || b.T != 4 {
		t.Fatalf("batch %d×%d, want 2×4", b.B, b.T)
	}
	wantIDs := []int{5, 6, 7, 0, 8, 9, 10, 11}
	wantMask := []bool{true, true, true, false, true, true, true, true}
	wantLabels := []int{-100, 6, 7, -100, 8, 9, 10, 11}
	if !slices.Equal(b.IDs, wantIDs) || !slices.Equal(b.Mask, wantMask) || !slices.Equal(b.Labels, wantLabels) {
		t.Fatalf("ids %v mask %v labels %v", b.IDs, b.Mask, b.Labels)
	}
	if tokens != 2+3 {
		t.Fatalf("tokens %d, want 5", tokens)
	}
}

func TestConfigErrorsNameTheField(t *testing.T) {
	for field, mutate := range map[string]func(*Config){
		"learning_rate":               func(c *Config) { c.LR = math.NaN() },
		"adam_beta2":                  func(c *Config) { c.Beta2 = 1 },
		"per_device_train_batch_size": func(c *Config) { c.BatchSize = 0 },
		"num_train_epochs":            func(c *Config) { c.Epochs = 0 },
		"lr_scheduler_type":           func(c *Config) { c.Schedule = "step" },
		"max_grad_norm":               func(c *Config) { c.MaxGradNorm = -1 },
	} {
		c := DefaultConfig()
		mutate(&c)
		err := c.Validate()
		if err == nil || !contains(err.Error(), field) {
			t.Errorf("%s: error %v does not name the field", field, err)
		}
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

func TestEarlyStoppingAsHuggingFace(t *testing.T) {
	tr := &Trainer{cfg: Config{EarlyStoppingPatience: 2, EarlyStoppingThreshold: 0.01}}
	// 2.495 is better than 2.5 but not by more than the threshold.
	for i, v := range []float64{3, 2.5, 2.495, 2.4, 2.6, 2.45} {
		if tr.State.EarlyStop {
			t.Fatalf("stopped before evaluation %d", i)
		}
		tr.observe(v)
	}
	if !tr.State.EarlyStop || tr.State.BestValLoss != 2.4 || tr.State.BadEvals != 2 {
		t.Fatalf("state %+v: want stopped with best 2.4 after 2 bad evaluations", tr.State)
	}
}
