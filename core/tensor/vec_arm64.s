//go:build !purego

#include "textflag.h"

// NEON row kernels (see vec.go for the Go specifications). Every kernel
// does, lane by lane, exactly the operations of its Go version, and
// handles n a multiple of 16 floats: four 4-lane registers per step.
// Float64 work widens each register's low and high halves (FCVTL,
// FCVTL2) and narrows back the same way (FCVTN, FCVTN2), so float64
// partial sum 2k+h of a step comes from float register k, half h: lane
// i mod 16, as the specification wants.
//
// Go's arm64 assembler has no vector floating-point arithmetic, so those
// instructions are encoded with WORD by the macros below; their operands
// are register numbers in the architecture's order (destination first).

// Three-register forms: Vd = Vn op Vm, 4 float32 (…4) or 2 float64 (…2) lanes.
#define FADD4(d, n, m) WORD $(0x4E20D400 | (m)<<16 | (n)<<5 | (d))
#define FSUB4(d, n, m) WORD $(0x4EA0D400 | (m)<<16 | (n)<<5 | (d))
#define FMUL4(d, n, m) WORD $(0x6E20DC00 | (m)<<16 | (n)<<5 | (d))
#define FDIV4(d, n, m) WORD $(0x6E20FC00 | (m)<<16 | (n)<<5 | (d))
#define FMAX4(d, n, m) WORD $(0x4E20F400 | (m)<<16 | (n)<<5 | (d))
#define FMIN4(d, n, m) WORD $(0x4EA0F400 | (m)<<16 | (n)<<5 | (d))
#define FCMGT4(d, n, m) WORD $(0x6EA0E400 | (m)<<16 | (n)<<5 | (d))
#define FADD2(d, n, m) WORD $(0x4E60D400 | (m)<<16 | (n)<<5 | (d))
#define FSUB2(d, n, m) WORD $(0x4EE0D400 | (m)<<16 | (n)<<5 | (d))
#define FMUL2(d, n, m) WORD $(0x6E60DC00 | (m)<<16 | (n)<<5 | (d))

// Vd = Vd + Vn·Vm rounded once (fma32).
#define FMLA4(d, n, m) WORD $(0x4E20CC00 | (m)<<16 | (n)<<5 | (d))
#define FMLA2(d, n, m) WORD $(0x4E60CC00 | (m)<<16 | (n)<<5 | (d))

// Integer lanes (int32): Vd = Vn ± Vm, Vn << 23, Vn >> 1 (arithmetic).
#define ADD4(d, n, m) WORD $(0x4EA08400 | (m)<<16 | (n)<<5 | (d))
#define SUB4(d, n, m) WORD $(0x6EA08400 | (m)<<16 | (n)<<5 | (d))
#define SHL23(d, n) WORD $(0x4F375400 | (n)<<5 | (d))
#define SSHR1(d, n) WORD $(0x4F3F0400 | (n)<<5 | (d))

// Bitwise: Vd = Vn XOR Vm; Vd = Vn where Vm is set (BIT); Vd = Vn.
#define EOR16(d, n, m) WORD $(0x6E201C00 | (m)<<16 | (n)<<5 | (d))
#define BIT16(d, n, m) WORD $(0x6EA01C00 | (m)<<16 | (n)<<5 | (d))
#define MOV16(d, n) WORD $(0x4EA01C00 | (n)<<16 | (n)<<5 | (d))

// One-operand: round to nearest even (FRINTN), to int32 (FCVTZS, exact on
// integral values), sign flip (FNEG, as Go's unary minus), widen the low
// or high two floats to float64, narrow two float64 into the low or high
// half of Vd (the high form keeps the low half).
#define FRINTN4(d, n) WORD $(0x4E218800 | (n)<<5 | (d))
#define FCVTZS4(d, n) WORD $(0x4EA1B800 | (n)<<5 | (d))
#define FNEG4(d, n) WORD $(0x6EA0F800 | (n)<<5 | (d))
#define FCVTL(d, n) WORD $(0x0E617800 | (n)<<5 | (d))
#define FCVTL2(d, n) WORD $(0x4E617800 | (n)<<5 | (d))
#define FCVTN(d, n) WORD $(0x0E616800 | (n)<<5 | (d))
#define FCVTN2(d, n) WORD $(0x4E616800 | (n)<<5 | (d))

