//go:build !purego

#include "textflag.h"

// Micro-kernels for the GEMM driver in gemm.go. Each computes one mr×nr
// tile of C from an A panel, element (r, p) at byte offset r·rs + p·ks
// (packed, a transposed A and a plain row-major A are all such panels),
// and a packed B panel (k steps of nr values):
//
//	acc[r][j] = fma(a[p][r], b[p][j], acc[r][j])   for p = 0 … k-1, in order
//
// starting from zero, or from the tile saved in w when flags&kernLoad.
// Row p of the B panel is nr floats at b + p·bs, where bs = flags>>8 bytes
// or, when that is 0, the packed stride nr·4 (kernStridedB in gemm.go).
// Then either the tile is saved to w (row-major mr×nr), or, with
// flags&kernFinal, written to C as alpha·acc (flags&kernBeta clear) or
// round(alpha·acc) + round(beta·C) (flags&kernBeta set). Every path in
// the package rounds exactly this way, so all kernels agree bit for bit.
//
// Arguments (ABI0): k+0 a+8 rs+16 ks+24 b+32 w+40 c+48 ldc+56 alpha+64
// beta+68 flags+72. Rows of A are addressed as base + index·scale with
// R9 = rs, R10 = 3·rs, R11 = 5·rs (rows 0–5 from AX, 6–11 from R13).

// ---- AVX2 + FMA, 6×16: accumulators Y0–Y11 (row r in Y2r, Y2r+1). ----

#define ROW6(addr, acc0, acc1) \
	VBROADCASTSS addr, Y14; \
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

// func kernAVX2(k int, a *float32, rs, ks int, b, w, c *float32, ldc int, alpha, beta float32, flags int)
TEXT ·kernAVX2(SB), NOSPLIT, $0-80
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), AX
	MOVQ rs+16(FP), R9
	MOVQ ks+24(FP), R12
	MOVQ b+32(FP), BX
	MOVQ w+40(FP), DI
	MOVQ flags+72(FP), DX
	LEAQ (R9)(R9*2), R10
	LEAQ (R9)(R9*4), R11
	LEAQ (AX)(R10*2), R13
	MOVQ DX, R14
	SHRQ $8, R14            // B row stride in bytes, 0 for a packed panel
	JNZ  avx2strided
	MOVQ $64, R14

avx2strided:
	TESTQ $2, DX
	JZ    avx2nopf
	// Last k block: fetch the C tile now, so that its cache misses
	// overlap the FMAs rather than stall the stores at the end.
	MOVQ  c+48(FP), SI
	MOVQ  ldc+56(FP), R8
	SHLQ  $2, R8
	PREFETCHT0 (SI)
	PREFETCHT0 63(SI)
	ADDQ       R8, SI
	PREFETCHT0 (SI)
	PREFETCHT0 63(SI)
	ADDQ       R8, SI
	PREFETCHT0 (SI)
	PREFETCHT0 63(SI)
	ADDQ       R8, SI
	PREFETCHT0 (SI)
	PREFETCHT0 63(SI)
	ADDQ       R8, SI
	PREFETCHT0 (SI)
	PREFETCHT0 63(SI)
	ADDQ       R8, SI
	PREFETCHT0 (SI)
	PREFETCHT0 63(SI)
	ADDQ       R8, SI

avx2nopf:
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
	ROW6((AX), Y0, Y1)
	ROW6((AX)(R9*1), Y2, Y3)
	ROW6((AX)(R9*2), Y4, Y5)
	ROW6((AX)(R10*1), Y6, Y7)
	ROW6((AX)(R9*4), Y8, Y9)
	ROW6((AX)(R11*1), Y10, Y11)
	ADDQ R12, AX
	ADDQ R14, BX
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
	MOVQ         c+48(FP), SI
	MOVQ         ldc+56(FP), R8
	SHLQ         $2, R8
	VBROADCASTSS alpha+64(FP), Y14
	SCALE6(Y0, Y1)
	SCALE6(Y2, Y3)
	SCALE6(Y4, Y5)
	SCALE6(Y6, Y7)
	SCALE6(Y8, Y9)
	SCALE6(Y10, Y11)
	TESTQ        $4, DX
	JZ           avx2store
	VBROADCASTSS beta+68(FP), Y15
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

#define ROW12(addr, acc0, acc1) \
	VBROADCASTSS addr, Z26; \
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

