package main

import (
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/tacitfl/tacit/simulate"
)

// column is one column of the per-round table. Widths are fixed, wide
// enough for any value, so rows align as they come without buffering.
type column struct {
	head  string
	width int
	cell  func(r simulate.Round) string
}

var federatedColumns = []column{
	{"round", 5, func(r simulate.Round) string { return fmt.Sprint(r.Round) }},
	{"participants", 14, func(r simulate.Round) string { return fmt.Sprint(r.Reports) }},
	{"dropped", 9, func(r simulate.Round) string { return fmt.Sprint(r.Dropped()) }},
	{"loss", 12, func(r simulate.Round) string { return format(r.TrainLoss, "%.5g") }},
	{"seconds", 9, seconds},
	{"HR@10", 8, hr},
	{"NDCG@10", 9, ndcg},
}

var centralColumns = []column{
	{"iteration", 9, func(r simulate.Round) string { return fmt.Sprint(r.Round) }},
	{"seconds", 9, seconds},
	{"HR@10", 8, hr},
	{"NDCG@10", 9, ndcg},
}

func seconds(r simulate.Round) string { return fmt.Sprintf("%.2f", r.Seconds) }
func hr(r simulate.Round) string      { return metric(r.HR) }
func ndcg(r simulate.Round) string    { return metric(r.NDCG) }

func metric(v *float64) string { return format(v, "%.4f") }

// format is *v in verb's format, or "-" if v is absent.
func format(v *float64, verb string) string {
	if v == nil {
		return "-"
	}
	return fmt.Sprintf(verb, *v)
}

// table prints one right-aligned row per round, as the round comes. The
// header waits for the first row, so a run that fails to start prints none.
type table struct {
	w       io.Writer
	columns []column
	started bool
}

func (t *table) row(r simulate.Round) {
	if !t.started {
		t.line(func(c column) string { return c.head })
		t.started = true
	}
	t.line(func(c column) string { return c.cell(r) })
}

func (t *table) line(text func(column) string) {
	var b strings.Builder
	for _, c := range t.columns {
		fmt.Fprintf(&b, "%*s", c.width, text(c))
	}
	fmt.Fprintln(t.w, b.String())
}

// console is what a person watching the run sees: the table on stdout
// (unless quiet) and a progress bar on stderr when that is a terminal.
type console struct {
	table *table
	bar   *progressbar.ProgressBar
}

func newConsole(stdout, stderr io.Writer, columns []column, total int, quiet bool) *console {
	c := &console{bar: progressBar(stderr, total)}
	if !quiet {
		c.table = &table{w: stdout, columns: columns}
	}
	return c
}

// progressBar is a bar on stderr if it is a terminal, else nil.
func progressBar(stderr io.Writer, total int) *progressbar.ProgressBar {
	f, ok := stderr.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	return progressbar.NewOptions(total,
		progressbar.OptionSetWriter(f),
		progressbar.OptionShowCount(),
		progressbar.OptionSetWidth(30),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionSetRenderBlankState(true),
	)
}

// Round implements simulate.Observer. The bar is cleared around the row so
// the two do not mix when stdout and stderr are the same terminal.
func (c *console) Round(r simulate.Round) {
	if c.bar != nil {
		c.bar.Clear()
	}
	if c.table != nil {
		c.table.row(r)
	}
	if c.bar != nil {
		c.bar.Add(1)
	}
}

// done removes the bar before the final report.
func (c *console) done() {
	if c.bar != nil {
		c.bar.Clear()
	}
}
