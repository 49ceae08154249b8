package privacy

import (
	"fmt"
	"math"
	"math/bits"
	mrand "math/rand/v2"
)

// The accepted σ: within this range the sampler's 64- and 128-bit integer
// arithmetic cannot overflow (see AddDiscreteGaussian).
const (
	minDiscreteSigma = 0x1p-10
	maxDiscreteSigma = 0x1p28
)

// AddDiscreteGaussian adds an independent N_Z(0, sigma²) draw to every
// element of v, in two's complement modulo 2^32: v[i] += uint32(x). For a
// vector in Z_(2^m) (m ≤ 32) the caller reduces modulo 2^m afterwards
// (v[i] & (1<<m − 1)), which is the same as adding x modulo 2^m. Nothing is
// added when sigma is 0; v is left untouched when sigma is refused.
//
// The discrete Gaussian N_Z(0, sigma²) gives each integer x a probability proportional to
// exp(−x²/(2σ²)) (its variance is below σ² for small σ, 0.2150 at σ = ½,
// and within 3e−7 relative of it from σ = 1). Sigma outside [2^−10, 2^28]
// is refused with ErrBadParameter.
//
// The sampler is Algorithm 3 of Canonne, Kamath and Steinke 2020: discrete
// Laplace proposals of scale t = ⌊σ⌋+1, each accepted with probability
// exp(−(|x| − σ²/t)²/(2σ²)), every Bernoulli(exp(−γ)) drawn by von
// Neumann's method from uniform integers. γ is a ratio of integers and no
// floating point touches a draw, so it is exact. It departs from
// N_Z(0, σ²) in two ways only, both chosen never to weaken the accounting:
//
//   - σ is any float64 in the range, not rounded to an integer (as TFF's
//     sampler requires): the sampler uses σ̃² = p/2^k, σ² rounded up to 33
//     significant bits (0 ≤ σ̃²/σ² − 1 < 2^−31). More noise never hurts:
//     the accountants decrease in σ, so their figure at σ bounds the loss
//     at σ̃.
//   - Proposals beyond xmax, where the 128-bit arithmetic would overflow,
//     are rejected: that conditions the draw on |x| ≤ xmax, and xmax is at
//     least 127σ over the range, a cut of less than e^−8000 of the mass.
//
// A draw takes about ten 64-bit words from the generator, some 20 times
// the time of a Gaussian draw (311,000 draws take about 50 ms on a server
// core), and is not constant-time.
func (n *Noise) AddDiscreteGaussian(v []uint32, sigma float64) error {
	return addDiscreteGaussian(n, v, sigma)
}

// AddDiscreteGaussianInt64 adds an independent N_Z(0, sigma²) draw to every
// element of v, as AddDiscreteGaussian does, in int64: the caller keeps v
// far enough inside the range (a draw is below 130σ in magnitude).
func (n *Noise) AddDiscreteGaussianInt64(v []int64, sigma float64) error {
	return addDiscreteGaussian(n, v, sigma)
}

func addDiscreteGaussian[T uint32 | int64](n *Noise, v []T, sigma float64) error {
	if sigma == 0 {
		return nil
	}
	g, err := newDGauss(sigma)
	if err != nil {
		return err
	}
	r := &rng{Rand: n.r}
	for i := range v {
		v[i] += T(g.draw(r))
	}
	return nil
}

// dgauss holds a discrete Gaussian's parameters as integers: σ̃² = p/q with
// q = 2^k, the Laplace scale t, and what the acceptance test needs.
type dgauss struct {
	p, q, t uint64
	qt      uint64 // q·t
	xmax    uint64 // largest |x| with x·q·t < 2^63
	vmax    uint64 // xmax/t, to reject before x = u + t·v can overflow
	den     u128   // 2·p·q·t²: the acceptance exponent is (x·q·t − p)²/den
}

func newDGauss(sigma float64) (*dgauss, error) {
	if !(sigma >= minDiscreteSigma && sigma <= maxDiscreteSigma) {
		return nil, fmt.Errorf("%w: discrete Gaussian σ must be 0 or in [2^-10, 2^28], got %v", ErrBadParameter, sigma)
	}
	s2 := sigma * sigma
	_, e := math.Frexp(s2) // 2^(e−1) ≤ s2 < 2^e
	k := max(0, 33-e)
	// The relative bump 2^−50 outweighs the rounding of s2 and of the
	// product, so p/q ≥ σ² holds for the exact real σ².
	p := uint64(math.Ceil(math.Ldexp(s2, k) * (1 + 0x1p-50)))
	t := uint64(sigma) + 1
	g := &dgauss{p: p, q: 1 << k, t: t, qt: t << k}
	g.xmax = (1<<63 - 1) / g.qt
	g.vmax = g.xmax / t
	hi, lo := bits.Mul64(p, t*t) // below 2^115 over the accepted σ
	g.den = u128{hi, lo}.shl(uint(k) + 1)
	return g, nil
}

