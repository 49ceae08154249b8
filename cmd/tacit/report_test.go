package main

import (
	"encoding/base64"
	"encoding/json"
	"html"
	"image/png"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tacitfl/tacit/coordinator"
	"github.com/tacitfl/tacit/coordinator/round"
)

var (
	figureRE = regexp.MustCompile(`<figure id="(\w+)" data-points="([^"]*)">\s*<img src="data:image/png;base64,([^"]+)"`)
	externRE = regexp.MustCompile(`(?i)(src|href)="(https?:)?//`)
)

// reportCharts reads a report's HTML: the points of each line of each
// chart, which must be an embedded PNG, and nothing fetched from elsewhere.
func reportCharts(t *testing.T, path string) (page string, charts map[string]map[string]int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	page = string(b)
	if externRE.MatchString(page) || strings.Contains(page, "<script") {
		t.Fatalf("%s is not self-contained", path)
	}
	charts = map[string]map[string]int{}
	for _, m := range figureRE.FindAllStringSubmatch(page, -1) {
		raw, err := base64.StdEncoding.DecodeString(html.UnescapeString(m[3]))
		if err != nil {
			t.Fatalf("%s: %v", m[1], err)
		}
		if _, err := png.Decode(strings.NewReader(string(raw))); err != nil {
			t.Fatalf("%s: not a PNG: %v", m[1], err)
		}
		charts[m[1]] = map[string]int{}
		for _, line := range strings.Split(m[2], ", ") {
			name, n, _ := strings.Cut(line, ": ")
			charts[m[1]][name], _ = strconv.Atoi(n)
		}
	}
	if got := strings.Count(page, "<figure "); got != len(charts) {
		t.Fatalf("%d figures, %d of them read", got, len(charts))
	}
	return page, charts
}

// TestReportOfASimulation renders a small simulation's --out directory:
// every plot has a point per round that has its quantity.
func TestReportOfASimulation(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "run")
	args := append([]string{"simulate", "--rounds", "4", "--eval-every", "2", "--clients-per-round", "20", "--dropout", "0.2", "--quiet", "--out", dir}, tiny...)
	if status, _, stderr := runTacit(t, args...); status != 0 {
		t.Fatalf("simulate: status %d, %s", status, stderr)
	}
	status, stdout, stderr := runTacit(t, "report", dir)
	if status != 0 || stderr != "" {
		t.Fatalf("status %d, stderr %q", status, stderr)
	}
	html := filepath.Join(dir, "report.html")
	if want := html + ": simulate, 4 rounds (4 committed, 0 abandoned), HR@10 "; !strings.HasPrefix(stdout, want) || strings.Count(stdout, "\n") != 1 {
		t.Fatalf("stdout %q, want one line starting %q", stdout, want)
	}
	page, charts := reportCharts(t, html)
	want := map[string]map[string]int{
		"devices": {"selected": 4, "checked-in": 4, "reported": 4, "dropped": 4},
		"seconds": {"seconds": 4},
		"quality": {"HR@10": 2, "NDCG@10": 2},
		"loss":    {"train loss": 4},
	}
	if !reflect.DeepEqual(charts, want) {
		t.Fatalf("charts %v, want %v", charts, want)
	}
	for _, w := range []string{"synthetic:users=50,items=40", "clients_per_round", "no differential privacy", "full ranking"} {
		if !strings.Contains(page, w) {
			t.Errorf("the report lacks %q", w)
		}
	}
	for name := range want {
		if _, err := os.Stat(filepath.Join(dir, "report-"+name+".png")); err != nil {
			t.Error(err)
		}
	}

	// --json, flags after RUN, another place.
	out := filepath.Join(t.TempDir(), "elsewhere.html")
	status, stdout, stderr = runTacit(t, "report", dir, "--json", "--out", out, "--png=false")
	if status != 0 || stderr != "" {
		t.Fatalf("--json: status %d, stderr %q", status, stderr)
	}
	var s reportSummary
	if err := json.Unmarshal([]byte(stdout), &s); err != nil || strings.Count(stdout, "\n") != 1 {
		t.Fatalf("--json printed %q: %v", stdout, err)
	}
	if s.Kind != "simulate" || s.Count != 4 || s.Committed != 4 || s.HTML != out || s.HR == nil || !s.Finished || s.PlotCount != 4 || s.PNG != nil || s.Privacy != nil {
		t.Fatalf("--json: %+v", s)
	}
	if matches, _ := filepath.Glob(filepath.Join(filepath.Dir(out), "*.png")); len(matches) != 0 {
		t.Fatalf("--png=false wrote %v", matches)
	}
}

