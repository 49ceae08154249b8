package simulate

import (
	"bytes"
	"image/png"
	"testing"
)

func evaluatedRound(n int, hr, ndcg float64) Round {
	return Round{Round: int64(n), Reports: 10, HR: &hr, NDCG: &ndcg}
}

func TestPlotHRNDCGWritesPNG(t *testing.T) {
	for _, command := range []string{"simulate", "central"} {
		rounds := []Round{
			evaluatedRound(1, 0.01, 0.005),
			{Round: 2, Reports: 10}, // not evaluated: skipped
			evaluatedRound(3, 0.04, 0.02),
		}
		var buf bytes.Buffer
		if err := PlotHRNDCG(&buf, Summary{Command: command, Data: "synthetic"}, rounds); err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(&buf)
		if err != nil {
			t.Fatalf("%s: not a PNG: %v", command, err)
		}
		if b := img.Bounds(); b.Dx() < 100 || b.Dy() < 100 {
			t.Errorf("%s: image is only %v", command, b)
		}
	}
}

func TestPlotHRNDCGOneRound(t *testing.T) {
	var buf bytes.Buffer
	if err := PlotHRNDCG(&buf, Summary{}, []Round{evaluatedRound(5, 0.1, 0.05)}); err != nil {
		t.Fatal(err)
	}
	if _, err := png.Decode(&buf); err != nil {
		t.Fatal(err)
	}
}

func TestPlotHRNDCGNoEvaluatedRounds(t *testing.T) {
	for _, rounds := range [][]Round{nil, {{Round: 1}, {Round: 2}}} {
		var buf bytes.Buffer
		if err := PlotHRNDCG(&buf, Summary{}, rounds); err == nil {
			t.Errorf("no error for %d unevaluated rounds", len(rounds))
		}
		if buf.Len() != 0 {
			t.Errorf("wrote %d bytes", buf.Len())
		}
	}
}
