package main

import (
	"flag"
	"fmt"
	"strconv"
	"strings"

	"github.com/tacitfl/tacit/aggregate"
	"github.com/tacitfl/tacit/simulate"
)

const dataSpecHelp = "data set `spec`: a ratings file (MovieLens ratings.csv or u.data, or user,item,timestamp[,weight] CSV),\nsynthetic:users=N,items=M, or empty for the embedded ml-latest-small"

// experimentFlags are the flags of simulate and central besides the
// configuration itself.
type experimentFlags struct {
	config string
	out    string
	quiet  bool
	twin   bool // simulate only: train the central twin too and compare
}

// bindExperiment defines on fs the flags of an experiment, writing into cfg
// and ef, with cfg's values as defaults. The central twin gets only the
// flags that mean something to it, and --iterations in place of --rounds.
func bindExperiment(fs *flag.FlagSet, cfg *simulate.Config, ef *experimentFlags, central bool) {
	fs.StringVar(&ef.config, "config", "", "read settings from this YAML (.yaml, .yml) or TOML (.toml) `file`; flags given override it")
	fs.StringVar(&ef.out, "out", "", "write rounds.jsonl, summary.json and hr_ndcg.png into this `dir`ectory (created if needed)")
	fs.BoolVar(&ef.quiet, "quiet", false, "print no per-round table, only the final metrics")

	fs.StringVar(&cfg.Data, "data", cfg.Data, dataSpecHelp)
	fs.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "random seed; the same seed gives the same model")
	fs.IntVar(&cfg.EvalEvery, "eval-every", cfg.EvalEvery, "evaluate every `n` rounds (ALS iterations for central) and the last; 0 evaluates only the last")
	fs.IntVar(&cfg.EvalUsers, "eval-users", cfg.EvalUsers, "evaluate a seeded sample of `n` people; 0 evaluates everyone")
	fs.IntVar(&cfg.Workers, "workers", cfg.Workers, "parallel workers; 0 uses every core")

	bindModel(fs, cfg)

	if central {
		fs.IntVar(&cfg.ALSIterations, "iterations", cfg.ALSIterations, "ALS iterations")
		return
	}
	fs.BoolVar(&ef.twin, "twin", false, "also train the central twin on the same split and print both results side by side")
	fs.IntVar(&cfg.Rounds, "rounds", cfg.Rounds, "federated rounds")
	fs.StringVar(&cfg.Transport, "transport", cfg.Transport, "how devices reach the coordinator: memory, or quic (a real QUIC server on loopback); both give the same model")
	fs.StringVar(&cfg.HTTP, "http", cfg.HTTP, "serve the coordinator's status page, /status and /metrics on this `address` while running (e.g. 127.0.0.1:7080)")
	fs.IntVar(&cfg.ClientsPerRound, "clients-per-round", cfg.ClientsPerRound, "devices selected each round; 0 selects everyone")
	fs.StringVar(&cfg.DP, "dp", cfg.DP, "differential privacy: central (the coordinator adds the noise), distributed (the devices add discrete Gaussian noise; needs --secagg), or empty for none")
	fs.IntVar(&cfg.QuantBits, "quant-bits", cfg.QuantBits, "quantize each update to `b` bits a value (2-24) in a range shared by the round; 0 sends float32")
	fs.IntVar(&cfg.DownBits, "down-bits", cfg.DownBits, "quantize the model devices download to `b` bits a value (2-24); 0 sends float32")
	fs.BoolVar(&cfg.Rotate, "rotate", cfg.Rotate, "with --quant-bits: a seeded randomized Hadamard rotation first, inverted on the aggregate")
	fs.Float64Var(&cfg.QuantNorm, "quant-norm", cfg.QuantNorm, "with --quant-bits and no DP: devices clip updates to this L2 norm, which the quantization range is set for (DP uses --clip)")
	fs.BoolVar(&cfg.SecAgg, "secagg", cfg.SecAgg, "secure aggregation (SecAgg+) of every round, run for every virtual device; needs --quant-bits")
	fs.Float64Var(&cfg.SecAggAdversary, "secagg-adversary", cfg.SecAggAdversary, "with --secagg: the fraction of devices that may collude with the coordinator (sizes the neighbour graph)")
	fs.Float64Var(&cfg.SecAggDropout, "secagg-dropout", cfg.SecAggDropout, "with --secagg: the fraction of devices that may drop out (sizes the neighbour graph and, with distributed DP, the survivors the noise is calibrated for)")
	fs.Float64Var(&cfg.NoiseMultiplier, "noise", cfg.NoiseMultiplier, "noise multiplier z: N(0, (z·C)²) on each round's sum (with --dp)")
	fs.Var(clipFlag{cfg}, "clip", "L2 norm C each device's update is clipped to, or adaptive: from 0.1 toward the median norm (with --dp)")
	fs.Float64Var(&cfg.Delta, "delta", cfg.Delta, "δ of the (ε, δ) guarantee (with --dp)")
	fs.Float64Var(&cfg.TargetEpsilon, "target-epsilon", cfg.TargetEpsilon, "calibrate the noise so the whole run spends at most this ε (with --dp), and stop training rather than exceed it")
	fs.StringVar(&cfg.Accountant, "accountant", cfg.Accountant, "accountant of ε (with --dp): rdp, or pld (tighter, so less noise for a target ε)")
	fs.Float64Var(&cfg.Dropout, "dropout", cfg.Dropout, "probability that a selected device never reports, in [0, 1)")
	bindTraining(fs, cfg)
}

