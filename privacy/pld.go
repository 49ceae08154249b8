package privacy

import (
	"fmt"
	"math"
	"sync"

	"gonum.org/v1/gonum/dsp/fourier"
)

// Privacy-loss-distribution (PLD) accounting for the Poisson-subsampled
// Gaussian mechanism (sensitivity 1, add/remove-one adjacency), and for
// the distributed discrete Gaussian with the device's noise share in both
// neighbours, as the Gaussian of its GaussianBound with the bound's slack
// added to ε and δ.
//
// A pair of output distributions (P, Q) of a mechanism on neighbouring
// inputs is summarised by the law of its privacy loss L = ln(P(o)/Q(o)) with
// o ~ P. Its hockey-stick divergence, the δ at which the mechanism is ε-DP, is
//
//	δ(ε) = E_P[(1 − e^{ε−L})₊] = P(L > ε) − e^ε·Q(L > ε),
//
// counting an infinite loss as 1. Composition adds independent losses, so the
// PLD of a composition is the convolution of the PLDs (Sommer, Meiser and
// Mohammadi 2019; Koskela, Jälkö and Honkela 2020, who compute it with the
// FFT). The losses are kept on the grid k·h (h = the discretization
// interval, 1e-4 by default as in Google's dp_accounting) as a dense array
// plus a mass at +∞.
//
// Every approximation made here moves probability towards larger losses, so
// the δ(ε) reported is never below the true one (and ε(δ) never below the
// true ε), up to floating-point rounding:
//
//   - Discretization follows Doroshenko, Ghazi, Kamath, Kumar and Manurangsi
//     2022 ("connect the dots"): the mass of the true loss in each grid
//     interval (kh, (k+1)h] is split between the two ends kh and (k+1)h so
//     that both its P-mass and its Q-mass (the mass times e^{−L}) are kept.
//     The true pair is a post-processing of the split one (merging the two
//     ends gives back the original), so the discrete PLD dominates the true
//     one, unlike plain rounding to the nearest grid point, and it is much
//     tighter than rounding every loss up (which adds about h/2 per round:
//     0.7 to ε after 14063 rounds at h = 1e-4).
//   - Tails are truncated to keep the arrays short: mass below the lowest
//     grid point kept is rounded up to it and mass above the highest goes
//     to +∞, both post-processing dominations as well. The budgets are
//     such that each ComposePoissonGaussian moves about pldTailMass in all
//     (see selfCompose), however many rounds it adds.
//   - FFT rounding noise is kept out of the tails by convolving bulk and
//     tails separately (see pldConvolve); values at the ends that are
//     within the noise are moved with the tails, never dropped.
//
// Under add/remove adjacency the neighbouring pair is either "remove"
// (P = (1−q)N(0,σ²) + qN(1,σ²), Q = N(0,σ²)) or "add" (the same pair
// swapped) for every round, so both directions are composed separately and
// δ(ε) is the larger of the two, as dp_accounting does.

// DefaultPLDDiscretization is the grid interval of privacy losses used
// when NewPLD is given 0 (dp_accounting's value_discretization_interval).
const DefaultPLDDiscretization = 1e-4

// pldTailMass is about the probability mass that one ComposePoissonGaussian
// may move (pessimistically) off each end of the distributions, to keep the
// arrays short. dp_accounting's tail_mass_truncation is the same 1e-15.
const pldTailMass = 1e-15

// pldMaxBins bounds the length of a distribution (128 MiB of float64s); a
// mechanism or composition that would need more is refused with a hint to
// use a coarser discretization.
const pldMaxBins = 1 << 24

// PLD is a privacy-loss-distribution accountant for the Poisson-subsampled
// Gaussian mechanism with sensitivity 1 under add/remove-one adjacency. The
// zero value is not usable; call NewPLD. A PLD is not safe for concurrent
// use.
type PLD struct {
	interval    float64 // h: losses live on the grid k·h
	badInterval bool    // NewPLD got an unusable interval; every method refuses
	remove      pldPMF  // neighbouring pair with the record present in P
	add         pldPMF  // neighbouring pair with the record present in Q
	// slack of the distributed discrete Gaussian rounds composed as
	// Gaussians (GaussianBound), summed over the rounds
	slack GaussianBound
}

