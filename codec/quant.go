package codec

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"slices"
)

// Errors of the codecs; test with errors.Is.
var (
	ErrQuantizer = errors.New("bad quantizer parameters")
	ErrOverflow  = errors.New("sum could overflow the ring")
	// ErrBadEncoding is wrapped by every refusal of encoded input: a wrong
	// length, a value outside the ring, non-zero padding bits.
	ErrBadEncoding = errors.New("bad encoding")
)

// Bounds of a Quantizer's parameters. At most 24 bits keep every level, and
// the sum of a few, exact in float32.
const (
	MinQuantBits = 2
	MaxQuantBits = 24
	MaxModBits   = 32
)

// Quantizer is the linear integer codec of an update: every device of a
// round uses the same one, so the coordinator can decode the sum of the
// devices' integer vectors, as secure aggregation reveals it, without seeing
// any one of them.
//
// With b bits and range c, a value x is clipped to [−c, c], scaled by
// s = (2^(b−1)−1)/c and rounded stochastically to one of the integers
// −(2^(b−1)−1) … 2^(b−1)−1: up with probability equal to the fractional
// part (to 32 bits), so the rounding is unbiased. The grid is symmetric,
// leaving out −2^(b−1): negation maps it to itself, and the sum of n
// vectors needs no extra sign bit (RequiredModBits). Integers
// travel in two's complement modulo 2^m (the ring's m) in a uint32; the sum
// of n devices' vectors modulo 2^m, read back in [−2^(m−1), 2^(m−1)), is
// the exact integer sum as long as n·(2^(b−1)−1) < 2^(m−1) (Check).
type Quantizer struct {
	bits, modBits int
	scale         float64
}

// CheckBits refuses a width no quantizer has: b must be in
// MinQuantBits..MaxQuantBits. One bit is not offered: its symmetric grid
// has the single level 0.
func CheckBits(b int) error {
	if b < MinQuantBits || b > MaxQuantBits {
		return fmt.Errorf("%w: %d bits, want %d..%d", ErrQuantizer, b, MinQuantBits, MaxQuantBits)
	}
	return nil
}

// NewQuantizer returns the quantizer of b bits (CheckBits) per value, range
// c > 0 and ring width m (b..MaxModBits).
func NewQuantizer(b int, c float64, m int) (*Quantizer, error) {
	if err := CheckBits(b); err != nil {
		return nil, err
	}
	switch {
	case !(c > 0) || math.IsInf(c, 1):
		return nil, fmt.Errorf("%w: range %v, want finite and positive", ErrQuantizer, c)
	case m < b || m > MaxModBits:
		return nil, fmt.Errorf("%w: ring of %d bits for %d-bit values, want %d..%d", ErrQuantizer, m, b, b, MaxModBits)
	}
	return &Quantizer{bits: b, modBits: m, scale: float64(maxLevel(b)) / c}, nil
}

// Bits is b, the bits of one device's value.
func (q *Quantizer) Bits() int { return q.bits }

// Scale is s = (2^(b−1)−1)/c, the integer units per unit of value.
func (q *Quantizer) Scale() float64 { return q.scale }

func maxLevel(b int) uint64 { return 1<<(b-1) - 1 }

// AppendEncode appends the quantized x to dst, drawing the rounding from r,
// 32 random bits per value, read in blocks: on a device, a ChaCha8 seeded
// from crypto/rand, so that nobody can replay the rounding; in tests, any
// seeded source. Infinities are clipped like any large value; NaN is
// refused, with dst returned unchanged.
func (q *Quantizer) AppendEncode(dst []uint32, x []float32, r io.Reader) ([]uint32, error) {
	start := len(dst)
	dst = slices.Grow(dst, len(x))[:start+len(x)]
	out := dst[start:]
	level := float64(maxLevel(q.bits))
	mask := RingMask(q.modBits)
	var coins [4 * 1024]byte
	for base := 0; base < len(x); base += len(coins) / 4 {
		block := x[base:min(len(x), base+len(coins)/4)]
		if _, err := io.ReadFull(r, coins[:4*len(block)]); err != nil {
			return dst[:start], fmt.Errorf("codec: rounding coins: %w", err)
		}
		for i, v := range block {
			// Clip after scaling: clip·scale may round to just above level.
			y := float64(v) * q.scale
			switch {
			case y > level:
				y = level
			case y < -level:
				y = -level
			case y != y:
				return dst[:start], fmt.Errorf("codec: quantizing value %d: %v", base+i, v)
			}
			// ⌊y⌋ without math.Floor, a function call below GOAMD64=v2:
			// truncate, then step down if that went up (negative y).
			f := int64(y)
			f -= int64(math.Float64bits(y-float64(f)) >> 63)
			// Round up iff a uniform 32-bit integer is below frac·2^32,
			// without a branch: unbiased to 2^-32 of a step, and a coin
			// flip no predictor can learn.
			frac := uint64((y - float64(f)) * 0x1p32)
			up := (uint64(binary.LittleEndian.Uint32(coins[4*i:])) - frac) >> 63
			out[base+i] = uint32(f+int64(up)) & mask
		}
	}
	return dst, nil
}

// AppendDecodeSum appends to dst the values the sum of vectors encoded by q
// stands for: each element of sum, an integer in [0, 2^m), is read as a
// two's-complement integer in [−2^(m−1), 2^(m−1)) and divided by the scale.
// The result is a sum: the caller divides by the count or total weight. An
// element of 2^m or more is an error wrapping ErrBadEncoding.
func (q *Quantizer) AppendDecodeSum(dst []float32, sum []uint32) ([]float32, error) {
	mask := RingMask(q.modBits)
	for i, v := range sum {
		if v&^mask != 0 {
			return dst, fmt.Errorf("%w: value %d is %d, not below 2^%d", ErrBadEncoding, i, v, q.modBits)
		}
	}
	start := len(dst)
	dst = slices.Grow(dst, len(sum))[:start+len(sum)]
	out := dst[start:]
	for i, v := range sum {
		out[i] = float32(float64(Signed(v, q.modBits)) / q.scale)
	}
	return dst, nil
}

