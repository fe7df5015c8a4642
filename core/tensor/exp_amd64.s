//go:build !purego

#include "textflag.h"

// Vectorised float32 exp, the same operations as expGo (exp.go) lane by
// lane, so every path gives the same bits:
//
//	x = min(max(x, expLo), expHi)        NaN passes through
//	n = roundeven(x·log2e)
//	r = fma(n, -ln2hi, x); r = fma(n, -ln2lo, r)
//	p = Horner(r) with fma, 1/7! … 1
//	e = (p·2^(n>>1))·2^(n - n>>1)        two exact-then-rounded scalings

DATA expConst<>+0(SB)/4, $0x42b20000  // expHi = 89
DATA expConst<>+4(SB)/4, $0xc2d00000  // expLo = -104
DATA expConst<>+8(SB)/4, $0x3fb8aa3b  // log2e
DATA expConst<>+12(SB)/4, $0xbf318000 // -ln2hi = -0.693359375
DATA expConst<>+16(SB)/4, $0x395e8083 // -ln2lo = 2.12194440e-4
DATA expConst<>+20(SB)/4, $0x39500d01 // 1/7!
DATA expConst<>+24(SB)/4, $0x3ab60b61 // 1/6!
DATA expConst<>+28(SB)/4, $0x3c088889 // 1/5!
DATA expConst<>+32(SB)/4, $0x3d2aaaab // 1/4!
DATA expConst<>+36(SB)/4, $0x3e2aaaab // 1/3!
DATA expConst<>+40(SB)/4, $0x3f000000 // 1/2
DATA expConst<>+44(SB)/4, $0x3f800000 // 1
DATA expConst<>+48(SB)/4, $127        // exponent bias
GLOBL expConst<>(SB), RODATA|NOPTR, $52

// func expAVX2(dst, src *float32, n int)   n a multiple of 8
TEXT ·expAVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	SHRQ $3, CX
	JZ   avx2expdone
	VBROADCASTSS expConst<>+0(SB), Y8
	VBROADCASTSS expConst<>+4(SB), Y9
	VBROADCASTSS expConst<>+8(SB), Y10
	VBROADCASTSS expConst<>+12(SB), Y11
	VBROADCASTSS expConst<>+16(SB), Y12
	VBROADCASTSS expConst<>+44(SB), Y13
	VPBROADCASTD expConst<>+48(SB), Y14

avx2exploop:
	VMOVUPS      (SI), Y0
	VMAXPS       Y0, Y9, Y0                // max(lo, x), NaN kept
	VMINPS       Y0, Y8, Y0                // min(hi, x), NaN kept
	VMULPS       Y10, Y0, Y1               // x·log2e
	VROUNDPS     $0, Y1, Y1                // n
	VMOVAPS      Y0, Y2
	VFMADD231PS  Y11, Y1, Y2               // r = fma(n, -ln2hi, x)
	VFMADD231PS  Y12, Y1, Y2               // r = fma(n, -ln2lo, r)
	VBROADCASTSS expConst<>+20(SB), Y3     // p = 1/7!
	VBROADCASTSS expConst<>+24(SB), Y4
	VFMADD213PS  Y4, Y2, Y3                // p = p·r + 1/6!
	VBROADCASTSS expConst<>+28(SB), Y4
	VFMADD213PS  Y4, Y2, Y3
	VBROADCASTSS expConst<>+32(SB), Y4
	VFMADD213PS  Y4, Y2, Y3
	VBROADCASTSS expConst<>+36(SB), Y4
	VFMADD213PS  Y4, Y2, Y3
	VBROADCASTSS expConst<>+40(SB), Y4
	VFMADD213PS  Y4, Y2, Y3
	VFMADD213PS  Y13, Y2, Y3               // p = p·r + 1
	VFMADD213PS  Y13, Y2, Y3               // p = p·r + 1
	VCVTPS2DQ    Y1, Y1                    // n as int32 (exact)
	VPSRAD       $1, Y1, Y5                // n1 = n>>1
	VPSUBD       Y5, Y1, Y6                // n2 = n - n1
	VPADDD       Y14, Y5, Y5
	VPSLLD       $23, Y5, Y5               // 2^n1
	VPADDD       Y14, Y6, Y6
	VPSLLD       $23, Y6, Y6               // 2^n2
	VMULPS       Y5, Y3, Y3
	VMULPS       Y6, Y3, Y3
	VMOVUPS      Y3, (DI)
	ADDQ         $32, SI
	ADDQ         $32, DI
	DECQ         CX
	JNZ          avx2exploop

avx2expdone:
	VZEROUPPER
	RET

// func expAVX512(dst, src *float32, n int)   n a multiple of 16
TEXT ·expAVX512(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	SHRQ $4, CX
	JZ   z512expdone
	VBROADCASTSS expConst<>+0(SB), Z8
	VBROADCASTSS expConst<>+4(SB), Z9
	VBROADCASTSS expConst<>+8(SB), Z10
	VBROADCASTSS expConst<>+12(SB), Z11
	VBROADCASTSS expConst<>+16(SB), Z12
	VBROADCASTSS expConst<>+44(SB), Z13
	VPBROADCASTD expConst<>+48(SB), Z14
	VBROADCASTSS expConst<>+20(SB), Z15
	VBROADCASTSS expConst<>+24(SB), Z16
	VBROADCASTSS expConst<>+28(SB), Z17
	VBROADCASTSS expConst<>+32(SB), Z18
	VBROADCASTSS expConst<>+36(SB), Z19
	VBROADCASTSS expConst<>+40(SB), Z20

z512exploop:
	VMOVUPS      (SI), Z0
	VMAXPS       Z0, Z9, Z0
	VMINPS       Z0, Z8, Z0
	VMULPS       Z10, Z0, Z1
	VRNDSCALEPS  $0, Z1, Z1
	VMOVAPS      Z0, Z2
	VFMADD231PS  Z11, Z1, Z2
	VFMADD231PS  Z12, Z1, Z2
	VMOVAPS      Z15, Z3
	VFMADD213PS  Z16, Z2, Z3
	VFMADD213PS  Z17, Z2, Z3
	VFMADD213PS  Z18, Z2, Z3
	VFMADD213PS  Z19, Z2, Z3
	VFMADD213PS  Z20, Z2, Z3
	VFMADD213PS  Z13, Z2, Z3
	VFMADD213PS  Z13, Z2, Z3
	VCVTPS2DQ    Z1, Z1
	VPSRAD       $1, Z1, Z5
	VPSUBD       Z5, Z1, Z6
	VPADDD       Z14, Z5, Z5
	VPSLLD       $23, Z5, Z5
	VPADDD       Z14, Z6, Z6
	VPSLLD       $23, Z6, Z6
	VMULPS       Z5, Z3, Z3
	VMULPS       Z6, Z3, Z3
	VMOVUPS      Z3, (DI)
	ADDQ         $64, SI
	ADDQ         $64, DI
	DECQ         CX
	JNZ          z512exploop

z512expdone:
	VZEROUPPER
	RET
