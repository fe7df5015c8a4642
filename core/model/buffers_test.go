package model

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
)

func TestSizeClass(t *testing.T) {
	prevClass, prevCap := -1, 0
	for n := 1; n < 5000; n++ {
		class, capacity := sizeClass(n)
		if capacity < n || float64(capacity) > 1.25*float64(n)+1 {
			t.Fatalf("sizeClass(%d) capacity %d: want n ≤ capacity ≤ 1.25n", n, capacity)
		}
		if class < prevClass || (class == prevClass) != (capacity == prevCap) {
			t.Fatalf("sizeClass(%d) = (%d, %d) after (%d, %d): classes must grow with capacity", n, class, capacity, prevClass, prevCap)
		}
		if c2, cap2 := sizeClass(capacity); c2 != class || cap2 != capacity {
			t.Fatalf("sizeClass(%d) = (%d, %d) but its capacity maps to (%d, %d)", n, class, capacity, c2, cap2)
		}
		prevClass, prevCap = class, capacity
	}
}

func TestBuffersReuseAndBound(t *testing.T) {
	var bs buffers
	a, b := bs.get(1000), bs.get(1000)
	if &a[:cap(a)][cap(a)-1] == &b[:cap(b)][cap(b)-1] {
		t.Fatal("two live buffers share memory")
	}
	a[0] = 7
	bs.put(a)
	c := bs.get(990) // same class: a comes back, zeroed
	if &c[:cap(c)][0] != &a[:cap(a)][0] {
		t.Error("a freed buffer of the same class was not reused")
	}
	if c[0] != 0 {
		t.Error("get returned a reused buffer without zeroing it")
	}
	// Buffers beyond the peak in use are not kept.
	bs.put(b, c)
	if bs.freeElems > bs.peak {
		t.Errorf("free %d elements exceed the peak in use %d", bs.freeElems, bs.peak)
	}
	bs.put(make([]float32, 999)) // foreign capacity: ignored
	if bs.freeElems > bs.peak {
		t.Errorf("a foreign buffer was kept")
	}
}

// TestWarmBuffersAreBitIdentical: passes on reused (dirty) buffers, after
// passes of other shapes, give exactly the results of a fresh model.
func TestWarmBuffersAreBitIdentical(t *testing.T) {
	for name := range tinyConfigs {
		fresh := func() *Model {
			m := tinyModel(t, name, 4)
			m.SetTrainable(allTrainable)
			return m
		}
		b := randomBatch(fresh().Config, 3, 9, []int{9, 4, 1}, 5)
		other := randomBatch(fresh().Config, 2, 13, []int{13, 6}, 6)

		m1 := fresh()
		want, err := m1.Backward(b, Options{EmbedGrad: true})
		if err != nil {
			t.Fatal(err)
		}
		wantGrads := gradsOf(m1)

		m2 := fresh()
		for _, warm := range []*Batch{other, b, other} {
			if _, err := m2.Backward(warm, Options{Recompute: warm == b}); err != nil {
				t.Fatal(err)
			}
			if _, err := m2.Loss(warm); err != nil {
				t.Fatal(err)
			}
		}
		m2.ZeroGrad()
		got, err := m2.Backward(b, Options{EmbedGrad: true})
		if err != nil {
			t.Fatal(err)
		}
		if math.Float64bits(got.SumLoss) != math.Float64bits(want.SumLoss) || !slices.Equal(got.EmbedGrad, want.EmbedGrad) {
			t.Errorf("%s: loss or embedding gradient differs on warm buffers", name)
		}
		for k, g := range gradsOf(m2) {
			if !slices.Equal(g, wantGrads[k]) {
				t.Errorf("%s: gradient of %s differs on warm buffers", name, k)
			}
		}
		// The caller's slice survives later passes.
		keep := slices.Clone(got.EmbedGrad)
		if _, err := m2.Backward(other, Options{}); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(keep, got.EmbedGrad) {
			t.Errorf("%s: a later pass overwrote the returned EmbedGrad", name)
		}
	}
}

// TestHeadChunksAreBitIdentical: the loss and every gradient below a frozen
// head are the same whether its products run in one chunk or in many with
// the head packed once.
func TestHeadChunksAreBitIdentical(t *testing.T) {
	frozenHead := func(name string) bool {
		return !strings.Contains(name, "embed") && !strings.Contains(name, "lm_head") && !strings.Contains(name, "wte")
	}
	for name := range tinyConfigs {
		run := func(chunkRows int) (Result, map[string][]float32) {
			m := tinyModel(t, name, 4)
			m.SetTrainable(frozenHead)
			m.headChunk = chunkRows * m.Config.VocabSize
			res, err := m.Backward(randomBatch(m.Config, 3, 9, []int{9, 7, 5}, 5), Options{EmbedGrad: true})
			if err != nil {
				t.Fatal(err)
			}
			return res, gradsOf(m)
		}
		want, wantGrads := run(0)
		for _, rows := range []int{1, 4} {
			got, grads := run(rows)
			if math.Float64bits(got.SumLoss) != math.Float64bits(want.SumLoss) || !slices.Equal(got.EmbedGrad, want.EmbedGrad) {
				t.Errorf("%s, %d rows per chunk: loss or input gradient differs", name, rows)
			}
			for k, g := range grads {
				if !slices.Equal(g, wantGrads[k]) {
					t.Errorf("%s, %d rows per chunk: gradient of %s differs", name, rows, k)
				}
			}
		}
	}
}

// TestConcurrentPassesShareBuffers: passes running at once on one model
// draw from the same free list and still give their own, exact results.
func TestConcurrentPassesShareBuffers(t *testing.T) {
	m := tinyModel(t, "llama", 4)
	batches := []*Batch{
		randomBatch(m.Config, 3, 9, []int{9, 4, 1}, 5),
		randomBatch(m.Config, 2, 13, []int{13, 6}, 6),
		randomBatch(m.Config, 1, 17, []int{17}, 7),
	}
	want := make([]float64, len(batches))
	for i, b := range batches {
		r, err := m.Loss(b)
		if err != nil {
			t.Fatal(err)
		}
		want[i] = r.SumLoss
	}
	var wg sync.WaitGroup
	errs := make(chan error, 4*len(batches))
	for range 4 {
		for i, b := range batches {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r, err := m.Loss(b)
				if err == nil && math.Float64bits(r.SumLoss) != math.Float64bits(want[i]) {
					err = fmt.Errorf("batch %d: loss %v concurrently, %v alone", i, r.SumLoss, want[i])
				}
				if err != nil {
					errs <- err
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
