package simulate

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"

	"github.com/tacitfl/tacit/dataset"
	"github.com/tacitfl/tacit/internal/atomicfile"
	"github.com/tacitfl/tacit/settings"
)

// SweepPoint is one run of a privacy–utility sweep: Epsilon 0 is the
// non-private baseline.
type SweepPoint struct {
	Epsilon float64
	Summary Summary
}

// Sweep runs cfg without differential privacy, then with central DP
// calibrated to each target ε (ascending), and calls done after each run.
func Sweep(ctx context.Context, cfg Config, data *dataset.Log, epsilons []float64, done func(SweepPoint)) ([]SweepPoint, error) {
	targets := append([]float64{0}, slices.Sorted(slices.Values(epsilons))...)
	var points []SweepPoint
	for _, eps := range targets {
		if eps < 0 {
			return nil, fmt.Errorf("target ε must be positive, got %v", eps)
		}
		c := cfg
		c.DP, c.TargetEpsilon, c.NoiseMultiplier = "", 0, 0
		if eps > 0 {
			c.DP, c.TargetEpsilon = settings.DPCentral, eps
		}
		s, err := Run(ctx, c, data, nil)
		if err != nil {
			return points, fmt.Errorf("ε %v: %w", eps, err)
		}
		p := SweepPoint{Epsilon: eps, Summary: s}
		points = append(points, p)
		if done != nil {
			done(p)
		}
	}
	return points, nil
}

// WriteSweep writes sweep.md (a table), sweep.csv and sweep.png (HR@10 and
// NDCG@10 against ε, the non-private values as lines) into dir.
func WriteSweep(dir string, points []SweepPoint) error {
	if len(points) == 0 || points[0].Epsilon != 0 {
		return errors.New("a sweep starts with its non-private run")
	}
	base := points[0].Summary
	err := atomicfile.Write(filepath.Join(dir, "sweep.md"), func(w io.Writer) error {
		fmt.Fprintf(w, "| ε (δ %g) | noise multiplier | HR@10 | NDCG@10 | HR@10 / non-private |\n|---|---|---|---|---|\n", points[len(points)-1].Summary.Config.Delta)
		for _, p := range points {
			eps := "∞ (no DP)"
			if p.Epsilon > 0 {
				eps = fmt.Sprintf("%g", p.Epsilon)
			}
			fmt.Fprintf(w, "| %s | %.3g | %.4f | %.4f | %.2f |\n", eps, p.Summary.NoiseMultiplier, p.Summary.HR, p.Summary.NDCG, p.Summary.HR/base.HR)
		}
		return nil
	})
	if err != nil {
		return err
	}
	err = atomicfile.Write(filepath.Join(dir, "sweep.csv"), func(w io.Writer) error {
		fmt.Fprintln(w, "epsilon,delta,noise_multiplier,clip_norm,hr_at_10,ndcg_at_10,sampled_hr_at_10")
		for _, p := range points {
			fmt.Fprintf(w, "%g,%g,%g,%g,%g,%g,%g\n", p.Epsilon, p.Summary.Config.Delta, p.Summary.NoiseMultiplier, p.Summary.ClipNorm, p.Summary.HR, p.Summary.NDCG, p.Summary.SampledHR)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return atomicfile.Write(filepath.Join(dir, "sweep.png"), func(w io.Writer) error { return plotSweep(w, points) })
}

func plotSweep(w io.Writer, points []SweepPoint) error {
	var hr, ndcg, hr0, ndcg0 plotter.XYs
	base := points[0].Summary
	lo, hi := points[1].Epsilon, points[len(points)-1].Epsilon
	for _, p := range points[1:] {
		hr = append(hr, plotter.XY{X: p.Epsilon, Y: p.Summary.HR})
		ndcg = append(ndcg, plotter.XY{X: p.Epsilon, Y: p.Summary.NDCG})
	}
	hr0 = plotter.XYs{{X: lo, Y: base.HR}, {X: hi, Y: base.HR}}
	ndcg0 = plotter.XYs{{X: lo, Y: base.NDCG}, {X: hi, Y: base.NDCG}}
	p := plot.New()
	p.Title.Text = base.Data + ": utility against privacy"
	p.X.Label.Text = "ε (user level)"
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	p.Y.Label.Text = "mean over people"
	p.Y.Min = 0
	p.Add(plotter.NewGrid())
	if err := plotutil.AddLinePoints(p, "HR@10", hr, "NDCG@10", ndcg); err != nil {
		return err
	}
	if err := plotutil.AddLines(p, "HR@10 without DP", hr0, "NDCG@10 without DP", ndcg0); err != nil {
		return err
	}
	return writePNG(w, p)
}
