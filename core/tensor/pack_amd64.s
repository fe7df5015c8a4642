//go:build !purego

#include "textflag.h"

// Vectorised transposing pack of op(B) for packB (see packTransB in
// pack.go): 8×8 blocks are transposed in registers (unpack, shuffle,
// 128-bit permute). It only moves bits, so the packed panel is the one the
// scalar loop writes.

#define TRANSPOSE8 \
	VUNPCKLPS  Y1, Y0, Y8; \
	VUNPCKHPS  Y1, Y0, Y9; \
	VUNPCKLPS  Y3, Y2, Y10; \
	VUNPCKHPS  Y3, Y2, Y11; \
	VUNPCKLPS  Y5, Y4, Y12; \
	VUNPCKHPS  Y5, Y4, Y13; \
	VUNPCKLPS  Y7, Y6, Y14; \
	VUNPCKHPS  Y7, Y6, Y15; \
	VSHUFPS    $0x44, Y10, Y8, Y0; \
	VSHUFPS    $0xEE, Y10, Y8, Y1; \
	VSHUFPS    $0x44, Y11, Y9, Y2; \
	VSHUFPS    $0xEE, Y11, Y9, Y3; \
	VSHUFPS    $0x44, Y14, Y12, Y4; \
	VSHUFPS    $0xEE, Y14, Y12, Y5; \
	VSHUFPS    $0x44, Y15, Y13, Y6; \
	VSHUFPS    $0xEE, Y15, Y13, Y7; \
	VPERM2F128 $0x20, Y4, Y0, Y8; \
	VPERM2F128 $0x20, Y5, Y1, Y9; \
	VPERM2F128 $0x20, Y6, Y2, Y10; \
	VPERM2F128 $0x20, Y7, Y3, Y11; \
	VPERM2F128 $0x31, Y4, Y0, Y12; \
	VPERM2F128 $0x31, Y5, Y1, Y13; \
	VPERM2F128 $0x31, Y6, Y2, Y14; \
	VPERM2F128 $0x31, Y7, Y3, Y15

// func transpose8AVX2(dst, src *float32, nr, ldb, k8, groups int)
//
// For p in [0, k8) (a multiple of 8, > 0) and jj in [0, 8·groups)
// (groups > 0): dst[p·nr+jj] = src[jj·ldb+p].
TEXT ·transpose8AVX2(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ nr+16(FP), R8
	SHLQ $2, R8             // dst row stride, bytes
	MOVQ ldb+24(FP), R9
	SHLQ $2, R9             // src row stride, bytes
	MOVQ k8+32(FP), CX
	MOVQ groups+40(FP), DX
	LEAQ (R9)(R9*2), R10    // 3 src rows
	LEAQ (R8)(R8*2), R11    // 3 dst rows

tploop:
	MOVQ SI, AX             // src rows of column group 0, at p
	MOVQ DI, BX             // dst at (p, 0)
	MOVQ DX, R12

tgloop:
	LEAQ    (AX)(R9*4), R13
	VMOVUPS (AX), Y0
	VMOVUPS (AX)(R9*1), Y1
	VMOVUPS (AX)(R9*2), Y2
	VMOVUPS (AX)(R10*1), Y3
	VMOVUPS (R13), Y4
	VMOVUPS (R13)(R9*1), Y5
	VMOVUPS (R13)(R9*2), Y6
	VMOVUPS (R13)(R10*1), Y7
	TRANSPOSE8
	LEAQ    (BX)(R8*4), R14
	VMOVUPS Y8, (BX)
	VMOVUPS Y9, (BX)(R8*1)
	VMOVUPS Y10, (BX)(R8*2)
	VMOVUPS Y11, (BX)(R11*1)
	VMOVUPS Y12, (R14)
	VMOVUPS Y13, (R14)(R8*1)
	VMOVUPS Y14, (R14)(R8*2)
	VMOVUPS Y15, (R14)(R11*1)
	LEAQ    (AX)(R9*8), AX  // next 8 columns: 8 src rows on
	ADDQ    $32, BX
	DECQ    R12
	JNZ     tgloop

	ADDQ $32, SI            // p += 8
	LEAQ (DI)(R8*8), DI
	SUBQ $8, CX
	JNZ  tploop
	VZEROUPPER
	RET

// func copy8AVX2(dst, src *float32, nr, ldb, k, groups int)
//
// For p in [0, k) (k > 0) and jj in [0, 8·groups) (groups > 0):
// dst[p·nr+jj] = src[p·ldb+jj], 8 floats per move.
TEXT ·copy8AVX2(SB), NOSPLIT, $0-48
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ nr+16(FP), R8
	SHLQ $2, R8
	MOVQ ldb+24(FP), R9
	SHLQ $2, R9
	MOVQ k+32(FP), CX
	MOVQ groups+40(FP), DX

cploop:
	MOVQ SI, AX
	MOVQ DI, BX
	MOVQ DX, R12

cgloop:
	VMOVUPS (AX), Y0
	VMOVUPS Y0, (BX)
	ADDQ    $32, AX
	ADDQ    $32, BX
	DECQ    R12
	JNZ     cgloop

	ADDQ R9, SI
	ADDQ R8, DI
	DECQ CX
	JNZ  cploop
	VZEROUPPER
	RET
