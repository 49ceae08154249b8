package client

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
	"gopkg.in/yaml.v3"

	"github.com/tacitfl/tacit/aggregate/secagg"
	"github.com/tacitfl/tacit/model"
	"github.com/tacitfl/tacit/privacy"
)

// Policy is what a device accepts of a round's plan. A device that keeps a
// ledger checks every plan against its policy before it trains and declines
// a plan outside it, writing why in its ledger. It trusts no number of the
// plan it can check: it accounts ε at its own δ, refuses a survivor count
// above the cohort, and reads the noise of a distributed round off the
// mechanism rather than the plan's noise multiplier.
type Policy struct {
	// AllowPlain opts in to rounds without secure aggregation, whose
	// update the coordinator sees in the clear: for a person who chooses
	// it (and for simulations, which keep no ledger).
	AllowPlain bool `toml:"allow_plain" yaml:"allow_plain" json:"allow_plain"`
	// MinCohort is the fewest devices a secure round may be among (its
	// SecAgg NumClients).
	MinCohort int `toml:"min_cohort" yaml:"min_cohort" json:"min_cohort"`
	// MinSurvivors is the fewest devices whose noise a round under
	// distributed DP may size its noise for; a plan's survivors above its
	// cohort are refused whatever this is.
	MinSurvivors int `toml:"min_survivors" yaml:"min_survivors" json:"min_survivors"`
	// MinNoiseMultiplier is the least noise a round may add, as a multiple
	// of the clip norm; 0 accepts rounds without differential privacy,
	// which the ledger counts as unbounded ε.
	MinNoiseMultiplier float64 `toml:"min_noise_multiplier" yaml:"min_noise_multiplier" json:"min_noise_multiplier"`
	// Delta is the device's own δ: it declines a plan whose δ is looser and
	// accounts every round at this δ, whatever the plan states.
	Delta float64 `toml:"delta" yaml:"delta" json:"delta"`
	// MaxRoundsPerDay is the most rounds the device takes part in within
	// any 24 hours.
	MaxRoundsPerDay int `toml:"max_rounds_per_day" yaml:"max_rounds_per_day" json:"max_rounds_per_day"`
	// Budget is the person's ε budget at Delta: the device declines a round
	// that would take its ε past it. 0: no limit.
	Budget float64 `toml:"budget" yaml:"budget" json:"budget"`
	// RequireMaliciousSecure declines secure rounds that do not run SecAgg's
	// malicious-server mode (signed keys and a consistency phase), which
	// protects the device against a coordinator that lies; it needs the
	// device's signing key.
	RequireMaliciousSecure bool `toml:"require_malicious_secure" yaml:"require_malicious_secure" json:"require_malicious_secure"`
	// RequireCharging, RequireUnmetered and RequireIdle are the device's
	// conditions under which it checks in (the app reports them): training
	// should cost the person neither battery, nor a metered network, nor
	// a slower phone while they use it.
	RequireCharging  bool `toml:"require_charging" yaml:"require_charging" json:"require_charging"`
	RequireUnmetered bool `toml:"require_unmetered" yaml:"require_unmetered" json:"require_unmetered"`
	RequireIdle      bool `toml:"require_idle" yaml:"require_idle" json:"require_idle"`
	// MaxModelMB is the largest model, in MiB of float32s, the device
	// holds: it declines a round whose model is larger. 0: no limit.
	MaxModelMB int `toml:"max_model_mb" yaml:"max_model_mb" json:"max_model_mb"`
}

// Conditions are the device's state as the app reports it.
type Conditions struct {
	Charging  bool // on external power
	Unmetered bool // on a network that does not charge by the byte
	Idle      bool // not in use
}

// Ineligible is why the device in conditions c must not check in under p,
// or "" if it may.
func (p Policy) Ineligible(c Conditions) string {
	var missing []string
	if p.RequireCharging && !c.Charging {
		missing = append(missing, "charging")
	}
	if p.RequireUnmetered && !c.Unmetered {
		missing = append(missing, "on an unmetered network")
	}
	if p.RequireIdle && !c.Idle {
		missing = append(missing, "idle")
	}
	if missing == nil {
		return ""
	}
	return "the device is not " + strings.Join(missing, ", nor ")
}

// DefaultPolicy is the policy of a device that states none: secure
// aggregation among at least 10 devices, a threshold above half of each
// neighbourhood, δ = 1e-6, at most 24 rounds a day, no ε budget and no
// minimum noise, checking in only while charging, idle and on an
// unmetered network, and a model of at most 256 MiB (a million items at
// 64 factors).
func DefaultPolicy() Policy {
	return Policy{MinCohort: 10, MinSurvivors: 10, Delta: 1e-6, MaxRoundsPerDay: 24,
		RequireCharging: true, RequireUnmetered: true, RequireIdle: true, MaxModelMB: 256}
}

