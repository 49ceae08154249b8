package secagg

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
)

// A mask is a vector of Z_(2^m)^d expanded from its key by the PRG: the
// AES-256-CTR keystream of the key (zero IV: every key masks one vector of
// one round) is cut into w = ⌈m/8⌉-byte little-endian integers (one byte
// per element for m <= 8, two for m <= 16, three for m <= 24, else four),
// and element i is the low m bits of the i-th one, keystream bytes w·i to
// w·i+w−1. It is uniform in Z_(2^m) since 2^m divides 2^(8w).
type mask struct {
	key      [32]byte
	subtract bool
}

// maskWidth is w, the keystream bytes an element of Z_(2^m) takes.
func maskWidth(bits int) int { return (bits + 7) / 8 }

// How applyMasks is fast:
//
// No element is cut out on its own. The little-endian uint32 at byte w·i
// of the keystream has element i in its low 8w >= m bits and bytes that
// follow above them. Adding or subtracting whole words mod 2^32 only
// carries upwards, so the low m bits of the result are exact whatever the
// high bits were, and one reduction mod 2^m at the end leaves exactly
// dst ± Σ masks: every width costs one unaligned load per element and mask.
//
// The vector goes in chunks of maskChunk elements. For each chunk the
// masks are expanded maskGroup at a time into the slots of one buffer (a
// fixed stride apart, so the expansion needs a single pointer and no
// bounds checks), and the group's four words are summed and added to the
// chunk in one pass, so the chunk is loaded and stored once per group
// rather than once per mask. The added masks go first; the subtracted ones
// are added to the negated chunk, which is then negated back:
// −(−x + Σ) = x − Σ, so one kernel serves both signs.
// The chunk and the live slots stay in L1 (at w = 4: 4 KiB and 5 slots of
// 4 KiB). A group of g < maskGroup masks fills the last g of the slots 0..3
// and is read from slot 4−g: slots 4..6 are never written, so its words
// from them are zero; slot 4 is also the zeros the keystream is XORed into.
const (
	// maskChunk is a multiple of 16, so a chunk of keystream is whole AES
	// blocks at every width (only the last chunk of a vector may not be).
	maskChunk = 1024
	maskGroup = 4
	// maskPad is the bytes of a slot past a chunk's keystream (w·maskChunk
	// bytes), which the kernels may read but never use: the last word the
	// portable ones read in a slot reaches 4−w <= 3 bytes past the
	// keystream, never into its low m bits, and the AVX2 ones load up to 8
	// bytes past and discard them. 64 keeps the slots cache-line aligned.
	maskPad = 64
)

// groupKernels[w−1] adds a group's masks at width w: the portable kernels
// below, or vector ones where the CPU has them (mask_amd64.go).
var groupKernels = portableKernels

var portableKernels = [4]func(dst []uint32, ks []byte){addGroup1, addGroup2, addGroup3, addGroup4}

// applyMasks adds each mask of Z_(2^m) to dst (or subtracts it) and reduces
// dst mod 2^m, m = bits. With workers > 1 (the server's unmasking, which
// expands hundreds of masks) the vector is cut into whole chunks among that
// many goroutines, each expanding every mask over its own part.
func applyMasks(dst []uint32, masks []mask, bits, workers int) error {
	if bits < 1 || bits > 32 {
		return fmt.Errorf("%w: %d bits, want 1..32", ErrInvalidConfig, bits)
	}
	chunks := (len(dst) + maskChunk - 1) / maskChunk
	workers = min(workers, chunks)
	if workers <= 1 {
		return applyMasksFrom(dst, 0, masks, bits)
	}
	var wg sync.WaitGroup
	errs := make([]error, workers)
	for i := range workers {
		lo, hi := i*chunks/workers*maskChunk, min(len(dst), (i+1)*chunks/workers*maskChunk)
		wg.Go(func() { errs[i] = applyMasksFrom(dst[lo:hi], lo, masks, bits) })
	}
	wg.Wait()
	return errors.Join(errs...)
}

