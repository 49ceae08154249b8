package privacy

import "math"

// L2Norm is the Euclidean norm of v, summed in float64.
func L2Norm(v []float32) float64 {
	var s float64
	for _, x := range v {
		s += float64(x) * float64(x)
	}
	return math.Sqrt(s)
}

// ClipL2 scales v in place so its L2 norm is at most c (flat clipping over
// the whole update, McMahan et al. 2018). It returns the norm before
// clipping and whether v was scaled. A non-finite norm zeroes v: such an
// update carries no usable signal and must not carry unbounded influence.
func ClipL2(v []float32, c float64) (norm float64, clipped bool) {
	norm = L2Norm(v)
	if math.IsNaN(norm) || math.IsInf(norm, 0) {
		clear(v)
		return norm, true
	}
	if norm <= c {
		return norm, false
	}
	f := float32(c / norm)
	for i := range v {
		v[i] *= f
	}
	return norm, true
}
