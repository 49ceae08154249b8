package simulate

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/tacitfl/tacit/internal/atomicfile"
)

// The files an output directory holds.
const (
	RoundsFile  = "rounds.jsonl"
	SummaryFile = "summary.json"
	PlotFile    = "hr_ndcg.png"
)

// OutputDir is an Observer that records a run in a directory: RoundsFile
// grows by one JSON line per round as the run goes, so a stopped or crashed
// run keeps its history; Finish adds SummaryFile and PlotFile.
type OutputDir struct {
	dir       string
	rounds    *os.File
	evaluated []Round // the rounds that carry metrics, for the plot
	err       error   // the first error writing RoundsFile
}

// NewOutputDir creates dir if needed and starts a fresh RoundsFile in it.
func NewOutputDir(dir string) (*OutputDir, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	f, err := os.Create(filepath.Join(dir, RoundsFile))
	if err != nil {
		return nil, err
	}
	return &OutputDir{dir: dir, rounds: f}, nil
}

// Dir is the directory the files go to.
func (o *OutputDir) Dir() string { return o.dir }

// Round appends r to RoundsFile. An error is kept for Finish to return; the
// run goes on.
func (o *OutputDir) Round(r Round) {
	if r.HR != nil && r.NDCG != nil {
		o.evaluated = append(o.evaluated, r)
	}
	if o.err != nil {
		return
	}
	line, err := json.Marshal(r)
	if err == nil {
		_, err = o.rounds.Write(append(line, '\n'))
	}
	if err != nil {
		o.err = fmt.Errorf("writing %s: %w", o.rounds.Name(), err)
	}
}

// Finish closes RoundsFile and writes SummaryFile and, if any round was
// evaluated, PlotFile. It returns the first error met, here or in Round.
func (o *OutputDir) Finish(s Summary) error {
	err := o.err
	keep := func(e error) {
		if err == nil {
			err = e
		}
	}
	keep(o.rounds.Close())
	keep(atomicfile.Write(filepath.Join(o.dir, SummaryFile), func(w io.Writer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(s)
	}))
	if len(o.evaluated) > 0 {
		keep(atomicfile.Write(filepath.Join(o.dir, PlotFile), func(w io.Writer) error {
			return PlotHRNDCG(w, s, o.evaluated)
		}))
	}
	return err
}

// MultiObserver passes each round to every observer in order.
type MultiObserver []Observer

// Round implements Observer.
func (m MultiObserver) Round(r Round) {
	for _, o := range m {
		o.Round(r)
	}
}

// ObserverFunc adapts a function to an Observer.
type ObserverFunc func(Round)

// Round implements Observer.
func (f ObserverFunc) Round(r Round) { f(r) }