// writeHistory writes a coordinator's history of n rounds, the even ones
// abandoned, the committed ones private and every third evaluated, as the
// coordinator does.
func writeHistory(t *testing.T, path string, n int) {
	t.Helper()
	h, _, err := coordinator.LoadHistory(path, 0, 50, nil)
	if err != nil {
		t.Fatal(err)
	}
	opened := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for r := int64(1); r <= int64(n); r++ {
		o := round.Outcome{Round: r, Committed: r%2 == 1, Selected: 40, CheckedIn: 36, Reports: 30, Opened: opened, Ended: opened.Add(90 * time.Second),
			Stages: []round.Stage{{Name: "selected", Devices: 40}, {Name: "checked-in", Devices: 36}, {Name: "reported", Devices: 30}},
			Losses: 30, TrainLoss: 1 / float64(r), ClipNorm: 1, NoiseStd: 1, Epsilons: round.Epsilons{Observers: 0.1 * float64(r), Coordinator: 0.3 * float64(r)}}
		if !o.Committed {
			o.Reason, o.Reports, o.Stages[2].Devices = "too few reports", 3, 3
		}
		if r%3 == 0 {
			o.Evaluated, o.HR, o.NDCG = 30, 0.3, 0.15
		}
		rec := coordinator.NewRoundRecord(o, coordinator.NewPrivacyReport(o.Epsilons, 1e-6, "rdp"))
		if err := h.Append(rec); err != nil {
			t.Fatal(err)
		}
		opened = opened.Add(2 * time.Minute)
	}
}

// TestReportOfACoordinatorHistory renders a coordinator's history, named
// by its file or its directory.
func TestReportOfACoordinatorHistory(t *testing.T) {
	dir := t.TempDir()
	path := coordinator.HistoryPath(filepath.Join(dir, "coordinator.ckpt"))
	writeHistory(t, path, 9)
	for _, arg := range []string{path, dir} {
		status, stdout, stderr := runTacit(t, "report", arg)
		if status != 0 || stderr != "" {
			t.Fatalf("%s: status %d, stderr %q", arg, status, stderr)
		}
		want := filepath.Join(dir, "report.html") + ": coordinator, 9 rounds (5 committed, 4 abandoned), HR@10 0.3000, NDCG@10 0.1500, ε 0.9 against observers at δ = 1e-06\n"
		if stdout != want {
			t.Fatalf("%s: stdout %q, want %q", arg, stdout, want)
		}
		page, charts := reportCharts(t, filepath.Join(dir, "report.html"))
		wantCharts := map[string]map[string]int{
			"devices": {"selected": 9, "checked-in": 9, "reported": 9, "dropped": 9},
			"seconds": {"seconds": 9, "abandoned": 4},
			"quality": {"HR@10": 3, "NDCG@10": 3},
			"loss":    {"train loss": 9},
			"epsilon": {"against observers": 5, "against the coordinator": 5},
		}
		if !reflect.DeepEqual(charts, wantCharts) {
			t.Fatalf("%s: charts %v, want %v", arg, charts, wantCharts)
		}
		for _, w := range []string{"coordinator history", "federated evaluation", "ε against the coordinator", "2.7"} {
			if !strings.Contains(page, w) {
				t.Errorf("the report lacks %q", w)
			}
		}
	}
	// A torn last line, a write in progress, is skipped and said to be.
	f, _ := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	f.WriteString(`{"round":10,"comm`)
	f.Close()
	status, stdout, _ := runTacit(t, "report", "--json", path)
	var s reportSummary
	if err := json.Unmarshal([]byte(stdout), &s); status != 0 || err != nil || s.Count != 9 || !s.TornLast || s.Kind != "coordinator" {
		t.Fatalf("status %d, %+v, %v", status, s, err)
	}
}

func TestReportBadInputs(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := `{"round":1,"committed":true,"opened":"2026-01-01T00:00:00Z","seconds":1,"selected":2,"checked_in":2,"reports":2}` + "\n"
	damaged := write("damaged/rounds.jsonl", "not json\n"+good)
	write("empty/rounds.jsonl", "")
	write("badsummary/rounds.jsonl", good)
	write("badsummary/summary.json", "{")
	write("two/a.ckpt.rounds.jsonl", good)
	write("two/b.ckpt.rounds.jsonl", good)
	write("order/x.rounds.jsonl", good+good)
	single := write("good/x.rounds.jsonl", good)
	os.Mkdir(filepath.Join(dir, "none"), 0o755)
	for _, tc := range []struct {
		args    []string
		problem string
	}{
		{[]string{"report"}, "name the run"},
		{[]string{"report", filepath.Join(dir, "missing")}, "no such file or directory"},
		{[]string{"report", filepath.Join(dir, "none")}, "holds no record of rounds"},
		{[]string{"report", filepath.Join(dir, "damaged")}, damaged + ":1: damaged"},
		{[]string{"report", filepath.Join(dir, "empty")}, "holds no rounds"},
		{[]string{"report", filepath.Join(dir, "badsummary")}, "summary.json: unexpected end of JSON input"},
		{[]string{"report", filepath.Join(dir, "two")}, "holds 2 coordinators' histories"},
		{[]string{"report", filepath.Join(dir, "order")}, "round 1 after round 1, out of order"},
		{[]string{"report", filepath.Join(dir, "order"), "extra"}, `unexpected argument "extra"`},
		{[]string{"report", "--nope", dir}, "flag provided but not defined: -nope"},
		{[]string{"report", single, "--out", filepath.Join(dir, "no", "such", "r.html")}, "no such file or directory"},
	} {
		wantUsageError(t, tc.args, "tacit report", tc.problem)
	}
}
