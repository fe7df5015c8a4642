//go:build !purego

#include "textflag.h"

// Vectorised row kernels (see vec.go for the Go specifications). Every
// kernel does, lane by lane, exactly the operations of its Go version, and
// handles n a multiple of 16 floats: one ZMM register per step for
// AVX-512, two YMM halves for AVX2. Both instantiate the same body macros.
// Float64 kernels widen 8 (AVX-512) or 4 (AVX2) floats at a time.
//
// Reductions keep 16 float64 partial sums, lane i mod 16: in Z8 (lanes
// 0–7) and Z9 (8–15), or Y8–Y11 (4 lanes each); Go combines them.
//
// Constants are stored as 64-byte vectors so that the same memory operand
// serves both widths.

// +0: lo = -104
DATA vc<>+0(SB)/8, $0xc2d00000c2d00000
DATA vc<>+8(SB)/8, $0xc2d00000c2d00000
DATA vc<>+16(SB)/8, $0xc2d00000c2d00000
DATA vc<>+24(SB)/8, $0xc2d00000c2d00000
DATA vc<>+32(SB)/8, $0xc2d00000c2d00000
DATA vc<>+40(SB)/8, $0xc2d00000c2d00000
DATA vc<>+48(SB)/8, $0xc2d00000c2d00000
DATA vc<>+56(SB)/8, $0xc2d00000c2d00000
// +64: hi = 89
DATA vc<>+64(SB)/8, $0x42b2000042b20000
DATA vc<>+72(SB)/8, $0x42b2000042b20000
DATA vc<>+80(SB)/8, $0x42b2000042b20000
DATA vc<>+88(SB)/8, $0x42b2000042b20000
DATA vc<>+96(SB)/8, $0x42b2000042b20000
DATA vc<>+104(SB)/8, $0x42b2000042b20000
DATA vc<>+112(SB)/8, $0x42b2000042b20000
DATA vc<>+120(SB)/8, $0x42b2000042b20000
// +128: log2e
DATA vc<>+128(SB)/8, $0x3fb8aa3b3fb8aa3b
DATA vc<>+136(SB)/8, $0x3fb8aa3b3fb8aa3b
DATA vc<>+144(SB)/8, $0x3fb8aa3b3fb8aa3b
DATA vc<>+152(SB)/8, $0x3fb8aa3b3fb8aa3b
DATA vc<>+160(SB)/8, $0x3fb8aa3b3fb8aa3b
DATA vc<>+168(SB)/8, $0x3fb8aa3b3fb8aa3b
DATA vc<>+176(SB)/8, $0x3fb8aa3b3fb8aa3b
DATA vc<>+184(SB)/8, $0x3fb8aa3b3fb8aa3b
// +192: -ln2hi
DATA vc<>+192(SB)/8, $0xbf318000bf318000
DATA vc<>+200(SB)/8, $0xbf318000bf318000
DATA vc<>+208(SB)/8, $0xbf318000bf318000
DATA vc<>+216(SB)/8, $0xbf318000bf318000
DATA vc<>+224(SB)/8, $0xbf318000bf318000
DATA vc<>+232(SB)/8, $0xbf318000bf318000
DATA vc<>+240(SB)/8, $0xbf318000bf318000
DATA vc<>+248(SB)/8, $0xbf318000bf318000
// +256: -ln2lo
DATA vc<>+256(SB)/8, $0x395e8083395e8083
DATA vc<>+264(SB)/8, $0x395e8083395e8083
DATA vc<>+272(SB)/8, $0x395e8083395e8083
DATA vc<>+280(SB)/8, $0x395e8083395e8083
DATA vc<>+288(SB)/8, $0x395e8083395e8083
DATA vc<>+296(SB)/8, $0x395e8083395e8083
DATA vc<>+304(SB)/8, $0x395e8083395e8083
DATA vc<>+312(SB)/8, $0x395e8083395e8083
// +320: 1/7!
DATA vc<>+320(SB)/8, $0x39500d0139500d01
DATA vc<>+328(SB)/8, $0x39500d0139500d01
DATA vc<>+336(SB)/8, $0x39500d0139500d01
DATA vc<>+344(SB)/8, $0x39500d0139500d01
DATA vc<>+352(SB)/8, $0x39500d0139500d01
DATA vc<>+360(SB)/8, $0x39500d0139500d01
DATA vc<>+368(SB)/8, $0x39500d0139500d01
DATA vc<>+376(SB)/8, $0x39500d0139500d01
// +384: 1/6!
DATA vc<>+384(SB)/8, $0x3ab60b613ab60b61
DATA vc<>+392(SB)/8, $0x3ab60b613ab60b61
DATA vc<>+400(SB)/8, $0x3ab60b613ab60b61
DATA vc<>+408(SB)/8, $0x3ab60b613ab60b61
DATA vc<>+416(SB)/8, $0x3ab60b613ab60b61
DATA vc<>+424(SB)/8, $0x3ab60b613ab60b61
DATA vc<>+432(SB)/8, $0x3ab60b613ab60b61
DATA vc<>+440(SB)/8, $0x3ab60b613ab60b61
// +448: 1/5!
DATA vc<>+448(SB)/8, $0x3c0888893c088889
DATA vc<>+456(SB)/8, $0x3c0888893c088889
DATA vc<>+464(SB)/8, $0x3c0888893c088889
DATA vc<>+472(SB)/8, $0x3c0888893c088889
DATA vc<>+480(SB)/8, $0x3c0888893c088889
DATA vc<>+488(SB)/8, $0x3c0888893c088889
DATA vc<>+496(SB)/8, $0x3c0888893c088889
DATA vc<>+504(SB)/8, $0x3c0888893c088889
// +512: 1/4!
DATA vc<>+512(SB)/8, $0x3d2aaaab3d2aaaab
DATA vc<>+520(SB)/8, $0x3d2aaaab3d2aaaab
DATA vc<>+528(SB)/8, $0x3d2aaaab3d2aaaab
DATA vc<>+536(SB)/8, $0x3d2aaaab3d2aaaab
DATA vc<>+544(SB)/8, $0x3d2aaaab3d2aaaab
DATA vc<>+552(SB)/8, $0x3d2aaaab3d2aaaab
DATA vc<>+560(SB)/8, $0x3d2aaaab3d2aaaab
DATA vc<>+568(SB)/8, $0x3d2aaaab3d2aaaab
// +576: 1/3!
DATA vc<>+576(SB)/8, $0x3e2aaaab3e2aaaab
DATA vc<>+584(SB)/8, $0x3e2aaaab3e2aaaab
DATA vc<>+592(SB)/8, $0x3e2aaaab3e2aaaab
DATA vc<>+600(SB)/8, $0x3e2aaaab3e2aaaab
DATA vc<>+608(SB)/8, $0x3e2aaaab3e2aaaab
DATA vc<>+616(SB)/8, $0x3e2aaaab3e2aaaab
DATA vc<>+624(SB)/8, $0x3e2aaaab3e2aaaab
DATA vc<>+632(SB)/8, $0x3e2aaaab3e2aaaab
// +640: 1/2
DATA vc<>+640(SB)/8, $0x3f0000003f000000
DATA vc<>+648(SB)/8, $0x3f0000003f000000
DATA vc<>+656(SB)/8, $0x3f0000003f000000
DATA vc<>+664(SB)/8, $0x3f0000003f000000
DATA vc<>+672(SB)/8, $0x3f0000003f000000
DATA vc<>+680(SB)/8, $0x3f0000003f000000
DATA vc<>+688(SB)/8, $0x3f0000003f000000
DATA vc<>+696(SB)/8, $0x3f0000003f000000
// +704: 1
DATA vc<>+704(SB)/8, $0x3f8000003f800000
DATA vc<>+712(SB)/8, $0x3f8000003f800000
DATA vc<>+720(SB)/8, $0x3f8000003f800000
DATA vc<>+728(SB)/8, $0x3f8000003f800000
DATA vc<>+736(SB)/8, $0x3f8000003f800000
DATA vc<>+744(SB)/8, $0x3f8000003f800000
DATA vc<>+752(SB)/8, $0x3f8000003f800000
DATA vc<>+760(SB)/8, $0x3f8000003f800000
// +768: exponent bias 127
DATA vc<>+768(SB)/8, $0x0000007f0000007f
DATA vc<>+776(SB)/8, $0x0000007f0000007f
DATA vc<>+784(SB)/8, $0x0000007f0000007f
DATA vc<>+792(SB)/8, $0x0000007f0000007f
DATA vc<>+800(SB)/8, $0x0000007f0000007f
DATA vc<>+808(SB)/8, $0x0000007f0000007f
DATA vc<>+816(SB)/8, $0x0000007f0000007f
DATA vc<>+824(SB)/8, $0x0000007f0000007f
// +832: sign bit
DATA vc<>+832(SB)/8, $0x8000000080000000
DATA vc<>+840(SB)/8, $0x8000000080000000
DATA vc<>+848(SB)/8, $0x8000000080000000
DATA vc<>+856(SB)/8, $0x8000000080000000
DATA vc<>+864(SB)/8, $0x8000000080000000
DATA vc<>+872(SB)/8, $0x8000000080000000
DATA vc<>+880(SB)/8, $0x8000000080000000
DATA vc<>+888(SB)/8, $0x8000000080000000
GLOBL vc<>(SB), RODATA|NOPTR, $896