// Constants of expGo, one 16-byte vector each, loaded into V20–V31.
DATA expc<>+0(SB)/8, $0xc2d00000c2d00000   // V20 lo = -104
DATA expc<>+8(SB)/8, $0xc2d00000c2d00000
DATA expc<>+16(SB)/8, $0x42b2000042b20000  // V21 hi = 89
DATA expc<>+24(SB)/8, $0x42b2000042b20000
DATA expc<>+32(SB)/8, $0x3fb8aa3b3fb8aa3b  // V22 log2e
DATA expc<>+40(SB)/8, $0x3fb8aa3b3fb8aa3b
DATA expc<>+48(SB)/8, $0xbf318000bf318000  // V23 -ln2hi
DATA expc<>+56(SB)/8, $0xbf318000bf318000
DATA expc<>+64(SB)/8, $0x395e8083395e8083  // V24 -ln2lo
DATA expc<>+72(SB)/8, $0x395e8083395e8083
DATA expc<>+80(SB)/8, $0x39500d0139500d01  // V25 1/7!
DATA expc<>+88(SB)/8, $0x39500d0139500d01
DATA expc<>+96(SB)/8, $0x3ab60b613ab60b61  // V26 1/6!
DATA expc<>+104(SB)/8, $0x3ab60b613ab60b61
DATA expc<>+112(SB)/8, $0x3c0888893c088889 // V27 1/5!
DATA expc<>+120(SB)/8, $0x3c0888893c088889
DATA expc<>+128(SB)/8, $0x3d2aaaab3d2aaaab // V28 1/4!
DATA expc<>+136(SB)/8, $0x3d2aaaab3d2aaaab
DATA expc<>+144(SB)/8, $0x3e2aaaab3e2aaaab // V29 1/3!
DATA expc<>+152(SB)/8, $0x3e2aaaab3e2aaaab
DATA expc<>+160(SB)/8, $0x3f0000003f000000 // V30 1/2
DATA expc<>+168(SB)/8, $0x3f0000003f000000
DATA expc<>+176(SB)/8, $0x3f8000003f800000 // V31 1, also 127<<23
DATA expc<>+184(SB)/8, $0x3f8000003f800000
GLOBL expc<>(SB), RODATA|NOPTR, $192

#define LOADEXPC \
	MOVD   $expc<>(SB), R9; \
	VLD1.P 64(R9), [V20.S4, V21.S4, V22.S4, V23.S4]; \
	VLD1.P 64(R9), [V24.S4, V25.S4, V26.S4, V27.S4]; \
	VLD1   (R9), [V28.S4, V29.S4, V30.S4, V31.S4]

// EXPV sets OUT = exp(X) exactly as expGo does, with the constants in
// V20–V31; X, N, P and T are clobbered, OUT may be any of them:
//
//	x = min(max(x, lo), hi)              NaN passes through
//	n = roundeven(x·log2e)
//	r = fma(n, -ln2hi, x); r = fma(n, -ln2lo, r)
//	p = Horner(r) with fma, 1/7! … 1     (FMLA adds to its destination,
//	                                     so P and T take turns)
//	e = (p·2^(n>>1))·2^(n - n>>1)        2^k = (k<<23) + (127<<23)
#define EXPV(X, N, P, T, OUT) \
	FMAX4(X, X, 20); \
	FMIN4(X, X, 21); \
	FMUL4(N, X, 22); \
	FRINTN4(N, N); \
	FMLA4(X, N, 23); \
	FMLA4(X, N, 24); \
	MOV16(P, 26); \
	FMLA4(P, 25, X); \
	MOV16(T, 27); \
	FMLA4(T, P, X); \
	MOV16(P, 28); \
	FMLA4(P, T, X); \
	MOV16(T, 29); \
	FMLA4(T, P, X); \
	MOV16(P, 30); \
	FMLA4(P, T, X); \
	MOV16(T, 31); \
	FMLA4(T, P, X); \
	MOV16(P, 31); \
	FMLA4(P, T, X); \
	FCVTZS4(N, N); \
	SSHR1(T, N); \
	SUB4(N, N, T); \
	SHL23(T, T); \
	ADD4(T, T, 31); \
	SHL23(N, N); \
	ADD4(N, N, 31); \
	FMUL4(P, P, T); \
	FMUL4(OUT, P, N)

