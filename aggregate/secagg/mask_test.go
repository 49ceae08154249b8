package secagg

import (
	"crypto/aes"
	"crypto/cipher"
	"errors"
	"fmt"
	"math"
	"slices"
	"testing"
)

// referenceMask expands a mask the slow, obvious way, from crypto/aes and
// crypto/cipher only: keystream bytes w·i..w·i+w−1 as a little-endian
// integer, cut to m bits.
func referenceMask(t testing.TB, key [32]byte, m, d int) []uint32 {
	t.Helper()
	w := (m + 7) / 8
	block, err := aes.NewCipher(key[:])
	if err != nil {
		t.Fatal(err)
	}
	ks := make([]byte, w*d)
	cipher.NewCTR(block, make([]byte, aes.BlockSize)).XORKeyStream(ks, ks)
	out := make([]uint32, d)
	for i := range out {
		var v uint64
		for b := w - 1; b >= 0; b-- {
			v = v<<8 | uint64(ks[w*i+b])
		}
		out[i] = uint32(v & (1<<m - 1))
	}
	return out
}

func countingKey(first byte) (k [32]byte) {
	for i := range k {
		k[i] = first + byte(i)
	}
	return k
}

func TestMaskWidth(t *testing.T) {
	for m := 1; m <= 32; m++ {
		if w, want := maskWidth(m), int(math.Ceil(float64(m)/8)); w != want {
			t.Errorf("m = %d: %d bytes per element, want %d", m, w, want)
		}
	}
}

// TestMaskKnownAnswer pins the PRG of doc.go: the first elements of the
// mask of key 00 01 … 1f, as recorded (so a change of definition shows)
// and as the reference expansion computes them, over a length that spans
// chunks and ends in a partial block of eight.
func TestMaskKnownAnswer(t *testing.T) {
	key := countingKey(0)
	// The keystream starts f2 90 00 b6 2a 49 9f d0 a9 f3 9a 6a dd 2e 77 80
	// f0 5d 76 ae 4a b9 9f e5 a6 f6 9b 31 48 c2 36 3d (also from
	// openssl enc -aes-256-ctr).
	golden := map[int][]uint32{
		8:  {0xf2, 0x90, 0x00, 0xb6, 0x2a, 0x49, 0x9f, 0xd0},
		12: {0x0f2, 0x600, 0x92a, 0x09f, 0x3a9, 0xa9a, 0xedd, 0x077},
		16: {0x90f2, 0xb600, 0x492a, 0xd09f, 0xf3a9, 0x6a9a, 0x2edd, 0x8077},
		20: {0x090f2, 0x92ab6, 0x9d09f, 0xa9af3, 0x72edd, 0xdf080, 0xaae76, 0x59fb9},
		24: {0x0090f2, 0x492ab6, 0xa9d09f, 0x6a9af3, 0x772edd, 0x5df080, 0x4aae76, 0xe59fb9},
		32: {0xb60090f2, 0xd09f492a, 0x6a9af3a9, 0x80772edd, 0xae765df0, 0xe59fb94a, 0x319bf6a6, 0x3d36c248},
	}
	const d = 2*maskChunk + 13
	for _, m := range []int{8, 12, 16, 20, 24, 32} {
		t.Run(fmt.Sprintf("m=%d", m), func(t *testing.T) {
			want := referenceMask(t, key, m, d)
			if g := golden[m]; !slices.Equal(want[:len(g)], g) {
				t.Fatalf("reference expansion starts %#x, want %#x", want[:len(g)], g)
			}
			got := make([]uint32, d)
			if err := applyMasks(got, []mask{{key: key}}, m, 1); err != nil {
				t.Fatal(err)
			}
			if i := firstDiff(got, want); i >= 0 {
				t.Fatalf("element %d is %#x, want %#x", i, got[i], want[i])
			}
			// Subtracted, it is the negation mod 2^m.
			clear(got)
			if err := applyMasks(got, []mask{{key: key, subtract: true}}, m, 1); err != nil {
				t.Fatal(err)
			}
			for i := range want {
				want[i] = -want[i] & (1<<m - 1)
			}
			if i := firstDiff(got, want); i >= 0 {
				t.Fatalf("subtracted: element %d is %#x, want %#x", i, got[i], want[i])
			}
		})
	}
}

// firstDiff is the first index where a and b differ, or −1.
func firstDiff(a, b []uint32) int {
	n := min(len(a), len(b))
	for i := range n {
		if a[i] != b[i] {
			return i
		}
	}
	if len(a) != len(b) {
		return n
	}
	return -1
}