// draw is one exact sample (CKS20 Algorithm 3).
func (g *dgauss) draw(r *rng) int64 {
	for {
		// Discrete Laplace of scale t: X = U + t·V with U uniform below t
		// kept with probability exp(−U/t), V geometric, then a sign.
		u := r.Uint64N(g.t)
		if u != 0 && !bernExpFrac(r, u128{lo: u}, u128{lo: g.t}) {
			continue
		}
		var v uint64
		for bernExp1(r) {
			v++
		}
		if v > g.vmax {
			continue
		}
		x := u + g.t*v
		neg := r.bit()
		if (neg && x == 0) || x > g.xmax {
			continue
		}
		// Accept with probability exp(−(x − σ²/t)²/(2σ²)), which with
		// σ² = p/q is exp(−(x·q·t − p)²/(2·p·q·t²)).
		w := x * g.qt
		if w >= g.p {
			w -= g.p
		} else {
			w = g.p - w
		}
		hi, lo := bits.Mul64(w, w)
		if !bernExp(r, u128{hi, lo}, g.den) {
			continue
		}
		if neg {
			return -int64(x)
		}
		return int64(x)
	}
}

// bernExp is Bernoulli(exp(−n/d)): one Bernoulli(exp(−1)) per whole unit of
// n/d, then the fractional rest.
func bernExp(r *rng, n, d u128) bool {
	for !n.less(d) {
		if !bernExp1(r) {
			return false
		}
		n = n.sub(d)
	}
	return bernExpFrac(r, n, d)
}

// bernExpFrac is Bernoulli(exp(−γ)) for γ = n/d in [0, 1], by von Neumann's
// method (CKS20 Algorithm 1): K counts up while Bernoulli(γ/K) succeeds and
// ends odd with probability e^−γ. Bernoulli(γ/K) is drawn as
// Bernoulli(1/K) and Bernoulli(γ), independent.
func bernExpFrac(r *rng, n, d u128) bool {
	k := uint64(1)
	for (k == 1 || r.oneIn(k)) && below(r, n, d) {
		k++
	}
	return k&1 == 1
}

// bernExp1 is Bernoulli(e^−1): bernExpFrac with γ = 1, where every
// Bernoulli(γ) succeeds.
func bernExp1(r *rng) bool {
	k := uint64(2)
	for r.oneIn(k) {
		k++
	}
	return k&1 == 1
}

// below is Bernoulli(n/d) for n ≤ d, d > 0: whether a uniform draw from
// [0, d) falls below n. It draws the high word first and the low word only
// when the high word leaves the answer open.
func below(r *rng, n, d u128) bool {
	if d.hi == 0 {
		return r.Uint64N(d.lo) < n.lo
	}
	shift := uint(bits.LeadingZeros64(d.hi))
	for {
		hi := r.Uint64() >> shift
		switch {
		case hi < n.hi:
			return true
		case hi > d.hi:
			continue // at or above d whatever the low word: draw again
		case hi != n.hi && hi != d.hi:
			return false
		}
		u := u128{hi, r.Uint64()}
		if u.less(d) {
			return u.less(n)
		}
	}
}

// u128 is an unsigned 128-bit integer.
type u128 struct{ hi, lo uint64 }

func (a u128) less(b u128) bool { return a.hi < b.hi || (a.hi == b.hi && a.lo < b.lo) }

func (a u128) sub(b u128) u128 {
	lo, borrow := bits.Sub64(a.lo, b.lo, 0)
	hi, _ := bits.Sub64(a.hi, b.hi, borrow)
	return u128{hi, lo}
}

// shl shifts left by s < 64 bits; the caller keeps the result below 2^128.
func (a u128) shl(s uint) u128 {
	if s == 0 {
		return a
	}
	return u128{a.hi<<s | a.lo>>(64-s), a.lo << s}
}

// rng is the source of one batch of draws: the Noise's generator and a
// buffer of single bits, the commonest draw here (signs and Bernoulli(½)),
// which would otherwise take a 64-bit word each.
type rng struct {
	*mrand.Rand
	buf uint64
	n   uint
}

func (r *rng) bit() bool {
	if r.n == 0 {
		r.buf, r.n = r.Uint64(), 64
	}
	b := r.buf&1 == 1
	r.buf >>= 1
	r.n--
	return b
}

// oneIn is Bernoulli(1/k), k ≥ 2.
func (r *rng) oneIn(k uint64) bool {
	if k == 2 {
		return r.bit()
	}
	return r.Uint64N(k) == 0
}