// applyMasksFrom is applyMasks on elements from, from+1, … of the masks
// (dst holds those elements of the vector); from is a multiple of
// maskChunk, so their keystream starts at a whole AES block.
func applyMasksFrom(dst []uint32, from int, masks []mask, bits int) error {
	w := maskWidth(bits)
	var iv [aes.BlockSize]byte // the big-endian counter of the first block
	binary.BigEndian.PutUint64(iv[8:], uint64(from*w/aes.BlockSize))
	var groups [2][][]cipher.Stream // of the added masks, of the subtracted
	for i := range masks {
		block, err := aes.NewCipher(masks[i].key[:])
		if err != nil {
			return err
		}
		sign := 0
		if masks[i].subtract {
			sign = 1
		}
		g := groups[sign]
		if len(g) == 0 || len(g[len(g)-1]) == maskGroup {
			g = append(g, nil)
		}
		g[len(g)-1] = append(g[len(g)-1], cipher.NewCTR(block, iv[:]))
		groups[sign] = g
	}
	expand := groupKernels[w-1]
	stride := w*maskChunk + maskPad // as in the kernels
	buf := make([]byte, (2*maskGroup-1)*stride)
	zeros := buf[maskGroup*stride:][:w*maskChunk]
	modMask := uint32(1<<bits - 1)
	add := func(chunk []uint32, gs [][]cipher.Stream) {
		n := w * len(chunk)
		for _, g := range gs {
			first := maskGroup - len(g)
			for j, s := range g {
				s.XORKeyStream(buf[(first+j)*stride:][:n], zeros[:n])
			}
			expand(chunk, buf[first*stride:][:(maskGroup-1)*stride+n+maskPad])
		}
	}
	for off := 0; off < len(dst); off += maskChunk {
		chunk := dst[off:min(off+maskChunk, len(dst))]
		add(chunk, groups[0])
		if len(groups[1]) > 0 {
			negate(chunk)
			add(chunk, groups[1])
			negate(chunk)
		}
		reduce(chunk, modMask)
	}
	return nil
}

// The kernels: addGroupW adds to each dst[i] the sum of the words
// at byte w·i of the four slots of ks, unrolled eight elements at a time
// (the conversion to an array pointer lets the compiler drop the bounds
// checks). len(ks) >= 3·stride + w·len(dst) + 4.

func addGroup1(dst []uint32, ks []byte) {
	const w, stride = 1, 1*maskChunk + maskPad
	const win = 3*stride + 7*w + 4
	for len(dst) >= 8 && len(ks) >= win {
		o, x := dst[:8:8], (*[win]byte)(ks)
		o[0] += le32(x[0*w:]) + le32(x[stride+0*w:]) + le32(x[2*stride+0*w:]) + le32(x[3*stride+0*w:])
		o[1] += le32(x[1*w:]) + le32(x[stride+1*w:]) + le32(x[2*stride+1*w:]) + le32(x[3*stride+1*w:])
		o[2] += le32(x[2*w:]) + le32(x[stride+2*w:]) + le32(x[2*stride+2*w:]) + le32(x[3*stride+2*w:])
		o[3] += le32(x[3*w:]) + le32(x[stride+3*w:]) + le32(x[2*stride+3*w:]) + le32(x[3*stride+3*w:])
		o[4] += le32(x[4*w:]) + le32(x[stride+4*w:]) + le32(x[2*stride+4*w:]) + le32(x[3*stride+4*w:])
		o[5] += le32(x[5*w:]) + le32(x[stride+5*w:]) + le32(x[2*stride+5*w:]) + le32(x[3*stride+5*w:])
		o[6] += le32(x[6*w:]) + le32(x[stride+6*w:]) + le32(x[2*stride+6*w:]) + le32(x[3*stride+6*w:])
		o[7] += le32(x[7*w:]) + le32(x[stride+7*w:]) + le32(x[2*stride+7*w:]) + le32(x[3*stride+7*w:])
		dst, ks = dst[8:], ks[8*w:]
	}
	addGroupTail(dst, ks, w, stride)
}

func addGroup2(dst []uint32, ks []byte) {
	const w, stride = 2, 2*maskChunk + maskPad
	const win = 3*stride + 7*w + 4
	for len(dst) >= 8 && len(ks) >= win {
		o, x := dst[:8:8], (*[win]byte)(ks)
		o[0] += le32(x[0*w:]) + le32(x[stride+0*w:]) + le32(x[2*stride+0*w:]) + le32(x[3*stride+0*w:])
		o[1] += le32(x[1*w:]) + le32(x[stride+1*w:]) + le32(x[2*stride+1*w:]) + le32(x[3*stride+1*w:])
		o[2] += le32(x[2*w:]) + le32(x[stride+2*w:]) + le32(x[2*stride+2*w:]) + le32(x[3*stride+2*w:])
		o[3] += le32(x[3*w:]) + le32(x[stride+3*w:]) + le32(x[2*stride+3*w:]) + le32(x[3*stride+3*w:])
		o[4] += le32(x[4*w:]) + le32(x[stride+4*w:]) + le32(x[2*stride+4*w:]) + le32(x[3*stride+4*w:])
		o[5] += le32(x[5*w:]) + le32(x[stride+5*w:]) + le32(x[2*stride+5*w:]) + le32(x[3*stride+5*w:])
		o[6] += le32(x[6*w:]) + le32(x[stride+6*w:]) + le32(x[2*stride+6*w:]) + le32(x[3*stride+6*w:])
		o[7] += le32(x[7*w:]) + le32(x[stride+7*w:]) + le32(x[2*stride+7*w:]) + le32(x[3*stride+7*w:])
		dst, ks = dst[8:], ks[8*w:]
	}
	addGroupTail(dst, ks, w, stride)
}