// pldSlackShare is the share of δ left for the tails of the rounded
// Gaussians when distributed rounds were composed (GaussianBound).
const pldSlackShare = 1e-6

// pldPMF is a discrete privacy loss distribution: probs[i] is the
// probability of the loss (lo+i)·h, and inf that of an infinite loss.
type pldPMF struct {
	lo    int
	probs []float64
	inf   float64
}

// pldIdentity is the PLD of a mechanism that reveals nothing: loss 0 surely.
func pldIdentity() pldPMF { return pldPMF{probs: []float64{1}} }

// NewPLD returns an accountant with nothing composed yet, whose losses are
// discretized to multiples of discretization (DefaultPLDDiscretization if
// 0). A smaller interval is tighter and slower; an interval that is not a
// positive finite number makes every later call fail.
func NewPLD(discretization float64) *PLD {
	if discretization == 0 {
		discretization = DefaultPLDDiscretization
	}
	return &PLD{
		interval:    discretization,
		badInterval: !(discretization > 0) || math.IsInf(discretization, 1),
		remove:      pldIdentity(),
		add:         pldIdentity(),
	}
}

// Clone returns an independent copy of the accountant.
func (p *PLD) Clone() *PLD {
	c := *p
	c.remove.probs = append([]float64(nil), p.remove.probs...)
	c.add.probs = append([]float64(nil), p.add.probs...)
	return &c
}

func (p *PLD) check() error {
	if p.badInterval {
		return fmt.Errorf("%w: PLD discretization interval must be a positive finite number, got %v", ErrBadParameter, p.interval)
	}
	return nil
}

// ComposePoissonGaussian adds count rounds of the Poisson-subsampled
// Gaussian mechanism: each record is included with probability q and
// Gaussian noise of standard deviation sigma (the noise multiplier; the
// sensitivity is 1) is added to the sum. Self-composition squares the
// distribution repeatedly (FFT convolutions), so its cost grows with
// log(count) and with the width of the composed distribution. On error the
// accountant is unchanged.
func (p *PLD) ComposePoissonGaussian(q, sigma float64, count int) error {
	if err := p.check(); err != nil {
		return err
	}
	switch {
	case !(q > 0 && q <= 1):
		return fmt.Errorf("%w: sampling rate q must be in (0, 1], got %v", ErrBadParameter, q)
	case !(sigma > 0) || math.IsInf(sigma, 1):
		return fmt.Errorf("%w: noise multiplier must be positive and finite, got %v", ErrBadParameter, sigma)
	case count < 1:
		return fmt.Errorf("%w: rounds must be at least 1, got %d", ErrBadParameter, count)
	}
	// The two directions are independent: compute them side by side.
	var remove, add pldPMF
	var errRemove, errAdd error
	var wg sync.WaitGroup
	wg.Go(func() { remove, errRemove = composePoissonGaussian(p.remove, q, sigma, count, p.interval, true) })
	add, errAdd = composePoissonGaussian(p.add, q, sigma, count, p.interval, false)
	wg.Wait()
	if errRemove != nil {
		return errRemove
	}
	if errAdd != nil {
		return errAdd
	}
	p.remove, p.add = remove, add
	return nil
}

// ComposeDistributedDGauss adds count rounds of the distributed discrete
// Gaussian m on a Poisson sample at rate q: as the Gaussian of
// m.GaussianBound, whose slack Epsilon and Delta then add. On error the
// accountant is unchanged.
//
// The neighbours it bounds differ in the device's update and keep its
// noise share in both; under add/remove the share comes and goes with the
// device, which this does not count (see DistributedDGauss.roundRDP), so
// the Accountant does not use it (CheckDistributedAccountant).
func (p *PLD) ComposeDistributedDGauss(m DistributedDGauss, q float64, count int) error {
	if err := m.Check(); err != nil {
		return err
	}
	b := m.GaussianBound()
	if err := p.ComposePoissonGaussian(q, b.Z, count); err != nil {
		return err
	}
	n := float64(count)
	p.slack.Up += n * b.Up
	p.slack.Down += n * b.Down
	p.slack.Tail += n * b.Tail
	return nil
}