// EXPV sets P = exp(X) exactly as expGo does; X, N and T are clobbered.
// RND is VRNDSCALEPS (AVX-512) or VROUNDPS (AVX2).
#define EXPV(RND, X, N, P, T) \
	VMOVUPS     vc<>+0(SB), T; \
	VMAXPS      X, T, X; \
	VMOVUPS     vc<>+64(SB), T; \
	VMINPS      X, T, X; \
	VMULPS      vc<>+128(SB), X, N; \
	RND         $0, N, N; \
	VFMADD231PS vc<>+192(SB), N, X; \
	VFMADD231PS vc<>+256(SB), N, X; \
	VMOVUPS     vc<>+320(SB), P; \
	VFMADD213PS vc<>+384(SB), X, P; \
	VFMADD213PS vc<>+448(SB), X, P; \
	VFMADD213PS vc<>+512(SB), X, P; \
	VFMADD213PS vc<>+576(SB), X, P; \
	VFMADD213PS vc<>+640(SB), X, P; \
	VFMADD213PS vc<>+704(SB), X, P; \
	VFMADD213PS vc<>+704(SB), X, P; \
	VCVTPS2DQ   N, N; \
	VPSRAD      $1, N, T; \
	VPSUBD      T, N, N; \
	VPADDD      vc<>+768(SB), T, T; \
	VPSLLD      $23, T, T; \
	VPADDD      vc<>+768(SB), N, N; \
	VPSLLD      $23, N, N; \
	VMULPS      T, P, P; \
	VMULPS      N, P, P

