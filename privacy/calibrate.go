package privacy

import (
	"fmt"
	"math"
)

// EpsilonFunc is an accountant's ε after `rounds` rounds of the
// Poisson-subsampled Gaussian at (q, sigma), at δ.
type EpsilonFunc func(q, sigma float64, rounds int, delta float64) (float64, error)

// RDPEpsilon is EpsilonFunc for the RDP accountant at DefaultOrders.
func RDPEpsilon(q, sigma float64, rounds int, delta float64) (float64, error) {
	a := NewRDP(nil)
	if err := a.ComposePoissonGaussian(q, sigma, rounds); err != nil {
		return 0, err
	}
	eps, _, err := a.Epsilon(delta)
	return eps, err
}

// maxNoise bounds the search: a target that needs more noise than this is
// refused as unreachable.
const maxNoise = 1e6

// Calibrate finds the smallest noise multiplier whose ε after `rounds`
// rounds at rate q is at most target, to relative precision 1e-6 (the
// returned value meets the target; one 1e-6 smaller would not). ε falls as
// the noise grows, so an exponential search brackets it and bisection
// narrows it.
func Calibrate(eps EpsilonFunc, target, delta, q float64, rounds int) (float64, error) {
	if !(target > 0) || math.IsInf(target, 1) {
		return 0, fmt.Errorf("%w: target ε must be positive and finite, got %v", ErrBadParameter, target)
	}
	if err := CheckMechanism(q, 1, rounds); err != nil {
		return 0, err
	}
	meets := func(sigma float64) (bool, error) {
		e, err := eps(q, sigma, rounds, delta)
		return e <= target, err
	}
	lo, hi := 0.0, 1.0
	for {
		ok, err := meets(hi)
		if err != nil {
			return 0, err
		}
		if ok {
			break
		}
		lo, hi = hi, 2*hi
		if hi > maxNoise {
			return 0, fmt.Errorf("%w: ε %v is out of reach with noise multipliers up to %g", ErrBadParameter, target, maxNoise)
		}
	}
	for hi-lo > 1e-6*hi {
		mid := (lo + hi) / 2
		ok, err := meets(mid)
		if err != nil {
			return 0, err
		}
		if ok {
			hi = mid
		} else {
			lo = mid
		}
	}
	return hi, nil
}