func addGroup3(dst []uint32, ks []byte) {
	const w, stride = 3, 3*maskChunk + maskPad
	const win = 3*stride + 7*w + 4
	for len(dst) >= 8 && len(ks) >= win {
		o, x := dst[:8:8], (*[win]byte)(ks)
		o[0] += le32(x[0*w:]) + le32(x[stride+0*w:]) + le32(x[2*stride+0*w:]) + le32(x[3*stride+0*w:])
		o[1] += le32(x[1*w:]) + le32(x[stride+1*w:]) + le32(x[2*stride+1*w:]) + le32(x[3*stride+1*w:])
		o[2] += le32(x[2*w:]) + le32(x[stride+2*w:]) + le32(x[2*stride+2*w:]) + le32(x[3*stride+2*w:])
		o[3] += le32(x[3*w:]) + le32(x[stride+3*w:]) + le32(x[2*stride+3*w:]) + le32(x[3*stride+3*w:])
		o[4] += le32(x[4*w:]) + le32(x[stride+4*w:]) + le32(x[2*stride+4*w:]) + le32(x[3*stride+4*w:])
		o[5] += le32(x[5*w:]) + le32(x[stride+5*w:]) + le32(x[2*stride+5*w:]) + le32(x[3*stride+5*w:])
		o[6] += le32(x[6*w:]) + le32(x[stride+6*w:]) + le32(x[2*stride+6*w:]) + le32(x[3*stride+6*w:])
		o[7] += le32(x[7*w:]) + le32(x[stride+7*w:]) + le32(x[2*stride+7*w:]) + le32(x[3*stride+7*w:])
		dst, ks = dst[8:], ks[8*w:]
	}
	addGroupTail(dst, ks, w, stride)
}

func addGroup4(dst []uint32, ks []byte) {
	const w, stride = 4, 4*maskChunk + maskPad
	const win = 3*stride + 7*w + 4
	for len(dst) >= 8 && len(ks) >= win {
		o, x := dst[:8:8], (*[win]byte)(ks)
		o[0] += le32(x[0*w:]) + le32(x[stride+0*w:]) + le32(x[2*stride+0*w:]) + le32(x[3*stride+0*w:])
		o[1] += le32(x[1*w:]) + le32(x[stride+1*w:]) + le32(x[2*stride+1*w:]) + le32(x[3*stride+1*w:])
		o[2] += le32(x[2*w:]) + le32(x[stride+2*w:]) + le32(x[2*stride+2*w:]) + le32(x[3*stride+2*w:])
		o[3] += le32(x[3*w:]) + le32(x[stride+3*w:]) + le32(x[2*stride+3*w:]) + le32(x[3*stride+3*w:])
		o[4] += le32(x[4*w:]) + le32(x[stride+4*w:]) + le32(x[2*stride+4*w:]) + le32(x[3*stride+4*w:])
		o[5] += le32(x[5*w:]) + le32(x[stride+5*w:]) + le32(x[2*stride+5*w:]) + le32(x[3*stride+5*w:])
		o[6] += le32(x[6*w:]) + le32(x[stride+6*w:]) + le32(x[2*stride+6*w:]) + le32(x[3*stride+6*w:])
		o[7] += le32(x[7*w:]) + le32(x[stride+7*w:]) + le32(x[2*stride+7*w:]) + le32(x[3*stride+7*w:])
		dst, ks = dst[8:], ks[8*w:]
	}
	addGroupTail(dst, ks, w, stride)
}

// addGroupTail finishes the last elements of a vector.
func addGroupTail(dst []uint32, ks []byte, w, stride int) {
	for i := range dst {
		x := ks[w*i:]
		dst[i] += le32(x) + le32(x[stride:]) + le32(x[2*stride:]) + le32(x[3*stride:])
	}
}

func le32(b []byte) uint32 { return binary.LittleEndian.Uint32(b) }

func negate(v []uint32) {
	for i := range v {
		v[i] = -v[i]
	}
}

// reduce maps every word to Z_(2^m).
func reduce(v []uint32, modMask uint32) {
	if modMask == ^uint32(0) {
		return
	}
	for len(v) >= 8 {
		o := v[:8:8]
		o[0] &= modMask
		o[1] &= modMask
		o[2] &= modMask
		o[3] &= modMask
		o[4] &= modMask
		o[5] &= modMask
		o[6] &= modMask
		o[7] &= modMask
		v = v[8:]
	}
	for i := range v {
		v[i] &= modMask
	}
}
