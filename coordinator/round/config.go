package round

import (
	"fmt"
	"math"
	"time"

	"github.com/tacitfl/tacit/aggregate/secagg"
	"github.com/tacitfl/tacit/codec"
	"github.com/tacitfl/tacit/privacy"
)

// Config shapes every round.
type Config struct {
	// Goal is the number of reports a round is after: the selection rate is
	// q = Goal·OverSelection/population. With 0 everyone is selected.
	Goal int
	// OverSelection above 1 selects more devices than the goal, and a round
	// then commits as soon as Goal reports are in, cutting stragglers off.
	// At 1 every selected device's report counts, whatever order they come
	// in: the reproducible setting the simulator uses.
	OverSelection float64
	// MinFraction of the expected reports (Goal, or the cohort when Goal is
	// 0 or larger) is needed to commit; fewer and the round is abandoned.
	MinFraction float64
	// SelectionTimeout is how long selected devices have to check in.
	SelectionTimeout time.Duration
	// ReportWindow follows the selection timeout; the round's deadline is
	// their sum after the round opens, announced in every plan.
	ReportWindow time.Duration
	// RetryMin is the shortest retry window given to a device turned away;
	// windows are jittered up by to a quarter so returns spread out.
	RetryMin time.Duration
	Seed     uint64 // seeds retry jitter and each round's public randomness (rotation, SecAgg graph); never the cohorts (Snapshot.SelectionKey)
	// DP, if set, makes every committed round (ε, δ)-differentially private
	// at the user level, with the noise added centrally, or by the devices
	// (DPConfig.Distributed).
	DP *DPConfig
	// Codec, if set, has devices quantize their updates (codec.UpdateCodec);
	// secure aggregation needs it.
	Codec *CodecConfig
	// SecAgg, if set, aggregates every round securely (aggregate/secagg):
	// the coordinator learns only the sum of the surviving devices' updates.
	SecAgg *SecAggConfig
	// MaxUpdateNorm bounds the L2 norm of a plain update, without DP or a
	// codec (which clip to DPConfig.ClipNorm, and to CodecConfig.Norm plus
	// the quantization's rounding): a larger one is scaled down to it, so
	// no device moves the mean by more than MaxUpdateNorm/reports. 0 means
	// DefaultMaxUpdateNorm.
	MaxUpdateNorm float64
	// MinReportsForMeans is the fewest values a round's mean training loss,
	// or mean HR@10 and NDCG@10, is shown with: these means are not noised,
	// and with one report the mean is that device's own value. Below it the
	// round's outcome has none. 0 means DefaultMinReportsForMeans.
	MinReportsForMeans int
}

// DefaultMinReportsForMeans is MinReportsForMeans' default.
const DefaultMinReportsForMeans = 10

// DefaultMaxUpdateNorm is MaxUpdateNorm's default: above every honest
// update measured (at most 69 on ml-latest-small at the default settings),
// so it changes no honest round, yet a bound on what one device can do.
const DefaultMaxUpdateNorm = 100

func (c Config) maxUpdateNorm() float64 {
	if c.MaxUpdateNorm == 0 {
		return DefaultMaxUpdateNorm
	}
	return c.MaxUpdateNorm
}

// CodecConfig is the quantization of updates on the devices: Bits per
// value, after an optional randomized Hadamard rotation, in a range set for
// updates of L2 norm Norm, to which devices clip their updates (under
// differential privacy the clip norm takes its place).
type CodecConfig struct {
	Bits   int
	Rotate bool
	Norm   float64
}

