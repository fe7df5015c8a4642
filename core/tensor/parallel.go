package tensor

import (
	"runtime"
	"sync"
)

// Parallel calls f(i) for every i in [0, n) on up to GOMAXPROCS goroutines
// and returns when all calls have finished. Callers keep results independent
// of the thread count by having each i write only its own outputs.
func Parallel(n int, f func(i int)) {
	workers := min(runtime.GOMAXPROCS(0), n)
	if workers <= 1 {
		for i := 0; i < n; i++ {
			f(i)
		}
		return
	}
	var wg sync.WaitGroup
	next := make(chan int, n)
	for i := 0; i < n; i++ {
		next <- i
	}
	close(next)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				f(i)
			}
		}()
	}
	wg.Wait()
}

// ParallelBlocks calls f on the consecutive blocks [i0, i1) of at most size
// elements that cover [0, n), through Parallel: for row-wise or elementwise
// work whose blocks write disjoint outputs.
func ParallelBlocks(n, size int, f func(i0, i1 int)) {
	size = max(size, 1)
	Parallel((n+size-1)/size, func(t int) { f(t*size, min((t+1)*size, n)) })
}
