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