// SecAggConfig sizes secure aggregation: the neighbour graph's degree and
// threshold come from the fractions of devices that may collude with the
// coordinator or drop out (secagg.FindParams).
type SecAggConfig struct {
	AdversaryRate, DropoutRate float64
	ThreatModel                secagg.ThreatModel
	// PhaseWindow is how long the share-keys, consistency and unmask
	// phases stay open (the advertise phase is the selection window, the
	// masked input the report window).
	PhaseWindow time.Duration
	// Malicious runs SecAgg's malicious-server mode (secagg.Config.Registry):
	// devices sign their keys and the survivor lists they are told, with
	// the enrolment keys of Parts.SigningKeys, in a consistency phase before
	// the unmask. It needs ThreatModel secagg.SemiMalicious.
	Malicious bool
}

// SemiHonestSecAgg sizes secure aggregation against a semi-honest
// coordinator colluding with up to adversaryRate of the devices (with none,
// for dropouts alone) and up to dropoutRate dropping out.
func SemiHonestSecAgg(adversaryRate, dropoutRate float64, phaseWindow time.Duration) *SecAggConfig {
	model := secagg.SemiHonest
	if adversaryRate == 0 {
		model = secagg.NoAdversary
	}
	return &SecAggConfig{AdversaryRate: adversaryRate, DropoutRate: dropoutRate, ThreatModel: model, PhaseWindow: phaseWindow}
}

// MaliciousSecAgg sizes secure aggregation against a coordinator that
// deviates arbitrarily, colluding with up to adversaryRate of the devices,
// with up to dropoutRate dropping out: SecAgg's malicious-server mode.
func MaliciousSecAgg(adversaryRate, dropoutRate float64, phaseWindow time.Duration) *SecAggConfig {
	return &SecAggConfig{AdversaryRate: adversaryRate, DropoutRate: dropoutRate, ThreatModel: secagg.SemiMalicious,
		PhaseWindow: phaseWindow, Malicious: true}
}

// DPConfig is central differential privacy (DP-FedAvg, McMahan et al.
// 2018): each report is clipped to ClipNorm on receipt (devices clip too),
// the sum of the round's reports gets N(0, (z·C)²) noise on every
// coordinate, and is divided by the expected number of reports, q times the
// population, not the realised one. Each committed round is then one
// Poisson-subsampled Gaussian mechanism for the accountant.
type DPConfig struct {
	NoiseMultiplier float64 // z
	ClipNorm        float64 // C, or with Adaptive the initial C
	Delta           float64
	// Accountant is privacy.AccountantRDP (the default if empty) or
	// privacy.AccountantPLD: the tighter ε, a little more work per round,
	// but not with Distributed (privacy.CheckDistributedAccountant).
	Accountant string
	// Adaptive, if set, moves the clip norm toward a quantile of the update
	// norms each round, with a noised count; the total noise stays z.
	Adaptive *privacy.AdaptiveClip
	// Budget is the ε the whole training may spend; a round that would take
	// the total past it is not started. 0 means no limit.
	Budget float64
	// Distributed has the devices add the noise, as discrete Gaussian noise
	// on their quantized updates, so that the secure sum of the fewest
	// survivors a round accepts, less as many as may collude
	// (SecAggConfig.AdversaryRate), carries z (needs SecAgg). The
	// coordinator then never holds an un-noised sum.
	Distributed bool
}

// DefaultConfig suits a simulation-sized population.
func DefaultConfig() Config {
	return Config{Goal: 0, OverSelection: 1, MinFraction: 0.5,
		SelectionTimeout: 30 * time.Second, ReportWindow: 2 * time.Minute, RetryMin: time.Second, Seed: 1}
}