// composePoissonGaussian is acc composed with count rounds of the
// Poisson-subsampled Gaussian in one direction.
func composePoissonGaussian(acc pldPMF, q, sigma float64, count int, h float64, remove bool) (pldPMF, error) {
	// The tails of one round are moved once per round: budget them like
	// the truncations of the self-composition.
	one, err := pldDiscretizePoissonGaussian(q, sigma, h, remove, pldStepTail(pldTailMass, count))
	if err != nil {
		return pldPMF{}, err
	}
	many, err := one.selfCompose(count, pldTailMass)
	if err != nil {
		return pldPMF{}, err
	}
	return pldConvolve(acc, many, pldTailMass)
}

// Delta is the smallest δ for which everything composed so far is
// (epsilon, δ)-DP according to the (pessimistic) discrete distributions: an
// upper bound on the true δ(ε). epsilon = +Inf gives the mass of infinite
// loss (0 for Gaussian noise, up to truncation). After distributed rounds
// it is GaussianBound's δ, which is 1 below their slack and grows with
// e^ε·Tail, so it is vacuous at ε near ln(1/Tail) (about 90) and beyond.
func (p *PLD) Delta(epsilon float64) (float64, error) {
	if err := p.check(); err != nil {
		return 0, err
	}
	if !(epsilon >= 0) {
		return 0, fmt.Errorf("%w: ε must be non-negative, got %v", ErrBadParameter, epsilon)
	}
	sl := p.slack
	e := epsilon - sl.Up - sl.Down
	if e < 0 {
		return 1, nil
	}
	d := math.Max(p.remove.delta(e, p.interval), p.add.delta(e, p.interval))
	if sl != (GaussianBound{}) {
		d = math.Exp(sl.Up) * (d + math.Exp(e)*sl.Tail)
	}
	return math.Min(d, 1), nil
}

// Epsilon is the smallest ε ≥ 0 for which everything composed so far is
// (ε, delta)-DP according to the (pessimistic) discrete distributions: an
// upper bound on the true ε(δ). It is +Inf if the mass of infinite loss
// exceeds delta.
func (p *PLD) Epsilon(delta float64) (float64, error) {
	if err := p.check(); err != nil {
		return 0, err
	}
	if !(delta > 0 && delta < 1) {
		return 0, fmt.Errorf("%w: δ must be in (0, 1), got %v", ErrBadParameter, delta)
	}
	sl := p.slack
	if sl == (GaussianBound{}) {
		e := math.Max(p.remove.epsilon(delta, p.interval), p.add.epsilon(delta, p.interval))
		return math.Max(e, 0), nil
	}
	// δ = e^{Up}·(δ_G + e^{ε_G}·Tail): leave pldSlackShare of it to the
	// tails, and report +Inf if they need more.
	dg := delta * math.Exp(-sl.Up)
	e := math.Max(0, math.Max(p.remove.epsilon(dg*(1-pldSlackShare), p.interval), p.add.epsilon(dg*(1-pldSlackShare), p.interval)))
	if math.Exp(e)*sl.Tail > dg*pldSlackShare {
		return math.Inf(1), nil
	}
	return e + sl.Up + sl.Down, nil
}

// PLDEpsilon is the ε at delta of rounds rounds of the Poisson-subsampled
// Gaussian at (q, sigma), by the PLD accountant at the default
// discretization. It has the signature of EpsilonFunc, for calibration.
func PLDEpsilon(q, sigma float64, rounds int, delta float64) (float64, error) {
	a := NewPLD(0)
	if err := a.ComposePoissonGaussian(q, sigma, rounds); err != nil {
		return 0, err
	}
	return a.Epsilon(delta)
}

// delta is E[(1 − e^{ε−L})₊] under m.
func (m pldPMF) delta(eps, h float64) float64 {
	d := m.inf
	for i := len(m.probs) - 1; i >= 0; i-- {
		loss := float64(m.lo+i) * h
		if loss <= eps {
			break
		}
		d += m.probs[i] * -math.Expm1(eps-loss)
	}
	return d
}

