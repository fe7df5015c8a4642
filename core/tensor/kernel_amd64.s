//go:build !purego

#include "textflag.h"

// Micro-kernels for the packed GEMM driver in gemm.go. Each computes one
// mr×nr tile of C from a packed A panel (k steps of mr values) and a packed
// B panel (k steps of nr values):
//
//	acc[r][j] = fma(a[p][r], b[p][j], acc[r][j])   for p = 0 … k-1, in order
//
// starting from zero, or from the tile saved in w when flags&kernLoad.
// Then either the tile is saved to w (row-major mr×nr), or, with
// flags&kernFinal, written to C as alpha·acc (flags&kernBeta clear) or
// round(alpha·acc) + round(beta·C) (flags&kernBeta set). Every path in
// the package rounds exactly this way, so all kernels agree bit for bit.
//
// Arguments (ABI0): k+0 a+8 b+16 w+24 c+32 ldc+40 alpha+48 beta+52 flags+56.

// ---- AVX2 + FMA, 6×16: accumulators Y0–Y11 (row r in Y2r, Y2r+1). ----

#define ROW6(off, acc0, acc1) \
	VBROADCASTSS off(AX), Y14; \
	VFMADD231PS  Y12, Y14, acc0; \
	VFMADD231PS  Y13, Y14, acc1

#define LOADW6(off, acc0, acc1) \
	VMOVUPS off(DI), acc0; \
	VMOVUPS off+32(DI), acc1

#define SAVEW6(off, acc0, acc1) \
	VMOVUPS acc0, off(DI); \
	VMOVUPS acc1, off+32(DI)

#define SCALE6(acc0, acc1) \
	VMULPS Y14, acc0, acc0; \
	VMULPS Y14, acc1, acc1

#define BETAROW6(acc0, acc1) \
	VMULPS  (SI), Y15, Y12; \
	VMULPS  32(SI), Y15, Y13; \
	VADDPS  Y12, acc0, acc0; \
	VADDPS  Y13, acc1, acc1; \
	VMOVUPS acc0, (SI); \
	VMOVUPS acc1, 32(SI); \
	ADDQ    R8, SI

#define STOREROW6(acc0, acc1) \
	VMOVUPS acc0, (SI); \
	VMOVUPS acc1, 32(SI); \
	ADDQ    R8, SI

// func kernAVX2(k int, a, b, w, c *float32, ldc int, alpha, beta float32, flags int)
TEXT ·kernAVX2(SB), NOSPLIT, $0-64
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), AX
	MOVQ b+16(FP), BX
	MOVQ w+24(FP), DI
	MOVQ flags+56(FP), DX

	TESTQ $1, DX
	JZ    avx2zero
	LOADW6(0, Y0, Y1)
	LOADW6(64, Y2, Y3)
	LOADW6(128, Y4, Y5)
	LOADW6(192, Y6, Y7)
	LOADW6(256, Y8, Y9)
	LOADW6(320, Y10, Y11)
	JMP   avx2check

avx2zero:
	VXORPS Y0, Y0, Y0
	VXORPS Y1, Y1, Y1
	VXORPS Y2, Y2, Y2
	VXORPS Y3, Y3, Y3
	VXORPS Y4, Y4, Y4
	VXORPS Y5, Y5, Y5
	VXORPS Y6, Y6, Y6
	VXORPS Y7, Y7, Y7
	VXORPS Y8, Y8, Y8
	VXORPS Y9, Y9, Y9
	VXORPS Y10, Y10, Y10
	VXORPS Y11, Y11, Y11

avx2check:
	TESTQ CX, CX
	JZ    avx2done

avx2loop:
	VMOVUPS (BX), Y12
	VMOVUPS 32(BX), Y13
	ROW6(0, Y0, Y1)
	ROW6(4, Y2, Y3)
	ROW6(8, Y4, Y5)
	ROW6(12, Y6, Y7)
	ROW6(16, Y8, Y9)
	ROW6(20, Y10, Y11)
	ADDQ $24, AX
	ADDQ $64, BX
	DECQ CX
	JNZ  avx2loop

