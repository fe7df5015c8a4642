package tensor

import (
	"math"
	"sync"
	"unsafe"
)

// Vectorised elementwise math. Each function gives the same bits on every
// CPU: the assembly versions perform, lane by lane, exactly the float32
// operations of the Go versions (with fma32 for each fused multiply-add),
// so a training run does not change when it moves between machines.

// vecKernel is one implementation of the elementwise kernels; exp handles
// a multiple of width elements. When asm is set, the row kernels (…K, see
// vec.go for their Go specifications) handle n a multiple of redLanes.
type vecKernel struct {
	name  string
	width int
	exp   func(dst, src *float32, n int)

	// asm selects the assembly row kernels: vec_amd64.s (AVX-512 when
	// width is 16, AVX2 when 8) or vec_arm64.s (NEON). They are called
	// directly, not through function values, so the scratch blocks of
	// vec.go stay on the stack.
	asm bool
}

var availableVecs = sync.OnceValue(cpuVecs)

// Constants of expGo; exp_amd64.s holds the same bits.
const (
	expHi   = 89   // exp(89) > MaxFloat32: +Inf
	expLo   = -104 // exp(-104) < SmallestNonzeroFloat32/2: 0
	log2e   = float32(1.4426950408889634)
	negLn2H = float32(-0.693359375) // ln 2 = ln2H + ln2L, ln2H with 9 bits
	negLn2L = float32(2.12194440e-4)
)

// expCoef are 1/7!, 1/6!, …, 1/1!, 1/0!: Taylor coefficients of e^r,
// highest first; on |r| ≤ ln2/2 the truncation error is below 2⁻²⁷.
var expCoef = [...]float32{1.0 / 5040, 1.0 / 720, 1.0 / 120, 1.0 / 24, 1.0 / 6, 0.5, 1, 1}

// expGo returns e^x with an error of at most a few ulps; it is the
// specification the assembly versions follow.
func expGo(x float32) float32 {
	if x != x {
		return x
	}
	x = min(max(x, expLo), expHi)
	n := float32(math.RoundToEven(float64(float32(x * log2e))))
	r := fma32(n, negLn2H, x)
	r = fma32(n, negLn2L, r)
	p := expCoef[0]
	for _, c := range expCoef[1:] {
		p = fma32(p, r, c)
	}
	// 2^n in two steps so that each factor is a normal float32 and the
	// result, even when subnormal, is rounded once by the second product.
	ni := int32(n)
	n1 := ni >> 1
	n2 := ni - n1
	return float32(p*pow2(n1)) * pow2(n2)
}

func pow2(e int32) float32 { return math.Float32frombits(uint32(e+127) << 23) }

func expGoPtr(dst, src *float32, n int) {
	d, s := unsafe.Slice(dst, n), unsafe.Slice(src, n)
	for i, v := range s {
		d[i] = expGo(v)
	}
}

func (v *vecKernel) expSlice(dst, src []float32) {
	if len(dst) != len(src) {
		panic(ErrShape)
	}
	n := len(src) / v.width * v.width
	if n > 0 {
		v.exp(&dst[0], &src[0], n)
	}
	for i := n; i < len(src); i++ {
		dst[i] = expGo(src[i])
	}
}

// Exp sets dst[i] = e^src[i] (dst and src may be the same slice). The
// error is at most 2 ulps; results below the smallest subnormal are 0,
// above MaxFloat32 +Inf. It panics with ErrShape if the lengths differ.
func Exp(dst, src []float32) { availableVecs()[0].expSlice(dst, src) }
