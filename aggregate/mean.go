package aggregate

import (
	"errors"
	"fmt"
	"math"
)

// Mean is a streaming weighted mean of float32 vectors. Its memory is one
// float64 accumulator per dimension, whatever the number of clients.
type Mean struct {
	sum    []float64
	weight float64
	count  int
}

// NewMean returns an empty mean of dim-dimensional vectors.
func NewMean(dim int) *Mean { return &Mean{sum: make([]float64, dim)} }

// ErrEmpty is returned by Mean.Mean when nothing was added.
var ErrEmpty = errors.New("aggregate: no updates to average")

// UpdateError says why an update was rejected; the sum is left untouched.
type UpdateError struct{ Reason string }

func (e *UpdateError) Error() string { return "aggregate: update rejected: " + e.Reason }

// Add adds weight·v. An update with the wrong dimension, a weight that is not
// positive and finite, or a non-finite value is rejected whole.
func (m *Mean) Add(v []float32, weight float64) error {
	if len(v) != len(m.sum) {
		return &UpdateError{fmt.Sprintf("has %d values, want %d", len(v), len(m.sum))}
	}
	if !(weight > 0) || math.IsInf(weight, 1) {
		return &UpdateError{fmt.Sprintf("weight %v is not positive and finite", weight)}
	}
	if i := firstNonFinite(v); i >= 0 {
		return &UpdateError{fmt.Sprintf("value %d is %v", i, v[i])}
	}
	accumulate(m.sum, v, weight)
	m.weight += weight
	m.count++
	return nil
}

// firstNonFinite is the index of the first NaN or ±Inf in v, or -1. The
// common case, all finite, is a branch-free pass: x−x is 0 for a finite x
// and NaN otherwise, so the sums stay 0 unless something is not finite.
func firstNonFinite(v []float32) int {
	var a, b, c, d float32
	i := 0
	for ; i+4 <= len(v); i += 4 {
		x := v[i : i+4 : i+4]
		a += x[0] - x[0]
		b += x[1] - x[1]
		c += x[2] - x[2]
		d += x[3] - x[3]
	}
	for ; i < len(v); i++ {
		a += v[i] - v[i]
	}
	if a+b+c+d == 0 {
		return -1
	}
	for i, x := range v {
		if x-x != 0 {
			return i
		}
	}
	return -1
}

// accumulate adds w·v to sum, four at a time so the loop is not bound by
// its own bookkeeping.
func accumulate(sum []float64, v []float32, w float64) {
	sum = sum[:len(v)]
	i := 0
	for ; i+4 <= len(v); i += 4 {
		s, x := sum[i:i+4:i+4], v[i:i+4:i+4]
		s[0] += w * float64(x[0])
		s[1] += w * float64(x[1])
		s[2] += w * float64(x[2])
		s[3] += w * float64(x[3])
	}
	for ; i < len(v); i++ {
		sum[i] += w * float64(v[i])
	}
}

// Count is the number of updates added.
func (m *Mean) Count() int { return m.count }

// Weight is the sum of the weights added.
func (m *Mean) Weight() float64 { return m.weight }

// Mean writes the weighted mean into dst.
func (m *Mean) Mean(dst []float32) error {
	if m.count == 0 {
		return ErrEmpty
	}
	if len(dst) != len(m.sum) {
		return fmt.Errorf("aggregate: destination has %d values, want %d", len(dst), len(m.sum))
	}
	for i, s := range m.sum {
		dst[i] = float32(s / m.weight)
	}
	return nil
}

// Reset empties the mean for the next round.
func (m *Mean) Reset() {
	clear(m.sum)
	m.weight, m.count = 0, 0
}
