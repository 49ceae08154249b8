package settings

import (
	"flag"
	"fmt"
	"strconv"
	"time"

	"github.com/tacitfl/tacit/codec"
	"github.com/tacitfl/tacit/coordinator/round"
	"github.com/tacitfl/tacit/privacy"
)

// The values of Privacy.DP besides empty (no differential privacy).
const (
	DPCentral     = "central"     // the coordinator adds the noise to each round's sum
	DPDistributed = "distributed" // the devices add discrete Gaussian noise under SecAgg
)

// Privacy is user-level differential privacy of the rounds.
type Privacy struct {
	// DP is DPCentral, DPDistributed, or empty for none. NoiseMultiplier z
	// and ClipNorm C shape the noise, N(0, (zC)²) on the sum.
	DP              string  `json:"dp,omitempty" yaml:"dp" toml:"dp"`
	NoiseMultiplier float64 `json:"noise_multiplier,omitempty" yaml:"noise_multiplier" toml:"noise_multiplier"`
	ClipNorm        float64 `json:"clip_norm,omitempty" yaml:"clip_norm" toml:"clip_norm"`
	// AdaptiveClip moves the clip norm, from ClipNorm, toward the median
	// update norm (Andrew et al. 2021) with a noised count.
	AdaptiveClip bool    `json:"adaptive_clip,omitempty" yaml:"adaptive_clip" toml:"adaptive_clip"`
	Delta        float64 `json:"delta,omitempty" yaml:"delta" toml:"delta"`
	// Accountant computes ε: privacy.AccountantRDP or privacy.AccountantPLD.
	Accountant string `json:"accountant,omitempty" yaml:"accountant" toml:"accountant"`
}

// Bind defines the differential privacy flags on fs.
func (p *Privacy) Bind(fs *flag.FlagSet) {
	fs.StringVar(&p.DP, "dp", p.DP, "differential privacy: central (the coordinator adds the noise), distributed (the devices add discrete Gaussian noise, sized for the fewest survivors a round accepts; needs --secagg), or empty for none")
	fs.Float64Var(&p.NoiseMultiplier, "noise", p.NoiseMultiplier, "noise multiplier z: N(0, (z·C)²) on each round's sum (with --dp)")
	fs.Var(clipFlag{p}, "clip", "L2 norm C each device's update is clipped to, or adaptive: from 0.1 toward the median norm (with --dp)")
	fs.Float64Var(&p.Delta, "delta", p.Delta, "δ of the (ε, δ) guarantee (with --dp)")
	fs.StringVar(&p.Accountant, "accountant", p.Accountant, "accountant of ε (with --dp): rdp, or pld (tighter: a smaller ε for the same noise; not with --dp distributed)")
}

// Validate reports the first nonsense value, and distributed DP with an
// accountant that cannot count it (privacy.CheckDistributedAccountant).
// Whether the noise is given or calibrated is each command's to check.
func (p Privacy) Validate() error {
	switch {
	case p.DP != "" && p.DP != DPCentral && p.DP != DPDistributed:
		return fmt.Errorf("dp must be %s, %s or empty, got %q", DPCentral, DPDistributed, p.DP)
	case p.DP != "" && !(p.ClipNorm > 0):
		return fmt.Errorf("clip norm must be positive, got %v", p.ClipNorm)
	case p.DP != "" && !(p.Delta > 0 && p.Delta < 1):
		return fmt.Errorf("delta must be in (0, 1), got %v", p.Delta)
	case !(p.NoiseMultiplier >= 0):
		return fmt.Errorf("noise multiplier must be non-negative, got %v", p.NoiseMultiplier)
	case p.DP != "" && p.Accountant != privacy.AccountantRDP && p.Accountant != privacy.AccountantPLD:
		return fmt.Errorf("accountant must be %s or %s, got %q", privacy.AccountantRDP, privacy.AccountantPLD, p.Accountant)
	case p.DP == DPDistributed:
		return privacy.CheckDistributedAccountant(p.Accountant)
	}
	return nil
}

// Config is the round machine's differential privacy, nil without DP.
// budget is the ε the whole training may spend (0: no limit).
func (p Privacy) Config(budget float64) *round.DPConfig {
	if p.DP == "" {
		return nil
	}
	dp := &round.DPConfig{NoiseMultiplier: p.NoiseMultiplier, ClipNorm: p.ClipNorm, Delta: p.Delta,
		Budget: budget, Accountant: p.Accountant, Distributed: p.DP == DPDistributed}
	if p.AdaptiveClip {
		dp.Adaptive = &privacy.AdaptiveClip{}
	}
	return dp
}

// clipFlag is --clip: a norm, or "adaptive".
type clipFlag struct{ p *Privacy }

func (f clipFlag) String() string {
	if f.p == nil { // the zero value, which package flag asks for
		return ""
	}
	if f.p.AdaptiveClip {
		return "adaptive"
	}
	return strconv.FormatFloat(f.p.ClipNorm, 'g', -1, 64)
}

func (f clipFlag) Set(s string) error {
	if s == "adaptive" {
		f.p.AdaptiveClip, f.p.ClipNorm = true, 0.1 // Andrew et al.'s initial norm
		return nil
	}
	c, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return fmt.Errorf("want a number or adaptive, got %q", s)
	}
	f.p.AdaptiveClip, f.p.ClipNorm = false, c
	return nil
}

