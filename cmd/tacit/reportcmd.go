package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/tacitfl/tacit/coordinator"
	"github.com/tacitfl/tacit/internal/atomicfile"
	"github.com/tacitfl/tacit/simulate"
)

var reportCommand = command{
	summary: "render a run's summary and plots (a simulation's --out directory or a coordinator's history) as HTML",
	help: func(w io.Writer) {
		fmt.Fprint(w, `usage: tacit report [flags] RUN

Renders the record of a run as one self-contained HTML file: its summary
(configuration, final HR@10 and NDCG@10, ε, rounds committed and abandoned)
and plots over its rounds (devices by stage and dropouts, duration, HR@10
and NDCG@10, training loss, ε spent), each also written as a PNG beside it.
Prints a one-line summary, or with --json one JSON object.

RUN is a simulation's --out directory (rounds.jsonl, and summary.json once
the run finished; a central run's too), or a coordinator's history: its
STATE.rounds.jsonl file, or the directory that holds it. The HTML goes to
RUN/report.html (beside the file for a history) unless --out says where.
The files are only read: a torn last line, a write in progress or cut by a
crash, is skipped.
`)
		printFlags(w, (&reportFlags{}).flagSet())
	},
	run: runReport,
}

type reportFlags struct {
	out  string
	png  bool
	json bool
}

func (o *reportFlags) flagSet() *flag.FlagSet {
	fs := newFlagSet("report")
	fs.StringVar(&o.out, "out", "", "HTML `file` to write; default RUN/report.html")
	fs.BoolVar(&o.png, "png", true, "also write each plot as a PNG beside the HTML (NAME-devices.png, ...)")
	fs.BoolVar(&o.json, "json", false, "print one JSON object instead of a line")
	return fs
}

// runRecord is a run's record on disk: its rounds and, for a simulation,
// its summary.
type runRecord struct {
	kind    string // "simulate", "central" or "coordinator"
	rounds  string // the rounds file
	dir     string // where the report goes by default
	summary *simulate.Summary
}

// locateRun finds the record of a run at path: a directory or a rounds
// file.
func locateRun(path string) (runRecord, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return runRecord{}, err
	}
	run := runRecord{kind: "coordinator", rounds: path, dir: filepath.Dir(path)}
	if fi.IsDir() {
		run.dir = path
		run.rounds = filepath.Join(path, simulate.RoundsFile)
		if _, err := os.Stat(run.rounds); errors.Is(err, fs.ErrNotExist) {
			histories, _ := filepath.Glob(filepath.Join(path, "*"+coordinator.HistorySuffix))
			switch len(histories) {
			case 0:
				return runRecord{}, fmt.Errorf("%s holds no record of rounds: want a simulation's %s (tacit simulate --out) or a coordinator's history, STATE%s",
					path, simulate.RoundsFile, coordinator.HistorySuffix)
			case 1:
				run.rounds = histories[0]
			default:
				return runRecord{}, fmt.Errorf("%s holds %d coordinators' histories (%s, ...): name one", path, len(histories), filepath.Base(histories[0]))
			}
		}
	} else if !fi.Mode().IsRegular() {
		return runRecord{}, fmt.Errorf("%s is not a file of rounds", path)
	}
	if filepath.Base(run.rounds) != simulate.RoundsFile {
		return run, nil
	}
	run.kind = "simulate"
	b, err := os.ReadFile(filepath.Join(filepath.Dir(run.rounds), simulate.SummaryFile))
	switch {
	case errors.Is(err, fs.ErrNotExist): // a run stopped before it finished
	case err != nil:
		return runRecord{}, err
	default:
		var s simulate.Summary
		if err := json.Unmarshal(b, &s); err != nil {
			return runRecord{}, fmt.Errorf("%s: %w", filepath.Join(filepath.Dir(run.rounds), simulate.SummaryFile), err)
		}
		run.summary = &s
		if s.Command == "central" {
			run.kind = "central"
		}
	}
	return run, nil
}