// epsilon is the smallest ε with delta(ε) ≤ target (possibly negative, or
// +Inf if the infinite mass exceeds target). Between two neighbouring grid
// losses ℓ_{i−1} ≤ ε ≤ ℓ_i,
//
//	δ(ε) = SP_i − e^{ε−ℓ_i}·SQ_i,  SP_i = inf + Σ_{j≥i} p_j,  SQ_i = Σ_{j≥i} p_j e^{ℓ_i−ℓ_j},
//
// so walking down from the largest loss finds the segment where δ crosses
// the target and solves there exactly. SQ is scaled to the current loss so
// that nothing overflows however wide the grid is.
func (m pldPMF) epsilon(target, h float64) float64 {
	if m.inf > target {
		return math.Inf(1)
	}
	sp, sq := m.inf, 0.0
	decay := math.Exp(-h)
	for i := len(m.probs) - 1; i >= 0; i-- {
		sp += m.probs[i]
		sq = m.probs[i] + sq*decay
		// δ at the next grid loss down, ℓ_{i−1} = ℓ_i − h (or, for the lowest
		// point, the limit ε → −∞, where δ → sp).
		below := sp - sq*decay
		if i == 0 {
			below = sp
		}
		if below > target {
			loss := float64(m.lo+i) * h
			return loss + math.Log((sp-target)/sq)
		}
	}
	return math.Inf(-1)
}

// pldDiscretizePoissonGaussian is the connect-the-dots discretization of one
// round of the Poisson-subsampled Gaussian (rate q, noise multiplier sigma)
// in the remove direction (P = (1−q)N(0,σ²) + qN(1,σ²), Q = N(0,σ²)) or the
// add direction (P and Q swapped).
//
// With u(t) = (2t−1)/(2σ²) the privacy loss of output t is
// ±ln((1−q) + q e^{u(t)}) (+ for remove, − for add): monotone in t, so the
// loss interval (a, b] is a t interval whose N(0,σ²) and N(1,σ²) masses are
// differences of the normal CDF.
func pldDiscretizePoissonGaussian(q, sigma, h float64, remove bool, tail float64) (pldPMF, error) {
	s2 := sigma * sigma
	// lossAt is the privacy loss of output t.
	lossAt := func(t float64) float64 {
		u := (2*t - 1) / (2 * s2)
		var l float64
		switch x := q * math.Expm1(u); {
		case q == 1:
			l = u
		case u > 0:
			l = u + math.Log(q+(1-q)*math.Exp(-u))
		case x > -0.5:
			l = math.Log1p(x)
		default: // (1−q) + q e^u ≥ 1−q is small: no cancellation
			l = math.Log((1 - q) + q*math.Exp(u))
		}
		if remove {
			return l
		}
		return -l
	}
	// boundary is the t where the loss crosses eps: the loss is ≤ eps
	// exactly for t ≤ boundary (remove) or t ≥ boundary (add), ±Inf when
	// the loss never (or always) exceeds eps.
	boundary := func(eps float64) float64 {
		if !remove {
			eps = -eps
		}
		// u ≤ g(eps) ⟺ (1−q) + q e^u ≤ e^eps, g(x) = ln((e^x − 1 + q)/q).
		var g float64
		switch {
		case math.IsInf(eps, 1):
			g = math.Inf(1)
		case eps > 1:
			g = eps + math.Log1p(-(1-q)*math.Exp(-eps)) - math.Log(q)
		default:
			if r := math.Expm1(eps) / q; r > -0.5 {
				g = math.Log1p(r)
			} else if v := (math.Exp(eps) - (1 - q)) / q; v > 0 {
				g = math.Log(v) // exact for q = 1, where v = e^eps
			} else {
				g = math.Inf(-1)
			}
		}
		return s2*g + 0.5
	}
	// masses returns the P- and Q-probabilities of a loss between the
	// losses whose boundaries are ta and tb (ta for the smaller loss).
	masses := func(ta, tb float64) (pm, qm float64) {
		if !remove {
			ta, tb = tb, ta
		}
		n0 := pldNormalMass(ta, tb, 0, sigma)
		n1 := pldNormalMass(ta, tb, 1, sigma)
		mix := (1-q)*n0 + q*n1
		if remove {
			return mix, n0
		}
		return n0, mix
	}

	// Outputs kept: P-mass at most tail/2 outside [tLo, tHi], by the bound
	// P(N(0,1) > z) ≤ e^{−z²/2}/2.
	z := math.Sqrt(2 * math.Log(1/tail))
	tLo, tHi := -sigma*z, sigma*z
	if remove {
		tHi = 1 + sigma*z // P has an N(1, σ²) component
		if q == 1 {
			tLo = 1 - sigma*z // and nothing else
		}
	}
	lossLo, lossHi := lossAt(tLo), lossAt(tHi)
	if !remove {
		lossLo, lossHi = lossHi, lossLo
	}
	if !((lossHi-lossLo)/h < pldMaxBins-2) || math.IsInf(lossLo, 0) {
		return pldPMF{}, fmt.Errorf("%w: one round at q=%v, σ=%v spans losses [%.4g, %.4g], too many grid points at discretization %v; use a coarser one",
			ErrBadParameter, q, sigma, lossLo, lossHi, h)
	}
	kLo := int(math.Floor(lossLo / h))
	kHi := int(math.Ceil(lossHi / h))
	if kHi <= kLo {
		kHi = kLo + 1
	}

	// The boundary of each grid loss is computed once, so that neighbouring
	// intervals share it exactly and no mass is lost or counted twice.
	bounds := make([]float64, kHi-kLo+1)
	for k := range bounds {
		bounds[k] = boundary(float64(kLo+k) * h)
	}
	m := pldPMF{lo: kLo, probs: make([]float64, len(bounds))}
	// Losses ≤ kLo·h are rounded up to kLo·h.
	m.probs[0], _ = masses(boundary(math.Inf(-1)), bounds[0])
	// Losses above kHi·h become infinite.
	m.inf, _ = masses(bounds[len(bounds)-1], boundary(math.Inf(1)))
	// Split the mass of each interval (a, a+h] between its ends keeping both
	// P- and Q-mass: upper·e^{−(a+h)} + lower·e^{−a} = Q-mass with
	// upper + lower = P-mass, i.e. upper = (Pm − e^a·Qm)/(1 − e^{−h}),
	// where Pm − e^a·Qm = E_P[1 − e^{a−L}; a < L ≤ a+h] ∈ [0, Pm].
	split := -math.Expm1(-h)
	for i := range len(bounds) - 1 {
		pm, qm := masses(bounds[i], bounds[i+1])
		a := float64(kLo+i) * h
		eq := math.Exp(a) * qm
		if a > 700 { // e^a would overflow
			eq = math.Exp(a + math.Log(qm))
		}
		upper := (pm - eq) / split
		// Rounding can push the split just outside [0, pm].
		upper = math.Min(math.Max(upper, 0), pm)
		m.probs[i] += pm - upper
		m.probs[i+1] += upper
	}
	return m, nil
}

