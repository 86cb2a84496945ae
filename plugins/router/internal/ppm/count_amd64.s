//go:build amd64 && !purego

#include "textflag.h"

// func andPopcnt2x4AVX512(ma, mb, f0, f1, f2, f3 *uint64, n int, out *[8]uint64)
//
// Two mask rows × four feature rows: each 8-word block is 6 ZMM loads
// feeding 8 VPANDQ+VPOPCNTQ, per-lane sums kept in Z8..Z15 (a lane can
// not overflow: at most 64 per word). The last n%8 words come in through
// zero-masked loads, then each accumulator is reduced to one count.
TEXT ·andPopcnt2x4AVX512(SB), NOSPLIT, $0-64
	MOVQ ma+0(FP), SI
	MOVQ mb+8(FP), DI
	MOVQ f0+16(FP), R8
	MOVQ f1+24(FP), R9
	MOVQ f2+32(FP), R10
	MOVQ f3+40(FP), R11
	MOVQ n+48(FP), BX
	MOVQ out+56(FP), DX

	VPXORQ Z8, Z8, Z8
	VPXORQ Z9, Z9, Z9
	VPXORQ Z10, Z10, Z10
	VPXORQ Z11, Z11, Z11
	VPXORQ Z12, Z12, Z12
	VPXORQ Z13, Z13, Z13
	VPXORQ Z14, Z14, Z14
	VPXORQ Z15, Z15, Z15

	XORQ AX, AX
	MOVQ BX, R12
	ANDQ $-8, R12 // words in full 8-word blocks

loop:
	CMPQ AX, R12
	JAE  tail
	VMOVDQU64 (SI)(AX*8), Z0
	VMOVDQU64 (DI)(AX*8), Z1
	VMOVDQU64 (R8)(AX*8), Z2
	VMOVDQU64 (R9)(AX*8), Z3
	VPANDQ    Z0, Z2, Z4
	VPANDQ    Z1, Z2, Z5
	VPANDQ    Z0, Z3, Z6
	VPANDQ    Z1, Z3, Z7
	VPOPCNTQ  Z4, Z4
	VPOPCNTQ  Z5, Z5
	VPOPCNTQ  Z6, Z6
	VPOPCNTQ  Z7, Z7
	VPADDQ    Z4, Z8, Z8
	VPADDQ    Z5, Z12, Z12
	VPADDQ    Z6, Z9, Z9
	VPADDQ    Z7, Z13, Z13
	VMOVDQU64 (R10)(AX*8), Z2
	VMOVDQU64 (R11)(AX*8), Z3
	VPANDQ    Z0, Z2, Z4
	VPANDQ    Z1, Z2, Z5
	VPANDQ    Z0, Z3, Z6
	VPANDQ    Z1, Z3, Z7
	VPOPCNTQ  Z4, Z4
	VPOPCNTQ  Z5, Z5
	VPOPCNTQ  Z6, Z6
	VPOPCNTQ  Z7, Z7
	VPADDQ    Z4, Z10, Z10
	VPADDQ    Z5, Z14, Z14
	VPADDQ    Z6, Z11, Z11
	VPADDQ    Z7, Z15, Z15
	ADDQ      $8, AX
	JMP       loop

tail:
	MOVQ BX, CX
	ANDQ $7, CX
	JZ   reduce
	MOVL $1, R13
	SHLL CX, R13
	DECL R13
	KMOVW R13, K1 // low n%8 lanes
	VMOVDQU64.Z (SI)(AX*8), K1, Z0
	VMOVDQU64.Z (DI)(AX*8), K1, Z1
	VMOVDQU64.Z (R8)(AX*8), K1, Z2
	VMOVDQU64.Z (R9)(AX*8), K1, Z3
	VPANDQ    Z0, Z2, Z4
	VPANDQ    Z1, Z2, Z5
	VPANDQ    Z0, Z3, Z6
	VPANDQ    Z1, Z3, Z7
	VPOPCNTQ  Z4, Z4
	VPOPCNTQ  Z5, Z5
	VPOPCNTQ  Z6, Z6
	VPOPCNTQ  Z7, Z7
	VPADDQ    Z4, Z8, Z8
	VPADDQ    Z5, Z12, Z12
	VPADDQ    Z6, Z9, Z9
	VPADDQ    Z7, Z13, Z13
	VMOVDQU64.Z (R10)(AX*8), K1, Z2
	VMOVDQU64.Z (R11)(AX*8), K1, Z3
	VPANDQ    Z0, Z2, Z4
	VPANDQ    Z1, Z2, Z5
	VPANDQ    Z0, Z3, Z6
	VPANDQ    Z1, Z3, Z7
	VPOPCNTQ  Z4, Z4
	VPOPCNTQ  Z5, Z5
	VPOPCNTQ  Z6, Z6
	VPOPCNTQ  Z7, Z7
	VPADDQ    Z4, Z10, Z10
	VPADDQ    Z5, Z14, Z14
	VPADDQ    Z6, Z11, Z11
	VPADDQ    Z7, Z15, Z15

reduce:
	// Sum the 8 lanes of accumulator Z into out[I].
#define REDUCE(Z, Y, X, I) \
	VEXTRACTI64X4 $1, Z, Y0; \
	VPADDQ        Y0, Y, Y; \
	VEXTRACTI128  $1, Y, X0; \
	VPADDQ        X0, X, X; \
	VPSHUFD       $0x4e, X, X0; \
	VPADDQ        X0, X, X; \
	VMOVQ         X, I*8(DX)

	REDUCE(Z8, Y8, X8, 0)
	REDUCE(Z9, Y9, X9, 1)
	REDUCE(Z10, Y10, X10, 2)
	REDUCE(Z11, Y11, X11, 3)
	REDUCE(Z12, Y12, X12, 4)
	REDUCE(Z13, Y13, X13, 5)
	REDUCE(Z14, Y14, X14, 6)
	REDUCE(Z15, Y15, X15, 7)
	VZEROUPPER
	RET
