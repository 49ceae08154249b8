package coordinator

import (
	"fmt"
	"math"
	"time"

	"github.com/tacitfl/tacit/privacy"
)

// RoundConfig shapes every round.
type RoundConfig struct {
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
	Seed     uint64 // seeds selection and jitter
	// DP, if set, makes every committed round (ε, δ)-differentially private
	// at the user level, with the noise added centrally.
	DP *DPConfig
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
	// privacy.AccountantPLD: the tighter ε, a little more work per round.
	Accountant string
	// Adaptive, if set, moves the clip norm toward a quantile of the update
	// norms each round, with a noised count; the total noise stays z.
	Adaptive *privacy.AdaptiveClip
	// Budget is the ε the whole training may spend; a round that would take
	// the total past it is not started. 0 means no limit.
	Budget float64
	// Noise is the noise source; nil seeds one from the operating system.
	Noise *privacy.Noise
}

// DefaultRoundConfig suits a simulation-sized population.
func DefaultRoundConfig() RoundConfig {
	return RoundConfig{Goal: 0, OverSelection: 1, MinFraction: 0.5,
		SelectionTimeout: 30 * time.Second, ReportWindow: 2 * time.Minute, RetryMin: time.Second, Seed: 1}
}

// Validate reports the first nonsense value.
func (c RoundConfig) Validate() error {
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
	}
	if d := c.DP; d != nil {
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
		if _, err := privacy.EpsilonFuncFor(d.accountant()); err != nil {
			return err
		}
	}
	return nil
}

func (d *DPConfig) accountant() string {
	if d.Accountant == "" {
		return privacy.AccountantRDP
	}
	return d.Accountant
}