// func expNEON(dst, src *float32, n int)   n a multiple of 16
TEXT ·expNEON(SB), NOSPLIT, $0-24
	MOVD dst+0(FP), R0
	MOVD src+8(FP), R1
	MOVD n+16(FP), R2
	LSR  $4, R2, R2
	CBZ  R2, expdone
	LOADEXPC

exploop:
	VLD1.P 64(R1), [V0.S4, V1.S4, V2.S4, V3.S4]
	EXPV(0, 4, 5, 6, 0)
	EXPV(1, 7, 8, 9, 1)
	EXPV(2, 10, 11, 12, 2)
	EXPV(3, 13, 14, 15, 3)
	VST1.P [V0.S4, V1.S4, V2.S4, V3.S4], 64(R0)
	SUBS   $1, R2, R2
	BNE    exploop

expdone:
	RET

// ---- rowMax: lane-wise running maximum, m = v > m ? v : m (NaN never
// wins). m V0–V3, x V4–V7, masks V8–V11.

// func maxNEON(m *maxes, x *float32, n int)
TEXT ·maxNEON(SB), NOSPLIT, $0-24
	MOVD m+0(FP), R0
	MOVD x+8(FP), R1
	MOVD n+16(FP), R2
	LSR  $4, R2, R2
	CBZ  R2, maxdone
	VLD1 (R0), [V0.S4, V1.S4, V2.S4, V3.S4]

maxloop:
	VLD1.P 64(R1), [V4.S4, V5.S4, V6.S4, V7.S4]
	FCMGT4(8, 4, 0)
	FCMGT4(9, 5, 1)
	FCMGT4(10, 6, 2)
	FCMGT4(11, 7, 3)
	BIT16(0, 4, 8)
	BIT16(1, 5, 9)
	BIT16(2, 6, 10)
	BIT16(3, 7, 11)
	SUBS   $1, R2, R2
	BNE    maxloop
	VST1   [V0.S4, V1.S4, V2.S4, V3.S4], (R0)

maxdone:
	RET

// ---- expSum: dst = exp(src - c), partial sums of dst. src and dst V0–V3,
// c V4, partial sums V8–V15.

#define EXPSUM(I, A0, A1) \
	FSUB4(16, I, 4); \
	EXPV(16, 17, 18, 19, I); \
	FCVTL(17, I); \
	FADD2(A0, A0, 17); \
	FCVTL2(18, I); \
	FADD2(A1, A1, 18)

// func expSumNEON(dst, src *float32, c float32, acc *partials, n int)
TEXT ·expSumNEON(SB), NOSPLIT, $0-40
	MOVD  dst+0(FP), R0
	MOVD  src+8(FP), R1
	MOVD  $c+16(FP), R3
	VLD1R (R3), [V4.S4]
	MOVD  acc+24(FP), R4
	MOVD  n+32(FP), R2
	LSR   $4, R2, R2
	CBZ   R2, expsumdone
	LOADEXPC
	ADD   $64, R4, R5
	VLD1  (R4), [V8.D2, V9.D2, V10.D2, V11.D2]
	VLD1  (R5), [V12.D2, V13.D2, V14.D2, V15.D2]