// parseExperiment parses args into cfg and ef. A --config file is applied
// first, then every flag given on the command line again, so flags win.
func parseExperiment(fs *flag.FlagSet, cfg *simulate.Config, ef *experimentFlags, args []string) error {
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if ef.config == "" {
		return nil
	}
	given := map[string]string{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = f.Value.String() })
	if err := simulate.LoadConfigFile(ef.config, cfg); err != nil {
		return usageError{err: err}
	}
	for name, value := range given {
		if err := fs.Set(name, value); err != nil {
			return usageError{err: err}
		}
	}
	return nil
}

// bindModel defines the model's flags: its shape and objective.
func bindModel(fs *flag.FlagSet, cfg *simulate.Config) {
	fs.IntVar(&cfg.Factors, "factors", cfg.Factors, "length of the item and person vectors")
	fs.Float64Var(&cfg.Alpha, "alpha", cfg.Alpha, "confidence of a positive is 1+alpha")
	fs.Float64Var(&cfg.NegWeight, "neg-weight", cfg.NegWeight, "confidence of each item a person did not touch")
	fs.Float64Var(&cfg.UserReg, "user-reg", cfg.UserReg, "L2 regularisation of a person's vector")
	fs.Float64Var(&cfg.ItemReg, "item-reg", cfg.ItemReg, "L2 regularisation of the shared item factors and biases")
	fs.Float64Var(&cfg.RecencyHalfLife, "recency-half-life", cfg.RecencyHalfLife, "a positive's confidence above the floor halves every `n` later interactions; 0 weighs all alike")
	fs.Float64Var(&cfg.RecencyFloor, "recency-floor", cfg.RecencyFloor, "share of alpha that an arbitrarily old positive keeps, in [0, 1]")
}

// bindTraining defines the flags of training on the devices and of the
// server optimizer.
func bindTraining(fs *flag.FlagSet, cfg *simulate.Config) {
	fs.IntVar(&cfg.LocalEpochs, "local-epochs", cfg.LocalEpochs, "training passes over its data on each device per round")
	fs.Float64Var(&cfg.ClientLR, "client-lr", cfg.ClientLR, "learning rate on the devices")
	fs.StringVar(&cfg.ServerOptimizer, "server-optimizer", cfg.ServerOptimizer, "server optimizer: "+strings.Join(aggregate.OptimizerNames(), ", "))
	fs.Float64Var(&cfg.ServerLR, "server-lr", cfg.ServerLR, "server learning rate")
	fs.Float64Var(&cfg.ServerMomentum, "server-momentum", cfg.ServerMomentum, "server momentum (fedavgm)")
	fs.Float64Var(&cfg.ServerBeta1, "server-beta1", cfg.ServerBeta1, "first-moment decay (fedadam, fedyogi)")
	fs.Float64Var(&cfg.ServerBeta2, "server-beta2", cfg.ServerBeta2, "second-moment decay (fedadam, fedyogi)")
	fs.Float64Var(&cfg.ServerTau, "server-tau", cfg.ServerTau, "adaptivity ε of the adaptive optimizers (fedadagrad, fedadam, fedyogi)")
}

// clipFlag is --clip: a norm, or "adaptive".
type clipFlag struct{ cfg *simulate.Config }

func (f clipFlag) String() string {
	if f.cfg == nil {
		return ""
	}
	if f.cfg.AdaptiveClip {
		return "adaptive"
	}
	return strconv.FormatFloat(f.cfg.ClipNorm, 'g', -1, 64)
}

func (f clipFlag) Set(s string) error {
	if s == "adaptive" {
		f.cfg.AdaptiveClip, f.cfg.ClipNorm = true, 0.1 // Andrew et al.'s initial norm
		return nil
	}
	c, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return fmt.Errorf("want a number or adaptive, got %q", s)
	}
	f.cfg.AdaptiveClip, f.cfg.ClipNorm = false, c
	return nil
}