// Validate refuses a policy whose numbers mean nothing.
func (p Policy) Validate() error {
	switch {
	case p.MinCohort < 0:
		return fmt.Errorf("policy: min_cohort %d is negative", p.MinCohort)
	case p.MinSurvivors < 0:
		return fmt.Errorf("policy: min_survivors %d is negative", p.MinSurvivors)
	case !(p.MinNoiseMultiplier >= 0) || math.IsInf(p.MinNoiseMultiplier, 1):
		return fmt.Errorf("policy: min_noise_multiplier must be finite and non-negative, got %v", p.MinNoiseMultiplier)
	case !(p.Delta > 0 && p.Delta < 1):
		return fmt.Errorf("policy: delta must be in (0, 1), got %v", p.Delta)
	case p.MaxRoundsPerDay < 1:
		return fmt.Errorf("policy: max_rounds_per_day must be at least 1, got %d", p.MaxRoundsPerDay)
	case !(p.Budget >= 0) || math.IsInf(p.Budget, 1):
		return fmt.Errorf("policy: budget must be finite and non-negative, got %v", p.Budget)
	case p.MaxModelMB < 0 || p.MaxModelMB > 1<<20:
		return fmt.Errorf("policy: max_model_mb must be 0 (no limit) to %d, got %d", 1<<20, p.MaxModelMB)
	}
	return nil
}

// LoadPolicy reads a policy file: the keys it sets replace DefaultPolicy's.
// The format follows the name (.toml, .yaml or .yml, .json); a key Policy
// does not have is an error, so a typo cannot leave a default in place.
func LoadPolicy(path string) (Policy, error) {
	p := DefaultPolicy()
	b, err := os.ReadFile(path)
	if err != nil {
		return p, err
	}
	switch strings.ToLower(filepath.Ext(path)) {
	case ".toml":
		var md toml.MetaData
		if md, err = toml.Decode(string(b), &p); err == nil && len(md.Undecoded()) > 0 {
			err = fmt.Errorf("unknown key %q", md.Undecoded()[0].String())
		}
	case ".yaml", ".yml":
		dec := yaml.NewDecoder(bytes.NewReader(b))
		dec.KnownFields(true)
		if err = dec.Decode(&p); errors.Is(err, io.EOF) {
			err = nil // an empty file sets nothing
		}
	case ".json":
		dec := json.NewDecoder(bytes.NewReader(b))
		dec.DisallowUnknownFields()
		err = dec.Decode(&p)
	default:
		err = errors.New("unknown format, want a .toml, .yaml, .yml or .json name")
	}
	if err == nil {
		err = p.Validate()
	}
	if err != nil {
		return p, fmt.Errorf("policy file %s: %w", path, err)
	}
	return p, nil
}

// decline is why the policy refuses plan, whose distributed mechanism is
// mech (nil without distributed DP), for a device that took part in
// recent rounds within the last 24 hours; "" if it accepts it.
func (p Policy) decline(plan Plan, mech *privacy.DistributedDGauss, recent int) string {
	if mb := float64(model.ParamCount(plan.Items, plan.Model.Factors)) * 4 / (1 << 20); p.MaxModelMB > 0 && mb > float64(p.MaxModelMB) {
		return fmt.Sprintf("a model of %.0f MiB, above this device's limit of %d MiB", mb, p.MaxModelMB)
	}
	if plan.SecAgg == nil && !p.AllowPlain {
		return "no secure aggregation: the coordinator would see this device's update (allow_plain opts in)"
	}
	if s := plan.SecAgg; s != nil {
		if why := p.declineSecAgg(*s, mech); why != "" {
			return why
		}
	}
	if plan.Delta > p.Delta {
		return fmt.Sprintf("the plan's δ %g is looser than this device's %g", plan.Delta, p.Delta)
	}
	z := plan.NoiseMultiplier
	if mech != nil {
		// The noise the devices' shares give the fewest honest survivors,
		// not the noise multiplier the plan states.
		z = mech.NoiseMultiplier()
	}
	if z < p.MinNoiseMultiplier {
		return fmt.Sprintf("noise multiplier %.4g, below this device's minimum %g", z, p.MinNoiseMultiplier)
	}
	if recent >= p.MaxRoundsPerDay {
		return fmt.Sprintf("%d rounds in the last 24 hours, the most this device takes part in", recent)
	}
	return ""
}

// declineSecAgg is why the policy refuses a round's secure aggregation s
// (with mech under distributed DP), or "".
func (p Policy) declineSecAgg(s secagg.Config, mech *privacy.DistributedDGauss) string {
	switch {
	case s.NumClients < p.MinCohort:
		return fmt.Sprintf("a cohort of %d devices, below this device's minimum %d", s.NumClients, p.MinCohort)
	case !s.MajorityThreshold(): // fewer than a majority of its neighbourhood must not unmask it
		return fmt.Sprintf("SecAgg threshold %d is not above half of the neighbourhood (degree %d of %d devices)", s.Threshold, s.Degree, s.NumClients)
	case p.RequireMaliciousSecure && !s.Malicious():
		return "semi-honest secure aggregation: a coordinator that lies could learn this device's update (require_malicious_secure)"
	case mech != nil && mech.MinSurvivors > s.NumClients:
		return fmt.Sprintf("noise sized for %d survivors, more than the cohort of %d", mech.MinSurvivors, s.NumClients)
	case mech != nil && mech.MinSurvivors < p.MinSurvivors:
		return fmt.Sprintf("noise sized for %d survivors, below this device's minimum %d", mech.MinSurvivors, p.MinSurvivors)
	}
	return ""
}

// roundsSince counts the ledger's rounds (those of unknown cost included)
// after since.
func (l *Ledger) roundsSince(since time.Time) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, e := range l.Entries {
		if spends(e.Kind) && e.Time.After(since) {
			n++
		}
	}
	return n
}