// pldNormalMass is P(a < X ≤ b) for X ~ N(mean, sd²), computed from the
// tail on the side away from the mean so that small masses keep their
// relative precision.
func pldNormalMass(a, b, mean, sd float64) float64 {
	if !(a < b) {
		return 0
	}
	x, y := (a-mean)/(sd*math.Sqrt2), (b-mean)/(sd*math.Sqrt2)
	switch {
	case x >= 0:
		return 0.5 * (math.Erfc(x) - math.Erfc(y))
	case y <= 0:
		return 0.5 * (math.Erfc(-y) - math.Erfc(-x))
	default:
		return 1 - 0.5*math.Erfc(y) - 0.5*math.Erfc(-x)
	}
}

// selfCompose is the PLD of n independent copies of m, by repeated
// squaring: about log₂(n) squarings and at most as many more products, each
// truncated (pessimistically) before the next. Mass moved to +∞ at a step
// that covers k rounds is multiplied by about n/k by the steps after it, so
// each step may move only tail/(4n): the total stays about tail.
func (m pldPMF) selfCompose(n int, tail float64) (pldPMF, error) {
	stepTail := pldStepTail(tail, n)
	result := pldIdentity()
	base := m
	var err error
	for {
		if n&1 == 1 {
			if result, err = pldConvolve(result, base, stepTail); err != nil {
				return pldPMF{}, err
			}
		}
		n >>= 1
		if n == 0 {
			return result, nil
		}
		if base, err = pldConvolve(base, base, stepTail); err != nil {
			return pldPMF{}, err
		}
	}
}

// pldStepTail is the mass each of the truncations of an n-fold
// self-composition may move: tail/(4n), but not below what the
// convolutions resolve.
func pldStepTail(tail float64, n int) float64 {
	return math.Max(tail/(4*float64(n)), 1e-24)
}