// Partial sums: load, add 16 widened floats from BASE, store.
#define LOADACC512 \
	VMOVUPD (AX), Z8; \
	VMOVUPD 64(AX), Z9

#define STOREACC512 \
	VMOVUPD Z8, (AX); \
	VMOVUPD Z9, 64(AX)

#define LOADACC256 \
	VMOVUPD (AX), Y8; \
	VMOVUPD 32(AX), Y9; \
	VMOVUPD 64(AX), Y10; \
	VMOVUPD 96(AX), Y11

#define STOREACC256 \
	VMOVUPD Y8, (AX); \
	VMOVUPD Y9, 32(AX); \
	VMOVUPD Y10, 64(AX); \
	VMOVUPD Y11, 96(AX)

#define SUM512(BASE) \
	VCVTPS2PD 0(BASE), Z4; \
	VADDPD    Z4, Z8, Z8; \
	VCVTPS2PD 32(BASE), Z5; \
	VADDPD    Z5, Z9, Z9

#define SUM256(BASE) \
	VCVTPS2PD 0(BASE), Y4; \
	VADDPD    Y4, Y8, Y8; \
	VCVTPS2PD 16(BASE), Y5; \
	VADDPD    Y5, Y9, Y9; \
	VCVTPS2PD 32(BASE), Y6; \
	VADDPD    Y6, Y10, Y10; \
	VCVTPS2PD 48(BASE), Y7; \
	VADDPD    Y7, Y11, Y11

// ---- rowMax: lane-wise running maximum, m = v > m ? v : m (NaN never
// wins), the operand order of MAXPS.

// func maxAVX512(m *maxes, x *float32, n int)
TEXT ·maxAVX512(SB), NOSPLIT, $0-24
	MOVQ    m+0(FP), AX
	MOVQ    x+8(FP), SI
	MOVQ    n+16(FP), CX
	SHRQ    $4, CX
	JZ      max512done
	VMOVUPS (AX), Z0

max512loop:
	VMOVUPS (SI), Z1
	VMAXPS  Z0, Z1, Z0
	ADDQ    $64, SI
	DECQ    CX
	JNZ     max512loop
	VMOVUPS Z0, (AX)

max512done:
	VZEROUPPER
	RET

// func maxAVX2(m *maxes, x *float32, n int)
TEXT ·maxAVX2(SB), NOSPLIT, $0-24
	MOVQ    m+0(FP), AX
	MOVQ    x+8(FP), SI
	MOVQ    n+16(FP), CX
	SHRQ    $4, CX
	JZ      max256done
	VMOVUPS (AX), Y0
	VMOVUPS 32(AX), Y1

max256loop:
	VMOVUPS (SI), Y2
	VMAXPS  Y0, Y2, Y0
	VMOVUPS 32(SI), Y3
	VMAXPS  Y1, Y3, Y1
	ADDQ    $64, SI
	DECQ    CX
	JNZ     max256loop
	VMOVUPS Y0, (AX)
	VMOVUPS Y1, 32(AX)

max256done:
	VZEROUPPER
	RET

// ---- expSum: dst = exp(src - c), partial sums of dst. c in register 15.

#define EXPSUB(RND, OFF, C) \
	VMOVUPS OFF(SI), R0; \
	VSUBPS  C, R0, R0; \
	EXPV(RND, R0, R1, R2, R3); \
	VMOVUPS R2, OFF(DI)

// func expSumAVX512(dst, src *float32, c float32, acc *partials, n int)
TEXT ·expSumAVX512(SB), NOSPLIT, $0-40
	MOVQ         dst+0(FP), DI
	MOVQ         src+8(FP), SI
	VBROADCASTSS c+16(FP), Z15
	MOVQ         acc+24(FP), AX
	MOVQ         n+32(FP), CX
	SHRQ         $4, CX
	JZ           expsum512done
	LOADACC512

expsum512loop:
#define R0 Z0
#define R1 Z1
#define R2 Z2
#define R3 Z3
	EXPSUB(VRNDSCALEPS, 0, Z15)
	SUM512(DI)
	ADDQ $64, SI
	ADDQ $64, DI
	DECQ CX
	JNZ  expsum512loop
	STOREACC512

expsum512done:
	VZEROUPPER
	RET

#undef R0
#undef R1
#undef R2
#undef R3
#define R0 Y0
#define R1 Y1
#define R2 Y2
#define R3 Y3

// func expSumAVX2(dst, src *float32, c float32, acc *partials, n int)
TEXT ·expSumAVX2(SB), NOSPLIT, $0-40
	MOVQ         dst+0(FP), DI
	MOVQ         src+8(FP), SI
	VBROADCASTSS c+16(FP), Y15
	MOVQ         acc+24(FP), AX
	MOVQ         n+32(FP), CX
	SHRQ         $4, CX
	JZ           expsum256done
	LOADACC256

