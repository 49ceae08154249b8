package simulate

import (
	"fmt"

	"github.com/tacitfl/tacit/aggregate"
	"github.com/tacitfl/tacit/codec"
	"github.com/tacitfl/tacit/model"
	"github.com/tacitfl/tacit/privacy"
)

// Config is every setting of an experiment. It is what --config files hold
// (YAML or TOML, keys as in the tags) and what summary.json records, so a run
// can be repeated from its summary alone.
type Config struct {
	Data string `json:"data" yaml:"data" toml:"data"` // dataset.Open spec; "" is the embedded ml-latest-small

	Rounds          int     `json:"rounds" yaml:"rounds" toml:"rounds"`
	ClientsPerRound int     `json:"clients_per_round" yaml:"clients_per_round" toml:"clients_per_round"` // 0 = everyone
	Dropout         float64 `json:"dropout" yaml:"dropout" toml:"dropout"`                               // probability a selected device never reports
	Seed            uint64  `json:"seed" yaml:"seed" toml:"seed"`
	EvalEvery       int     `json:"eval_every" yaml:"eval_every" toml:"eval_every"` // evaluate every n rounds (and the last); 0 = only the last
	EvalUsers       int     `json:"eval_users" yaml:"eval_users" toml:"eval_users"` // evaluate a seeded sample of this many people; 0 = all
	Workers         int     `json:"workers" yaml:"workers" toml:"workers"`          // 0 = GOMAXPROCS

	Factors   int     `json:"factors" yaml:"factors" toml:"factors"`
	Alpha     float64 `json:"alpha" yaml:"alpha" toml:"alpha"`
	NegWeight float64 `json:"neg_weight" yaml:"neg_weight" toml:"neg_weight"`
	UserReg   float64 `json:"user_reg" yaml:"user_reg" toml:"user_reg"`
	ItemReg   float64 `json:"item_reg" yaml:"item_reg" toml:"item_reg"`
	// RecencyHalfLife and RecencyFloor weigh a person's recent interactions
	// above old ones (model.Config); half-life 0 weighs all alike.
	RecencyHalfLife float64 `json:"recency_half_life" yaml:"recency_half_life" toml:"recency_half_life"`
	RecencyFloor    float64 `json:"recency_floor" yaml:"recency_floor" toml:"recency_floor"`

	LocalEpochs int     `json:"local_epochs" yaml:"local_epochs" toml:"local_epochs"`
	ClientLR    float64 `json:"client_lr" yaml:"client_lr" toml:"client_lr"`

	ServerOptimizer string  `json:"server_optimizer" yaml:"server_optimizer" toml:"server_optimizer"`
	ServerLR        float64 `json:"server_lr" yaml:"server_lr" toml:"server_lr"`
	ServerMomentum  float64 `json:"server_momentum" yaml:"server_momentum" toml:"server_momentum"`
	ServerBeta1     float64 `json:"server_beta1" yaml:"server_beta1" toml:"server_beta1"`
	ServerBeta2     float64 `json:"server_beta2" yaml:"server_beta2" toml:"server_beta2"`
	ServerTau       float64 `json:"server_tau" yaml:"server_tau" toml:"server_tau"`

	// Transport joins the virtual devices to the coordinator: "memory"
	// (direct calls, the default) or "quic" (a real QUIC server on
	// loopback, a connection per device). Both give the same model.
	Transport string `json:"transport" yaml:"transport" toml:"transport"`
	// HTTP, if set, is an address where the coordinator serves /metrics,
	// /status and its status page while the run goes.
	HTTP string `json:"http,omitempty" yaml:"http" toml:"http"`

	// DP is "central" for differential privacy with noise added by the
	// coordinator, "distributed" for noise added by the devices under
	// secure aggregation, or empty for none. NoiseMultiplier z and ClipNorm C
	// shape the noise, N(0, (zC)²) on the sum; TargetEpsilon, if set,
	// calibrates z so the whole run spends at most that ε at Delta (and
	// stops training if it would spend more).
	DP              string  `json:"dp,omitempty" yaml:"dp" toml:"dp"`
	NoiseMultiplier float64 `json:"noise_multiplier,omitempty" yaml:"noise_multiplier" toml:"noise_multiplier"`
	ClipNorm        float64 `json:"clip_norm,omitempty" yaml:"clip_norm" toml:"clip_norm"`
	// AdaptiveClip moves the clip norm, from ClipNorm, toward the median
	// update norm (Andrew et al. 2021) with a noised count.
	AdaptiveClip  bool    `json:"adaptive_clip,omitempty" yaml:"adaptive_clip" toml:"adaptive_clip"`
	Delta         float64 `json:"delta,omitempty" yaml:"delta" toml:"delta"`
	TargetEpsilon float64 `json:"target_epsilon,omitempty" yaml:"target_epsilon" toml:"target_epsilon"`
	// Accountant computes ε (and calibrates z): privacy.AccountantRDP or
	// privacy.AccountantPLD.
	Accountant string `json:"accountant,omitempty" yaml:"accountant" toml:"accountant"`

	// QuantBits, if set, has devices quantize their updates to that many
	// bits a value (in a range set for updates of L2 norm QuantNorm, to
	// which they clip them; with DP the clip norm), after a randomized
	// Hadamard rotation if Rotate.
	QuantBits int     `json:"quant_bits,omitempty" yaml:"quant_bits" toml:"quant_bits"`
	Rotate    bool    `json:"rotate,omitempty" yaml:"rotate" toml:"rotate"`
	QuantNorm float64 `json:"quant_norm,omitempty" yaml:"quant_norm" toml:"quant_norm"`
	// DownBits, if set, quantizes the model devices download to that many
	// bits a value; 0 sends float32.
	DownBits int `json:"down_bits,omitempty" yaml:"down_bits" toml:"down_bits"`
	// SecAgg runs secure aggregation (SecAgg+) in every round, for every
	// virtual device; it needs QuantBits. Its neighbour graph is sized for
	// up to SecAggAdversary colluding and SecAggDropout dropping devices.
	SecAgg          bool    `json:"secagg,omitempty" yaml:"secagg" toml:"secagg"`
	SecAggAdversary float64 `json:"secagg_adversary,omitempty" yaml:"secagg_adversary" toml:"secagg_adversary"`
	SecAggDropout   float64 `json:"secagg_dropout,omitempty" yaml:"secagg_dropout" toml:"secagg_dropout"`

	// ALSIterations is the number of iterations of the central twin.
	ALSIterations int `json:"als_iterations" yaml:"als_iterations" toml:"als_iterations"`
}