expsumloop:
	VLD1.P 64(R1), [V0.S4, V1.S4, V2.S4, V3.S4]
	EXPSUM(0, 8, 9)
	EXPSUM(1, 10, 11)
	EXPSUM(2, 12, 13)
	EXPSUM(3, 14, 15)
	VST1.P [V0.S4, V1.S4, V2.S4, V3.S4], 64(R0)
	SUBS   $1, R2, R2
	BNE    expsumloop
	VST1   [V8.D2, V9.D2, V10.D2, V11.D2], (R4)
	VST1   [V12.D2, V13.D2, V14.D2, V15.D2], (R5)

expsumdone:
	RET

// ---- scale: x = x·s (s V4). addTo: dst = dst + src.

// func scaleNEON(x *float32, s float32, n int)
TEXT ·scaleNEON(SB), NOSPLIT, $0-24
	MOVD  x+0(FP), R0
	MOVD  $s+8(FP), R3
	VLD1R (R3), [V4.S4]
	MOVD  n+16(FP), R2
	LSR   $4, R2, R2
	CBZ   R2, scaledone

scaleloop:
	VLD1   (R0), [V0.S4, V1.S4, V2.S4, V3.S4]
	FMUL4(0, 0, 4)
	FMUL4(1, 1, 4)
	FMUL4(2, 2, 4)
	FMUL4(3, 3, 4)
	VST1.P [V0.S4, V1.S4, V2.S4, V3.S4], 64(R0)
	SUBS   $1, R2, R2
	BNE    scaleloop

scaledone:
	RET

// func addToNEON(dst, src *float32, n int)
TEXT ·addToNEON(SB), NOSPLIT, $0-24
	MOVD dst+0(FP), R0
	MOVD src+8(FP), R1
	MOVD n+16(FP), R2
	LSR  $4, R2, R2
	CBZ  R2, addtodone

addtoloop:
	VLD1   (R0), [V0.S4, V1.S4, V2.S4, V3.S4]
	VLD1.P 64(R1), [V4.S4, V5.S4, V6.S4, V7.S4]
	FADD4(0, 0, 4)
	FADD4(1, 1, 5)
	FADD4(2, 2, 6)
	FADD4(3, 3, 7)
	VST1.P [V0.S4, V1.S4, V2.S4, V3.S4], 64(R0)
	SUBS   $1, R2, R2
	BNE    addtoloop

addtodone:
	RET

// ---- sumSq: acc += x·x; dot: acc += a·b. Products of widened floats are
// exact, so the fused FMLA rounds only the sum, as the Go code does.
// x (a) V0–V3, b V4–V7, partial sums V8–V15.

// func sumSqNEON(acc *partials, x *float32, n int)
TEXT ·sumSqNEON(SB), NOSPLIT, $0-24
	MOVD acc+0(FP), R0
	MOVD x+8(FP), R1
	MOVD n+16(FP), R2
	LSR  $4, R2, R2
	CBZ  R2, sumsqdone
	ADD  $64, R0, R5
	VLD1 (R0), [V8.D2, V9.D2, V10.D2, V11.D2]
	VLD1 (R5), [V12.D2, V13.D2, V14.D2, V15.D2]

sumsqloop:
	VLD1.P 64(R1), [V0.S4, V1.S4, V2.S4, V3.S4]
	FCVTL(16, 0)
	FCVTL2(17, 0)
	FCVTL(18, 1)
	FCVTL2(19, 1)
	FCVTL(20, 2)
	FCVTL2(21, 2)
	FCVTL(22, 3)
	FCVTL2(23, 3)
	FMLA2(8, 16, 16)
	FMLA2(9, 17, 17)
	FMLA2(10, 18, 18)
	FMLA2(11, 19, 19)
	FMLA2(12, 20, 20)
	FMLA2(13, 21, 21)
	FMLA2(14, 22, 22)
	FMLA2(15, 23, 23)
	SUBS   $1, R2, R2
	BNE    sumsqloop
	VST1   [V8.D2, V9.D2, V10.D2, V11.D2], (R0)
	VST1   [V12.D2, V13.D2, V14.D2, V15.D2], (R5)

sumsqdone:
	RET

