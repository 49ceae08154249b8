package aggregate

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
)

// Mean is a streaming weighted mean of float32 vectors. Its memory is two
// words per dimension, whatever the number of clients.
//
// Each weighted value is rounded to a fixed-point number with fracBits
// fractional bits and summed exactly in 128-bit two's complement, so the
// result does not depend on the order of Add calls: updates arriving over
// the network in any order give the same model bit for bit. Values must be
// below MaxAbsValue in magnitude after weighting; the resolution, 2^-40
// (about 1e-12), is far below float32's at the scale of model updates.
type Mean struct {
	lo, hi   []uint64 // per dimension, the sum as a 128-bit integer (hi:lo)
	wlo, whi uint64   // the sum of weights, likewise
	count    int
}

const fracBits = 40

// MaxAbsValue bounds |weight·value| so its fixed-point form fits an int64.
const MaxAbsValue = 1 << (62 - fracBits)

var scale = math.Ldexp(1, fracBits)

// NewMean returns an empty mean of dim-dimensional vectors.
func NewMean(dim int) *Mean { return &Mean{lo: make([]uint64, dim), hi: make([]uint64, dim)} }

// ErrEmpty is returned by Mean.Mean when nothing was added.
var ErrEmpty = errors.New("aggregate: no updates to average")

// UpdateError says why an update was rejected; the sum is left untouched.
type UpdateError struct{ Reason string }

func (e *UpdateError) Error() string { return "aggregate: update rejected: " + e.Reason }

// Add adds weight·v. An update with the wrong dimension, a weight that is not
// positive and finite (or above MaxAbsValue), or a value that is not finite
// or too large once weighted is rejected whole.
func (m *Mean) Add(v []float32, weight float64) error {
	if len(v) != len(m.lo) {
		return &UpdateError{fmt.Sprintf("has %d values, want %d", len(v), len(m.lo))}
	}
	if !(weight > 0 && weight < MaxAbsValue) {
		return &UpdateError{fmt.Sprintf("weight %v is not in (0, %d)", weight, MaxAbsValue)}
	}
	if i := firstOutOfRange(v, MaxAbsValue/weight); i >= 0 {
		return &UpdateError{fmt.Sprintf("value %d is %v, not finite or too large (|weight·value| must be below %d)", i, v[i], MaxAbsValue)}
	}
	ws := weight * scale
	lo, hi := m.lo[:len(v)], m.hi[:len(v)]
	for i, x := range v {
		q := int64(float64(x) * ws)
		var carry uint64
		lo[i], carry = bits.Add64(lo[i], uint64(q), 0)
		hi[i] += uint64(q>>63) + carry
	}
	add128(&m.wlo, &m.whi, int64(ws))
	m.count++
	return nil
}

// add128 adds x to the 128-bit two's complement number (hi:lo).
func add128(lo, hi *uint64, x int64) {
	var carry uint64
	*lo, carry = bits.Add64(*lo, uint64(x), 0)
	*hi += uint64(x>>63) + carry // x>>63 is 0 or all ones: the sign extension
}

// The loop in Add inlines add128 by hand: through pointers it is several
// times slower.

// float128 converts (hi:lo)/2^fracBits to float64. A value that fits an
// int64 (the common case) converts exactly up to float64 rounding; splitting
// it into hi·2^64 + lo would cancel catastrophically for small negative sums.
func float128(lo, hi uint64) float64 {
	if (hi == 0 && lo>>63 == 0) || (hi == ^uint64(0) && lo>>63 == 1) {
		return float64(int64(lo)) / scale
	}
	return (float64(int64(hi))*0x1p64 + float64(lo)) / scale
}

// firstOutOfRange is the index of the first value that is NaN, ±Inf or at
// least limit in magnitude, or -1. The common case is one pass over the bits:
// without the sign bit, a float32's bits order like its magnitude, with
// ±Inf and NaN above every finite value.
func firstOutOfRange(v []float32, limit float64) int {
	var big uint32
	for _, x := range v {
		big = max(big, math.Float32bits(x)&0x7fffffff)
	}
	if big < 0x7f800000 && float64(math.Float32frombits(big)) < limit {
		return -1
	}
	for i, x := range v {
		if x-x != 0 || math.Abs(float64(x)) >= limit {
			return i
		}
	}
	return -1
}

// Count is the number of updates added.
func (m *Mean) Count() int { return m.count }

// Mean writes the weighted mean into dst.
func (m *Mean) Mean(dst []float32) error {
	if m.count == 0 {
		return ErrEmpty
	}
	if len(dst) != len(m.lo) {
		return fmt.Errorf("aggregate: destination has %d values, want %d", len(dst), len(m.lo))
	}
	w := float128(m.wlo, m.whi)
	for i := range dst {
		dst[i] = float32(float128(m.lo[i], m.hi[i]) / w)
	}
	return nil
}

// Sum writes the weighted sum (not divided by the weights) into dst.
func (m *Mean) Sum(dst []float32) error {
	if len(dst) != len(m.lo) {
		return fmt.Errorf("aggregate: destination has %d values, want %d", len(dst), len(m.lo))
	}
	for i := range dst {
		dst[i] = float32(float128(m.lo[i], m.hi[i]))
	}
	return nil
}

// SumRounded writes into dst the weighted sum rounded to the nearest
// multiple of 2^e (halves up), as integers in units of 2^e, computed
// exactly from the fixed-point sum: a lattice point to which integer noise
// can be added exactly (central DP on a grid). e is at least −40, the
// sum's resolution; an element that does not fit an int64 is an error.
func (m *Mean) SumRounded(dst []int64, e int) error {
	shift := e + fracBits
	switch {
	case len(dst) != len(m.lo):
		return fmt.Errorf("aggregate: destination has %d values, want %d", len(dst), len(m.lo))
	case shift < 0 || shift > 127:
		return fmt.Errorf("aggregate: grid 2^%d outside 2^%d..2^%d", e, -fracBits, 127-fracBits)
	}
	for i := range dst {
		lo, hi := m.lo[i], m.hi[i]
		if shift > 0 { // add half a unit, then shift arithmetically
			half := uint64(1) << ((shift - 1) % 64)
			var carry uint64
			if shift-1 < 64 {
				lo, carry = bits.Add64(lo, half, 0)
				hi += carry
			} else {
				hi += half
			}
			lo, hi = shiftRight128(lo, hi, uint(shift))
		}
		if int64(hi) != int64(lo)>>63 {
			return fmt.Errorf("aggregate: the sum of value %d does not fit an int64 in units of 2^%d", i, e)
		}
		dst[i] = int64(lo)
	}
	return nil
}

// shiftRight128 is the 128-bit two's complement (hi:lo) shifted right
// arithmetically by s < 128.
func shiftRight128(lo, hi uint64, s uint) (uint64, uint64) {
	if s >= 64 {
		return uint64(int64(hi) >> (s - 64)), uint64(int64(hi) >> 63)
	}
	if s == 0 {
		return lo, hi
	}
	return lo>>s | hi<<(64-s), uint64(int64(hi) >> s)
}

// Len is the dimension of the vectors.
func (m *Mean) Len() int { return len(m.lo) }

// Reset empties the mean for the next round.
func (m *Mean) Reset() {
	clear(m.lo)
	clear(m.hi)
	m.wlo, m.whi, m.count = 0, 0, 0
}
