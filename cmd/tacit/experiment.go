package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"

	"github.com/tacitfl/tacit/dataset"
	"github.com/tacitfl/tacit/simulate"
)

// experiment is a command that trains a model on a data set and reports how
// well it recommends: simulate and central.
type experiment struct {
	name    string
	usage   string // what the help says it does
	central bool
	train   func(ctx context.Context, cfg simulate.Config, data *dataset.Log, obs simulate.Observer) (simulate.Summary, error)
	columns []column
}

var simulateCommand = experiment{
	name: "simulate",
	usage: `Simulates federated training on one machine: one virtual device per person
in the data set, a cohort of them training locally each round and the server
optimizer applying their mean update. Prints a table of the rounds and the
final HR@10 and NDCG@10 (full ranking, each person's latest interaction held
out). With --dp distributed the devices' noise is sized for the fewest
survivors a round accepts, 1 − 1.5 × --secagg-dropout of the expected
reports (at least half), less the --secagg-adversary share of the expected
reports that may collude, and accounted by RDP.`,
	train:   simulate.Run,
	columns: federatedColumns,
}.command("run a federated simulation on a data set and report HR@10 and NDCG@10")

var centralCommand = experiment{
	name: "central",
	usage: `Trains the same model on the same split centrally, by alternating least
squares over everyone's data pooled: the twin a federated run is measured
against. A --config file written for simulate works here too.`,
	central: true,
	train:   simulate.Central,
	columns: centralColumns,
}.command("train the federated model's central twin (ALS) for comparison")

func (e experiment) command(summary string) command {
	return command{summary: summary, help: e.help, run: e.run}
}

func (e experiment) help(w io.Writer) {
	fmt.Fprintf(w, "usage: tacit %s [flags]\n\n%s\n", e.name, e.usage)
	cfg := simulate.DefaultConfig()
	fs := newFlagSet(e.name)
	bindExperiment(fs, &cfg, &experimentFlags{}, e.central)
	printFlags(w, fs)
}

func (e experiment) run(args []string, stdout, stderr io.Writer) error {
	cfg := simulate.DefaultConfig()
	var ef experimentFlags
	fs := newFlagSet(e.name)
	bindExperiment(fs, &cfg, &ef, e.central)
	if err := parseExperiment(fs, &cfg, &ef, args); err != nil {
		return err
	}
	if err := cfg.Validate(); err != nil {
		return usageError{err: err}
	}
	data, err := dataset.Open(cfg.Data)
	if err != nil {
		return usageError{err: err}
	}

	var out *simulate.OutputDir
	if ef.out != "" {
		if out, err = simulate.NewOutputDir(ef.out); err != nil {
			return usageError{err: err}
		}
	}
	total := cfg.Rounds
	if e.central {
		total = cfg.ALSIterations
	}
	con := newConsole(stdout, stderr, e.columns, total, ef.quiet)
	rounds := 0
	obs := simulate.MultiObserver{con, simulate.ObserverFunc(func(simulate.Round) { rounds++ })}
	if out != nil {
		obs = append(obs, out)
	}

	if cfg.HTTP != "" && !e.central {
		fmt.Fprintf(stdout, "watch the coordinator at http://%s/ (status page), /status (JSON) and /metrics (Prometheus)\n", cfg.HTTP)
	}
	ctx, stop := withSignals(context.Background())
	defer stop()
	s, err := e.train(ctx, cfg, data, obs)
	con.done()
	if err != nil && !errors.Is(err, context.Canceled) {
		if rounds == 0 {
			// Before its first round a run only checks and prepares what it
			// was given, so a failure there is the configuration not fitting
			// the data (a cohort larger than the population, say).
			return usageError{err: err}
		}
		return err
	}
	// Stopped by a signal, a run still returns what its rounds achieved:
	// keep and show that.
	if out != nil {
		if err := out.Finish(s); err != nil {
			return err
		}
	}
	report(stdout, s, ef.out)
	if err != nil {
		return context.Cause(ctx)
	}
	if ef.twin {
		return runTwin(ctx, cfg, data, s, ef, stdout)
	}
	return nil
}

// runTwin trains the central twin of a finished simulation quietly and
// prints the two side by side; with --out its files go to OUT/central.
func runTwin(ctx context.Context, cfg simulate.Config, data *dataset.Log, fed simulate.Summary, ef experimentFlags, stdout io.Writer) error {
	fmt.Fprintf(stdout, "\ntraining the central twin (ALS, %d iterations) on the same split...\n", cfg.ALSIterations)
	var obs simulate.MultiObserver
	var out *simulate.OutputDir
	if ef.out != "" {
		var err error
		if out, err = simulate.NewOutputDir(filepath.Join(ef.out, "central")); err != nil {
			return err
		}
		obs = append(obs, out)
	}
	c, err := simulate.Central(ctx, cfg, data, obs)
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return context.Cause(ctx)
		}
		return err
	}
	if out != nil {
		if err := out.Finish(c); err != nil {
			return err
		}
	}
	compare(stdout, fed, c)
	return nil
}