// Quantization is the codec of updates going up and of the model coming
// down. With QuantBits set, devices quantize their updates to that many bits
// a value (in a range set for updates of L2 norm QuantNorm, to which they
// clip them; with DP the clip norm), after a randomized Hadamard rotation if
// Rotate. DownBits, if set, quantizes the model devices download.
type Quantization struct {
	QuantBits int     `json:"quant_bits,omitempty" yaml:"quant_bits" toml:"quant_bits"`
	Rotate    bool    `json:"rotate,omitempty" yaml:"rotate" toml:"rotate"`
	QuantNorm float64 `json:"quant_norm,omitempty" yaml:"quant_norm" toml:"quant_norm"`
	DownBits  int     `json:"down_bits,omitempty" yaml:"down_bits" toml:"down_bits"`
}

// Bind defines the codec's flags on fs.
func (q *Quantization) Bind(fs *flag.FlagSet) {
	fs.IntVar(&q.QuantBits, "quant-bits", q.QuantBits, "devices quantize their updates to `b` bits a value (2-24) in a range the round shares; 0 sends float32")
	fs.BoolVar(&q.Rotate, "rotate", q.Rotate, "with --quant-bits: a seeded randomized Hadamard rotation first, inverted on the aggregate")
	fs.Float64Var(&q.QuantNorm, "quant-norm", q.QuantNorm, "with --quant-bits and no DP: devices clip updates to this L2 norm, which the quantization range is set for (DP uses --clip)")
	fs.IntVar(&q.DownBits, "down-bits", q.DownBits, "quantize the model devices download to `b` bits a value (2-24); 0 sends float32")
}

// Validate reports the first nonsense value.
func (q Quantization) Validate() error {
	switch {
	case q.QuantBits != 0 && codec.CheckBits(q.QuantBits) != nil:
		return fmt.Errorf("--quant-bits: %w", codec.CheckBits(q.QuantBits))
	case q.DownBits != 0 && codec.CheckBits(q.DownBits) != nil:
		return fmt.Errorf("--down-bits: %w", codec.CheckBits(q.DownBits))
	case q.Rotate && q.QuantBits == 0:
		return fmt.Errorf("--rotate needs --quant-bits")
	case !(q.QuantNorm > 0):
		return fmt.Errorf("quantization norm must be positive, got %v", q.QuantNorm)
	}
	return nil
}

// Config is the round machine's update codec, nil for float32 updates.
func (q Quantization) Config() *round.CodecConfig {
	if q.QuantBits == 0 {
		return nil
	}
	return &round.CodecConfig{Bits: q.QuantBits, Rotate: q.Rotate, Norm: q.QuantNorm}
}

// SecAgg threat models (SecureAggregation.SecAggThreat).
const (
	SecAggSemiHonest = "semi-honest" // the default: a coordinator that follows the protocol
	SecAggMalicious  = "malicious"   // a coordinator that may lie: signed keys and a consistency phase
)

// SecureAggregation is SecAgg+ in every round (it needs QuantBits), its
// neighbour graph sized for up to SecAggAdversary of the devices colluding
// with the coordinator and SecAggDropout dropping out, against a
// semi-honest coordinator or, with SecAggThreat "malicious", one that may
// lie (the devices then need enrolment signing keys).
type SecureAggregation struct {
	SecAgg          bool    `json:"secagg,omitempty" yaml:"secagg" toml:"secagg"`
	SecAggAdversary float64 `json:"secagg_adversary,omitempty" yaml:"secagg_adversary" toml:"secagg_adversary"`
	SecAggDropout   float64 `json:"secagg_dropout,omitempty" yaml:"secagg_dropout" toml:"secagg_dropout"`
	SecAggThreat    string  `json:"secagg_threat,omitempty" yaml:"secagg_threat" toml:"secagg_threat"`
}

// Bind defines the secure aggregation flags on fs.
func (s *SecureAggregation) Bind(fs *flag.FlagSet) {
	fs.BoolVar(&s.SecAgg, "secagg", s.SecAgg, "secure aggregation (SecAgg+) of every round; needs --quant-bits")
	fs.Float64Var(&s.SecAggAdversary, "secagg-adversary", s.SecAggAdversary, "with --secagg: the fraction of devices that may collude with the coordinator (sizes the neighbour graph)")
	fs.Float64Var(&s.SecAggDropout, "secagg-dropout", s.SecAggDropout, "with --secagg: the fraction of devices that may drop out (sizes the neighbour graph)")
	fs.StringVar(&s.SecAggThreat, "secagg-threat", s.SecAggThreat, "with --secagg: the coordinator defended against, semi-honest (the default) or malicious (devices sign their keys and the survivors they are told of; needs their enrolment signing keys)")
}

// Validate reports the first nonsense value.
func (s SecureAggregation) Validate() error {
	if !(s.SecAggAdversary >= 0 && s.SecAggAdversary < 1) || !(s.SecAggDropout >= 0 && s.SecAggDropout < 1) {
		return fmt.Errorf("SecAgg adversary and dropout rates must be in [0, 1), got %v and %v", s.SecAggAdversary, s.SecAggDropout)
	}
	if s.SecAggThreat != "" && s.SecAggThreat != SecAggSemiHonest && s.SecAggThreat != SecAggMalicious {
		return fmt.Errorf("SecAgg threat must be %s or %s, got %q", SecAggSemiHonest, SecAggMalicious, s.SecAggThreat)
	}
	return nil
}

// Config is the round machine's secure aggregation, nil without it, against
// a semi-honest coordinator or, with SecAggThreat "malicious", one that may
// lie; the share-keys, consistency and unmask phases stay open for
// phaseWindow.
func (s SecureAggregation) Config(phaseWindow time.Duration) *round.SecAggConfig {
	switch {
	case !s.SecAgg:
		return nil
	case s.SecAggThreat == SecAggMalicious:
		return round.MaliciousSecAgg(s.SecAggAdversary, s.SecAggDropout, phaseWindow)
	}
	return round.SemiHonestSecAgg(s.SecAggAdversary, s.SecAggDropout, phaseWindow)
}
