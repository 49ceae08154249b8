//go:build !purego

#include "textflag.h"

// The AVX2 group kernels (see mask_amd64.go): each adds to dst[i] the sum
// of the four slots' elements i, eight elements a loop, for len(dst)/8 whole blocks. Slot j of ks starts j·S bytes in,
// S = w·1024 + 64 (maskChunk and maskPad in mask.go). Elements are loaded
// zero-extended: the sums' low m bits are those of the portable kernels.

// SUMw leaves in Y0 the sum of the four slots' eight elements of width w
// at SI.
#define SUM1 \
	VPMOVZXBD (SI), Y0 \
	VPMOVZXBD 1088(SI), Y1 \
	VPMOVZXBD 2176(SI), Y2 \
	VPMOVZXBD 3264(SI), Y3 \
	VPADDD    Y1, Y0, Y0 \
	VPADDD    Y3, Y2, Y2 \
	VPADDD    Y2, Y0, Y0

#define SUM2 \
	VPMOVZXWD (SI), Y0 \
	VPMOVZXWD 2112(SI), Y1 \
	VPMOVZXWD 4224(SI), Y2 \
	VPMOVZXWD 6336(SI), Y3 \
	VPADDD    Y1, Y0, Y0 \
	VPADDD    Y3, Y2, Y2 \
	VPADDD    Y2, Y0, Y0

// Width 3: VPERMD (indices in Y14) moves dwords 0–3 of the 32 bytes at SI
// to the low lane and dwords 3–6 to the high one (bytes 12–27: elements 4–7
// at 0, 3, 6, 9), then one VPSHUFB mask (Y15) spreads each lane's four
// 3-byte elements to words. The load reads 8 bytes past the block's 24.
#define SUM3 \
	VPERMD  (SI), Y14, Y0 \
	VPERMD  3136(SI), Y14, Y1 \
	VPERMD  6272(SI), Y14, Y2 \
	VPERMD  9408(SI), Y14, Y3 \
	VPSHUFB Y15, Y0, Y0 \
	VPSHUFB Y15, Y1, Y1 \
	VPSHUFB Y15, Y2, Y2 \
	VPSHUFB Y15, Y3, Y3 \
	VPADDD  Y1, Y0, Y0 \
	VPADDD  Y3, Y2, Y2 \
	VPADDD  Y2, Y0, Y0

#define SUM4 \
	VMOVDQU (SI), Y0 \
	VMOVDQU 8320(SI), Y2 \
	VPADDD  4160(SI), Y0, Y0 \
	VPADDD  12480(SI), Y2, Y2 \
	VPADDD  Y2, Y0, Y0

// KERNEL is the body of a kernel of width w: SUMw, and blockBytes = 8w.
// Y14 and Y15 are for SUM3.
#define KERNEL(SUMW, blockBytes) \
	MOVQ dst_base+0(FP), DI \
	MOVQ dst_len+8(FP), CX \
	MOVQ ks_base+24(FP), SI \
	VMOVDQU width3perm<>(SB), Y14 \
	VMOVDQU width3shuf<>(SB), Y15 \
	SHRQ $3, CX \
	JZ   done \
loop: \
	SUMW \
	VPADDD  (DI), Y0, Y0 \
	VMOVDQU Y0, (DI) \
	ADDQ $blockBytes, SI \
	ADDQ $32, DI \
	DECQ CX \
	JNZ  loop \
done: \
	VZEROUPPER \
	RET

DATA width3perm<>+0(SB)/4, $0
DATA width3perm<>+4(SB)/4, $1
DATA width3perm<>+8(SB)/4, $2
DATA width3perm<>+12(SB)/4, $3
DATA width3perm<>+16(SB)/4, $3
DATA width3perm<>+20(SB)/4, $4
DATA width3perm<>+24(SB)/4, $5
DATA width3perm<>+28(SB)/4, $6
GLOBL width3perm<>(SB), RODATA|NOPTR, $32

DATA width3shuf<>+0(SB)/8, $0xff050403ff020100
DATA width3shuf<>+8(SB)/8, $0xff0b0a09ff080706
DATA width3shuf<>+16(SB)/8, $0xff050403ff020100
DATA width3shuf<>+24(SB)/8, $0xff0b0a09ff080706
GLOBL width3shuf<>(SB), RODATA|NOPTR, $32

// func addGroup1AVX2(dst []uint32, ks []byte)
TEXT ·addGroup1AVX2(SB), NOSPLIT, $0-48
	KERNEL(SUM1, 8)

// func addGroup2AVX2(dst []uint32, ks []byte)
TEXT ·addGroup2AVX2(SB), NOSPLIT, $0-48
	KERNEL(SUM2, 16)

// func addGroup3AVX2(dst []uint32, ks []byte)
TEXT ·addGroup3AVX2(SB), NOSPLIT, $0-48
	KERNEL(SUM3, 24)

// func addGroup4AVX2(dst []uint32, ks []byte)
TEXT ·addGroup4AVX2(SB), NOSPLIT, $0-48
	KERNEL(SUM4, 32)