expsum256loop:
	EXPSUB(VROUNDPS, 0, Y15)
	EXPSUB(VROUNDPS, 32, Y15)
	SUM256(DI)
	ADDQ $64, SI
	ADDQ $64, DI
	DECQ CX
	JNZ  expsum256loop
	STOREACC256

expsum256done:
	VZEROUPPER
	RET

#undef R0
#undef R1
#undef R2
#undef R3
#define R0 Y0
#define R1 Y1
#define R2 Y2
#define R3 Y3
#define R4 Y4
#define R5 Y5
#define R6 Y6
#define R7 Y7

// ---- scale: x = x·s. addTo: dst = dst + src.

#define SCALE(OFF, S) \
	VMULPS  OFF(DI), S, R0; \
	VMOVUPS R0, OFF(DI)

#define ADDTO(OFF) \
	VMOVUPS OFF(SI), R0; \
	VADDPS  OFF(DI), R0, R0; \
	VMOVUPS R0, OFF(DI)

// func scaleAVX2(x *float32, s float32, n int)
TEXT ·scaleAVX2(SB), NOSPLIT, $0-24
	MOVQ         x+0(FP), DI
	VBROADCASTSS s+8(FP), Y15
	MOVQ         n+16(FP), CX
	SHRQ         $4, CX
	JZ           scale256done

scale256loop:
	SCALE(0, Y15)
	SCALE(32, Y15)
	ADDQ $64, DI
	DECQ CX
	JNZ  scale256loop

scale256done:
	VZEROUPPER
	RET

