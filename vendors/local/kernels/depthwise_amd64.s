//go:build amd64 && !purego

#include "textflag.h"

// Common setup of dwRow1 and dwRow2.
// Registers:
//   DI = &dst[x]; AX, BX, CX = &row0, &row1, &row2 at input column s*x-1
//   DX = chunks left (8 outputs each); SI = &taps; R8 = prelu flag
//   Y0..Y8 = broadcast kernel taps k0..k8 (row-major 3x3)
//   Y9 = broadcast bias; Y10 = broadcast slope; Y11 = 0
//   Y12, Y15 = accumulators; Y13, Y14 = loaded / shuffled inputs
#define DWSETUP \
	MOVQ dst+0(FP), DI; \
	MOVQ r0+8(FP), AX; \
	MOVQ r1+16(FP), BX; \
	MOVQ r2+24(FP), CX; \
	MOVQ chunks+32(FP), DX; \
	MOVQ taps+40(FP), SI; \
	MOVQ prelu+48(FP), R8; \
	VBROADCASTSS 0(SI), Y0; \
	VBROADCASTSS 4(SI), Y1; \
	VBROADCASTSS 8(SI), Y2; \
	VBROADCASTSS 12(SI), Y3; \
	VBROADCASTSS 16(SI), Y4; \
	VBROADCASTSS 20(SI), Y5; \
	VBROADCASTSS 24(SI), Y6; \
	VBROADCASTSS 28(SI), Y7; \
	VBROADCASTSS 32(SI), Y8; \
	VBROADCASTSS 36(SI), Y9; \
	VBROADCASTSS 40(SI), Y10; \
	VXORPS Y11, Y11, Y11

// Y12 = PReLU(Y12) if R8 != 0: max(x, 0) + slope*min(x, 0); then store it.
#define DWSTORE(skip) \
	TESTQ R8, R8; \
	JZ skip; \
	VMINPS Y11, Y12, Y13; \
	VMAXPS Y11, Y12, Y12; \
	VFMADD231PS Y10, Y13, Y12; \
skip: \
	VMOVUPS Y12, (DI)

// func dwRow1(dst, r0, r1, r2 *float32, chunks int, taps *[12]float32, prelu int)
// Stride 1: dst[i] = bias + sum_dx k[dx]*r0[i+dx] + k[3+dx]*r1[i+dx] + k[6+dx]*r2[i+dx]
// for i < 8*chunks (r pointers at input column x-1). Reads r[0 .. 8*chunks+1].
TEXT ·dwRow1(SB), NOSPLIT, $0-56
	DWSETUP
loop1:
	VMOVAPS     Y9, Y12
	VFMADD231PS (AX), Y0, Y12
	VFMADD231PS 4(AX), Y1, Y12
	VFMADD231PS 8(AX), Y2, Y12
	VMULPS      (BX), Y3, Y15
	VFMADD231PS 4(BX), Y4, Y15
	VFMADD231PS 8(BX), Y5, Y15
	VFMADD231PS (CX), Y6, Y12
	VFMADD231PS 4(CX), Y7, Y15
	VFMADD231PS 8(CX), Y8, Y12
	VADDPS      Y15, Y12, Y12
	DWSTORE(store1)
	ADDQ $32, AX
	ADDQ $32, BX
	ADDQ $32, CX
	ADDQ $32, DI
	DECQ DX
	JNZ  loop1
	VZEROUPPER
	RET

// One input row for stride 2, R = row pointer at q = input column 2x-1:
// even(q[0..15]) are taps dx=0, odd(q[0..15]) dx=1, even(q[2..17]) dx=2.
// VSHUFPS leaves the 8 results in the 64-bit-pair order 0,2,1,3 (q0 q2 q8
// q10 | q4 q6 q12 q14); every tap has the same order, so one VPERMPD $0xD8
// on the sum restores it.
#define DWROW2(R, KA, KB, KC, ACC) \
	VMOVUPS (R), Y13; \
	VSHUFPS $0x88, 32(R), Y13, Y14; \
	VFMADD231PS Y14, KA, ACC; \
	VSHUFPS $0xDD, 32(R), Y13, Y14; \
	VFMADD231PS Y14, KB, ACC; \
	VMOVUPS 8(R), Y13; \
	VSHUFPS $0x88, 40(R), Y13, Y14; \
	VFMADD231PS Y14, KC, ACC

// func dwRow2(dst, r0, r1, r2 *float32, chunks int, taps *[12]float32, prelu int)
// Stride 2: dst[i] = bias + sum_dx k[dx]*r0[2i+dx] + ... for i < 8*chunks
// (r pointers at input column 2x-1). Reads r[0 .. 16*chunks+1].
TEXT ·dwRow2(SB), NOSPLIT, $0-56
	DWSETUP
loop2:
	VXORPS Y12, Y12, Y12
	VXORPS Y15, Y15, Y15
	DWROW2(AX, Y0, Y1, Y2, Y12)
	DWROW2(BX, Y3, Y4, Y5, Y15)
	DWROW2(CX, Y6, Y7, Y8, Y12)
	VADDPS  Y15, Y12, Y12
	VPERMPD $0xD8, Y12, Y12
	VADDPS  Y9, Y12, Y12
	DWSTORE(store2)
	ADDQ $64, AX
	ADDQ $64, BX
	ADDQ $64, CX
	ADDQ $32, DI
	DECQ DX
	JNZ  loop2
	VZEROUPPER
	RET
