package round

import (
	"fmt"
	"math"
	"slices"

	"github.com/tacitfl/tacit/codec"
	"github.com/tacitfl/tacit/privacy"
)

func (m *Machine) distributed() bool { return m.cfg.DP != nil && m.cfg.DP.Distributed }

// DistributedMechanism is the distributed discrete Gaussian that rounds of
// cfg (with DP.Distributed) run with clip norm clip on a model of d
// parameters over population devices, before its noise is set
// (WithNoiseMultiplier): the scale of the round's quantizer, the clip, the
// encoded length, the fewest survivors a round accepts, and how many of
// those may collude with the coordinator (colluders of the expected
// reports). Calibration uses it; so do the machine's accountant and its
// devices' noise.
func DistributedMechanism(cfg Config, d, population int, clip float64) privacy.DistributedDGauss {
	u := codec.UpdateCodec{Bits: cfg.Codec.Bits, Rotate: cfg.Codec.Rotate}
	length := u.EncodedLen(d)
	expected := samplingRate(cfg, population) * float64(population)
	scale := float64(int(1)<<(u.Bits-1)-1) / codecRange(u.Bits, u.Rotate, length, expected, clip)
	return privacy.DistributedDGauss{Scale: scale, Clip: clip, Dim: length, MinSurvivors: minSurvivors(cfg, expected),
		Colluders: colluders(cfg, expected)}
}

// minSurvivors is, with distributed DP, the fewest masked inputs a round
// commits with: a fixed share of the expected reports, so that the noise
// the accountant counts on is there whatever the cohort's size.
func minSurvivors(cfg Config, expected float64) int {
	return max(2, int(math.Ceil(cfg.MinFraction*expected)))
}

// colluders is the most of n devices that may collude with the
// coordinator: the adversary rate secure aggregation is sized for, rounded
// up.
func colluders(cfg Config, n float64) int {
	if cfg.SecAgg == nil {
		return 0
	}
	return int(math.Ceil(cfg.SecAgg.AdversaryRate * n))
}

// tooFewHonest is, with distributed DP, why a secure round whose sum holds
// survivors masked inputs must not commit, or "" if it may: as many as
// colluders(cohort) of them may collude with the coordinator and subtract
// their noise, and the rest must still hold the honest shares the noise is
// sized for.
func (m *Machine) tooFewHonest(survivors int) string {
	if !m.distributed() {
		return ""
	}
	expected := m.expectedReports()
	honest := minSurvivors(m.cfg, expected) - colluders(m.cfg, expected)
	if c := colluders(m.cfg, float64(len(m.cohort))); survivors-c < honest {
		return fmt.Sprintf("%d masked inputs, of which %d may collude: fewer than the %d honest ones the noise is sized for",
			survivors, c, honest)
	}
	return ""
}

// spend is the privacy mechanism of the current round, for the accountant.
func (m *Machine) spend() privacy.Spend {
	d := m.cfg.DP
	s := privacy.Spend{Q: m.q, Sigma: d.NoiseMultiplier, Count: 1}
	if d.Distributed {
		mech := DistributedMechanism(m.cfg, len(m.params), len(m.enrolled), m.clip).WithNoiseMultiplier(d.NoiseMultiplier)
		s.Distributed = &mech
	}
	return s
}

// gridRatio is 2^26, about what σ is in units of the grid the central
// noise is drawn on: fine enough that the grid costs nothing (it adds
// under 2^−26·√d·σ to the sensitivity), coarse enough for the sampler
// (σ at most 2^28 units) and for int64 sums.
const gridRatio = 26

// noisedSum writes into m.step the round's sum with central noise and
// returns its standard deviation σ = z·Δ′.
//
// Float noise added to a float sum leaks: a sampler's floats lie on an
// irregular set, and which floats x + noise can round to depends on x
// (Mironov 2012). So the noise is added on a grid: the sum, exact in
// integers (the aggregate's 2^−40 fixed point, or under SecAgg the ring in
// units of 1/s), is rounded to the nearest multiple of a power-of-two grid
// g with σ/g in [2^26, 2^27], an exact discrete Gaussian N_Z(0, (σ/g)²)
// (privacy.Noise, CKS20's sampler) is added to each coordinate in integer
// arithmetic, and only the result is turned into floats and rotated back:
// a post-processing. Rounding moves one device's contribution by less than
// g in each of the n coordinates, so the sensitivity is Δ′ = Δ + g√n (Δ
// where the sum is on the grid already), and σ = z·Δ′ keeps the
// accountant's z. On integers the discrete Gaussian has the Rényi
// divergences of the continuous one (Canonne, Kamath and Steinke 2020,
// Thm 4); against the rounded continuous Gaussian, a post-processing of the
// Gaussian mechanism the accountants compose, it differs pointwise by a
// factor within e^{±n/(24·2^52)} on all but 10^−40 of its mass
// (privacy.GaussianBound's argument with one share), below 10^−10 in ε a
// round at a million coordinates, which the figures leave out.
func (m *Machine) noisedSum() (float64, error) {
	ints, unit, delta, err := m.sumOnGrid()
	if err != nil {
		return 0, err
	}
	std := m.zUpdate * delta
	if err := m.noise.AddDiscreteGaussianInt64(ints, std/unit); err != nil {
		return 0, err
	}
	m.encoded = slices.Grow(m.encoded[:0], len(ints))[:len(ints)]
	for i, v := range ints {
		m.encoded[i] = float32(float64(v) * unit)
	}
	if m.codec != nil && m.codec.Rotate {
		_, err := m.codec.Unrotate(m.step, m.encoded, len(m.params))
		return std, err
	}
	copy(m.step, m.encoded)
	return std, nil
}