#define DOT(I, A0, A1) \
	FCVTL(16, I); \
	FCVTL(17, 4+I); \
	FMLA2(A0, 16, 17); \
	FCVTL2(18, I); \
	FCVTL2(19, 4+I); \
	FMLA2(A1, 18, 19)

// func dotNEON(acc *partials, a, b *float32, n int)
TEXT ·dotNEON(SB), NOSPLIT, $0-32
	MOVD acc+0(FP), R0
	MOVD a+8(FP), R1
	MOVD b+16(FP), R2
	MOVD n+24(FP), R3
	LSR  $4, R3, R3
	CBZ  R3, dotdone
	ADD  $64, R0, R5
	VLD1 (R0), [V8.D2, V9.D2, V10.D2, V11.D2]
	VLD1 (R5), [V12.D2, V13.D2, V14.D2, V15.D2]

dotloop:
	VLD1.P 64(R1), [V0.S4, V1.S4, V2.S4, V3.S4]
	VLD1.P 64(R2), [V4.S4, V5.S4, V6.S4, V7.S4]
	DOT(0, 8, 9)
	DOT(1, 10, 11)
	DOT(2, 12, 13)
	DOT(3, 14, 15)
	SUBS   $1, R3, R3
	BNE    dotloop
	VST1   [V8.D2, V9.D2, V10.D2, V11.D2], (R0)
	VST1   [V12.D2, V13.D2, V14.D2, V15.D2], (R5)

dotdone:
	RET

// ---- swiGLU: a = float32(g/(1 + exp(-g)))·u. g V0–V3, u and a V4–V7.

#define SWIGLU(I) \
	FNEG4(16, I); \
	EXPV(16, 17, 18, 19, 18); \
	FADD4(18, 18, 31); \
	FDIV4(I, I, 18); \
	FMUL4(4+I, I, 4+I)

// func swiGLUNEON(a, gate, u *float32, n int)
TEXT ·swiGLUNEON(SB), NOSPLIT, $0-32
	MOVD a+0(FP), R0
	MOVD gate+8(FP), R1
	MOVD u+16(FP), R2
	MOVD n+24(FP), R3
	LSR  $4, R3, R3
	CBZ  R3, swigludone
	LOADEXPC

swigluloop:
	VLD1.P 64(R1), [V0.S4, V1.S4, V2.S4, V3.S4]
	VLD1.P 64(R2), [V4.S4, V5.S4, V6.S4, V7.S4]
	SWIGLU(0)
	SWIGLU(1)
	SWIGLU(2)
	SWIGLU(3)
	VST1.P [V4.S4, V5.S4, V6.S4, V7.S4], 64(R0)
	SUBS   $1, R3, R3
	BNE    swigluloop

swigludone:
	RET

// ---- swiGLUBackward: with e = exp(-g), s = 1/(1+e):
// du += da·(g·s), dg += (da·u)·(s·(1 + g·(1-s))). Eight floats at a time
// (two per array in registers): g V0–V1, da V2–V3, u V4–V5, du V6–V7,
// dg V8–V9; X, N, P, T temporaries.

#define SWIGLUBACK(G, DA, U, DU, DG, X, N, P, T) \
	FNEG4(X, G); \
	EXPV(X, N, P, T, P); \
	FADD4(P, P, 31); \
	FDIV4(P, 31, P); \
	FMUL4(X, G, P); \
	FMUL4(X, DA, X); \
	FADD4(DU, DU, X); \
	FSUB4(X, 31, P); \
	FMUL4(X, G, X); \
	FADD4(X, 31, X); \
	FMUL4(X, P, X); \
	FMUL4(N, DA, U); \
	FMUL4(N, N, X); \
	FADD4(DG, DG, N)

#define SWIGLUBACK8 \
	VLD1   (R0), [V8.S4, V9.S4]; \
	VLD1   (R1), [V6.S4, V7.S4]; \
	VLD1.P 32(R2), [V2.S4, V3.S4]; \
	VLD1.P 32(R3), [V0.S4, V1.S4]; \
	VLD1.P 32(R4), [V4.S4, V5.S4]; \
	SWIGLUBACK(0, 2, 4, 6, 8, 16, 17, 18, 19); \
	SWIGLUBACK(1, 3, 5, 7, 9, 10, 11, 12, 13); \
	VST1.P [V8.S4, V9.S4], 32(R0); \
	VST1.P [V6.S4, V7.S4], 32(R1)