// func kernAVX512(k int, a *float32, rs, ks int, b, w, c *float32, ldc int, alpha, beta float32, flags int)
TEXT ·kernAVX512(SB), NOSPLIT, $0-80
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), AX
	MOVQ rs+16(FP), R9
	MOVQ ks+24(FP), R12
	MOVQ b+32(FP), BX
	MOVQ w+40(FP), DI
	MOVQ flags+72(FP), DX
	LEAQ (R9)(R9*2), R10
	LEAQ (R9)(R9*4), R11
	LEAQ (AX)(R10*2), R13
	MOVQ DX, R14
	SHRQ $8, R14            // B row stride in bytes, 0 for a packed panel
	JNZ  z512strided
	MOVQ $128, R14

z512strided:
	TESTQ $2, DX
	JZ    z512nopf
	// Last k block: fetch the C tile now, so that its cache
	// misses overlap the FMAs rather than stall the stores at the end.
	MOVQ  c+48(FP), SI
	MOVQ  ldc+56(FP), R8
	SHLQ  $2, R8
	PREFETCHT0 (SI)
	PREFETCHT0 64(SI)
	ADDQ      R8, SI
	PREFETCHT0 (SI)
	PREFETCHT0 64(SI)
	ADDQ      R8, SI
	PREFETCHT0 (SI)
	PREFETCHT0 64(SI)
	ADDQ      R8, SI
	PREFETCHT0 (SI)
	PREFETCHT0 64(SI)
	ADDQ      R8, SI
	PREFETCHT0 (SI)
	PREFETCHT0 64(SI)
	ADDQ      R8, SI
	PREFETCHT0 (SI)
	PREFETCHT0 64(SI)
	ADDQ      R8, SI
	PREFETCHT0 (SI)
	PREFETCHT0 64(SI)
	ADDQ      R8, SI
	PREFETCHT0 (SI)
	PREFETCHT0 64(SI)
	ADDQ      R8, SI
	PREFETCHT0 (SI)
	PREFETCHT0 64(SI)
	ADDQ      R8, SI
	PREFETCHT0 (SI)
	PREFETCHT0 64(SI)
	ADDQ      R8, SI
	PREFETCHT0 (SI)
	PREFETCHT0 64(SI)
	ADDQ      R8, SI
	PREFETCHT0 (SI)
	PREFETCHT0 64(SI)
	ADDQ      R8, SI

z512nopf:
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
	ROW12((AX), Z0, Z1)
	ROW12((AX)(R9*1), Z2, Z3)
	ROW12((AX)(R9*2), Z4, Z5)
	ROW12((AX)(R10*1), Z6, Z7)
	ROW12((AX)(R9*4), Z8, Z9)
	ROW12((AX)(R11*1), Z10, Z11)
	ROW12((R13), Z12, Z13)
	ROW12((R13)(R9*1), Z14, Z15)
	ROW12((R13)(R9*2), Z16, Z17)
	ROW12((R13)(R10*1), Z18, Z19)
	ROW12((R13)(R9*4), Z20, Z21)
	ROW12((R13)(R11*1), Z22, Z23)
	ADDQ R12, AX
	ADDQ R12, R13
	ADDQ R14, BX
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
	MOVQ         c+48(FP), SI
	MOVQ         ldc+56(FP), R8
	SHLQ         $2, R8
	VBROADCASTSS alpha+64(FP), Z26
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
	VBROADCASTSS beta+68(FP), Z27
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

// ---- AVX-512F, 8×32, for the last row tile of a block when it has at
// most 8 rows: the same loop as kernAVX512 on Z0–Z15. ----

// func kernAVX512x8(k int, a *float32, rs, ks int, b, w, c *float32, ldc int, alpha, beta float32, flags int)
TEXT ·kernAVX512x8(SB), NOSPLIT, $0-80
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), AX
	MOVQ rs+16(FP), R9
	MOVQ ks+24(FP), R12
	MOVQ b+32(FP), BX
	MOVQ w+40(FP), DI
	MOVQ flags+72(FP), DX
	LEAQ (R9)(R9*2), R10
	LEAQ (AX)(R9*4), R13
	MOVQ DX, R14
	SHRQ $8, R14            // B row stride in bytes, 0 for a packed panel
	JNZ  e8strided
	MOVQ $128, R14

