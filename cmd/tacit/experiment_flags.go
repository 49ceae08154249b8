package main

import (
	"flag"

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
// flags that mean something to it, and --iterations in place of --rounds;
// a federated run gets every shared setting (settings.Federated), as the
// coordinator does.
func bindExperiment(fs *flag.FlagSet, cfg *simulate.Config, ef *experimentFlags, central bool) {
	fs.StringVar(&ef.config, "config", "", "read settings from this YAML (.yaml, .yml) or TOML (.toml) `file`; flags given override it")
	fs.StringVar(&ef.out, "out", "", "write rounds.jsonl, summary.json and hr_ndcg.png into this `dir`ectory (created if needed)")
	fs.BoolVar(&ef.quiet, "quiet", false, "print no per-round table, only the final metrics")

	fs.StringVar(&cfg.Data, "data", cfg.Data, dataSpecHelp)
	fs.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "random seed; the same seed gives the same model")
	fs.IntVar(&cfg.EvalEvery, "eval-every", cfg.EvalEvery, "evaluate every `n` rounds (ALS iterations for central) and the last; 0 evaluates only the last")
	fs.IntVar(&cfg.EvalUsers, "eval-users", cfg.EvalUsers, "evaluate a seeded sample of `n` people; 0 evaluates everyone")
	fs.IntVar(&cfg.Workers, "workers", cfg.Workers, "parallel workers; 0 uses every core")

	if central {
		cfg.Model.Bind(fs)
		fs.IntVar(&cfg.ALSIterations, "iterations", cfg.ALSIterations, "ALS iterations")
		return
	}
	fs.BoolVar(&ef.twin, "twin", false, "also train the central twin on the same split and print both results side by side")
	fs.IntVar(&cfg.Rounds, "rounds", cfg.Rounds, "federated rounds")
	fs.StringVar(&cfg.Transport, "transport", cfg.Transport, "how devices reach the coordinator: memory, or quic (a real QUIC server on loopback); both give the same model")
	fs.StringVar(&cfg.HTTP, "http", cfg.HTTP, "serve the coordinator's status page, /status and /metrics on this `address` while running (e.g. 127.0.0.1:7080)")
	fs.IntVar(&cfg.ClientsPerRound, "clients-per-round", cfg.ClientsPerRound, "devices selected each round; 0 selects everyone")
	fs.Float64Var(&cfg.Dropout, "dropout", cfg.Dropout, "probability that a selected device never reports, in [0, 1)")
	fs.Float64Var(&cfg.TargetEpsilon, "target-epsilon", cfg.TargetEpsilon, "calibrate the noise so the whole run spends at most this ε (with --dp), and stop training rather than exceed it")
	cfg.Federated.Bind(fs)
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
