package codec

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
// signs, H a d'×d' Hadamard matrix (entries ±1, H·Hᵀ = d'·I). R is
// orthogonal and linear, so every device of a round rotates its update with
// the round's seed and the coordinator applies Inverse once, to the sum.
// Rotating spreads a vector of norm C over all coordinates (each has
// variance C²/d' over the signs) so a shared per-coordinate range
// (RotatedClip) is fine even for spiky updates.
//
// H is the Kronecker product H_r ⊗ H_n of a small Hadamard matrix of order
// r ∈ {1, 12, 20} and the n×n Walsh–Hadamard matrix, d' = r·n, n a power of
// two: H[i][j] = H_r[i/n][j/n]·(−1)^popcount((i mod n) AND (j mod n)).
// H_1 = (1); H_12 and H_20 are Paley's first construction for q = 11 and
// 19, H_r = I + S with S[0][j] = 1 and S[j][0] = −1 for j ≥ 1, S[i][j] =
// χ(i − j) for i, j ≥ 1 (χ the quadratic character mod q: 1 on the nonzero
// squares, −1 on the other nonzero residues, 0 at 0). The orders 12 and 20
// let d' follow d closely: padding to a power of two alone would send up
// to twice the values (311,000 → 524,288, against 327,680 = 20·2^14).
//
// The signs are the round's public randomness and are reproducible by any
// implementation: coordinate i is negated iff bit i%64 of the (i/64)-th
// Uint64 output of ChaCha8 seeded with the 32-byte seed is set, ChaCha8 being
// the generator specified at https://c2sp.org/chacha8rand (Go's
// math/rand/v2.ChaCha8).
//
// The transform runs in float32, in place, in O(d'·(log n + r)): a round
// trip comes back within 2e-7 of the input, relative to its norm, at
// d = 311,000 (TestRotationRoundTrip).
// A Rotation is safe for concurrent use.
type Rotation struct {
	d     int
	h     *smallHadamard // H_r
	signs []uint64       // bit i set: negate coordinate i
}

// PaddedLen is d', the dimension a rotated vector of dimension d ≥ 1 has
// and the number of values a device sends: the smallest r·2^k ≥ d with r
// in {1, 12, 20}.
func PaddedLen(d int) int {
	r, n := paddedShape(d)
	return r * n
}

// paddedShape is the r and n of PaddedLen(d) = r·n.
func paddedShape(d int) (r, n int) {
	r, n = 1, pow2AtLeast(d)
	for _, h := range smallHadamards {
		if m := pow2AtLeast((d + h.order - 1) / h.order); h.order*m < r*n {
			r, n = h.order, m
		}
	}
	return r, n
}

// pow2AtLeast is the smallest power of two ≥ x.
func pow2AtLeast(x int) int {
	if x <= 1 {
		return 1
	}
	return 1 << bits.Len(uint(x-1))
}

// NewRotation returns the rotation of dimension d (1 ≤ d ≤ MaxRotateLen)
// the seed defines.
func NewRotation(seed [32]byte, d int) (*Rotation, error) {
	if d < 1 || d > MaxRotateLen {
		return nil, fmt.Errorf("codec: rotation of dimension %d, want 1..%d", d, MaxRotateLen)
	}
	src := rand.NewChaCha8(seed)
	signs := make([]uint64, (d+63)/64) // the padding is zero: no signs
	for i := range signs {
		signs[i] = src.Uint64()
	}
	r := &Rotation{d: d, signs: signs}
	if order, _ := paddedShape(d); order > 1 {
		for _, h := range smallHadamards {
			if h.order == order {
				r.h = h
			}
		}
	}
	return r, nil
}

// PaddedLen is the dimension d' of rotated vectors.
func (r *Rotation) PaddedLen() int { return PaddedLen(r.d) }

// Forward sets dst to R·x and returns it: len(x) must be Len(), the result
// has PaddedLen() values. dst is reused when its capacity suffices; it may
// be x itself.
func (r *Rotation) Forward(dst, x []float32) ([]float32, error) {
	if len(x) != r.d {
		return nil, fmt.Errorf("%w: %d values to rotate, want %d", ErrBadEncoding, len(x), r.d)
	}
	n := r.PaddedLen()
	dst = grow(dst, n)
	r.applySigns(dst[:r.d], x)
	clear(dst[r.d:])
	r.hadamard(dst, false)
	return dst, nil
}