e8strided:
	TESTQ $2, DX
	JZ    e8nopf
	MOVQ  c+48(FP), SI
	MOVQ  ldc+56(FP), R8
	SHLQ  $2, R8
	PREFETCHT0 (SI)
	PREFETCHT0 64(SI)
	ADDQ       R8, SI
	PREFETCHT0 (SI)
	PREFETCHT0 64(SI)
	ADDQ       R8, SI
	PREFETCHT0 (SI)
	PREFETCHT0 64(SI)
	ADDQ       R8, SI
	PREFETCHT0 (SI)
	PREFETCHT0 64(SI)
	ADDQ       R8, SI
	PREFETCHT0 (SI)
	PREFETCHT0 64(SI)
	ADDQ       R8, SI
	PREFETCHT0 (SI)
	PREFETCHT0 64(SI)
	ADDQ       R8, SI
	PREFETCHT0 (SI)
	PREFETCHT0 64(SI)
	ADDQ       R8, SI
	PREFETCHT0 (SI)
	PREFETCHT0 64(SI)
	ADDQ       R8, SI

e8nopf:
	TESTQ $1, DX
	JZ    e8zero
	LOADW12(0, Z0, Z1)
	LOADW12(128, Z2, Z3)
	LOADW12(256, Z4, Z5)
	LOADW12(384, Z6, Z7)
	LOADW12(512, Z8, Z9)
	LOADW12(640, Z10, Z11)
	LOADW12(768, Z12, Z13)
	LOADW12(896, Z14, Z15)
	JMP   e8check

e8zero:
	ZERO12(Z0, Z1)
	ZERO12(Z2, Z3)
	ZERO12(Z4, Z5)
	ZERO12(Z6, Z7)
	ZERO12(Z8, Z9)
	ZERO12(Z10, Z11)
	ZERO12(Z12, Z13)
	ZERO12(Z14, Z15)

e8check:
	TESTQ CX, CX
	JZ    e8done

e8loop:
	VMOVUPS (BX), Z24
	VMOVUPS 64(BX), Z25
	ROW12((AX), Z0, Z1)
	ROW12((AX)(R9*1), Z2, Z3)
	ROW12((AX)(R9*2), Z4, Z5)
	ROW12((AX)(R10*1), Z6, Z7)
	ROW12((R13), Z8, Z9)
	ROW12((R13)(R9*1), Z10, Z11)
	ROW12((R13)(R9*2), Z12, Z13)
	ROW12((R13)(R10*1), Z14, Z15)
	ADDQ R12, AX
	ADDQ R12, R13
	ADDQ R14, BX
	DECQ CX
	JNZ  e8loop

e8done:
	TESTQ $2, DX
	JNZ   e8final
	SAVEW12(0, Z0, Z1)
	SAVEW12(128, Z2, Z3)
	SAVEW12(256, Z4, Z5)
	SAVEW12(384, Z6, Z7)
	SAVEW12(512, Z8, Z9)
	SAVEW12(640, Z10, Z11)
	SAVEW12(768, Z12, Z13)
	SAVEW12(896, Z14, Z15)
	VZEROUPPER
	RET

e8final:
	MOVQ         c+48(FP), SI
	MOVQ         ldc+56(FP), R8
	SHLQ         $2, R8
	VBROADCASTSS alpha+64(FP), Z26
	SCALE12(Z0, Z1)
	SCALE12(Z2, Z3)
	SCALE12(Z4, Z5)
	SCALE12(Z6, Z7)
	SCALE12(Z8, Z9)
	SCALE12(Z10, Z11)
	SCALE12(Z12, Z13)
	SCALE12(Z14, Z15)
	TESTQ        $4, DX
	JZ           e8store
	VBROADCASTSS beta+68(FP), Z27
	BETAROW12(Z0, Z1)
	BETAROW12(Z2, Z3)
	BETAROW12(Z4, Z5)
	BETAROW12(Z6, Z7)
	BETAROW12(Z8, Z9)
	BETAROW12(Z10, Z11)
	BETAROW12(Z12, Z13)
	BETAROW12(Z14, Z15)
	VZEROUPPER
	RET

e8store:
	STOREROW12(Z0, Z1)
	STOREROW12(Z2, Z3)
	STOREROW12(Z4, Z5)
	STOREROW12(Z6, Z7)
	STOREROW12(Z8, Z9)
	STOREROW12(Z10, Z11)
	STOREROW12(Z12, Z13)
	STOREROW12(Z14, Z15)
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
