package settings

import (
	"flag"
	"fmt"
	"strings"

	"github.com/tacitfl/tacit/aggregate"
	"github.com/tacitfl/tacit/model"
)

// Model is the recommender's shape and objective.
type Model struct {
	Factors   int     `json:"factors" yaml:"factors" toml:"factors"`
	Alpha     float64 `json:"alpha" yaml:"alpha" toml:"alpha"`
	NegWeight float64 `json:"neg_weight" yaml:"neg_weight" toml:"neg_weight"`
	UserReg   float64 `json:"user_reg" yaml:"user_reg" toml:"user_reg"`
	ItemReg   float64 `json:"item_reg" yaml:"item_reg" toml:"item_reg"`
	// RecencyHalfLife and RecencyFloor weigh a person's recent interactions
	// above old ones (model.Config); half-life 0 weighs all alike.
	RecencyHalfLife float64 `json:"recency_half_life" yaml:"recency_half_life" toml:"recency_half_life"`
	RecencyFloor    float64 `json:"recency_floor" yaml:"recency_floor" toml:"recency_floor"`
}

// Bind defines the model's flags on fs.
func (m *Model) Bind(fs *flag.FlagSet) {
	fs.IntVar(&m.Factors, "factors", m.Factors, "length of the item and person vectors")
	fs.Float64Var(&m.Alpha, "alpha", m.Alpha, "confidence of a positive is 1+alpha")
	fs.Float64Var(&m.NegWeight, "neg-weight", m.NegWeight, "confidence of each item a person did not touch")
	fs.Float64Var(&m.UserReg, "user-reg", m.UserReg, "L2 regularisation of a person's vector")
	fs.Float64Var(&m.ItemReg, "item-reg", m.ItemReg, "L2 regularisation of the shared item factors and biases")
	fs.Float64Var(&m.RecencyHalfLife, "recency-half-life", m.RecencyHalfLife, "a positive's confidence above the floor halves every `n` later interactions; 0 weighs all alike")
	fs.Float64Var(&m.RecencyFloor, "recency-floor", m.RecencyFloor, "share of alpha that an arbitrarily old positive keeps, in [0, 1]")
}

// Validate reports the first nonsense value.
func (m Model) Validate() error { return m.Config().Validate() }

// Config is the model's configuration.
func (m Model) Config() model.Config {
	return model.Config{Factors: m.Factors, Alpha: m.Alpha, NegWeight: m.NegWeight, UserReg: m.UserReg, ItemReg: m.ItemReg,
		RecencyHalfLife: m.RecencyHalfLife, RecencyFloor: m.RecencyFloor}
}

// Local is the training each selected device does in a round.
type Local struct {
	LocalEpochs int     `json:"local_epochs" yaml:"local_epochs" toml:"local_epochs"`
	ClientLR    float64 `json:"client_lr" yaml:"client_lr" toml:"client_lr"`
}

// Bind defines the flags of training on the devices on fs.
func (l *Local) Bind(fs *flag.FlagSet) {
	fs.IntVar(&l.LocalEpochs, "local-epochs", l.LocalEpochs, "training passes over its data on each device per round")
	fs.Float64Var(&l.ClientLR, "client-lr", l.ClientLR, "learning rate on the devices")
}

// Validate reports the first nonsense value.
func (l Local) Validate() error {
	switch {
	case l.LocalEpochs <= 0:
		return fmt.Errorf("local epochs must be positive, got %d", l.LocalEpochs)
	case !(l.ClientLR > 0):
		return fmt.Errorf("client learning rate must be positive, got %v", l.ClientLR)
	}
	return nil
}

// Config is the local training a plan carries for a population of devices
// training m: each device's share of the item regularisation is
// 1/devices of it.
func (l Local) Config(m Model, devices int) model.LocalConfig {
	return model.LocalConfig{Epochs: l.LocalEpochs, LR: l.ClientLR, ItemRegShare: m.ItemReg / float64(devices)}
}

// Optimizer is the server optimizer that applies each round's mean update.
type Optimizer struct {
	ServerOptimizer string  `json:"server_optimizer" yaml:"server_optimizer" toml:"server_optimizer"`
	ServerLR        float64 `json:"server_lr" yaml:"server_lr" toml:"server_lr"`
	ServerMomentum  float64 `json:"server_momentum" yaml:"server_momentum" toml:"server_momentum"`
	ServerBeta1     float64 `json:"server_beta1" yaml:"server_beta1" toml:"server_beta1"`
	ServerBeta2     float64 `json:"server_beta2" yaml:"server_beta2" toml:"server_beta2"`
	ServerTau       float64 `json:"server_tau" yaml:"server_tau" toml:"server_tau"`
}

// Bind defines the server optimizer's flags on fs.
func (o *Optimizer) Bind(fs *flag.FlagSet) {
	fs.StringVar(&o.ServerOptimizer, "server-optimizer", o.ServerOptimizer, "server optimizer: "+strings.Join(aggregate.OptimizerNames(), ", "))
	fs.Float64Var(&o.ServerLR, "server-lr", o.ServerLR, "server learning rate")
	fs.Float64Var(&o.ServerMomentum, "server-momentum", o.ServerMomentum, "server momentum (fedavgm)")
	fs.Float64Var(&o.ServerBeta1, "server-beta1", o.ServerBeta1, "first-moment decay (fedadam, fedyogi)")
	fs.Float64Var(&o.ServerBeta2, "server-beta2", o.ServerBeta2, "second-moment decay (fedadam, fedyogi)")
	fs.Float64Var(&o.ServerTau, "server-tau", o.ServerTau, "adaptivity ε of the adaptive optimizers (fedadagrad, fedadam, fedyogi)")
}

// Validate reports the first nonsense value.
func (o Optimizer) Validate() error {
	_, err := aggregate.NewOptimizer(o.Config())
	return err
}

// Config is the server optimizer's configuration.
func (o Optimizer) Config() aggregate.OptimizerConfig {
	return aggregate.OptimizerConfig{Name: o.ServerOptimizer, LR: o.ServerLR, Momentum: o.ServerMomentum,
		Beta1: o.ServerBeta1, Beta2: o.ServerBeta2, Tau: o.ServerTau}
}