// pldDirectLimit is the largest product of lengths convolved directly
// (free of FFT rounding noise) rather than by FFT.
const pldDirectLimit = 1 << 15

// pldSplitRatio and pldSplitLevels set the pieces a distribution is cut
// into before an FFT convolution (see pldConvolve and pldSplit).
const (
	pldSplitRatio  = 0x1p-14
	pldSplitLevels = 2
)

// pldConvolve is the PLD of the composition of a and b (independent losses
// add), with tails of at most tail moved off each end.
//
// An FFT convolution has an absolute rounding error of about ε_mach times
// the product of the inputs' norms in every output value, however small
// the true value. A distribution's tails are many orders of magnitude below
// its bulk, so a plain FFT cannot resolve the tails of the result, and the
// pessimistic truncation would have to send them to +∞ (about 1e-13 per
// round for the MNIST setting), where repeated squaring multiplies them by
// the number of rounds (1e-9 after its 14063 rounds, which made ε(δ = 1e-9)
// infinite). So each input is split into pieces of limited dynamic range
// (pldSplit: the bulk, then bands of values 2^14 and 2^28 times smaller, then
// the rest), and the pieces are convolved pairwise into their own index
// ranges. Every output value then carries only the rounding noise of the
// piece pairs that reach it, which far out in the tails is smaller by many
// orders of magnitude. (The infinite mass of that setting is now 3e-16.)
func pldConvolve(a, b pldPMF, tail float64) (pldPMF, error) {
	if a.isIdentity() {
		return b, nil
	}
	if b.isIdentity() {
		return a, nil
	}
	n := len(a.probs) + len(b.probs) - 1
	if n > pldMaxBins {
		return pldPMF{}, fmt.Errorf("%w: the composed privacy loss distribution needs %d grid points (limit %d); use a coarser discretization",
			ErrBadParameter, n, pldMaxBins)
	}
	square := len(a.probs) == len(b.probs) && &a.probs[0] == &b.probs[0]
	conv := make([]float64, n)
	var noise []pldNoise
	piecesA := pldSplit(a.probs)
	piecesB := piecesA
	if !square {
		piecesB = pldSplit(b.probs)
	}
	for i, pa := range piecesA {
		for j, pb := range piecesB {
			if square && j < i {
				continue // counted twice at (j, i)
			}
			c, level := pldConvolvePieces(pa.values, pb.values, square && i == j)
			scale := 1.0
			if square && i != j {
				scale = 2
			}
			at := pa.start + pb.start
			for k, v := range c {
				conv[at+k] += scale * v
			}
			if level > 0 {
				noise = append(noise, pldNoise{at, at + len(c), scale * level})
			}
		}
	}
	out := pldPMF{
		lo:    a.lo + b.lo,
		probs: conv,
		// Infinite if either loss is.
		inf: a.inf + b.inf - a.inf*b.inf,
	}
	out.truncate(tail, noise)
	return out, nil
}

func (m pldPMF) isIdentity() bool {
	return m.lo == 0 && len(m.probs) == 1 && m.probs[0] == 1 && m.inf == 0
}

// pldPiece is values[i] at index start+i of a longer array.
type pldPiece struct {
	start  int
	values []float64
}

// pldNoise is a bound on the rounding error of each output in [from, to).
type pldNoise struct {
	from, to int
	level    float64
}

// pldSplit cuts p into pieces of limited dynamic range: the bulk (first
// to last value ≥ r·max, r = pldSplitRatio), then on either side the bands
// reaching down to r²·max, r³·max, …, r^pldSplitLevels·max, and the rest.
// Empty pieces are left out.
func pldSplit(p []float64) []pldPiece {
	peak := 0.0
	for _, v := range p {
		peak = math.Max(peak, v)
	}
	var left, right []pldPiece
	first, last := len(p), -1 // the range covered so far
	threshold := peak
	for level := 1; level <= pldSplitLevels+1; level++ {
		threshold *= pldSplitRatio
		f, l := 0, len(p)-1
		if level <= pldSplitLevels {
			for f < len(p)-1 && p[f] < threshold {
				f++
			}
			for l > f && p[l] < threshold {
				l--
			}
		}
		if last < 0 {
			right = append(right, pldPiece{f, p[f : l+1]})
		} else {
			f, l = min(f, first), max(l, last)
			if f < first {
				left = append(left, pldPiece{f, p[f:first]})
			}
			if l > last {
				right = append(right, pldPiece{last + 1, p[last+1 : l+1]})
			}
		}
		first, last = f, l
	}
	return append(left, right...)
}

