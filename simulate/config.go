package simulate

import (
	"fmt"

	"github.com/tacitfl/tacit/settings"
)

// Config is every setting of an experiment. It is what --config files hold
// (YAML or TOML, keys as in the tags) and what summary.json records, so a run
// can be repeated from its summary alone. The settings a real coordinator
// shares (the model, training, DP, the codec and SecAgg) are
// settings.Federated's, embedded so that their keys sit beside these.
type Config struct {
	Data string `json:"data" yaml:"data" toml:"data"` // dataset.Open spec; "" is the embedded ml-latest-small

	Rounds          int     `json:"rounds" yaml:"rounds" toml:"rounds"`
	ClientsPerRound int     `json:"clients_per_round" yaml:"clients_per_round" toml:"clients_per_round"` // 0 = everyone
	Dropout         float64 `json:"dropout" yaml:"dropout" toml:"dropout"`                               // probability a selected device never reports
	Seed            uint64  `json:"seed" yaml:"seed" toml:"seed"`
	EvalEvery       int     `json:"eval_every" yaml:"eval_every" toml:"eval_every"` // evaluate every n rounds (and the last); 0 = only the last
	EvalUsers       int     `json:"eval_users" yaml:"eval_users" toml:"eval_users"` // evaluate a seeded sample of this many people; 0 = all
	Workers         int     `json:"workers" yaml:"workers" toml:"workers"`          // 0 = GOMAXPROCS

	settings.Federated `yaml:",inline"`

	// TargetEpsilon, if set with DP, calibrates the noise multiplier so the
	// whole run spends at most that ε at Delta (and stops training if it
	// would spend more).
	TargetEpsilon float64 `json:"target_epsilon,omitempty" yaml:"target_epsilon" toml:"target_epsilon"`

	// Transport joins the virtual devices to the coordinator: "memory"
	// (direct calls, the default) or "quic" (a real QUIC server on
	// loopback, a connection per device). Both give the same model.
	Transport string `json:"transport" yaml:"transport" toml:"transport"`
	// HTTP, if set, is an address where the coordinator serves /metrics,
	// /status and its status page while the run goes.
	HTTP string `json:"http,omitempty" yaml:"http" toml:"http"`

	// ALSIterations is the number of iterations of the central twin.
	ALSIterations int `json:"als_iterations" yaml:"als_iterations" toml:"als_iterations"`
}

// DefaultConfig holds the defaults chosen by measurement (README, "Choosing
// the defaults"); a newcomer who changes nothing gets these numbers.
func DefaultConfig() Config {
	return Config{Rounds: 200, ClientsPerRound: 0, Seed: 1, EvalEvery: 10, Federated: settings.Defaults(),
		Transport: "memory", ALSIterations: 15}
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
	case c.Transport != "memory" && c.Transport != "quic":
		return fmt.Errorf("transport must be memory or quic, got %q", c.Transport)
	case !(c.TargetEpsilon >= 0):
		return fmt.Errorf("target epsilon must be non-negative, got %v", c.TargetEpsilon)
	case c.ALSIterations <= 0:
		return fmt.Errorf("ALS iterations must be positive, got %d", c.ALSIterations)
	}
	if err := c.Federated.Validate(); err != nil {
		return err
	}
	if c.DP != "" && c.NoiseMultiplier == 0 && c.TargetEpsilon == 0 {
		return fmt.Errorf("differential privacy needs --noise or --target-epsilon")
	}
	return nil
}