// reportSummary is what tacit report prints with --json.
type reportSummary struct {
	Kind       string   `json:"kind"` // "simulate", "central" or "coordinator"
	Rounds     string   `json:"rounds_file"`
	HTML       string   `json:"html"`
	PNG        []string `json:"png,omitempty"`
	Data       string   `json:"data,omitempty"`
	Count      int      `json:"rounds"`
	FirstRound int64    `json:"first_round"`
	LastRound  int64    `json:"last_round"`
	Committed  int      `json:"committed"`
	Abandoned  int      `json:"abandoned"`
	// HR and NDCG are the final ones: a simulation's summary's (full
	// ranking), else the last evaluated round's.
	HR        *float64 `json:"hr_at_10"`
	NDCG      *float64 `json:"ndcg_at_10"`
	HRRound   int64    `json:"evaluated_round,omitempty"`
	Finished  bool     `json:"finished"` // a simulation's summary is there
	TornLast  bool     `json:"torn_last_line,omitempty"`
	Dropouts  int      `json:"dropouts"`
	Seconds   float64  `json:"seconds"` // the rounds' durations added up
	PlotCount int      `json:"plots"`
	// Privacy is the ε spent in all: the summary's, else the last private
	// round's; null without differential privacy.
	Privacy *coordinator.PrivacyReport `json:"privacy"`
}

func runReport(args []string, stdout, stderr io.Writer) error {
	o := &reportFlags{}
	fs := o.flagSet()
	// RUN may come before flags or after them.
	parse := func(args []string) error {
		err := fs.Parse(args)
		if err != nil && !errors.Is(err, flag.ErrHelp) {
			err = usageError{err: err, hint: true}
		}
		return err
	}
	if err := parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return usageError{err: errors.New("name the run: a simulation's --out directory or a coordinator's history"), hint: true}
	}
	path := fs.Arg(0)
	if err := parseFlags(fs, fs.Args()[1:]); err != nil {
		return err
	}
	run, err := locateRun(path)
	if err != nil {
		return usageError{err: err}
	}
	rounds, torn, err := coordinator.ReadRounds(run.rounds)
	if err != nil {
		return usageError{err: err}
	}
	if len(rounds) == 0 {
		return usageError{err: fmt.Errorf("%s holds no rounds", run.rounds)}
	}
	html := o.out
	if html == "" {
		html = filepath.Join(run.dir, "report.html")
	}
	sum := summarize(run, rounds, torn != nil)
	sum.HTML = html
	step := "round"
	if run.kind == "central" {
		step = "ALS iteration"
	}
	charts := simulate.Charts(rounds, step)
	sum.PlotCount = len(charts)
	pngs := make([][]byte, len(charts))
	for i, c := range charts {
		var buf bytes.Buffer
		if err := c.WritePNG(&buf); err != nil {
			return fmt.Errorf("plotting %s: %w", c.Name, err)
		}
		pngs[i] = buf.Bytes()
	}
	if err := atomicfile.Write(html, func(w io.Writer) error { return writeReportHTML(w, run, sum, charts, pngs) }); err != nil {
		return usageError{err: err}
	}
	if o.png {
		stem := strings.TrimSuffix(html, filepath.Ext(html))
		for i, c := range charts {
			name := stem + "-" + c.Name + ".png"
			if err := atomicfile.Write(name, func(w io.Writer) error { _, err := w.Write(pngs[i]); return err }); err != nil {
				return usageError{err: err}
			}
			sum.PNG = append(sum.PNG, name)
		}
	}
	if o.json {
		b, err := json.Marshal(sum)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s\n", b)
		return nil
	}
	fmt.Fprintln(stdout, summaryLine(sum))
	return nil
}