// pldConvolvePieces is the linear convolution of x and y (y = x if same),
// directly when short and by FFT otherwise, with a bound on the rounding
// error of each value (0 for the direct sum, whose relative error is
// negligible).
func pldConvolvePieces(x, y []float64, same bool) ([]float64, float64) {
	n := len(x) + len(y) - 1
	if len(x)*len(y) <= pldDirectLimit {
		out := make([]float64, n)
		for i, u := range x {
			for j, v := range y {
				out[i+j] += u * v
			}
		}
		return out, 0
	}
	return pldFFTConvolve(x, y, n, same)
}

// pldFFTConvolve is the linear convolution of x and y (n = len(x)+len(y)−1
// values) by real FFTs, with a bound on the absolute rounding error of each
// value: 4·ε_mach·log₂(size)·‖x‖₂·‖y‖₂ (the usual FFT error bound with a
// margin; measured errors are 20–50 times smaller).
func pldFFTConvolve(x, y []float64, n int, same bool) ([]float64, float64) {
	size := pldFFTSize(n)
	fft := fourier.NewFFT(size)
	buf := make([]float64, size)
	copy(buf, x)
	cx := fft.Coefficients(nil, buf)
	if same {
		for i, c := range cx {
			cx[i] = c * c
		}
	} else {
		clear(buf)
		copy(buf, y)
		cy := fft.Coefficients(nil, buf)
		for i := range cx {
			cx[i] *= cy[i]
		}
	}
	out := fft.Sequence(buf, cx)[:n]
	scale := 1 / float64(size)
	for i := range out {
		out[i] *= scale
	}
	noise := 4 * 0x1p-52 * math.Log2(float64(size)) * pldNorm2(x) * pldNorm2(y)
	return out, noise
}

func pldNorm2(x []float64) float64 {
	s := 0.0
	for _, v := range x {
		s += v * v
	}
	return math.Sqrt(s)
}

// pldFFTSize is the smallest even 2^a·3^b·5^c ≥ n: sizes the FFT handles
// fast, up to 25% shorter than the next power of two.
func pldFFTSize(n int) int {
	best := 2
	for best < n {
		best *= 2
	}
	for p5 := 2; p5 < best; p5 *= 5 {
		for p35 := p5; p35 < best; p35 *= 3 {
			s := p35
			for s < n {
				s *= 2
			}
			if s < best {
				best = s
			}
		}
	}
	return best
}

// truncate drops negligible tails: from the top, values go to the infinite
// mass, and from the bottom they are added to the lowest value kept (both
// pessimistic moves), as long as the mass moved from each side stays within
// tail. Values within the rounding noise of the convolution (noise) count
// as zero there, since they are indistinguishable from it, but they are
// still moved, not dropped. Negative rounding noise is cleared.
func (m *pldPMF) truncate(tail float64, noise []pldNoise) {
	p := m.probs
	for i, v := range p {
		if v < 0 {
			p[i] = 0
		}
	}
	// resolved is p[i] if it stands out of the noise at i, else 0.
	resolved := func(i int) float64 {
		level := 0.0
		for _, r := range noise {
			if r.from <= i && i < r.to {
				level += r.level
			}
		}
		if p[i] <= level {
			return 0
		}
		return p[i]
	}
	hi, counted, moved := len(p)-1, 0.0, 0.0
	for hi > 0 {
		c := resolved(hi)
		if counted+c > tail {
			break
		}
		counted += c
		moved += p[hi]
		hi--
	}
	m.inf += moved
	lo, counted, moved := 0, 0.0, 0.0
	for lo < hi {
		c := resolved(lo)
		if counted+c > tail {
			break
		}
		counted += c
		moved += p[lo]
		lo++
	}
	p[lo] += moved
	m.lo += lo
	if lo > 0 || hi < len(p)-1 {
		m.probs = append([]float64(nil), p[lo:hi+1]...)
	}
}
