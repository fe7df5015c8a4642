package tensor

import "testing"

// BenchmarkPeak measures each kernel ISA's single-core FMA peak in
// GFLOP/s, to read BenchmarkSgemm against in the same run:
//
//	go test ./core/tensor -run '^$' -bench 'Peak|Sgemm' -cpu 1
func BenchmarkPeak(b *testing.B) {
	loops := peakLoops()
	if len(loops) == 0 {
		b.Skip("no assembly kernels on this architecture")
	}
	const iters = 1 << 16
	for _, l := range loops {
		b.Run(l.name, func(b *testing.B) {
			for b.Loop() {
				l.run(iters)
			}
			b.ReportMetric(float64(l.flops)*iters*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

// TestPeakLoops checks that every peak loop runs and returns (a wrong
// register or branch in the assembly would crash or hang here), and that
// each is named after an available kernel.
func TestPeakLoops(t *testing.T) {
	isas := map[string]bool{}
	for _, n := range FastISAs() {
		isas[n] = true
	}
	for _, l := range peakLoops() {
		if !isas[l.name] {
			t.Errorf("peak loop %q has no kernel (have %v)", l.name, FastISAs())
		}
		if l.flops <= 0 {
			t.Errorf("peak loop %q: %d flops per iteration", l.name, l.flops)
		}
		l.run(0)
		l.run(1000)
	}
}