// DefaultConfig holds the defaults chosen by measurement (README, "Choosing
// the defaults"); a newcomer who changes nothing gets these numbers.
func DefaultConfig() Config {
	mc := model.DefaultConfig()
	return Config{
		Rounds: 200, ClientsPerRound: 0, Seed: 1, EvalEvery: 10,
		Factors: mc.Factors, Alpha: mc.Alpha, NegWeight: mc.NegWeight, UserReg: mc.UserReg, ItemReg: mc.ItemReg,
		RecencyHalfLife: mc.RecencyHalfLife, RecencyFloor: mc.RecencyFloor,
		LocalEpochs: 1, ClientLR: 0.1,
		ServerOptimizer: "fedadam", ServerLR: 0.01, ServerBeta1: 0.9, ServerBeta2: 0.99, ServerTau: 1e-3, ServerMomentum: 0.9,
		ALSIterations: 15, Transport: "memory", ClipNorm: 1, Delta: 1e-5, Accountant: privacy.AccountantRDP,
		QuantNorm: 10, SecAggAdversary: 0.05, SecAggDropout: 0.1,
	}
}

// Model is the model part of the configuration.
func (c Config) Model() model.Config {
	return model.Config{Factors: c.Factors, Alpha: c.Alpha, NegWeight: c.NegWeight, UserReg: c.UserReg, ItemReg: c.ItemReg,
		RecencyHalfLife: c.RecencyHalfLife, RecencyFloor: c.RecencyFloor}
}

// Optimizer is the server optimizer part of the configuration.
func (c Config) Optimizer() aggregate.OptimizerConfig {
	return aggregate.OptimizerConfig{Name: c.ServerOptimizer, LR: c.ServerLR, Momentum: c.ServerMomentum,
		Beta1: c.ServerBeta1, Beta2: c.ServerBeta2, Tau: c.ServerTau}
}