// summarize adds up a run's rounds and takes its final figures.
func summarize(run runRecord, rounds []coordinator.RoundRecord, torn bool) reportSummary {
	s := reportSummary{Kind: run.kind, Rounds: run.rounds, Count: len(rounds), FirstRound: rounds[0].Round,
		LastRound: rounds[len(rounds)-1].Round, TornLast: torn, Finished: run.summary != nil}
	for _, r := range rounds {
		if r.Committed {
			s.Committed++
		} else {
			s.Abandoned++
		}
		s.Dropouts += r.Dropped()
		s.Seconds += r.Seconds
		if r.HR != nil && r.NDCG != nil {
			s.HR, s.NDCG, s.HRRound = r.HR, r.NDCG, r.Round
		}
		if r.PrivacyReport != nil {
			s.Privacy = r.PrivacyReport
		}
	}
	if sm := run.summary; sm != nil {
		s.Data = sm.Data
		s.HR, s.NDCG, s.HRRound = &sm.HR, &sm.NDCG, 0
		s.Privacy = sm.Privacy
	}
	return s
}

// summaryLine is the report in one line.
func summaryLine(s reportSummary) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %s, %d rounds (%d committed, %d abandoned)", s.HTML, s.Kind, s.Count, s.Committed, s.Abandoned)
	if s.HR != nil {
		fmt.Fprintf(&b, ", HR@10 %.4f, NDCG@10 %.4f", *s.HR, *s.NDCG)
	}
	if p := s.Privacy; p != nil {
		fmt.Fprintf(&b, ", ε %.4g against observers at δ = %g", p.AgainstObservers, p.Delta)
	}
	if s.TornLast {
		b.WriteString("; a torn last line skipped")
	}
	return b.String()
}

// reportRow is one line of the HTML summary table.
type reportRow struct{ Name, Value string }

// reportChart is one plot as the HTML shows it.
type reportChart struct {
	Name, Title, Points string
	PNG                 template.URL
}

func writeReportHTML(w io.Writer, run runRecord, s reportSummary, charts []simulate.Chart, pngs [][]byte) error {
	title := "Tacit " + s.Kind + " run"
	if s.Kind == "coordinator" {
		title = "Tacit coordinator history"
	}
	if s.Data != "" {
		title += ": " + s.Data
	}
	rows := []reportRow{
		{"record", s.Rounds},
		{"rounds", fmt.Sprintf("%d, rounds %d to %d", s.Count, s.FirstRound, s.LastRound)},
		{"committed", fmt.Sprint(s.Committed)},
		{"abandoned", fmt.Sprint(s.Abandoned)},
		{"dropouts", fmt.Sprintf("%d devices selected did not stay to their round's end", s.Dropouts)},
		{"time in rounds", fmt.Sprintf("%.1f s", s.Seconds)},
	}
	switch {
	case s.HR == nil:
		rows = append(rows, reportRow{"HR@10, NDCG@10", "no round was evaluated"})
	case s.HRRound == 0:
		rows = append(rows, reportRow{"final HR@10, NDCG@10", fmt.Sprintf("%.4f, %.4f (full ranking, %d people evaluated)", *s.HR, *s.NDCG, run.summary.EvaluatedUsers)},
			reportRow{"sampled HR@10, NDCG@10", fmt.Sprintf("%.4f, %.4f", run.summary.SampledHR, run.summary.SampledNDCG)})
	default:
		how := "the simulator's, full ranking"
		if s.Kind == "coordinator" {
			how = "the devices' federated evaluation"
		}
		rows = append(rows, reportRow{"last HR@10, NDCG@10", fmt.Sprintf("%.4f, %.4f (round %d, %s)", *s.HR, *s.NDCG, s.HRRound, how)})
	}
	if p := s.Privacy; p != nil {
		coord := "no bound (central DP: it sees the un-noised sum)"
		if p.AgainstCoordinator != nil {
			coord = fmt.Sprintf("%.4g", *p.AgainstCoordinator)
		}
		rows = append(rows, reportRow{"ε against observers of the model", fmt.Sprintf("%.4g", p.AgainstObservers)},
			reportRow{"ε against the coordinator", coord},
			reportRow{"δ, accountant", fmt.Sprintf("%g, %s", p.Delta, p.Accountant)})
	} else {
		rows = append(rows, reportRow{"privacy", "no differential privacy"})
	}
	var config []reportRow
	if sm := run.summary; sm != nil {
		rows = append(rows, reportRow{"wall time", fmt.Sprintf("%.1f s", sm.WallSeconds)})
		if sm.PrivacyAssumptions != "" {
			rows = append(rows, reportRow{"privacy assumptions", sm.PrivacyAssumptions})
		}
		if sm.Command == "simulate" {
			rows = append(rows, reportRow{"traffic", fmt.Sprintf("%d bytes up per update, %d bytes down per model", sm.UplinkBytesPerUpdate, sm.DownlinkBytesPerModel)})
		}
		var err error
		if config, err = configRows(sm.Config); err != nil {
			return err
		}
	}
	if !s.Finished && s.Kind != "coordinator" {
		rows = append(rows, reportRow{"summary", "none: the run stopped before it finished"})
	}
	if s.TornLast {
		rows = append(rows, reportRow{"note", "the last line was torn (a write in progress, or cut by a crash) and is not shown"})
	}
	var shown []reportChart
	for i, c := range charts {
		var pts []string
		for _, se := range c.Series {
			pts = append(pts, fmt.Sprintf("%s: %d", se.Name, len(se.Points)))
		}
		shown = append(shown, reportChart{Name: c.Name, Title: c.Title, Points: strings.Join(pts, ", "),
			PNG: template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(pngs[i]))})
	}
	return reportTemplate.Execute(w, map[string]any{"Title": title, "Rows": rows, "Config": config, "Charts": shown,
		"Generated": time.Now().UTC().Format(time.RFC3339), "Coordinator": s.Kind == "coordinator"})
}