// Validate reports the first nonsense value.
func (c Config) Validate() error {
	switch {
	case c.Goal < 0:
		return fmt.Errorf("goal must be non-negative, got %d", c.Goal)
	case !(c.OverSelection >= 1) || math.IsInf(c.OverSelection, 1):
		return fmt.Errorf("over-selection must be at least 1, got %v", c.OverSelection)
	case !(c.MinFraction > 0 && c.MinFraction <= 1):
		return fmt.Errorf("minimum fraction must be in (0, 1], got %v", c.MinFraction)
	case c.SelectionTimeout <= 0:
		return fmt.Errorf("selection timeout must be positive, got %v", c.SelectionTimeout)
	case c.ReportWindow <= 0:
		return fmt.Errorf("report window must be positive, got %v", c.ReportWindow)
	case c.RetryMin <= 0:
		return fmt.Errorf("retry window must be positive, got %v", c.RetryMin)
	case !(c.MaxUpdateNorm >= 0) || math.IsInf(c.MaxUpdateNorm, 1):
		return fmt.Errorf("largest update norm must be non-negative (0: the default), got %v", c.MaxUpdateNorm)
	case c.MinReportsForMeans < 0:
		return fmt.Errorf("minimum reports for means must be non-negative (0: the default), got %d", c.MinReportsForMeans)
	}
	if k := c.Codec; k != nil {
		if err := codec.CheckBits(k.Bits); err != nil {
			return fmt.Errorf("update quantization: %w", err)
		}
		if !(k.Norm > 0) || math.IsInf(k.Norm, 1) {
			return fmt.Errorf("quantization norm must be positive, got %v", k.Norm)
		}
	}
	if s := c.SecAgg; s != nil {
		switch {
		case c.Codec == nil:
			return fmt.Errorf("secure aggregation needs quantized updates (a codec)")
		case s.PhaseWindow <= 0:
			return fmt.Errorf("secure aggregation phase window must be positive, got %v", s.PhaseWindow)
		case c.DP != nil && c.DP.Adaptive != nil:
			return fmt.Errorf("adaptive clipping needs each update's clipped bit, which secure aggregation hides")
		case s.Malicious && s.ThreatModel != secagg.SemiMalicious:
			return fmt.Errorf("malicious-server secure aggregation needs the %v threat model, got %v", secagg.SemiMalicious, s.ThreatModel)
		}
		if err := secagg.CheckRates(s.AdversaryRate, s.DropoutRate, s.ThreatModel); err != nil {
			return err
		}
	}
	if d := c.DP; d != nil {
		switch {
		case d.Distributed && c.SecAgg == nil:
			return fmt.Errorf("distributed DP needs secure aggregation")
		case d.Distributed && !(d.NoiseMultiplier > 0):
			return fmt.Errorf("distributed DP needs a positive noise multiplier")
		case c.OverSelection > 1:
			// A round that commits at the goal refuses the reports after
			// it, so adding one device can push another's report out: the
			// sum changes by two updates, sensitivity 2C, where the
			// accounting counts C. Accounting for 2C would take twice the
			// noise for the same ε, more than over-selection saves.
			return fmt.Errorf("differential privacy with over-selection %v: a round committed at the goal lets one device push out another's report (sensitivity 2C, not C); use over-selection 1", c.OverSelection)
		}
		switch {
		case !(d.NoiseMultiplier >= 0) || math.IsInf(d.NoiseMultiplier, 1):
			return fmt.Errorf("noise multiplier must be non-negative, got %v", d.NoiseMultiplier)
		case !(d.ClipNorm > 0) || math.IsInf(d.ClipNorm, 1):
			return fmt.Errorf("clip norm must be positive, got %v", d.ClipNorm)
		case !(d.Delta > 0 && d.Delta < 1):
			return fmt.Errorf("delta must be in (0, 1), got %v", d.Delta)
		case !(d.Budget >= 0):
			return fmt.Errorf("privacy budget must be non-negative, got %v", d.Budget)
		}
		if _, err := privacy.EpsilonFuncFor(d.AccountantName()); err != nil {
			return err
		}
		if d.Distributed {
			if err := privacy.CheckDistributedAccountant(d.AccountantName()); err != nil {
				return err
			}
		}
	}
	return nil
}

// AccountantName is the accountant that counts the spend: Accountant, or RDP
// when unset.
func (d *DPConfig) AccountantName() string {
	if d.Accountant == "" {
		return privacy.AccountantRDP
	}
	return d.Accountant
}
