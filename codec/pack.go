package codec

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
)

// PackedLen is the size in bytes of n values of bits bits each packed by
// AppendPacked, ⌈n·bits/8⌉, or −1 if n < 0, bits is outside 1..32 or the
// size overflows an int.
func PackedLen(n, bits int) int {
	if n < 0 || bits < 1 || bits > 32 || n > (math.MaxInt-7)/bits {
		return -1
	}
	return (n*bits + 7) / 8
}

// AppendPacked appends the values of v, bits bits each (1..32), to dst: value
// i occupies bits i·bits … (i+1)·bits−1 of the output, counted from the least
// significant bit of the first byte, and the last byte is padded with zero
// bits. Each value is written modulo 2^bits (its low bits), which is its
// reduction into the ring Z_(2^bits). A bits outside 1..32 is a programming
// error: AppendPacked panics.
func AppendPacked(dst []byte, v []uint32, bits int) []byte {
	size := PackedLen(len(v), bits)
	if size < 0 {
		panic(fmt.Sprintf("codec: packing %d values of %d bits", len(v), bits))
	}
	dst = slices.Grow(dst, size)
	mask := uint64(1)<<bits - 1
	var acc uint64 // the pending bits, nacc < 32 of them between values
	nacc := 0
	for _, x := range v {
		acc |= (uint64(x) & mask) << nacc
		nacc += bits
		if nacc >= 32 {
			dst = binary.LittleEndian.AppendUint32(dst, uint32(acc))
			acc >>= 32
			nacc -= 32
		}
	}
	for ; nacc > 0; nacc -= 8 {
		dst = append(dst, byte(acc))
		acc >>= 8
	}
	return dst
}

// UnpackInto decodes n values of bits bits each, packed by AppendPacked, from
// b into dst[:n]. The size of b must be exactly PackedLen(n, bits) and the
// padding bits zero, so that every vector has one encoding; anything else is
// an error wrapping ErrBadEncoding, found before dst is written.
func UnpackInto(dst []uint32, b []byte, n, bits int) error {
	size := PackedLen(n, bits)
	switch {
	case size < 0:
		return fmt.Errorf("%w: %d values of %d bits", ErrBadEncoding, n, bits)
	case len(b) != size:
		return fmt.Errorf("%w: %d bytes for %d values of %d bits, want %d", ErrBadEncoding, len(b), n, bits, size)
	case len(dst) < n:
		return fmt.Errorf("codec: unpacking %d values into %d", n, len(dst))
	case size > 0 && b[size-1]>>((n*bits-1)%8+1) != 0:
		return fmt.Errorf("%w: padding bits of %d values of %d bits not zero", ErrBadEncoding, n, bits)
	}
	mask := uint64(1)<<bits - 1
	var acc uint64
	nacc, pos := 0, 0
	for i := range dst[:n] {
		if nacc < bits {
			if pos+4 <= len(b) {
				acc |= uint64(binary.LittleEndian.Uint32(b[pos:])) << nacc
				pos, nacc = pos+4, nacc+32
			} else {
				for ; nacc < bits; pos, nacc = pos+1, nacc+8 {
					acc |= uint64(b[pos]) << nacc
				}
			}
		}
		dst[i] = uint32(acc & mask)
		acc >>= bits
		nacc -= bits
	}
	return nil
}