// configRows are a configuration's settings, in the order summary.json
// lists them.
func configRows(cfg simulate.Config) ([]reportRow, error) {
	b, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if _, err := dec.Token(); err != nil { // {
		return nil, err
	}
	var rows []reportRow
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return nil, err
		}
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		rows = append(rows, reportRow{fmt.Sprint(key), strings.Trim(string(v), `"`)})
	}
	return rows, nil
}

var reportTemplate = template.Must(template.New("report").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 62em; padding: 0 1em; color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 2em; }
table { border-collapse: collapse; } td, th { padding: 0.25em 0.8em 0.25em 0; vertical-align: top; text-align: left; }
th { font-weight: 600; white-space: nowrap; }
figure { margin: 1.5em 0; } figure img { max-width: 100%; border: 1px solid #ddd; }
figcaption { color: #555; font-size: 0.9em; }
.config td { font-family: ui-monospace, monospace; font-size: 0.9em; }
footer { margin-top: 3em; color: #777; font-size: 0.85em; }
</style>
</head>
<body>
<h1>{{.Title}}</h1>
<h2>Summary</h2>
<table id="summary">
{{range .Rows}}<tr><th>{{.Name}}</th><td>{{.Value}}</td></tr>
{{end}}</table>
{{if .Config}}<h2>Configuration</h2>
<table class="config" id="config">
{{range .Config}}<tr><th>{{.Name}}</th><td>{{.Value}}</td></tr>
{{end}}</table>
{{else if .Coordinator}}<p>A coordinator's history records its rounds, not its flags: see how it was started for its configuration.</p>
{{end}}<h2>Over the rounds</h2>
{{range .Charts}}<figure id="{{.Name}}" data-points="{{.Points}}">
<img src="{{.PNG}}" alt="{{.Title}}">
<figcaption>{{.Title}}; points per line: {{.Points}}</figcaption>
</figure>
{{end}}<footer>Written by tacit report at {{.Generated}}.</footer>
</body>
</html>
`))
