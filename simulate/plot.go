package simulate

import (
	"errors"
	"fmt"
	"image/color"
	"io"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
)

// PlotHRNDCG draws HR@10 and NDCG@10 against the round, from the rounds that
// were evaluated, and writes the chart to w as a PNG. s names the data set
// and the kind of run.
func PlotHRNDCG(w io.Writer, s Summary, rounds []Round) error {
	c := qualityChart(rounds, stepName(s.Command))
	if c.Points() == 0 {
		return errors.New("no evaluated rounds to plot")
	}
	c.Title += ", full ranking"
	if s.Data != "" {
		c.Title = s.Data + ": " + c.Title
	}
	return c.WritePNG(w)
}

// Chart is one plot of a run's rounds over its rounds: lines, or points,
// of one quantity or a few alike.
type Chart struct {
	Name           string // a short name, for files: "devices", "seconds", "quality", "loss", "epsilon"
	Title          string
	XLabel, YLabel string
	Series         []Series
}

// Series is one line of a chart, or its scattered points.
type Series struct {
	Name    string
	Points  plotter.XYs
	Scatter bool // points alone, no line
}

// Points counts the chart's points over all its series.
func (c Chart) Points() int {
	n := 0
	for _, s := range c.Series {
		n += len(s.Points)
	}
	return n
}

// MaxChartPoints bounds the points of a series: a longer one (a history of
// many thousand rounds) keeps every k-th and its last.
const MaxChartPoints = 2000

// Charts are the plots of rounds that have something to show, in order:
// the devices at the end of each stage and the dropouts, each round's
// duration, HR@10 and NDCG@10, the training loss, and the ε spent. step
// names a round on the x axis ("round", or "ALS iteration").
func Charts(rounds []Round, step string) []Chart {
	var out []Chart
	for _, c := range []Chart{devicesChart(rounds, step), secondsChart(rounds, step), qualityChart(rounds, step),
		lossChart(rounds, step), epsilonChart(rounds, step)} {
		if c.Points() > 0 {
			out = append(out, c)
		}
	}
	return out
}

// stepName is what a round is called in a run of command.
func stepName(command string) string {
	if command == "central" {
		return "ALS iteration"
	}
	return "round"
}

// series is the points of rounds that have a value, thinned to
// MaxChartPoints.
func series(name string, rounds []Round, value func(Round) (float64, bool)) Series {
	var pts plotter.XYs
	for _, r := range rounds {
		if y, ok := value(r); ok {
			pts = append(pts, plotter.XY{X: float64(r.Round), Y: y})
		}
	}
	if k := (len(pts) + MaxChartPoints - 1) / MaxChartPoints; k > 1 {
		thin := make(plotter.XYs, 0, MaxChartPoints+1)
		for i := 0; i < len(pts); i += k {
			thin = append(thin, pts[i])
		}
		if thin[len(thin)-1] != pts[len(pts)-1] {
			thin = append(thin, pts[len(pts)-1])
		}
		pts = thin
	}
	return Series{Name: name, Points: pts}
}

func nonEmpty(ss ...Series) []Series {
	var out []Series
	for _, s := range ss {
		if len(s.Points) > 0 {
			out = append(out, s)
		}
	}
	return out
}

func ptr(v *float64) (float64, bool) {
	if v == nil {
		return 0, false
	}
	return *v, true
}

// devicesChart has a line per stage, in the order the rounds pass them,
// and the dropouts; rounds without stages (the central twin's) show their
// reports.
func devicesChart(rounds []Round, step string) Chart {
	c := Chart{Name: "devices", Title: "Devices at the end of each stage", XLabel: step, YLabel: "devices"}
	var names []string
	seen := map[string]bool{}
	selected := false
	for _, r := range rounds {
		for _, s := range r.Stages {
			if !seen[s.Name] {
				seen[s.Name] = true
				names = append(names, s.Name)
			}
		}
		selected = selected || r.Selected > 0
	}
	for _, name := range names {
		c.Series = append(c.Series, series(name, rounds, func(r Round) (float64, bool) {
			for _, s := range r.Stages {
				if s.Name == name {
					return float64(s.Devices), true
				}
			}
			return 0, false
		}))
	}
	if len(names) == 0 {
		c.Series = append(c.Series, series("reports", rounds, func(r Round) (float64, bool) { return float64(r.Reports), r.Reports > 0 }))
	}
	if selected {
		c.Series = append(c.Series, series("dropped", rounds, func(r Round) (float64, bool) { return float64(r.Dropped()), true }))
	}
	c.Series = nonEmpty(c.Series...)
	return c
}

