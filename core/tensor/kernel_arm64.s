//go:build !purego

#include "textflag.h"

// NEON micro-kernel, 8×8: the same contract as the amd64 kernels
// (kernelFunc in gemm.go) except that it never writes C: it always saves
// the tile to w and the driver applies alpha and beta (kernel.final is
// false), since Go's arm64 assembler lacks vector FMUL and FADD.
//
// Accumulators V0–V15 (row r in V2r, V2r+1), B in V16–V17, broadcasts of
// A in V18–V25; R3–R10 point at rows 0–7 of A and step by ks. Row p of
// the B panel is at b + p·bs, bs = flags>>8 bytes or, when that is 0,
// the packed stride 32 (kernStrideShift in gemm.go); R15 holds bs.

// func kernNEON(k int, a *float32, rs, ks int, b, w, c *float32, ldc int, alpha, beta float32, flags int)
TEXT ·kernNEON(SB), NOSPLIT, $0-80
	MOVD k+0(FP), R0
	MOVD a+8(FP), R3
	MOVD rs+16(FP), R13
	MOVD ks+24(FP), R12
	MOVD b+32(FP), R1
	MOVD w+40(FP), R2
	MOVD flags+72(FP), R11
	ADD  R13, R3, R4
	ADD  R13, R4, R5
	ADD  R13, R5, R6
	ADD  R13, R6, R7
	ADD  R13, R7, R8
	ADD  R13, R8, R9
	ADD  R13, R9, R10
	LSR  $8, R11, R15
	CBNZ R15, neonstrided
	MOVD $32, R15

neonstrided:
	TBZ  $0, R11, neonzero
	MOVD R2, R14
	VLD1.P 64(R14), [V0.S4, V1.S4, V2.S4, V3.S4]
	VLD1.P 64(R14), [V4.S4, V5.S4, V6.S4, V7.S4]
	VLD1.P 64(R14), [V8.S4, V9.S4, V10.S4, V11.S4]
	VLD1.P 64(R14), [V12.S4, V13.S4, V14.S4, V15.S4]
	B    neoncheck

neonzero:
	VEOR V0.B16, V0.B16, V0.B16
	VEOR V1.B16, V1.B16, V1.B16
	VEOR V2.B16, V2.B16, V2.B16
	VEOR V3.B16, V3.B16, V3.B16
	VEOR V4.B16, V4.B16, V4.B16
	VEOR V5.B16, V5.B16, V5.B16
	VEOR V6.B16, V6.B16, V6.B16
	VEOR V7.B16, V7.B16, V7.B16
	VEOR V8.B16, V8.B16, V8.B16
	VEOR V9.B16, V9.B16, V9.B16
	VEOR V10.B16, V10.B16, V10.B16
	VEOR V11.B16, V11.B16, V11.B16
	VEOR V12.B16, V12.B16, V12.B16
	VEOR V13.B16, V13.B16, V13.B16
	VEOR V14.B16, V14.B16, V14.B16
	VEOR V15.B16, V15.B16, V15.B16

neoncheck:
	CBZ R0, neondone

neonloop:
	VLD1.P (R1)(R15), [V16.S4, V17.S4]
	VLD1R.P (R3)(R12), [V18.S4]
	VFMLA   V16.S4, V18.S4, V0.S4
	VFMLA   V17.S4, V18.S4, V1.S4
	VLD1R.P (R4)(R12), [V19.S4]
	VFMLA   V16.S4, V19.S4, V2.S4
	VFMLA   V17.S4, V19.S4, V3.S4
	VLD1R.P (R5)(R12), [V20.S4]
	VFMLA   V16.S4, V20.S4, V4.S4
	VFMLA   V17.S4, V20.S4, V5.S4
	VLD1R.P (R6)(R12), [V21.S4]
	VFMLA   V16.S4, V21.S4, V6.S4
	VFMLA   V17.S4, V21.S4, V7.S4
	VLD1R.P (R7)(R12), [V22.S4]
	VFMLA   V16.S4, V22.S4, V8.S4
	VFMLA   V17.S4, V22.S4, V9.S4
	VLD1R.P (R8)(R12), [V23.S4]
	VFMLA   V16.S4, V23.S4, V10.S4
	VFMLA   V17.S4, V23.S4, V11.S4
	VLD1R.P (R9)(R12), [V24.S4]
	VFMLA   V16.S4, V24.S4, V12.S4
	VFMLA   V17.S4, V24.S4, V13.S4
	VLD1R.P (R10)(R12), [V25.S4]
	VFMLA   V16.S4, V25.S4, V14.S4
	VFMLA   V17.S4, V25.S4, V15.S4
	SUBS $1, R0, R0
	BNE  neonloop

neondone:
	MOVD R2, R14
	VST1.P [V0.S4, V1.S4, V2.S4, V3.S4], 64(R14)
	VST1.P [V4.S4, V5.S4, V6.S4, V7.S4], 64(R14)
	VST1.P [V8.S4, V9.S4, V10.S4, V11.S4], 64(R14)
	VST1.P [V12.S4, V13.S4, V14.S4, V15.S4], 64(R14)
	RET
