package simulate

import (
	"errors"
	"io"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
)

// PlotHRNDCG draws HR@10 and NDCG@10 against the round, from the rounds that
// were evaluated, and writes the chart to w as a PNG. s names the data set
// and the kind of run.
func PlotHRNDCG(w io.Writer, s Summary, rounds []Round) error {
	var hr, ndcg plotter.XYs
	for _, r := range rounds {
		if r.HR != nil && r.NDCG != nil {
			hr = append(hr, plotter.XY{X: float64(r.Round), Y: *r.HR})
			ndcg = append(ndcg, plotter.XY{X: float64(r.Round), Y: *r.NDCG})
		}
	}
	if len(hr) == 0 {
		return errors.New("no evaluated rounds to plot")
	}

	p := plot.New()
	p.Title.Text = "HR@10 and NDCG@10, full ranking"
	if s.Data != "" {
		p.Title.Text = s.Data + ": " + p.Title.Text
	}
	p.X.Label.Text = "round"
	if s.Command == "central" {
		p.X.Label.Text = "ALS iteration"
	}
	p.Y.Label.Text = "mean over people"
	p.Y.Min = 0
	p.Add(plotter.NewGrid())
	if err := plotutil.AddLinePoints(p, "HR@10", hr, "NDCG@10", ndcg); err != nil {
		return err
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
