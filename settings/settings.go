// Package settings defines, once, the settings of federated training that
// `tacit coordinator` and the simulator (`tacit simulate`, `tacit sweep`,
// `tacit central`) share: the model, the devices' local training, the server
// optimizer, differential privacy, the update codec and secure aggregation.
//
// Each group of settings is a struct whose field tags are its keys: yaml and
// toml in the simulator's --config files, json in its summary.json.
// Defaults holds every group's defaults (Deployed a real deployment's).
// Each group has
//
//   - Bind, which defines the group's flags on a flag.FlagSet, writing
//     straight into the group's fields, with their current values as the
//     defaults --help shows;
//   - Validate, which reports the first nonsense value;
//   - Config, which turns the group into the configuration of the package
//     that runs it: model.Config, model.LocalConfig,
//     aggregate.OptimizerConfig, or the round machine's *round.DPConfig,
//     *round.CodecConfig and *round.SecAggConfig (nil when the group is off).
//
// Federated gathers the groups. simulate.Config embeds it, so its file keys
// stay flat; the coordinator binds the same Federated, so a setting's key,
// flag, help text and default are each written once, here. What only one
// command has (round timing, the coordinator's privacy budget and SecAgg
// phase window, the simulator's target ε) stays with that command and is
// passed to Config where a group needs it. The coordinator starts from
// Deployed, the simulator from Defaults; no command overrides a default
// beyond that.
//
// The package sits above the round machine and the model: it imports them,
// never the other way round, and never the wire package (proto).
package settings

import (
	"errors"
	"flag"

	"github.com/tacitfl/tacit/model"
	"github.com/tacitfl/tacit/privacy"
)

// Federated is every setting a coordinator and a simulation share. The
// groups are embedded, so their fields and file keys are flat.
type Federated struct {
	Model             `yaml:",inline"`
	Local             `yaml:",inline"`
	Optimizer         `yaml:",inline"`
	Privacy           `yaml:",inline"`
	Quantization      `yaml:",inline"`
	SecureAggregation `yaml:",inline"`
}

// Defaults are the settings of a run that changes nothing: the model's
// hyperparameters chosen by measurement (model.DefaultConfig), FedAdam on
// the server, and no differential privacy, quantization or SecAgg.
func Defaults() Federated {
	mc := model.DefaultConfig()
	return Federated{
		Model: Model{Factors: mc.Factors, Alpha: mc.Alpha, NegWeight: mc.NegWeight, UserReg: mc.UserReg, ItemReg: mc.ItemReg,
			RecencyHalfLife: mc.RecencyHalfLife, RecencyFloor: mc.RecencyFloor},
		Local: Local{LocalEpochs: 1, ClientLR: 0.1},
		Optimizer: Optimizer{ServerOptimizer: "fedadam", ServerLR: 0.01, ServerMomentum: 0.9,
			ServerBeta1: 0.9, ServerBeta2: 0.99, ServerTau: 1e-3},
		Privacy:           Privacy{ClipNorm: 1, Delta: 1e-5, Accountant: privacy.AccountantRDP},
		Quantization:      Quantization{QuantNorm: 10},
		SecureAggregation: SecureAggregation{SecAggAdversary: 0.05, SecAggDropout: 0.1},
	}
}

// Deployed are the defaults of a real deployment (`tacit coordinator`):
// Defaults with secure aggregation of 16-bit rotated updates, so that no
// device's update is seen alone unless the operator turns it off
// (--secagg=false --quant-bits 0). A simulation's devices are virtual and
// keep Defaults.
func Deployed() Federated {
	f := Defaults()
	f.SecAgg, f.QuantBits, f.Rotate = true, 16, true
	return f
}

// Bind defines every group's flags on fs.
func (f *Federated) Bind(fs *flag.FlagSet) {
	f.Model.Bind(fs)
	f.Local.Bind(fs)
	f.Optimizer.Bind(fs)
	f.Privacy.Bind(fs)
	f.Quantization.Bind(fs)
	f.SecureAggregation.Bind(fs)
}

// Validate reports the first nonsense value of any group, or of groups
// that do not fit together.
func (f Federated) Validate() error {
	for _, v := range []interface{ Validate() error }{f.Model, f.Local, f.Optimizer, f.Privacy, f.Quantization, f.SecureAggregation} {
		if err := v.Validate(); err != nil {
			return err
		}
	}
	switch {
	case f.DP == DPDistributed && !f.SecAgg:
		return errors.New("distributed DP needs --secagg")
	case f.SecAgg && f.QuantBits == 0:
		return errors.New("secure aggregation needs quantized updates (--quant-bits)")
	}
	return nil
}