// func addToAVX2(dst, src *float32, n int)
TEXT ·addToAVX2(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	SHRQ $4, CX
	JZ   addto256done

addto256loop:
	ADDTO(0)
	ADDTO(32)
	ADDQ $64, SI
	ADDQ $64, DI
	DECQ CX
	JNZ  addto256loop

addto256done:
	VZEROUPPER
	RET

// ---- swiGLU: a = float32(g/(1 + exp(-g)))·u. a DI, g SI, u DX. XOR is
// VPXORD (AVX-512) or VXORPS (AVX2): -g flips the sign bit, as Go does.

#define SWIGLU(XOR, RND, OFF) \
	VMOVUPS OFF(SI), R4; \
	XOR     vc<>+832(SB), R4, R0; \
	EXPV(RND, R0, R1, R2, R3); \
	VADDPS  vc<>+704(SB), R2, R2; \
	VDIVPS  R2, R4, R4; \
	VMULPS  OFF(DX), R4, R4; \
	VMOVUPS R4, OFF(DI)

// func swiGLUAVX2(a, gate, u *float32, n int)
TEXT ·swiGLUAVX2(SB), NOSPLIT, $0-32
	MOVQ a+0(FP), DI
	MOVQ gate+8(FP), SI
	MOVQ u+16(FP), DX
	MOVQ n+24(FP), CX
	SHRQ $4, CX
	JZ   swiglu256done

swiglu256loop:
	SWIGLU(VXORPS, VROUNDPS, 0)
	SWIGLU(VXORPS, VROUNDPS, 32)
	ADDQ $64, SI
	ADDQ $64, DI
	ADDQ $64, DX
	DECQ CX
	JNZ  swiglu256loop

swiglu256done:
	VZEROUPPER
	RET

// ---- swiGLUBackward. dg DI, du SI, da DX, g R8, u R9; with e = exp(-g),
// s = 1/(1+e): du += da·(g·s), dg += (da·u)·(s·(1 + g·(1-s))).

#define SWIGLUBACK(XOR, RND, OFF) \
	VMOVUPS OFF(R8), R4; \
	XOR     vc<>+832(SB), R4, R0; \
	EXPV(RND, R0, R1, R2, R3); \
	VADDPS  vc<>+704(SB), R2, R2; \
	VMOVUPS vc<>+704(SB), R5; \
	VDIVPS  R2, R5, R5; \
	VMULPS  R5, R4, R3; \
	VMOVUPS OFF(DX), R7; \
	VMULPS  R3, R7, R3; \
	VADDPS  OFF(SI), R3, R3; \
	VMOVUPS R3, OFF(SI); \
	VMOVUPS vc<>+704(SB), R6; \
	VSUBPS  R5, R6, R6; \
	VMULPS  R6, R4, R6; \
	VADDPS  vc<>+704(SB), R6, R6; \
	VMULPS  R6, R5, R6; \
	VMULPS  OFF(R9), R7, R7; \
	VMULPS  R6, R7, R7; \
	VADDPS  OFF(DI), R7, R7; \
	VMOVUPS R7, OFF(DI)

// func swiGLUBackAVX2(dg, du, da, gate, u *float32, n int)
TEXT ·swiGLUBackAVX2(SB), NOSPLIT, $0-48
	MOVQ dg+0(FP), DI
	MOVQ du+8(FP), SI
	MOVQ da+16(FP), DX
	MOVQ gate+24(FP), R8
	MOVQ u+32(FP), R9
	MOVQ n+40(FP), CX
	SHRQ $4, CX
	JZ   swigluback256done

swigluback256loop:
	SWIGLUBACK(VXORPS, VROUNDPS, 0)
	SWIGLUBACK(VXORPS, VROUNDPS, 32)
	ADDQ $64, DI
	ADDQ $64, SI
	ADDQ $64, DX
	ADDQ $64, R8
	ADDQ $64, R9
	DECQ CX
	JNZ  swigluback256loop

swigluback256done:
	VZEROUPPER
	RET

// ---- rmsApply: out = w·(x·r). out DI, x SI, w DX, r in register 15.

#define RMSAPPLY(OFF, R) \
	VMULPS  OFF(SI), R, R0; \
	VMULPS  OFF(DX), R0, R0; \
	VMOVUPS R0, OFF(DI)

// func rmsApplyAVX2(out, x, w *float32, r float32, n int)
TEXT ·rmsApplyAVX2(SB), NOSPLIT, $0-40
	MOVQ         out+0(FP), DI
	MOVQ         x+8(FP), SI
	MOVQ         w+16(FP), DX
	VBROADCASTSS r+24(FP), Y15
	MOVQ         n+32(FP), CX
	SHRQ         $4, CX
	JZ           rmsapply256done

rmsapply256loop:
	RMSAPPLY(0, Y15)
	RMSAPPLY(32, Y15)
	ADDQ $64, SI
	ADDQ $64, DI
	ADDQ $64, DX
	DECQ CX
	JNZ  rmsapply256loop

rmsapply256done:
	VZEROUPPER
	RET

// ---- rope: x1' = x1·c - x2·s, x2' = x2·c + x1·s, with s = sin XOR neg.
// x1 DI, x2 SI, cos DX, sin R8, neg in register 15.

#define ROPE(XOR, OFF, NEG) \
	VMOVUPS OFF(DI), R0; \
	VMOVUPS OFF(SI), R1; \
	VMOVUPS OFF(DX), R2; \
	XOR     OFF(R8), NEG, R3; \
	VMULPS  R2, R0, R4; \
	VMULPS  R3, R1, R5; \
	VSUBPS  R5, R4, R4; \
	VMOVUPS R4, OFF(DI); \
	VMULPS  R2, R1, R1; \
	VMULPS  R3, R0, R0; \
	VADDPS  R0, R1, R1; \
	VMOVUPS R1, OFF(SI)

// func ropeAVX2(x1, x2, cos, sin *float32, n int, neg uint32)
TEXT ·ropeAVX2(SB), NOSPLIT, $0-44
	MOVQ         x1+0(FP), DI
	MOVQ         x2+8(FP), SI
	MOVQ         cos+16(FP), DX
	MOVQ         sin+24(FP), R8
	MOVQ         n+32(FP), CX
	MOVL         neg+40(FP), AX
	VMOVD        AX, X15
	VPBROADCASTD X15, Y15
	SHRQ         $4, CX
	JZ           rope256done

rope256loop:
	ROPE(VXORPS, 0, Y15)
	ROPE(VXORPS, 32, Y15)
	ADDQ $64, DI
	ADDQ $64, SI
	ADDQ $64, DX
	ADDQ $64, R8
	DECQ CX
	JNZ  rope256loop

rope256done:
	VZEROUPPER
	RET

// ---- AVX-512: the same bodies, one ZMM register per step.

#undef R0
#undef R1
#undef R2
#undef R3
#undef R4
#undef R5
#undef R6
#undef R7
#define R0 Z0
#define R1 Z1
#define R2 Z2
#define R3 Z3
#define R4 Z4
#define R5 Z5
#define R6 Z6
#define R7 Z7

// func scaleAVX512(x *float32, s float32, n int)
TEXT ·scaleAVX512(SB), NOSPLIT, $0-24
	MOVQ         x+0(FP), DI
	VBROADCASTSS s+8(FP), Z15
	MOVQ         n+16(FP), CX
	SHRQ         $4, CX
	JZ           scale512done

scale512loop:
	SCALE(0, Z15)
	ADDQ $64, DI
	DECQ CX
	JNZ  scale512loop

scale512done:
	VZEROUPPER
	RET

// func addToAVX512(dst, src *float32, n int)
TEXT ·addToAVX512(SB), NOSPLIT, $0-24
	MOVQ dst+0(FP), DI
	MOVQ src+8(FP), SI
	MOVQ n+16(FP), CX
	SHRQ $4, CX
	JZ   addto512done

addto512loop:
	ADDTO(0)
	ADDQ $64, SI
	ADDQ $64, DI
	DECQ CX
	JNZ  addto512loop

addto512done:
	VZEROUPPER
	RET

// func swiGLUAVX512(a, gate, u *float32, n int)
TEXT ·swiGLUAVX512(SB), NOSPLIT, $0-32
	MOVQ a+0(FP), DI
	MOVQ gate+8(FP), SI
	MOVQ u+16(FP), DX
	MOVQ n+24(FP), CX
	SHRQ $4, CX
	JZ   swiglu512done

swiglu512loop:
	SWIGLU(VPXORD, VRNDSCALEPS, 0)
	ADDQ $64, SI
	ADDQ $64, DI
	ADDQ $64, DX
	DECQ CX
	JNZ  swiglu512loop

swiglu512done:
	VZEROUPPER
	RET

// func swiGLUBackAVX512(dg, du, da, gate, u *float32, n int)
TEXT ·swiGLUBackAVX512(SB), NOSPLIT, $0-48
	MOVQ dg+0(FP), DI
	MOVQ du+8(FP), SI
	MOVQ da+16(FP), DX
	MOVQ gate+24(FP), R8
	MOVQ u+32(FP), R9
	MOVQ n+40(FP), CX
	SHRQ $4, CX
	JZ   swigluback512done

swigluback512loop:
	SWIGLUBACK(VPXORD, VRNDSCALEPS, 0)
	ADDQ $64, DI
	ADDQ $64, SI
	ADDQ $64, DX
	ADDQ $64, R8
	ADDQ $64, R9
	DECQ CX
	JNZ  swigluback512loop

swigluback512done:
	VZEROUPPER
	RET

// func rmsApplyAVX512(out, x, w *float32, r float32, n int)
TEXT ·rmsApplyAVX512(SB), NOSPLIT, $0-40
	MOVQ         out+0(FP), DI
	MOVQ         x+8(FP), SI
	MOVQ         w+16(FP), DX
	VBROADCASTSS r+24(FP), Z15
	MOVQ         n+32(FP), CX
	SHRQ         $4, CX
	JZ           rmsapply512done

rmsapply512loop:
	RMSAPPLY(0, Z15)
	ADDQ $64, SI
	ADDQ $64, DI
	ADDQ $64, DX
	DECQ CX
	JNZ  rmsapply512loop

rmsapply512done:
	VZEROUPPER
	RET

// func ropeAVX512(x1, x2, cos, sin *float32, n int, neg uint32)
TEXT ·ropeAVX512(SB), NOSPLIT, $0-44
	MOVQ         x1+0(FP), DI
	MOVQ         x2+8(FP), SI
	MOVQ         cos+16(FP), DX
	MOVQ         sin+24(FP), R8
	MOVQ         n+32(FP), CX
	MOVL         neg+40(FP), AX
	VMOVD        AX, X15
	VPBROADCASTD X15, Z15
	SHRQ         $4, CX
	JZ           rope512done

rope512loop:
	ROPE(VPXORD, 0, Z15)
	ADDQ $64, DI
	ADDQ $64, SI
	ADDQ $64, DX
	ADDQ $64, R8
	DECQ CX
	JNZ  rope512loop

rope512done:
	VZEROUPPER
	RET

// ---- Float64 kernels. Each body widens one group of floats at byte
// offset OFF: 8 into a ZMM (AVX-512) or 4 into a YMM (AVX2); a step is
// two or four groups. CVT narrows back: VCVTPD2PS (ZMM to YMM) or
// VCVTPD2PSY (YMM to XMM); N names the narrow register.

// sumSq: acc += x·x (exact product). x SI.
#define SUMSQ(OFF, A, ACC) \
	VCVTPS2PD OFF(SI), A; \
	VMULPD    A, A, A; \
	VADDPD    A, ACC, ACC

// dot: acc += a·b (exact product). a SI, b DX.
#define DOT(OFF, A, B, ACC) \
	VCVTPS2PD OFF(SI), A; \
	VCVTPS2PD OFF(DX), B; \
	VMULPD    B, A, A; \
	VADDPD    A, ACC, ACC

// rmsDot: acc += (dy·w)·(x·r). dy SI, w DX, x BX, r in register 15.
#define RMSDOT(OFF, R, A, B, C, ACC) \
	VCVTPS2PD OFF(BX), A; \
	VMULPD    R, A, A; \
	VCVTPS2PD OFF(SI), B; \
	VCVTPS2PD OFF(DX), C; \
	VMULPD    C, B, B; \
	VMULPD    A, B, B; \
	VADDPD    B, ACC, ACC

// softmaxBack: dr = p·(dr - dot). dr DI, p SI, dot in register 15.
#define SMBACK(CVT, OFF, D, A, B, N) \
	VCVTPS2PD OFF(SI), A; \
	VCVTPS2PD OFF(DI), B; \
	VSUBPD    D, B, B; \
	VMULPD    B, A, A; \
	CVT       A, N; \
	VMOVUPS   N, OFF(DI)

// rmsDx: dx += float32(r·(dy·w - (x·r)·mean)). dx DI, dy SI, w DX, x BX,
// r in register 15, mean in 14.
#define RMSDX(CVT, OFF, R, M, A, B, C, N) \
	VCVTPS2PD OFF(BX), A; \
	VMULPD    R, A, A; \
	VMULPD    M, A, A; \
	VCVTPS2PD OFF(SI), B; \
	VCVTPS2PD OFF(DX), C; \
	VMULPD    C, B, B; \
	VSUBPD    A, B, B; \
	VMULPD    R, B, B; \
	CVT       B, N; \
	VADDPS    OFF(DI), N, N; \
	VMOVUPS   N, OFF(DI)

// rmsDw: dw += float32(dy·(x·r)). dw DI, dy SI, x BX, r in register 15.
#define RMSDW(CVT, OFF, R, A, B, N) \
	VCVTPS2PD OFF(BX), A; \
	VMULPD    R, A, A; \
	VCVTPS2PD OFF(SI), B; \
	VMULPD    A, B, B; \
	CVT       B, N; \
	VADDPS    OFF(DI), N, N; \
	VMOVUPS   N, OFF(DI)

// func sumSqAVX512(acc *partials, x *float32, n int)
TEXT ·sumSqAVX512(SB), NOSPLIT, $0-24
	MOVQ acc+0(FP), AX
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
	SHRQ $4, CX
	JZ   sumsq512done
	LOADACC512

sumsq512loop:
	SUMSQ(0, Z4, Z8)
	SUMSQ(32, Z5, Z9)
	ADDQ $64, SI
	DECQ CX
	JNZ  sumsq512loop
	STOREACC512

sumsq512done:
	VZEROUPPER
	RET

// func sumSqAVX2(acc *partials, x *float32, n int)
TEXT ·sumSqAVX2(SB), NOSPLIT, $0-24
	MOVQ acc+0(FP), AX
	MOVQ x+8(FP), SI
	MOVQ n+16(FP), CX
	SHRQ $4, CX
	JZ   sumsq256done
	LOADACC256

sumsq256loop:
	SUMSQ(0, Y4, Y8)
	SUMSQ(16, Y5, Y9)
	SUMSQ(32, Y6, Y10)
	SUMSQ(48, Y7, Y11)
	ADDQ $64, SI
	DECQ CX
	JNZ  sumsq256loop
	STOREACC256

sumsq256done:
	VZEROUPPER
	RET

// func dotAVX512(acc *partials, a, b *float32, n int)
TEXT ·dotAVX512(SB), NOSPLIT, $0-32
	MOVQ acc+0(FP), AX
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DX
	MOVQ n+24(FP), CX
	SHRQ $4, CX
	JZ   dot512done
	LOADACC512

dot512loop:
	DOT(0, Z4, Z5, Z8)
	DOT(32, Z6, Z7, Z9)
	ADDQ $64, SI
	ADDQ $64, DX
	DECQ CX
	JNZ  dot512loop
	STOREACC512

dot512done:
	VZEROUPPER
	RET

// func dotAVX2(acc *partials, a, b *float32, n int)
TEXT ·dotAVX2(SB), NOSPLIT, $0-32
	MOVQ acc+0(FP), AX
	MOVQ a+8(FP), SI
	MOVQ b+16(FP), DX
	MOVQ n+24(FP), CX
	SHRQ $4, CX
	JZ   dot256done
	LOADACC256

dot256loop:
	DOT(0, Y4, Y5, Y8)
	DOT(16, Y6, Y7, Y9)
	DOT(32, Y4, Y5, Y10)
	DOT(48, Y6, Y7, Y11)
	ADDQ $64, SI
	ADDQ $64, DX
	DECQ CX
	JNZ  dot256loop
	STOREACC256

dot256done:
	VZEROUPPER
	RET

// func rmsDotAVX512(acc *partials, dy, w, x *float32, r float64, n int)
TEXT ·rmsDotAVX512(SB), NOSPLIT, $0-48
	MOVQ         acc+0(FP), AX
	MOVQ         dy+8(FP), SI
	MOVQ         w+16(FP), DX
	MOVQ         x+24(FP), BX
	VBROADCASTSD r+32(FP), Z15
	MOVQ         n+40(FP), CX
	SHRQ         $4, CX
	JZ           rmsdot512done
	LOADACC512

rmsdot512loop:
	RMSDOT(0, Z15, Z0, Z1, Z2, Z8)
	RMSDOT(32, Z15, Z3, Z4, Z5, Z9)
	ADDQ $64, SI
	ADDQ $64, DX
	ADDQ $64, BX
	DECQ CX
	JNZ  rmsdot512loop
	STOREACC512

rmsdot512done:
	VZEROUPPER
	RET

// func rmsDotAVX2(acc *partials, dy, w, x *float32, r float64, n int)
TEXT ·rmsDotAVX2(SB), NOSPLIT, $0-48
	MOVQ         acc+0(FP), AX
	MOVQ         dy+8(FP), SI
	MOVQ         w+16(FP), DX
	MOVQ         x+24(FP), BX
	VBROADCASTSD r+32(FP), Y15
	MOVQ         n+40(FP), CX
	SHRQ         $4, CX
	JZ           rmsdot256done
	LOADACC256

rmsdot256loop:
	RMSDOT(0, Y15, Y0, Y1, Y2, Y8)
	RMSDOT(16, Y15, Y3, Y4, Y5, Y9)
	RMSDOT(32, Y15, Y0, Y1, Y2, Y10)
	RMSDOT(48, Y15, Y3, Y4, Y5, Y11)
	ADDQ $64, SI
	ADDQ $64, DX
	ADDQ $64, BX
	DECQ CX
	JNZ  rmsdot256loop
	STOREACC256

rmsdot256done:
	VZEROUPPER
	RET

// func softmaxBackAVX512(dr, p *float32, dot float64, n int)
TEXT ·softmaxBackAVX512(SB), NOSPLIT, $0-32
	MOVQ         dr+0(FP), DI
	MOVQ         p+8(FP), SI
	VBROADCASTSD dot+16(FP), Z15
	MOVQ         n+24(FP), CX
	SHRQ         $4, CX
	JZ           smback512done

smback512loop:
	SMBACK(VCVTPD2PS, 0, Z15, Z0, Z1, Y0)
	SMBACK(VCVTPD2PS, 32, Z15, Z2, Z3, Y2)
	ADDQ $64, SI
	ADDQ $64, DI
	DECQ CX
	JNZ  smback512loop

smback512done:
	VZEROUPPER
	RET

// func softmaxBackAVX2(dr, p *float32, dot float64, n int)
TEXT ·softmaxBackAVX2(SB), NOSPLIT, $0-32
	MOVQ         dr+0(FP), DI
	MOVQ         p+8(FP), SI
	VBROADCASTSD dot+16(FP), Y15
	MOVQ         n+24(FP), CX
	SHRQ         $4, CX
	JZ           smback256done

smback256loop:
	SMBACK(VCVTPD2PSY, 0, Y15, Y0, Y1, X0)
	SMBACK(VCVTPD2PSY, 16, Y15, Y2, Y3, X2)
	SMBACK(VCVTPD2PSY, 32, Y15, Y0, Y1, X0)
	SMBACK(VCVTPD2PSY, 48, Y15, Y2, Y3, X2)
	ADDQ $64, SI
	ADDQ $64, DI
	DECQ CX
	JNZ  smback256loop

smback256done:
	VZEROUPPER
	RET

// func rmsDxAVX512(dx, dy, w, x *float32, r, mean float64, n int)
TEXT ·rmsDxAVX512(SB), NOSPLIT, $0-56
	MOVQ         dx+0(FP), DI
	MOVQ         dy+8(FP), SI
	MOVQ         w+16(FP), DX
	MOVQ         x+24(FP), BX
	VBROADCASTSD r+32(FP), Z15
	VBROADCASTSD mean+40(FP), Z14
	MOVQ         n+48(FP), CX
	SHRQ         $4, CX
	JZ           rmsdx512done

rmsdx512loop:
	RMSDX(VCVTPD2PS, 0, Z15, Z14, Z0, Z1, Z2, Y1)
	RMSDX(VCVTPD2PS, 32, Z15, Z14, Z3, Z4, Z5, Y4)
	ADDQ $64, DI
	ADDQ $64, SI
	ADDQ $64, DX
	ADDQ $64, BX
	DECQ CX
	JNZ  rmsdx512loop

rmsdx512done:
	VZEROUPPER
	RET

// func rmsDxAVX2(dx, dy, w, x *float32, r, mean float64, n int)
TEXT ·rmsDxAVX2(SB), NOSPLIT, $0-56
	MOVQ         dx+0(FP), DI
	MOVQ         dy+8(FP), SI
	MOVQ         w+16(FP), DX
	MOVQ         x+24(FP), BX
	VBROADCASTSD r+32(FP), Y15
	VBROADCASTSD mean+40(FP), Y14
	MOVQ         n+48(FP), CX
	SHRQ         $4, CX
	JZ           rmsdx256done

rmsdx256loop:
	RMSDX(VCVTPD2PSY, 0, Y15, Y14, Y0, Y1, Y2, X1)
	RMSDX(VCVTPD2PSY, 16, Y15, Y14, Y3, Y4, Y5, X4)
	RMSDX(VCVTPD2PSY, 32, Y15, Y14, Y0, Y1, Y2, X1)
	RMSDX(VCVTPD2PSY, 48, Y15, Y14, Y3, Y4, Y5, X4)
	ADDQ $64, DI
	ADDQ $64, SI
	ADDQ $64, DX
	ADDQ $64, BX
	DECQ CX
	JNZ  rmsdx256loop

rmsdx256done:
	VZEROUPPER
	RET

// func rmsDwAVX512(dw, dy, x *float32, r float64, n int)
TEXT ·rmsDwAVX512(SB), NOSPLIT, $0-40
	MOVQ         dw+0(FP), DI
	MOVQ         dy+8(FP), SI
	MOVQ         x+16(FP), BX
	VBROADCASTSD r+24(FP), Z15
	MOVQ         n+32(FP), CX
	SHRQ         $4, CX
	JZ           rmsdw512done

rmsdw512loop:
	RMSDW(VCVTPD2PS, 0, Z15, Z0, Z1, Y1)
	RMSDW(VCVTPD2PS, 32, Z15, Z2, Z3, Y3)
	ADDQ $64, DI
	ADDQ $64, SI
	ADDQ $64, BX
	DECQ CX
	JNZ  rmsdw512loop

rmsdw512done:
	VZEROUPPER
	RET

// func rmsDwAVX2(dw, dy, x *float32, r float64, n int)
TEXT ·rmsDwAVX2(SB), NOSPLIT, $0-40
	MOVQ         dw+0(FP), DI
	MOVQ         dy+8(FP), SI
	MOVQ         x+16(FP), BX
	VBROADCASTSD r+24(FP), Y15
	MOVQ         n+32(FP), CX
	SHRQ         $4, CX
	JZ           rmsdw256done

rmsdw256loop:
	RMSDW(VCVTPD2PSY, 0, Y15, Y0, Y1, X1)
	RMSDW(VCVTPD2PSY, 16, Y15, Y2, Y3, X3)
	RMSDW(VCVTPD2PSY, 32, Y15, Y0, Y1, X1)
	RMSDW(VCVTPD2PSY, 48, Y15, Y2, Y3, X3)
	ADDQ $64, DI
	ADDQ $64, SI
	ADDQ $64, BX
	DECQ CX
	JNZ  rmsdw256loop

rmsdw256done:
	VZEROUPPER
	RET
