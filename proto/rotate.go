package proto

import (
	"fmt"
	"math"
	"math/bits"
	"math/rand/v2"
)

// MaxRotateLen caps the dimension of a Rotation.
const MaxRotateLen = 1 << 30

// Rotation is a randomized Hadamard rotation R = H·D/√d' of vectors of
// dimension d zero-padded to d' = PaddedLen(d): D is a diagonal of random
// signs, H the d'×d' Walsh–Hadamard matrix. R is orthogonal and linear, so
// every device of a round rotates its update with the round's seed and the
// coordinator applies Inverse once, to the sum. Rotating spreads a vector of
// norm C over all coordinates (each has variance C²/d' over the signs) so a
// shared per-coordinate range (RotatedClip) is fine even for spiky updates.
//
// The signs are the round's public randomness and are reproducible by any
// implementation: coordinate i is negated iff bit i%64 of the (i/64)-th
// Uint64 output of ChaCha8 seeded with the 32-byte seed is set, ChaCha8 being
// the generator specified at https://c2sp.org/chacha8rand (Go's
// math/rand/v2.ChaCha8).
//
// The transform runs in float32, in place, in O(d' log d'): a round trip
// comes back within 2e-7 of the input, relative to its norm, at d = 311,000
// (TestRotationRoundTrip).
// A Rotation is safe for concurrent use.
type Rotation struct {
	d     int
	signs []uint64 // bit i set: negate coordinate i
}

// PaddedLen is d' = 2^⌈log2 d⌉, the dimension a rotated vector of
// dimension d ≥ 1 has, and the number of values a device sends.
func PaddedLen(d int) int {
	if d <= 1 {
		return 1
	}
	return 1 << bits.Len(uint(d-1))
}

// NewRotation returns the rotation of dimension d (1 ≤ d ≤ MaxRotateLen)
// the seed defines.
func NewRotation(seed [32]byte, d int) (*Rotation, error) {
	if d < 1 || d > MaxRotateLen {
		return nil, fmt.Errorf("proto: rotation of dimension %d, want 1..%d", d, MaxRotateLen)
	}
	src := rand.NewChaCha8(seed)
	signs := make([]uint64, (d+63)/64) // the padding is zero: no signs
	for i := range signs {
		signs[i] = src.Uint64()
	}
	return &Rotation{d: d, signs: signs}, nil
}

// Len is the dimension d of the vectors r rotates.
func (r *Rotation) Len() int { return r.d }

// PaddedLen is the dimension d' of rotated vectors.
func (r *Rotation) PaddedLen() int { return PaddedLen(r.d) }

// Forward sets dst to R·x and returns it: len(x) must be Len(), the result
// has PaddedLen() values. dst is reused when its capacity suffices; it may
// be x itself.
func (r *Rotation) Forward(dst, x []float32) ([]float32, error) {
	if len(x) != r.d {
		return nil, fmt.Errorf("%w: %d values to rotate, want %d", ErrBadTensor, len(x), r.d)
	}
	n := r.PaddedLen()
	dst = grow(dst, n)
	r.applySigns(dst[:r.d], x)
	clear(dst[r.d:])
	fwht(dst)
	return dst, nil
}

// Inverse sets dst to the first Len() values of R⁻¹·y = D·H·y/√d' and
// returns it: len(y) must be PaddedLen(). dst is reused when its capacity is
// at least PaddedLen(), which it needs as scratch; it may be y itself.
func (r *Rotation) Inverse(dst, y []float32) ([]float32, error) {
	n := r.PaddedLen()
	if len(y) != n {
		return nil, fmt.Errorf("%w: %d values to unrotate, want %d", ErrBadTensor, len(y), n)
	}
	dst = grow(dst, n)
	copy(dst, y)
	fwht(dst)
	r.applySigns(dst[:r.d], dst[:r.d])
	return dst[:r.d], nil
}

func grow(dst []float32, n int) []float32 {
	if cap(dst) < n {
		return make([]float32, n)
	}
	return dst[:n]
}

// applySigns sets dst[i] = ±x[i]/√d'. For even log2 d' the factor is a power
// of two and exact; for odd it costs one rounding, like any other product.
func (r *Rotation) applySigns(dst, x []float32) {
	norm := float32(1 / math.Sqrt(float64(r.PaddedLen())))
	dst = dst[:len(x)]
	for i, v := range x {
		neg := uint32(r.signs[i>>6]>>(i&63)) << 31
		dst[i] = math.Float32frombits(math.Float32bits(v*norm) ^ neg)
	}
}

// fwht applies the unnormalized Walsh–Hadamard transform to v in place;
// len(v) is a power of two. The stages of strides 1, 2 and 4 run on eight
// values at a time in registers, the others in fused pairs (radix 4) to
// halve the passes over memory, and the stages of strides below block run
// block by block so that a block stays in the L1 cache.
func fwht(v []float32) {
	n := len(v)
	if n < 8 {
		stages(v, 1)
		return
	}
	const block = 1 << 11 // 8 KiB of float32
	b := min(block, n)
	for lo := 0; lo < n; lo += b {
		blk := v[lo : lo+b]
		for i := 0; i < b; i += 8 {
			wht8((*[8]float32)(blk[i:]))
		}
		stages(blk, 8)
	}
	stages(v, b)
}

func wht8(p *[8]float32) {
	a0, a1 := p[0]+p[1], p[0]-p[1]
	a2, a3 := p[2]+p[3], p[2]-p[3]
	a4, a5 := p[4]+p[5], p[4]-p[5]
	a6, a7 := p[6]+p[7], p[6]-p[7]
	b0, b1, b2, b3 := a0+a2, a1+a3, a0-a2, a1-a3
	b4, b5, b6, b7 := a4+a6, a5+a7, a4-a6, a5-a7
	p[0], p[1], p[2], p[3] = b0+b4, b1+b5, b2+b6, b3+b7
	p[4], p[5], p[6], p[7] = b0-b4, b1-b5, b2-b6, b3-b7
}

// stages applies the butterfly stages of strides h, 2h, … < len(v).
func stages(v []float32, h int) {
	n := len(v)
	for ; 4*h <= n; h *= 4 {
		for i := 0; i < n; i += 4 * h {
			a, b, c, d := v[i:i+h], v[i+h:i+2*h], v[i+2*h:i+3*h], v[i+3*h:i+4*h]
			b, c, d = b[:len(a)], c[:len(a)], d[:len(a)] // no bounds checks below
			for j := range a {
				s1, d1 := a[j]+b[j], a[j]-b[j]
				s2, d2 := c[j]+d[j], c[j]-d[j]
				a[j], b[j], c[j], d[j] = s1+s2, d1+d2, s1-s2, d1-d2
			}
		}
	}
	if 2*h <= n {
		for i := 0; i < n; i += 2 * h {
			a, b := v[i:i+h], v[i+h:i+2*h]
			b = b[:len(a)]
			for j := range a {
				a[j], b[j] = a[j]+b[j], a[j]-b[j]
			}
		}
	}
}