// Inverse sets dst to the first Len() values of R⁻¹·y = D·Hᵀ·y/√d' and
// returns it: len(y) must be PaddedLen(). dst is reused when its capacity is
// at least PaddedLen(), which it needs as scratch; it may be y itself.
func (r *Rotation) Inverse(dst, y []float32) ([]float32, error) {
	n := r.PaddedLen()
	if len(y) != n {
		return nil, fmt.Errorf("%w: %d values to unrotate, want %d", ErrBadEncoding, len(y), n)
	}
	dst = grow(dst, n)
	copy(dst, y)
	r.hadamard(dst, true)
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

// hadamard applies H = H_r ⊗ H_n (or Hᵀ = H_rᵀ ⊗ H_n) to v, of length
// d': H_n to each of the r blocks of n, then H_r across the blocks (the two
// commute).
func (r *Rotation) hadamard(v []float32, transpose bool) {
	if r.h == nil {
		fwht(v)
		return
	}
	n := len(v) / r.h.order
	for i := 0; i < len(v); i += n {
		fwht(v[i : i+n])
	}
	r.h.mix(v, n, transpose)
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

// A smallHadamard is H_r for r > 1, as rows of signs.
type smallHadamard struct {
	order int
	neg   [maxSmallOrder][maxSmallOrder]bool // H_r[i][j] = −1
}

const (
	maxSmallOrder = 20
	// mixChunk is the positions mix combines at once: it copies r·mixChunk
	// values (5 KiB at r = 20), which stay in the L1 cache while each is
	// read r/4 times. Even, as mix needs.
	mixChunk = 64
)

// smallHadamards are H_12 and H_20, by PaddedLen's preference on ties (none
// occur: 12·2^a and 20·2^b are never equal).
var smallHadamards = []*smallHadamard{paley(11), paley(19)}

// paley is Paley's first construction of H_(q+1), q a prime ≡ 3 (mod 4).
func paley(q int) *smallHadamard {
	square := make([]bool, q)
	for x := 1; x < q; x++ {
		square[x*x%q] = true
	}
	h := &smallHadamard{order: q + 1}
	for i := 1; i <= q; i++ {
		h.neg[i][0] = true // S[i][0] = −1; S[0][i] = +1
		for j := 1; j <= q; j++ {
			if a := ((i-j)%q + q) % q; a != 0 && !square[a] {
				h.neg[i][j] = true // χ(i − j) = −1; the diagonal is I's +1
			}
		}
	}
	return h
}

// mix applies H_r ⊗ I_n (or H_rᵀ ⊗ I_n) to v, r blocks of n: block i
// becomes Σ_j H_r[i][j]·block j. Four output rows at a time are summed in
// registers, position by position, from the r input rows of a chunk.
func (h *smallHadamard) mix(v []float32, n int, transpose bool) {
	r := h.order
	var sign [maxSmallOrder][maxSmallOrder]float32 // sign[j][i] = H[i][j], or H[j][i] transposed
	for i := range r {
		for j := range r {
			neg := h.neg[i][j]
			if transpose {
				neg = h.neg[j][i]
			}
			sign[j][i] = 1
			if neg {
				sign[j][i] = -1
			}
		}
	}
	var in [maxSmallOrder][mixChunk]float32
	for lo := 0; lo < n; lo += mixChunk {
		c := min(mixChunk, n-lo)
		for j := range r {
			copy(in[j][:c], v[j*n+lo:])
		}
		for i := 0; i < r; i += 4 { // 12 and 20 are multiples of 4
			o0, o1, o2, o3 := v[i*n+lo:][:c], v[(i+1)*n+lo:][:c], v[(i+2)*n+lo:][:c], v[(i+3)*n+lo:][:c]
			// Two positions a pass: eight independent sums. A chunk has an
			// odd length only when n = 1; its second position is not kept.
			for t := 0; t < c; t += 2 {
				var a0, a1, a2, a3, b0, b1, b2, b3 float32
				for j := range r {
					x, y, s := in[j][t], in[j][t+1], &sign[j]
					a0 += s[i] * x
					a1 += s[i+1] * x
					a2 += s[i+2] * x
					a3 += s[i+3] * x
					b0 += s[i] * y
					b1 += s[i+1] * y
					b2 += s[i+2] * y
					b3 += s[i+3] * y
				}
				o0[t], o1[t], o2[t], o3[t] = a0, a1, a2, a3
				if t+1 < c {
					o0[t+1], o1[t+1], o2[t+1], o3[t+1] = b0, b1, b2, b3
				}
			}
		}
	}
}
