//go:build amd64 && !purego

#include "textflag.h"

// func gemmKernel6x16(k int, a *float32, lda, astep int, b *float32, bstep int, c *float32, ldc int, bias, slope *float32, flags int)
//
// Registers:
//   CX  = k, the remaining steps
//   SI  = &A(0, p); R9 = &A(3, p) = SI + 3*lda
//   R8  = lda (bytes between rows of A), so rows 0..5 are at
//         (SI), (SI)(R8*1), (SI)(R8*2), (R9), (R9)(R8*1), (R9)(R8*2)
//   R10 = astep (bytes from A(r, p) to A(r, p+1))
//   BX  = &B(p, 0); R11 = bstep (bytes from B(p, 0) to B(p+1, 0))
//   DI  = &C(0, 0); DX = ldc (bytes between rows of C)
//   Y0..Y11: the 6x16 accumulator tile; row r is Y(2r) (columns 0..7) and
//            Y(2r+1) (columns 8..15)
//   Y12, Y13 = B(p, 0..7), B(p, 8..15); Y14, Y15 = broadcast A(r, p)
TEXT ·gemmKernel6x16(SB), NOSPLIT, $0-88
	MOVQ k+0(FP), CX
	MOVQ a+8(FP), SI
	MOVQ lda+16(FP), R8
	MOVQ astep+24(FP), R10
	MOVQ b+32(FP), BX
	MOVQ bstep+40(FP), R11
	MOVQ c+48(FP), DI
	MOVQ ldc+56(FP), DX
	LEAQ (SI)(R8*2), R9
	ADDQ R8, R9

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

	TESTQ CX, CX
	JZ    epilogue

loop:
	// One step p: acc(r, :) += A(r, p) * B(p, :) for the six rows.
	VMOVUPS      (BX), Y12
	VMOVUPS      32(BX), Y13
	VBROADCASTSS (SI), Y14
	VFMADD231PS  Y12, Y14, Y0
	VFMADD231PS  Y13, Y14, Y1
	VBROADCASTSS (SI)(R8*1), Y15
	VFMADD231PS  Y12, Y15, Y2
	VFMADD231PS  Y13, Y15, Y3
	VBROADCASTSS (SI)(R8*2), Y14
	VFMADD231PS  Y12, Y14, Y4
	VFMADD231PS  Y13, Y14, Y5
	VBROADCASTSS (R9), Y15
	VFMADD231PS  Y12, Y15, Y6
	VFMADD231PS  Y13, Y15, Y7
	VBROADCASTSS (R9)(R8*1), Y14
	VFMADD231PS  Y12, Y14, Y8
	VFMADD231PS  Y13, Y14, Y9
	VBROADCASTSS (R9)(R8*2), Y15
	VFMADD231PS  Y12, Y15, Y10
	VFMADD231PS  Y13, Y15, Y11
	ADDQ         R10, SI
	ADDQ         R10, R9
	ADDQ         R11, BX
	DECQ         CX
	JNZ          loop

epilogue:
	MOVQ  flags+80(FP), AX
	TESTQ $1, AX
	JZ    prelu
	// Bias: R12 = bias; Y12 = broadcast bias[r], added to row r.
	MOVQ         bias+64(FP), R12
	VBROADCASTSS (R12), Y12
	VADDPS       Y12, Y0, Y0
	VADDPS       Y12, Y1, Y1
	VBROADCASTSS 4(R12), Y12
	VADDPS       Y12, Y2, Y2
	VADDPS       Y12, Y3, Y3
	VBROADCASTSS 8(R12), Y12
	VADDPS       Y12, Y4, Y4
	VADDPS       Y12, Y5, Y5
	VBROADCASTSS 12(R12), Y12
	VADDPS       Y12, Y6, Y6
	VADDPS       Y12, Y7, Y7
	VBROADCASTSS 16(R12), Y12
	VADDPS       Y12, Y8, Y8
	VADDPS       Y12, Y9, Y9
	VBROADCASTSS 20(R12), Y12
	VADDPS       Y12, Y10, Y10
	VADDPS       Y12, Y11, Y11

prelu:
	TESTQ $2, AX
	JZ    store
	// PReLU: x = max(x, 0) + slope[r]*min(x, 0).
	// R12 = slope; Y12 = broadcast slope[r]; Y14 = 0; Y15 = min(x, 0).
	MOVQ   slope+72(FP), R12
	VXORPS Y14, Y14, Y14

#define PRELU(acc) \
	VMINPS Y14, acc, Y15; \
	VMAXPS Y14, acc, acc; \
	VFMADD231PS Y12, Y15, acc

	VBROADCASTSS (R12), Y12
	PRELU(Y0)
	PRELU(Y1)
	VBROADCASTSS 4(R12), Y12
	PRELU(Y2)
	PRELU(Y3)
	VBROADCASTSS 8(R12), Y12
	PRELU(Y4)
	PRELU(Y5)
	VBROADCASTSS 12(R12), Y12
	PRELU(Y6)
	PRELU(Y7)
	VBROADCASTSS 16(R12), Y12
	PRELU(Y8)
	PRELU(Y9)
	VBROADCASTSS 20(R12), Y12
	PRELU(Y10)
	PRELU(Y11)

store:
	// Row r of the tile to C + r*ldc.
	VMOVUPS Y0, (DI)
	VMOVUPS Y1, 32(DI)
	ADDQ    DX, DI
	VMOVUPS Y2, (DI)
	VMOVUPS Y3, 32(DI)
	ADDQ    DX, DI
	VMOVUPS Y4, (DI)
	VMOVUPS Y5, 32(DI)
	ADDQ    DX, DI
	VMOVUPS Y6, (DI)
	VMOVUPS Y7, 32(DI)
	ADDQ    DX, DI
	VMOVUPS Y8, (DI)
	VMOVUPS Y9, 32(DI)
	ADDQ    DX, DI
	VMOVUPS Y10, (DI)
	VMOVUPS Y11, 32(DI)
	VZEROUPPER
	RET
