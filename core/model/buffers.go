package model

import (
	"math/bits"
	"sync"
)

// buffers recycles the float32 activations and gradients of forward and
// backward passes. A training step of a small model allocates hundreds of
// megabytes; allocated afresh each step, that memory is page-faulted in
// again every time, and with several threads the concurrent faults on fresh
// pages cost more than the step's arithmetic. Handing the same buffers back
// keeps their pages mapped, and steady-state steps allocate nothing the
// garbage collector must chase.
//
// Buffers are grouped by size class (four per doubling), so batches whose
// length varies step to step still reuse them. The free buffers are capped
// at the most ever in use at once, so memory stays below twice the peak of
// a pass. buffers is safe for concurrent use; results never depend on which
// buffer a pass gets.
type buffers struct {
	mu        sync.Mutex
	free      map[int][][]float32 // by size class
	freeElems int                 // Σ cap of free buffers
	inUse     int                 // Σ cap handed out and not returned
	peak      int                 // most inUse ever
}

// sizeClass returns the class of n > 0 and its capacity: n rounded up to
// a multiple of 2^(e-2) where 2^e ≤ n-1 < 2^(e+1), i.e. about 19% at most.
func sizeClass(n int) (class, capacity int) {
	if n <= 8 {
		return n, n
	}
	e := bits.Len(uint(n-1)) - 1 // 2^e ≤ n-1
	step := 1 << (e - 2)
	q := (n + step - 1) / step // 4 … 8
	return e*8 + q, q * step
}

// get returns a zeroed buffer of n elements.
func (bs *buffers) get(n int) []float32 {
	s := bs.getRaw(n)
	clear(s)
	return s
}

// getRaw returns a buffer of n elements with arbitrary contents, for
// outputs the caller overwrites entirely.
func (bs *buffers) getRaw(n int) []float32 {
	if n == 0 {
		return nil
	}
	class, capacity := sizeClass(n)
	bs.mu.Lock()
	defer bs.mu.Unlock()
	bs.inUse += capacity
	bs.peak = max(bs.peak, bs.inUse)
	if list := bs.free[class]; len(list) > 0 {
		s := list[len(list)-1]
		bs.free[class] = list[:len(list)-1]
		bs.freeElems -= capacity
		return s[:n]
	}
	return make([]float32, n, capacity)
}

// put hands buffers from get or getRaw back for reuse; the caller must not
// touch them afterwards. Nil and foreign buffers (of an odd capacity) are
// ignored.
func (bs *buffers) put(list ...[]float32) {
	bs.mu.Lock()
	defer bs.mu.Unlock()
	for _, s := range list {
		if cap(s) == 0 {
			continue
		}
		class, capacity := sizeClass(cap(s))
		if capacity != cap(s) {
			continue
		}
		bs.inUse = max(0, bs.inUse-capacity)
		if bs.freeElems+capacity > bs.peak {
			continue // let the collector have it
		}
		if bs.free == nil {
			bs.free = make(map[int][][]float32)
		}
		bs.free[class] = append(bs.free[class], s[:cap(s)])
		bs.freeElems += capacity
	}
}
