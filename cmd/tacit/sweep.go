package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/tacitfl/tacit/dataset"
	"github.com/tacitfl/tacit/simulate"
)

var sweepCommand = command{
	summary: "privacy–utility sweep: the same simulation without DP and at each target ε",
	help: func(w io.Writer) {
		fmt.Fprint(w, `usage: tacit sweep --epsilons 1,2,4,8 --out DIR [simulate flags]

Runs the simulation without differential privacy, then with central DP
calibrated to each target ε (at --delta), and writes sweep.md (a table),
sweep.csv and sweep.png (HR@10 and NDCG@10 against ε) into --out.
`)
		cfg := simulate.DefaultConfig()
		fs := newFlagSet("sweep")
		bindExperiment(fs, &cfg, &experimentFlags{}, false)
		fs.String("epsilons", "1,2,4,8", "target ε values, comma-separated")
		printFlags(w, fs)
	},
	run: runSweep,
}

func runSweep(args []string, stdout, stderr io.Writer) error {
	cfg := simulate.DefaultConfig()
	var ef experimentFlags
	fs := newFlagSet("sweep")
	bindExperiment(fs, &cfg, &ef, false)
	list := fs.String("epsilons", "1,2,4,8", "")
	if err := parseExperiment(fs, &cfg, &ef, args); err != nil {
		return err
	}
	if ef.out == "" {
		return usageError{err: errors.New("--out is required"), hint: true}
	}
	var epsilons []float64
	for _, f := range strings.Split(*list, ",") {
		e, err := strconv.ParseFloat(strings.TrimSpace(f), 64)
		if err != nil || !(e > 0) {
			return usageError{err: fmt.Errorf("--epsilons: %q is not a positive number", f)}
		}
		epsilons = append(epsilons, e)
	}
	if err := cfg.Validate(); err != nil {
		return usageError{err: err}
	}
	data, err := dataset.Open(cfg.Data)
	if err != nil {
		return usageError{err: err}
	}
	if err := os.MkdirAll(ef.out, 0o755); err != nil {
		return usageError{err: err}
	}
	ctx, stop := withSignals(context.Background())
	defer stop()
	points, err := simulate.Sweep(ctx, cfg, data, epsilons, func(p simulate.SweepPoint) {
		eps := "no DP"
		if p.Epsilon > 0 {
			eps = fmt.Sprintf("ε %g (noise multiplier %.3g)", p.Epsilon, p.Summary.NoiseMultiplier)
		}
		fmt.Fprintf(stdout, "%-32s HR@10 %.4f  NDCG@10 %.4f  (%.0f s)\n", eps, p.Summary.HR, p.Summary.NDCG, p.Summary.WallSeconds)
	})
	if err != nil {
		if ctx.Err() != nil {
			return context.Cause(ctx)
		}
		return err
	}
	if err := simulate.WriteSweep(ef.out, points); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "table, CSV and plot in %s\n", ef.out)
	return nil
}