// func swiGLUBackNEON(dg, du, da, gate, u *float32, n int)
TEXT ·swiGLUBackNEON(SB), NOSPLIT, $0-48
	MOVD dg+0(FP), R0
	MOVD du+8(FP), R1
	MOVD da+16(FP), R2
	MOVD gate+24(FP), R3
	MOVD u+32(FP), R4
	MOVD n+40(FP), R5
	LSR  $4, R5, R5
	CBZ  R5, swiglubackdone
	LOADEXPC

swiglubackloop:
	SWIGLUBACK8
	SWIGLUBACK8
	SUBS $1, R5, R5
	BNE  swiglubackloop

swiglubackdone:
	RET

// ---- softmaxBack: dr = float32(p·(dr - dot)). dr V0–V3, p V4–V7, dot V31.

#define SMBACK(I) \
	FCVTL(16, 4+I); \
	FCVTL(17, I); \
	FSUB2(17, 17, 31); \
	FMUL2(16, 16, 17); \
	FCVTL2(18, 4+I); \
	FCVTL2(19, I); \
	FSUB2(19, 19, 31); \
	FMUL2(18, 18, 19); \
	FCVTN(I, 16); \
	FCVTN2(I, 18)

// func softmaxBackNEON(dr, p *float32, dot float64, n int)
TEXT ·softmaxBackNEON(SB), NOSPLIT, $0-32
	MOVD  dr+0(FP), R0
	MOVD  p+8(FP), R1
	MOVD  $dot+16(FP), R3
	VLD1R (R3), [V31.D2]
	MOVD  n+24(FP), R2
	LSR   $4, R2, R2
	CBZ   R2, smbackdone

smbackloop:
	VLD1   (R0), [V0.S4, V1.S4, V2.S4, V3.S4]
	VLD1.P 64(R1), [V4.S4, V5.S4, V6.S4, V7.S4]
	SMBACK(0)
	SMBACK(1)
	SMBACK(2)
	SMBACK(3)
	VST1.P [V0.S4, V1.S4, V2.S4, V3.S4], 64(R0)
	SUBS   $1, R2, R2
	BNE    smbackloop

smbackdone:
	RET

// ---- rmsApply: out = w·(x·r). x and out V0–V3, w V4–V7, r V16.

// func rmsApplyNEON(out, x, w *float32, r float32, n int)
TEXT ·rmsApplyNEON(SB), NOSPLIT, $0-40
	MOVD  out+0(FP), R0
	MOVD  x+8(FP), R1
	MOVD  w+16(FP), R2
	MOVD  $r+24(FP), R4
	VLD1R (R4), [V16.S4]
	MOVD  n+32(FP), R3
	LSR   $4, R3, R3
	CBZ   R3, rmsapplydone

rmsapplyloop:
	VLD1.P 64(R1), [V0.S4, V1.S4, V2.S4, V3.S4]
	VLD1.P 64(R2), [V4.S4, V5.S4, V6.S4, V7.S4]
	FMUL4(0, 0, 16)
	FMUL4(1, 1, 16)
	FMUL4(2, 2, 16)
	FMUL4(3, 3, 16)
	FMUL4(0, 4, 0)
	FMUL4(1, 5, 1)
	FMUL4(2, 6, 2)
	FMUL4(3, 7, 3)
	VST1.P [V0.S4, V1.S4, V2.S4, V3.S4], 64(R0)
	SUBS   $1, R3, R3
	BNE    rmsapplyloop

rmsapplydone:
	RET

// ---- rmsDot: acc += (dy·w)·(x·r). dy V0–V3, w V4–V7, x V8–V11,
// partial sums V16–V23, r V31.

