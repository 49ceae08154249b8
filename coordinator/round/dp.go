package round

import (
	"math"

	"github.com/tacitfl/tacit/codec"
	"github.com/tacitfl/tacit/privacy"
)

func (m *Machine) distributed() bool { return m.cfg.DP != nil && m.cfg.DP.Distributed }

// DistributedMechanism is the distributed discrete Gaussian that rounds of
// cfg (with DP.Distributed) run with clip norm clip on a model of d
// parameters over population devices, before its noise is set
// (WithNoiseMultiplier): the scale of the round's quantizer, the clip, the
// encoded length and the fewest survivors a round accepts. Calibration uses
// it; so do the machine's accountant and its devices' noise.
func DistributedMechanism(cfg Config, d, population int, clip float64) privacy.DistributedDGauss {
	u := codec.UpdateCodec{Bits: cfg.Codec.Bits, Rotate: cfg.Codec.Rotate}
	length := u.EncodedLen(d)
	expected := samplingRate(cfg, population) * float64(population)
	scale := float64(int(1)<<(u.Bits-1)-1) / codecRange(u.Bits, u.Rotate, length, expected, clip)
	return privacy.DistributedDGauss{Scale: scale, Clip: clip, Dim: length, MinSurvivors: minSurvivors(cfg, expected)}
}

// minSurvivors is, with distributed DP, the fewest masked inputs a round
// commits with: a fixed share of the expected reports, so that the noise
// the accountant counts on is there whatever the cohort's size.
func minSurvivors(cfg Config, expected float64) int {
	return max(2, int(math.Ceil(cfg.MinFraction*expected)))
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

// privatize adds the round's central noise, N(0, (z·Δ)²) on every
// coordinate, to the sum in m.step (none with distributed DP: the devices'
// noise is in the sum already) and composes the round into the accountant,
// which counts z: the noise is z times the sensitivity Δ. It returns the
// noise's standard deviation.
func (m *Machine) privatize() (float64, error) {
	var std float64
	if !m.cfg.DP.Distributed {
		std = m.zUpdate * m.sensitivity()
		m.noise.AddGaussian(m.step, std)
	}
	return std, m.acct.ComposeSpend(m.spend())
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
