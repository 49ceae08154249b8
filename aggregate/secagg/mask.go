package secagg

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
)

// A mask is the AES-256-CTR keystream of its key (zero IV: every key masks
// one vector of one round), read as little-endian uint32 words; its value
// in Z_(2^m) is the low m bits of each word, which are uniform since 2^m
// divides 2^32. Adding full words mod 2^32 and reducing once at the end is
// therefore exact.
type mask struct {
	key      [32]byte
	subtract bool
}

// maskChunkWords is the block the keystreams are generated in: the chunk
// of the vector and the keystream buffer both stay in L1 while every mask
// is added to the chunk.
const maskChunkWords = 2048

// applyMasks adds each mask to dst (or subtracts it) mod 2^32.
func applyMasks(dst []uint32, masks []mask) error {
	streams := make([]cipher.Stream, len(masks))
	var iv [aes.BlockSize]byte
	for i := range masks {
		block, err := aes.NewCipher(masks[i].key[:])
		if err != nil {
			return err
		}
		streams[i] = cipher.NewCTR(block, iv[:])
	}
	zeros := make([]byte, 4*maskChunkWords)
	keystream := make([]byte, 4*maskChunkWords)
	for off := 0; off < len(dst); off += maskChunkWords {
		chunk := dst[off:min(off+maskChunkWords, len(dst))]
		ks := keystream[:4*len(chunk)]
		for i, s := range streams {
			s.XORKeyStream(ks, zeros[:len(ks)])
			if masks[i].subtract {
				subWords(chunk, ks)
			} else {
				addWords(chunk, ks)
			}
		}
	}
	return nil
}

// addWords adds the little-endian words of src to dst, eight at a time
// (the reslicing lets the compiler drop the bounds checks).
func addWords(dst []uint32, src []byte) {
	for len(dst) >= 8 && len(src) >= 32 {
		d, s := dst[:8:8], src[:32:32]
		d[0] += binary.LittleEndian.Uint32(s[0:])
		d[1] += binary.LittleEndian.Uint32(s[4:])
		d[2] += binary.LittleEndian.Uint32(s[8:])
		d[3] += binary.LittleEndian.Uint32(s[12:])
		d[4] += binary.LittleEndian.Uint32(s[16:])
		d[5] += binary.LittleEndian.Uint32(s[20:])
		d[6] += binary.LittleEndian.Uint32(s[24:])
		d[7] += binary.LittleEndian.Uint32(s[28:])
		dst, src = dst[8:], src[32:]
	}
	for i := range dst {
		dst[i] += binary.LittleEndian.Uint32(src[4*i:])
	}
}

func subWords(dst []uint32, src []byte) {
	for len(dst) >= 8 && len(src) >= 32 {
		d, s := dst[:8:8], src[:32:32]
		d[0] -= binary.LittleEndian.Uint32(s[0:])
		d[1] -= binary.LittleEndian.Uint32(s[4:])
		d[2] -= binary.LittleEndian.Uint32(s[8:])
		d[3] -= binary.LittleEndian.Uint32(s[12:])
		d[4] -= binary.LittleEndian.Uint32(s[16:])
		d[5] -= binary.LittleEndian.Uint32(s[20:])
		d[6] -= binary.LittleEndian.Uint32(s[24:])
		d[7] -= binary.LittleEndian.Uint32(s[28:])
		dst, src = dst[8:], src[32:]
	}
	for i := range dst {
		dst[i] -= binary.LittleEndian.Uint32(src[4*i:])
	}
}

// reduce maps every word to Z_(2^m).
func reduce(v []uint32, modMask uint32) {
	if modMask == ^uint32(0) {
		return
	}
	for i := range v {
		v[i] &= modMask
	}
}