// secondsChart is each round's duration, the abandoned rounds marked.
func secondsChart(rounds []Round, step string) Chart {
	all := series("seconds", rounds, func(r Round) (float64, bool) { return r.Seconds, true })
	abandoned := series("abandoned", rounds, func(r Round) (float64, bool) { return r.Seconds, !r.Committed })
	abandoned.Scatter = true
	return Chart{Name: "seconds", Title: "Duration of each " + step, XLabel: step, YLabel: "seconds",
		Series: nonEmpty(all, abandoned)}
}

// qualityChart is HR@10 and NDCG@10 on the evaluated rounds.
func qualityChart(rounds []Round, step string) Chart {
	return Chart{Name: "quality", Title: "HR@10 and NDCG@10", XLabel: step, YLabel: "mean over people",
		Series: nonEmpty(
			series("HR@10", rounds, func(r Round) (float64, bool) { return ptr(r.HR) }),
			series("NDCG@10", rounds, func(r Round) (float64, bool) { return ptr(r.NDCG) }))}
}

// lossChart is the mean training loss, on rounds with enough reports.
func lossChart(rounds []Round, step string) Chart {
	return Chart{Name: "loss", Title: "Mean training loss", XLabel: step, YLabel: "loss before the local step",
		Series: nonEmpty(series("train loss", rounds, func(r Round) (float64, bool) { return ptr(r.TrainLoss) }))}
}

// epsilonChart is the ε spent in all after each committed private round,
// in its two figures (against the coordinator only where it is bounded).
func epsilonChart(rounds []Round, step string) Chart {
	delta := ""
	for _, r := range rounds {
		if r.PrivacyReport != nil {
			delta = fmt.Sprintf(" at δ = %g", r.Delta)
		}
	}
	return Chart{Name: "epsilon", Title: "ε spent" + delta, XLabel: step, YLabel: "ε",
		Series: nonEmpty(
			series("against observers", rounds, func(r Round) (float64, bool) {
				if r.PrivacyReport == nil {
					return 0, false
				}
				return r.AgainstObservers, true
			}),
			series("against the coordinator", rounds, func(r Round) (float64, bool) {
				if r.PrivacyReport == nil {
					return 0, false
				}
				return ptr(r.AgainstCoordinator)
			}))}
}

// WritePNG renders the chart as a PNG, at the size every chart of a run
// uses.
func (c Chart) WritePNG(w io.Writer) error {
	p := plot.New()
	p.Title.Text = c.Title
	p.X.Label.Text = c.XLabel
	p.Y.Label.Text = c.YLabel
	p.Y.Min = 0
	p.Add(plotter.NewGrid())
	p.Legend.Top, p.Legend.Left = true, true // rising lines leave it free
	dense := false
	top := 0.0
	for _, s := range c.Series {
		dense = dense || len(s.Points) > 60
		for _, pt := range s.Points {
			top = max(top, pt.Y)
		}
	}
	// Headroom above the lines for the legend, a line of it per series.
	if top > 0 {
		p.Y.Max = top / max(0.4, 1-0.055*float64(len(c.Series))-0.03)
	}
	for i, s := range c.Series {
		clr := plotutil.Color(i)
		if s.Scatter {
			sc, err := plotter.NewScatter(s.Points)
			if err != nil {
				return err
			}
			sc.GlyphStyle = draw.GlyphStyle{Color: color.RGBA{R: 0xd0, A: 0xff}, Radius: vg.Points(3), Shape: draw.CrossGlyph{}}
			p.Add(sc)
			p.Legend.Add(s.Name, sc)
			continue
		}
		l, pts, err := plotter.NewLinePoints(s.Points)
		if err != nil {
			return err
		}
		l.Color, l.Dashes = clr, plotutil.Dashes(i)
		pts.Color, pts.Shape = clr, plotutil.Shape(i)
		if dense {
			p.Add(l)
			p.Legend.Add(s.Name, l)
		} else {
			p.Add(l, pts)
			p.Legend.Add(s.Name, l, pts)
		}
	}
	return writePNG(w, p)
}

// writePNG renders p at the size every chart of a run uses.
func writePNG(w io.Writer, p *plot.Plot) error {
	wt, err := p.WriterTo(16*vg.Centimeter, 10*vg.Centimeter, "png")
	if err != nil {
		return err
	}
	_, err = wt.WriteTo(w)
	return err
}