avx2done:
	TESTQ $2, DX
	JNZ   avx2final
	SAVEW6(0, Y0, Y1)
	SAVEW6(64, Y2, Y3)
	SAVEW6(128, Y4, Y5)
	SAVEW6(192, Y6, Y7)
	SAVEW6(256, Y8, Y9)
	SAVEW6(320, Y10, Y11)
	VZEROUPPER
	RET

avx2final:
	MOVQ         c+32(FP), SI
	MOVQ         ldc+40(FP), R8
	SHLQ         $2, R8
	VBROADCASTSS alpha+48(FP), Y14
	SCALE6(Y0, Y1)
	SCALE6(Y2, Y3)
	SCALE6(Y4, Y5)
	SCALE6(Y6, Y7)
	SCALE6(Y8, Y9)
	SCALE6(Y10, Y11)
	TESTQ        $4, DX
	JZ           avx2store
	VBROADCASTSS beta+52(FP), Y15
	BETAROW6(Y0, Y1)
	BETAROW6(Y2, Y3)
	BETAROW6(Y4, Y5)
	BETAROW6(Y6, Y7)
	BETAROW6(Y8, Y9)
	BETAROW6(Y10, Y11)
	VZEROUPPER
	RET

avx2store:
	STOREROW6(Y0, Y1)
	STOREROW6(Y2, Y3)
	STOREROW6(Y4, Y5)
	STOREROW6(Y6, Y7)
	STOREROW6(Y8, Y9)
	STOREROW6(Y10, Y11)
	VZEROUPPER
	RET

// ---- AVX-512F, 12×32: accumulators Z0–Z23 (row r in Z2r, Z2r+1). ----

#define ROW12(off, acc0, acc1) \
	VBROADCASTSS off(AX), Z26; \
	VFMADD231PS  Z24, Z26, acc0; \
	VFMADD231PS  Z25, Z26, acc1

#define LOADW12(off, acc0, acc1) \
	VMOVUPS off(DI), acc0; \
	VMOVUPS off+64(DI), acc1

#define SAVEW12(off, acc0, acc1) \
	VMOVUPS acc0, off(DI); \
	VMOVUPS acc1, off+64(DI)

#define ZERO12(acc0, acc1) \
	VPXORD acc0, acc0, acc0; \
	VPXORD acc1, acc1, acc1

#define SCALE12(acc0, acc1) \
	VMULPS Z26, acc0, acc0; \
	VMULPS Z26, acc1, acc1

#define BETAROW12(acc0, acc1) \
	VMULPS  (SI), Z27, Z24; \
	VMULPS  64(SI), Z27, Z25; \
	VADDPS  Z24, acc0, acc0; \
	VADDPS  Z25, acc1, acc1; \
	VMOVUPS acc0, (SI); \
	VMOVUPS acc1, 64(SI); \
	ADDQ    R8, SI

#define STOREROW12(acc0, acc1) \
	VMOVUPS acc0, (SI); \
	VMOVUPS acc1, 64(SI); \
	ADDQ    R8, SI

// func kernAVX512(k int, a, b, w, c *float32, ldc int, alpha, beta float32, flags int)
TEXT ·kernAVX512(SB), NOSPLIT, $0-64
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), AX
	MOVQ b+16(FP), BX
	MOVQ w+24(FP), DI
	MOVQ flags+56(FP), DX

	TESTQ $1, DX
	JZ    z512zero
	LOADW12(0, Z0, Z1)
	LOADW12(128, Z2, Z3)
	LOADW12(256, Z4, Z5)
	LOADW12(384, Z6, Z7)
	LOADW12(512, Z8, Z9)
	LOADW12(640, Z10, Z11)
	LOADW12(768, Z12, Z13)
	LOADW12(896, Z14, Z15)
	LOADW12(1024, Z16, Z17)
	LOADW12(1152, Z18, Z19)
	LOADW12(1280, Z20, Z21)
	LOADW12(1408, Z22, Z23)
	JMP   z512check

z512zero:
	ZERO12(Z0, Z1)
	ZERO12(Z2, Z3)
	ZERO12(Z4, Z5)
	ZERO12(Z6, Z7)
	ZERO12(Z8, Z9)
	ZERO12(Z10, Z11)
	ZERO12(Z12, Z13)
	ZERO12(Z14, Z15)
	ZERO12(Z16, Z17)
	ZERO12(Z18, Z19)
	ZERO12(Z20, Z21)
	ZERO12(Z22, Z23)