// sumOnGrid is the round's exact sum (rotated, if the codec rotates)
// rounded to the noise's grid, in units of the grid, and the sensitivity
// Δ′ of that integer vector, in the sum's units.
func (m *Machine) sumOnGrid() (ints []int64, unit, delta float64, err error) {
	delta = m.sensitivity()
	zd := m.zUpdate * delta
	rounded := false
	if m.sec != nil {
		q, _ := m.codec.Quantizer() // checked when the round was set up
		unit = 1 / q.Scale()
		ints = make([]int64, len(m.sec.sum))
		for i, v := range m.sec.sum {
			ints[i] = codec.Signed(v, m.codec.ModBits)
		}
		if j := gridExponent(zd/unit) + 1; j > 0 && j < 32 {
			for i, v := range ints {
				ints[i] = (v + 1<<(j-1)) >> j
			}
			unit, rounded = math.Ldexp(unit, j), true
		}
	} else {
		e := max(-40, gridExponent(zd))
		ints = make([]int64, m.mean.Len())
		if err := m.mean.SumRounded(ints, e); err != nil {
			return nil, 0, 0, err
		}
		unit, rounded = math.Ldexp(1, e), e > -40
	}
	if rounded {
		delta += unit * math.Sqrt(float64(len(ints)))
	}
	return ints, unit, delta, nil
}

// gridExponent is the e with σ/2^e in [2^26, 2^27): ⌊log2 σ⌋ − 26; very
// small for σ = 0.
func gridExponent(sigma float64) int {
	if !(sigma > 0) {
		return math.MinInt32
	}
	_, exp := math.Frexp(sigma) // σ = f·2^exp, f in [1/2, 1)
	return exp - 1 - gridRatio
}

// sensitivity is Δ, the largest L2 norm one device's contribution to the
// round's sum can have. Where the coordinator sees each report it clips it
// to the clip norm C, so Δ = C. Under secure aggregation it sees only the
// sum and cannot clip: a device that clipped its update to C before
// quantizing sends integers whose rounding adds less than one level
// γ = 1/s to every one of the d′ coordinates (and the range clips only
// inwards; rotation keeps norms), so Δ = C + γ√d′, and never more than the
// whole range box, c√d′. Unrotated at 8 bits on ml-latest-small that is
// 7.26·C; rotated at 16 bits, 1.0002·C.
func (m *Machine) sensitivity() float64 {
	if m.sec == nil {
		return m.clip
	}
	q, _ := m.codec.Quantizer() // checked when the round was set up
	d := math.Sqrt(float64(m.codec.EncodedLen(len(m.params))))
	return min(m.clip+d/q.Scale(), m.codec.Range*d)
}

// countParticipation adds the committed round to the count of every device
// whose update its sum held: the reports, or under SecAgg the survivors
// whose masked inputs were unmasked.
func (m *Machine) countParticipation() {
	count := func(d string) {
		m.participation[d]++
		m.mostRounds = max(m.mostRounds, m.participation[d])
	}
	if m.sec != nil {
		for _, d := range m.sec.survivors {
			count(d)
		}
		return
	}
	for d, reported := range m.accepted {
		if reported {
			count(d)
		}
	}
}

// epsilonAgainstCoordinator is ε against the coordinator, who knows every
// cohort: +Inf under central DP (it holds each update, or the un-noised
// sum); under distributed DP, what the rounds the most frequent participant
// took part in spend at q = 1, each distinct mechanism of the run counted
// for all of those rounds (exact when, as usual, the run has one). It is
// accounted by RDP, at the configured δ.
func (m *Machine) epsilonAgainstCoordinator() float64 {
	if !m.cfg.DP.Distributed {
		return math.Inf(1)
	}
	if m.mostRounds == 0 {
		return 0
	}
	a, _ := privacy.NewAccountant(privacy.AccountantRDP)
	seen := map[privacy.DistributedDGauss]bool{}
	for _, s := range m.acct.Spends() {
		if s.Distributed == nil || seen[*s.Distributed] {
			continue
		}
		seen[*s.Distributed] = true
		if err := a.ComposeSpend(privacy.Spend{Q: 1, Sigma: s.Sigma, Count: m.mostRounds, Distributed: s.Distributed}); err != nil {
			return math.Inf(1)
		}
	}
	eps, err := a.Epsilon(m.cfg.DP.Delta)
	if err != nil {
		return math.Inf(1)
	}
	return eps
}