// TestApplyMasksMatchesReference checks the fast expansion against the
// reference at every width and every m, for sums of masks of both signs
// in every group shape (full groups of four, partial ones of each sign,
// both in one chunk), on vectors of arbitrary words (the server's running
// sum is any uint32) of lengths around the unrolling, the chunk and
// the AES block.
func TestApplyMasksMatchesReference(t *testing.T) {
	rng := seeded(23)
	lengths := []int{1, 5, 8, 11, 100, maskChunk, 2*maskChunk + 3}
	counts := []int{0, 1, 2, 3, 4, 5, 7, 9, 12}
	for m := 1; m <= 32; m++ {
		for _, d := range lengths {
			for _, k := range counts {
				masks := make([]mask, k)
				for i := range masks {
					rng.Read(masks[i].key[:])
					masks[i].subtract = rng.Uint64()%2 == 1
				}
				if k == 9 { // 7 added, 2 subtracted: two groups of one sign, one of the other
					for i := range masks {
						masks[i].subtract = i >= 7
					}
				}
				v := make([]uint32, d)
				for i := range v {
					v[i] = uint32(rng.Uint64())
				}
				want := slices.Clone(v)
				for _, mk := range masks {
					for i, e := range referenceMask(t, mk.key, m, d) {
						if mk.subtract {
							want[i] -= e
						} else {
							want[i] += e
						}
					}
				}
				reduce(want, uint32(1<<m-1))
				if err := applyMasks(v, masks, m, 1); err != nil {
					t.Fatal(err)
				}
				if i := firstDiff(v, want); i >= 0 {
					t.Fatalf("m = %d, d = %d, %d masks: element %d is %#x, want %#x", m, d, k, i, v[i], want[i])
				}
			}
		}
	}
}

func TestApplyMasksRejectsBits(t *testing.T) {
	for _, m := range []int{0, -1, 33} {
		for _, workers := range []int{1, 2} {
			if err := applyMasks(make([]uint32, 4*maskChunk), []mask{{}}, m, workers); !errors.Is(err, ErrInvalidConfig) {
				t.Errorf("m = %d, %d workers: %v", m, workers, err)
			}
		}
	}
}

// TestMaskUniformBits: over a long mask each of the m bits is set half the
// time, at widths whose top byte is cut (m = 12 and 20), the bits above m
// are clear, and consecutive elements are as independent as chance says
// (an expansion reading overlapping bytes would repeat them).
func TestMaskUniformBits(t *testing.T) {
	const d = 1 << 18
	for _, m := range []int{12, 20} {
		t.Run(fmt.Sprintf("m=%d", m), func(t *testing.T) {
			v := make([]uint32, d)
			if err := applyMasks(v, []mask{{key: countingKey(9)}}, m, 1); err != nil {
				t.Fatal(err)
			}
			var ones [32]int
			for _, x := range v {
				for b := range 32 {
					ones[b] += int(x >> b & 1)
				}
			}
			for b := range 32 {
				if b >= m {
					if ones[b] != 0 {
						t.Errorf("bit %d (above m) set %d times", b, ones[b])
					}
					continue
				}
				if z := math.Abs(float64(ones[b])-d/2) / math.Sqrt(d/4); z > 6 {
					t.Errorf("bit %d set %d times of %d (z = %.1f)", b, ones[b], d, z)
				}
			}
			// Each bit of an element against each bit of the next: the two
			// agree half the time.
			for b := range m {
				for c := range m {
					agree := 0
					for i := 1; i < d; i++ {
						agree += int(^(v[i-1]>>b ^ v[i]>>c) & 1)
					}
					if z := math.Abs(float64(agree)-(d-1)/2) / math.Sqrt((d-1)/4.0); z > 6 {
						t.Errorf("bit %d of an element and bit %d of the next agree %d times of %d (z = %.1f)", b, c, agree, d-1, z)
					}
				}
			}
		})
	}
}

// TestRoundExactAtEveryWidth plays rounds at the bit widths where the
// expansion changes (each side of a byte boundary), on a vector longer
// than a chunk with a ragged end, without and with a client dropping
// before its masked input, so the server removes pairwise masks it
// rebuilt as well as the self masks.
func TestRoundExactAtEveryWidth(t *testing.T) {
	const n, k, th, d = 10, 4, 3, maskChunk + 37
	for _, m := range []int{1, 8, 9, 12, 16, 17, 20, 24, 25, 26, 31, 32} {
		for _, drop := range []bool{false, true} {
			t.Run(fmt.Sprintf("m=%d/drop=%v", m, drop), func(t *testing.T) {
				r := newTestRound(t, testConfig(n, k, th, m, d, uint64(m)), uint64(m))
				if drop {
					r.drop[3] = PhaseMaskedInput
				}
				r.checkExact(r.run())
			})
		}
	}
}

// TestApplyMasksParallelMatches: cutting the vector among goroutines, each
// starting its keystreams at its part's first block, gives what one pass
// gives, for any number of workers, including more than there are chunks.
func TestApplyMasksParallelMatches(t *testing.T) {
	rng := seeded(31)
	masks := make([]mask, 9)
	for i := range masks {
		rng.Read(masks[i].key[:])
		masks[i].subtract = i%3 == 0
	}
	for _, m := range []int{8, 20, 32} {
		for _, d := range []int{1, maskChunk, 3*maskChunk + 7, 10 * maskChunk} {
			v := make([]uint32, d)
			for i := range v {
				v[i] = uint32(rng.Uint64())
			}
			want := slices.Clone(v)
			if err := applyMasks(want, masks, m, 1); err != nil {
				t.Fatal(err)
			}
			for _, workers := range []int{1, 2, 3, 5, 16} {
				got := slices.Clone(v)
				if err := applyMasks(got, masks, m, workers); err != nil {
					t.Fatal(err)
				}
				if i := firstDiff(got, want); i >= 0 {
					t.Fatalf("m = %d, d = %d, %d workers: element %d is %#x, want %#x", m, d, workers, i, got[i], want[i])
				}
			}
		}
	}
}