// maxWorkers bounds --workers: each worker holds several model-sized buffers.
const maxWorkers = 64

// Validate reports the first nonsense setting. The population size is checked
// by Run, once the data is loaded.
func (c Config) Validate() error {
	switch {
	case c.Rounds <= 0:
		return fmt.Errorf("rounds must be positive, got %d", c.Rounds)
	case c.ClientsPerRound < 0:
		return fmt.Errorf("clients per round must be 0 (everyone) or positive, got %d", c.ClientsPerRound)
	case !(c.Dropout >= 0 && c.Dropout < 1):
		return fmt.Errorf("dropout must be in [0, 1), got %v", c.Dropout)
	case c.EvalEvery < 0:
		return fmt.Errorf("eval every must be non-negative, got %d", c.EvalEvery)
	case c.EvalUsers < 0:
		return fmt.Errorf("eval users must be non-negative, got %d", c.EvalUsers)
	case c.Workers < 0 || c.Workers > maxWorkers:
		return fmt.Errorf("workers must be in [0, %d], got %d", maxWorkers, c.Workers)
	case c.LocalEpochs <= 0:
		return fmt.Errorf("local epochs must be positive, got %d", c.LocalEpochs)
	case !(c.ClientLR > 0):
		return fmt.Errorf("client learning rate must be positive, got %v", c.ClientLR)
	case c.Transport != "memory" && c.Transport != "quic":
		return fmt.Errorf("transport must be memory or quic, got %q", c.Transport)
	case c.DP != "" && c.DP != "central" && c.DP != "distributed":
		return fmt.Errorf("dp must be central, distributed or empty, got %q", c.DP)
	case c.DP == "distributed" && !c.SecAgg:
		return fmt.Errorf("distributed DP needs --secagg")
	case c.SecAgg && c.QuantBits == 0:
		return fmt.Errorf("secure aggregation needs quantized updates (--quant-bits)")
	case c.QuantBits != 0 && codec.CheckBits(c.QuantBits) != nil:
		return fmt.Errorf("--quant-bits: %w", codec.CheckBits(c.QuantBits))
	case c.DownBits != 0 && codec.CheckBits(c.DownBits) != nil:
		return fmt.Errorf("--down-bits: %w", codec.CheckBits(c.DownBits))
	case c.Rotate && c.QuantBits == 0:
		return fmt.Errorf("--rotate needs --quant-bits")
	case !(c.QuantNorm > 0):
		return fmt.Errorf("quantization norm must be positive, got %v", c.QuantNorm)
	case !(c.SecAggAdversary >= 0 && c.SecAggAdversary < 1) || !(c.SecAggDropout >= 0 && c.SecAggDropout < 1):
		return fmt.Errorf("SecAgg adversary and dropout rates must be in [0, 1), got %v and %v", c.SecAggAdversary, c.SecAggDropout)
	case c.DP != "" && !(c.ClipNorm > 0):
		return fmt.Errorf("clip norm must be positive, got %v", c.ClipNorm)
	case c.DP != "" && !(c.Delta > 0 && c.Delta < 1):
		return fmt.Errorf("delta must be in (0, 1), got %v", c.Delta)
	case !(c.NoiseMultiplier >= 0) || !(c.TargetEpsilon >= 0):
		return fmt.Errorf("noise multiplier and target epsilon must be non-negative, got %v and %v", c.NoiseMultiplier, c.TargetEpsilon)
	case c.DP != "" && c.NoiseMultiplier == 0 && c.TargetEpsilon == 0:
		return fmt.Errorf("central DP needs --noise or --target-epsilon")
	case c.DP != "" && c.Accountant != privacy.AccountantRDP && c.Accountant != privacy.AccountantPLD:
		return fmt.Errorf("accountant must be %s or %s, got %q", privacy.AccountantRDP, privacy.AccountantPLD, c.Accountant)
	case c.ALSIterations <= 0:
		return fmt.Errorf("ALS iterations must be positive, got %d", c.ALSIterations)
	}
	if err := c.Model().Validate(); err != nil {
		return err
	}
	if _, err := aggregate.NewOptimizer(c.Optimizer()); err != nil {
		return err
	}
	return nil
}
