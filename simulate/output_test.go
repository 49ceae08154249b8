package simulate

import (
	"bufio"
	"encoding/json"
	"image/png"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/tacitfl/tacit/coordinator/round"
)

func TestOutputDirWritesRoundsSummaryAndPlot(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nested", "run")
	out, err := NewOutputDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	loss := 2.5
	rounds := []Round{
		{Round: 1, Committed: true, Opened: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC), Seconds: 0.1, Selected: 10, CheckedIn: 10, Reports: 9,
			Stages: []round.Stage{{Name: "selected", Devices: 10}, {Name: "checked-in", Devices: 10}, {Name: "reported", Devices: 9}}, TrainLoss: &loss},
		evaluatedRound(2, 0.05, 0.025),
	}
	for _, r := range rounds {
		out.Round(r)
	}

	// Rounds are on disk before Finish, so a killed run keeps them.
	if got := readRounds(t, filepath.Join(dir, RoundsFile)); !reflect.DeepEqual(got, rounds) {
		t.Errorf("rounds.jsonl before Finish: got %+v, want %+v", got, rounds)
	}

	want := Summary{Command: "simulate", Data: "synthetic", Rounds: 2, HR: 0.05, NDCG: 0.025, Config: DefaultConfig()}
	if err := out.Finish(want); err != nil {
		t.Fatal(err)
	}
	var got Summary
	b, err := os.ReadFile(filepath.Join(dir, SummaryFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("summary: got %+v, want %+v", got, want)
	}
	f, err := os.Open(filepath.Join(dir, PlotFile))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := png.Decode(f); err != nil {
		t.Errorf("plot: %v", err)
	}
	assertOnlyFiles(t, dir, RoundsFile, SummaryFile, PlotFile)
}

func TestOutputDirWithoutEvaluationSkipsPlot(t *testing.T) {
	dir := t.TempDir()
	out, err := NewOutputDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	out.Round(Round{Round: 1})
	if err := out.Finish(Summary{Command: "simulate"}); err != nil {
		t.Fatal(err)
	}
	assertOnlyFiles(t, dir, RoundsFile, SummaryFile)
}

func TestOutputDirReportsWriteError(t *testing.T) {
	out, err := NewOutputDir(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	out.rounds.Close() // every later write fails
	out.Round(Round{Round: 1})
	if err := out.Finish(Summary{}); err == nil {
		t.Error("Finish returned no error after a failed write")
	}
}

func TestNewOutputDirOnAFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := NewOutputDir(file); err == nil {
		t.Error("no error for a directory that is a file")
	}
}

func TestMultiObserverCallsEachInOrder(t *testing.T) {
	var got []string
	record := func(name string) Observer {
		return ObserverFunc(func(r Round) { got = append(got, name) })
	}
	MultiObserver{record("a"), record("b")}.Round(Round{Round: 1})
	if want := []string{"a", "b"}; !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func readRounds(t *testing.T, path string) []Round {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rounds []Round
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r Round
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		rounds = append(rounds, r)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return rounds
}

func assertOnlyFiles(t *testing.T, dir string, names ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	slices.Sort(names)
	if !reflect.DeepEqual(got, names) {
		t.Errorf("%s holds %v, want %v", dir, got, names)
	}
}
