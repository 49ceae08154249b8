package simulate

import (
	"bytes"
	"image/png"
	"reflect"
	"strings"
	"testing"

	"github.com/tacitfl/tacit/coordinator"
	"github.com/tacitfl/tacit/coordinator/round"
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

// TestChartsOfARun: each chart has a point per round that has its
// quantity, and charts with none are left out.
func TestChartsOfARun(t *testing.T) {
	f := func(v float64) *float64 { return &v }
	plain := []round.Stage{{Name: "selected", Devices: 10}, {Name: "checked-in", Devices: 9}, {Name: "reported", Devices: 8}}
	rounds := []Round{
		{Round: 1, Committed: true, Selected: 10, Reports: 8, Stages: plain, TrainLoss: f(2), Seconds: 1},
		{Round: 2, Selected: 10, Stages: plain[:2], Seconds: 3},
		{Round: 3, Committed: true, Selected: 10, Reports: 8, Stages: plain, TrainLoss: f(1.5), HR: f(0.2), NDCG: f(0.1), Seconds: 1},
	}
	got := map[string]map[string]int{}
	for _, c := range Charts(rounds, "round") {
		got[c.Name] = map[string]int{}
		for _, s := range c.Series {
			got[c.Name][s.Name] = len(s.Points)
		}
		var buf bytes.Buffer
		if err := c.WritePNG(&buf); err != nil {
			t.Fatal(err)
		}
		if _, err := png.Decode(&buf); err != nil {
			t.Fatalf("%s: %v", c.Name, err)
		}
	}
	want := map[string]map[string]int{
		"devices": {"selected": 3, "checked-in": 3, "reported": 2, "dropped": 3},
		"seconds": {"seconds": 3, "abandoned": 1},
		"quality": {"HR@10": 1, "NDCG@10": 1},
		"loss":    {"train loss": 2},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("charts %v, want %v", got, want)
	}
	// A private run's ε; a central run's reports.
	priv := &coordinator.PrivacyReport{AgainstObservers: 1, Delta: 1e-5, Accountant: "rdp"}
	rounds = []Round{{Round: 1, Committed: true, Reports: 300, PrivacyReport: priv}, {Round: 2, Committed: true, Reports: 300, PrivacyReport: priv}}
	for _, c := range Charts(rounds, "ALS iteration") {
		if c.Name == "devices" && (len(c.Series) != 1 || c.Series[0].Name != "reports") || c.XLabel != "ALS iteration" {
			t.Fatalf("%+v", c)
		}
		if c.Name == "epsilon" && (len(c.Series) != 1 || len(c.Series[0].Points) != 2 || !strings.Contains(c.Title, "1e-05")) {
			t.Fatalf("%+v", c)
		}
	}
}

// TestChartsThinLongHistories: a series keeps at most about MaxChartPoints
// points, its last among them.
func TestChartsThinLongHistories(t *testing.T) {
	rounds := make([]Round, 3*MaxChartPoints+7)
	for i := range rounds {
		rounds[i] = Round{Round: int64(i + 1), Seconds: float64(i)}
	}
	s := secondsChart(rounds, "round").Series[0]
	if n := len(s.Points); n > MaxChartPoints+1 || n < MaxChartPoints/2 || s.Points[n-1].X != float64(len(rounds)) {
		t.Fatalf("%d points, the last at %v", n, s.Points[n-1].X)
	}
}