// Check returns an error wrapping ErrOverflow if the sum of n ≥ 1 devices'
// vectors could leave the centred range of the ring.
func (q *Quantizer) Check(n int) error {
	if n < 1 {
		return fmt.Errorf("%w: %d devices", ErrQuantizer, n)
	}
	if need := RequiredModBits(q.bits, n); need > q.modBits {
		return fmt.Errorf("%w: %d devices of %d-bit values need %d bits, the ring has %d", ErrOverflow, n, q.bits, need, q.modBits)
	}
	return nil
}

// CheckNoise is Check with room for integer noise added by each device,
// independently, of standard deviation sigma in integer units: the noise in
// the sum has standard deviation sigma·√n and must stay within k of those
// (k = TailBound(p) for a wrap-around probability p per coordinate) on top
// of the worst-case sum n·(2^(b−1)−1).
func (q *Quantizer) CheckNoise(n int, sigma, k float64) error {
	if err := q.Check(n); err != nil {
		return err
	}
	if !(sigma >= 0) || !(k >= 0) || math.IsInf(sigma, 1) || math.IsInf(k, 1) {
		return fmt.Errorf("%w: noise sigma %v, tail bound %v", ErrQuantizer, sigma, k)
	}
	room := float64(uint64(1)<<(q.modBits-1)-1) - float64(n)*float64(maxLevel(q.bits))
	if tail := k * sigma * math.Sqrt(float64(n)); tail > room {
		return fmt.Errorf("%w: noise tail %.4g over the %.0f left by %d devices", ErrOverflow, tail, room, n)
	}
	return nil
}

// RequiredModBits is the smallest ring width m in which the sum of n ≥ 1
// vectors of b-bit values cannot wrap: n·(2^(b−1)−1) ≤ 2^(m−1)−1. It is
// never more than b + ⌈log2 n⌉, the symmetric grid saving the extra sign
// bit, and one less for some n > 2^(b−1) just above a power of two. For b
// outside MinQuantBits..MaxQuantBits it is math.MaxInt: no ring will do.
func RequiredModBits(b, n int) int {
	if CheckBits(b) != nil {
		return math.MaxInt
	}
	hi, lo := bits.Mul64(uint64(max(n, 1)), maxLevel(b))
	if hi != 0 {
		return 1 + 64 + bits.Len64(hi)
	}
	return 1 + bits.Len64(lo)
}

// TailBound is the k for which a Gaussian falls outside ±k standard
// deviations with probability p: √2·erfcinv(p).
func TailBound(p float64) float64 { return math.Sqrt2 * math.Erfcinv(p) }

// RotatedClip is the range c = k·C/√d' for the coordinates of a rotated
// vector of dimension d and L2 norm at most C (Rotation, d' = PaddedLen(d)).
// Over the random signs each coordinate has variance at most C²/d' and a
// sub-Gaussian tail, so the expected fraction of coordinates clipped is at
// most 2·exp(−k²/2) for any vector (Hoeffding), and about p = erfc(k/√2) for
// a vector of norm C whose mass is spread out, as most are: k = TailBound(p).
func RotatedClip(l2Clip float64, d int, k float64) float64 {
	return k * l2Clip / math.Sqrt(float64(PaddedLen(d)))
}

// ClipK is the k for RotatedClip that minimizes the expected squared error
// of the mean of n ≥ 1 devices' b-bit updates of norm C whose rotated
// coordinates are Gaussian, as a spread-out update's are. Rounding adds k²C²/(6·(2^(b−1)−1)²)
// per device, independent across devices, so the mean's share is 1/n of
// that; clipping loses C²·E[(|Z|−k)²; |Z| > k] per device, counted in full
// because similar updates clip at the same coordinates, the rotation being
// shared. The finer the grid, the less a wide range costs and the larger k:
// 4.71, 5.68 and 6.52 for 8, 12 and 16 bits and 100 devices; 3.77 for one
// device at 8 bits. b is taken into MinQuantBits..MaxQuantBits.
func ClipK(b, n int) float64 {
	level := float64(maxLevel(min(max(b, MinQuantBits), MaxQuantBits)))
	rounding := 1 / (6 * level * level * float64(max(n, 1)))
	mse := func(k float64) float64 {
		tail := math.Erfc(k/math.Sqrt2) / 2
		density := math.Exp(-k*k/2) / math.Sqrt(2*math.Pi)
		return k*k*rounding + 2*((1+k*k)*tail-k*density)
	}
	// mse is convex: golden-section search.
	lo, hi := 1.0, 16.0
	const inv = 0.6180339887498949 // 1/φ
	for hi-lo > 1e-9 {
		k1, k2 := hi-inv*(hi-lo), lo+inv*(hi-lo)
		if mse(k1) < mse(k2) {
			hi = k2
		} else {
			lo = k1
		}
	}
	return (lo + hi) / 2
}

// RingMask keeps the m low bits: reduction modulo 2^m.
func RingMask(m int) uint32 { return uint32(uint64(1)<<m - 1) }

// Signed is v, an element of Z_(2^m), as the two's-complement integer in
// [−2^(m−1), 2^(m−1)).
func Signed(v uint32, m int) int64 {
	shift := 64 - m
	return int64(uint64(v)<<shift) >> shift
}
