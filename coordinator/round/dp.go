package round

import (
	"fmt"
	"math"

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

// privatize adds the round's central noise to the sum in m.step (none with
// distributed DP: the devices' noise is in the sum already) and composes
// the round into the accountant. It returns the noise's standard deviation.
func (m *Machine) privatize() (float64, error) {
	var std float64
	if !m.cfg.DP.Distributed {
		std = m.zUpdate * m.clip
		m.noise.AddGaussian(m.step, std)
	}
	return std, m.acct.ComposeSpend(m.spend())
}