z512check:
	TESTQ CX, CX
	JZ    z512done

z512loop:
	VMOVUPS (BX), Z24
	VMOVUPS 64(BX), Z25
	ROW12(0, Z0, Z1)
	ROW12(4, Z2, Z3)
	ROW12(8, Z4, Z5)
	ROW12(12, Z6, Z7)
	ROW12(16, Z8, Z9)
	ROW12(20, Z10, Z11)
	ROW12(24, Z12, Z13)
	ROW12(28, Z14, Z15)
	ROW12(32, Z16, Z17)
	ROW12(36, Z18, Z19)
	ROW12(40, Z20, Z21)
	ROW12(44, Z22, Z23)
	ADDQ $48, AX
	ADDQ $128, BX
	DECQ CX
	JNZ  z512loop

z512done:
	TESTQ $2, DX
	JNZ   z512final
	SAVEW12(0, Z0, Z1)
	SAVEW12(128, Z2, Z3)
	SAVEW12(256, Z4, Z5)
	SAVEW12(384, Z6, Z7)
	SAVEW12(512, Z8, Z9)
	SAVEW12(640, Z10, Z11)
	SAVEW12(768, Z12, Z13)
	SAVEW12(896, Z14, Z15)
	SAVEW12(1024, Z16, Z17)
	SAVEW12(1152, Z18, Z19)
	SAVEW12(1280, Z20, Z21)
	SAVEW12(1408, Z22, Z23)
	VZEROUPPER
	RET

z512final:
	MOVQ         c+32(FP), SI
	MOVQ         ldc+40(FP), R8
	SHLQ         $2, R8
	VBROADCASTSS alpha+48(FP), Z26
	SCALE12(Z0, Z1)
	SCALE12(Z2, Z3)
	SCALE12(Z4, Z5)
	SCALE12(Z6, Z7)
	SCALE12(Z8, Z9)
	SCALE12(Z10, Z11)
	SCALE12(Z12, Z13)
	SCALE12(Z14, Z15)
	SCALE12(Z16, Z17)
	SCALE12(Z18, Z19)
	SCALE12(Z20, Z21)
	SCALE12(Z22, Z23)
	TESTQ        $4, DX
	JZ           z512store
	VBROADCASTSS beta+52(FP), Z27
	BETAROW12(Z0, Z1)
	BETAROW12(Z2, Z3)
	BETAROW12(Z4, Z5)
	BETAROW12(Z6, Z7)
	BETAROW12(Z8, Z9)
	BETAROW12(Z10, Z11)
	BETAROW12(Z12, Z13)
	BETAROW12(Z14, Z15)
	BETAROW12(Z16, Z17)
	BETAROW12(Z18, Z19)
	BETAROW12(Z20, Z21)
	BETAROW12(Z22, Z23)
	VZEROUPPER
	RET

z512store:
	STOREROW12(Z0, Z1)
	STOREROW12(Z2, Z3)
	STOREROW12(Z4, Z5)
	STOREROW12(Z6, Z7)
	STOREROW12(Z8, Z9)
	STOREROW12(Z10, Z11)
	STOREROW12(Z12, Z13)
	STOREROW12(Z14, Z15)
	STOREROW12(Z16, Z17)
	STOREROW12(Z18, Z19)
	STOREROW12(Z20, Z21)
	STOREROW12(Z22, Z23)
	VZEROUPPER
	RET

// func cpuid(leaf, sub uint32) (eax, ebx, ecx, edx uint32)
TEXT ·cpuid(SB), NOSPLIT, $0-24
	MOVL leaf+0(FP), AX
	MOVL sub+4(FP), CX
	CPUID
	MOVL AX, eax+8(FP)
	MOVL BX, ebx+12(FP)
	MOVL CX, ecx+16(FP)
	MOVL DX, edx+20(FP)
	RET

// func xgetbv() (eax uint32)
TEXT ·xgetbv(SB), NOSPLIT, $0-4
	MOVL $0, CX
	XGETBV
	MOVL AX, eax+0(FP)
	RET