#define RMSDOT(I, A0, A1) \
	FCVTL(24, 8+I); \
	FMUL2(24, 24, 31); \
	FCVTL(25, I); \
	FCVTL(26, 4+I); \
	FMUL2(25, 25, 26); \
	FMUL2(25, 25, 24); \
	FADD2(A0, A0, 25); \
	FCVTL2(27, 8+I); \
	FMUL2(27, 27, 31); \
	FCVTL2(28, I); \
	FCVTL2(29, 4+I); \
	FMUL2(28, 28, 29); \
	FMUL2(28, 28, 27); \
	FADD2(A1, A1, 28)

// func rmsDotNEON(acc *partials, dy, w, x *float32, r float64, n int)
TEXT ·rmsDotNEON(SB), NOSPLIT, $0-48
	MOVD  acc+0(FP), R0
	MOVD  dy+8(FP), R1
	MOVD  w+16(FP), R2
	MOVD  x+24(FP), R3
	MOVD  $r+32(FP), R6
	VLD1R (R6), [V31.D2]
	MOVD  n+40(FP), R4
	LSR   $4, R4, R4
	CBZ   R4, rmsdotdone
	ADD   $64, R0, R5
	VLD1  (R0), [V16.D2, V17.D2, V18.D2, V19.D2]
	VLD1  (R5), [V20.D2, V21.D2, V22.D2, V23.D2]

rmsdotloop:
	VLD1.P 64(R1), [V0.S4, V1.S4, V2.S4, V3.S4]
	VLD1.P 64(R2), [V4.S4, V5.S4, V6.S4, V7.S4]
	VLD1.P 64(R3), [V8.S4, V9.S4, V10.S4, V11.S4]
	RMSDOT(0, 16, 17)
	RMSDOT(1, 18, 19)
	RMSDOT(2, 20, 21)
	RMSDOT(3, 22, 23)
	SUBS   $1, R4, R4
	BNE    rmsdotloop
	VST1   [V16.D2, V17.D2, V18.D2, V19.D2], (R0)
	VST1   [V20.D2, V21.D2, V22.D2, V23.D2], (R5)

rmsdotdone:
	RET

// ---- rmsDx: dx += float32(r·(dy·w - (x·r)·mean)). dx V0–V3, dy V4–V7,
// w V8–V11, x V12–V15, r V30, mean V31.

#define RMSDX(I) \
	FCVTL(16, 12+I); \
	FMUL2(16, 16, 30); \
	FMUL2(16, 16, 31); \
	FCVTL(17, 4+I); \
	FCVTL(18, 8+I); \
	FMUL2(17, 17, 18); \
	FSUB2(17, 17, 16); \
	FMUL2(17, 30, 17); \
	FCVTL2(19, 12+I); \
	FMUL2(19, 19, 30); \
	FMUL2(19, 19, 31); \
	FCVTL2(20, 4+I); \
	FCVTL2(21, 8+I); \
	FMUL2(20, 20, 21); \
	FSUB2(20, 20, 19); \
	FMUL2(20, 30, 20); \
	FCVTN(22, 17); \
	FCVTN2(22, 20); \
	FADD4(I, I, 22)

// func rmsDxNEON(dx, dy, w, x *float32, r, mean float64, n int)
TEXT ·rmsDxNEON(SB), NOSPLIT, $0-56
	MOVD  dx+0(FP), R0
	MOVD  dy+8(FP), R1
	MOVD  w+16(FP), R2
	MOVD  x+24(FP), R3
	MOVD  $r+32(FP), R6
	VLD1R (R6), [V30.D2]
	MOVD  $mean+40(FP), R6
	VLD1R (R6), [V31.D2]
	MOVD  n+48(FP), R4
	LSR   $4, R4, R4
	CBZ   R4, rmsdxdone

rmsdxloop:
	VLD1   (R0), [V0.S4, V1.S4, V2.S4, V3.S4]
	VLD1.P 64(R1), [V4.S4, V5.S4, V6.S4, V7.S4]
	VLD1.P 64(R2), [V8.S4, V9.S4, V10.S4, V11.S4]
	VLD1.P 64(R3), [V12.S4, V13.S4, V14.S4, V15.S4]
	RMSDX(0)
	RMSDX(1)
	RMSDX(2)
	RMSDX(3)
	VST1.P [V0.S4, V1.S4, V2.S4, V3.S4], 64(R0)
	SUBS   $1, R4, R4
	BNE    rmsdxloop

rmsdxdone:
	RET

// ---- rmsDw: dw += float32(dy·(x·r)). dw V0–V3, dy V4–V7, x V8–V11, r V31.

#define RMSDW(I) \
	FCVTL(16, 8+I); \
	FMUL2(16, 16, 31); \
	FCVTL(17, 4+I); \
	FMUL2(17, 17, 16); \
	FCVTL2(18, 8+I); \
	FMUL2(18, 18, 31); \
	FCVTL2(19, 4+I); \
	FMUL2(19, 19, 18); \
	FCVTN(20, 17); \
	FCVTN2(20, 19); \
	FADD4(I, I, 20)

// func rmsDwNEON(dw, dy, x *float32, r float64, n int)
TEXT ·rmsDwNEON(SB), NOSPLIT, $0-40
	MOVD  dw+0(FP), R0
	MOVD  dy+8(FP), R1
	MOVD  x+16(FP), R2
	MOVD  $r+24(FP), R6
	VLD1R (R6), [V31.D2]
	MOVD  n+32(FP), R3
	LSR   $4, R3, R3
	CBZ   R3, rmsdwdone

rmsdwloop:
	VLD1   (R0), [V0.S4, V1.S4, V2.S4, V3.S4]
	VLD1.P 64(R1), [V4.S4, V5.S4, V6.S4, V7.S4]
	VLD1.P 64(R2), [V8.S4, V9.S4, V10.S4, V11.S4]
	RMSDW(0)
	RMSDW(1)
	RMSDW(2)
	RMSDW(3)
	VST1.P [V0.S4, V1.S4, V2.S4, V3.S4], 64(R0)
	SUBS   $1, R3, R3
	BNE    rmsdwloop

rmsdwdone:
	RET

// ---- rope: x1' = x1·c - x2·s, x2' = x2·c + x1·s, with s = sin XOR neg.
// x1 V0–V3, x2 V4–V7, cos V8–V11, sin V12–V15, neg V16.

#define ROPE(I) \
	EOR16(12+I, 12+I, 16); \
	FMUL4(17, I, 8+I); \
	FMUL4(18, 4+I, 12+I); \
	FMUL4(19, 4+I, 8+I); \
	FMUL4(12+I, I, 12+I); \
	FSUB4(I, 17, 18); \
	FADD4(4+I, 19, 12+I)

// func ropeNEON(x1, x2, cos, sin *float32, n int, neg uint32)
TEXT ·ropeNEON(SB), NOSPLIT, $0-44
	MOVD  x1+0(FP), R0
	MOVD  x2+8(FP), R1
	MOVD  cos+16(FP), R2
	MOVD  sin+24(FP), R3
	MOVD  n+32(FP), R4
	MOVD  $neg+40(FP), R6
	VLD1R (R6), [V16.S4]
	LSR   $4, R4, R4
	CBZ   R4, ropedone

ropeloop:
	VLD1   (R0), [V0.S4, V1.S4, V2.S4, V3.S4]
	VLD1   (R1), [V4.S4, V5.S4, V6.S4, V7.S4]
	VLD1.P 64(R2), [V8.S4, V9.S4, V10.S4, V11.S4]
	VLD1.P 64(R3), [V12.S4, V13.S4, V14.S4, V15.S4]
	ROPE(0)
	ROPE(1)
	ROPE(2)
	ROPE(3)
	VST1.P [V0.S4, V1.S4, V2.S4, V3.S4], 64(R0)
	VST1.P [V4.S4, V5.S4, V6.S4, V7.S4], 64(R1)
	SUBS   $1, R4, R4
	BNE    ropeloop

ropedone:
	RET
