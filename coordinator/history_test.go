package coordinator

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tacitfl/tacit/aggregate"
	"github.com/tacitfl/tacit/coordinator/round"
	"github.com/tacitfl/tacit/internal/jsonl"
)

// historyRig is a coordinator's Service over a checkpoint file and a
// history beside it, restarted at will as RunProcess restarts.
type historyRig struct {
	t     *testing.T
	state string
	clock *fakeClock
	s     *Service
}

func newHistoryRig(t *testing.T) *historyRig {
	r := &historyRig{t: t, state: filepath.Join(t.TempDir(), "coordinator.ckpt"), clock: &fakeClock{t: epoch}}
	r.restart()
	return r
}

// restart stops the Service (every commit is already on disk) and starts
// a new one from the checkpoint and the history.
func (r *historyRig) restart() {
	r.t.Helper()
	ckpt := FileCheckpointer{Path: r.state}
	snap, err := ckpt.Load()
	if errors.Is(err, os.ErrNotExist) {
		snap, err = round.Snapshot{Params: []float32{0, 0}, SelectionKey: [32]byte{1}}, nil
	}
	if err != nil {
		r.t.Fatal(err)
	}
	hist, recent, err := LoadHistory(HistoryPath(r.state), snap.Round, historyLen, nil)
	if err != nil {
		r.t.Fatal(err)
	}
	opt, _ := aggregate.NewOptimizer(aggregate.OptimizerConfig{Name: "fedavg"})
	m, err := round.NewMachine(round.DefaultConfig(), round.Parts{Population: []string{"a", "b"}, Snapshot: snap, Optimizer: opt}, r.clock.t)
	if err != nil {
		r.t.Fatal(err)
	}
	r.s = NewService(m, ServiceOptions{Now: r.clock.now, Checkpointer: ckpt, History: hist, Recent: recent})
}

// commit runs the current round to a commit.
func (r *historyRig) commit() {
	r.t.Helper()
	n := r.s.Status().Round
	for _, d := range []string{"a", "b"} {
		r.clock.t = r.clock.t.Add(time.Second)
		if res, err := r.s.CheckIn(d, -1); err != nil || res.Plan == nil {
			r.t.Fatalf("round %d, %s: %+v %v", n, d, res, err)
		}
	}
	for _, d := range []string{"a", "b"} {
		if err := r.s.Report(d, round.Report{Round: n, Update: []float32{1, 1}, Weight: 1}); err != nil {
			r.t.Fatalf("round %d, %s: %v", n, d, err)
		}
	}
}

// abandon lets the current round's selection time out with nobody in it.
func (r *historyRig) abandon() {
	r.clock.t = r.clock.t.Add(round.DefaultConfig().SelectionTimeout + time.Second)
	r.s.Tick()
}

// rounds are the rounds the history file holds and the ones /status
// shows, oldest first, and whether each committed.
func (r *historyRig) rounds() (file, status string) {
	r.t.Helper()
	recs, torn, err := ReadRounds(HistoryPath(r.state))
	if err != nil || torn != nil {
		r.t.Fatalf("%v, torn %v", err, torn)
	}
	show := func(recs []RoundRecord) string {
		var b strings.Builder
		for _, rec := range recs {
			fmt.Fprintf(&b, "%d%s ", rec.Round, map[bool]string{true: "c", false: "a"}[rec.Committed])
		}
		return strings.TrimSpace(b.String())
	}
	recent := r.s.Status().Recent
	slices.Reverse(recent)
	return show(recs), show(recent)
}

// TestHistoryKeepsEveryRoundAcrossRestarts: the history file and /status
// hold every round once, in order, across restarts. A round abandoned
// after the last commit is run again under its number by the restarted
// coordinator, so its record from before is cut off.
func TestHistoryKeepsEveryRoundAcrossRestarts(t *testing.T) {
	r := newHistoryRig(t)
	r.commit()  // round 1
	r.abandon() // 2
	r.commit()  // 3
	if file, status := r.rounds(); file != "1c 2a 3c" || status != file {
		t.Fatalf("before a restart: file %q, /status %q", file, status)
	}
	r.restart()
	if file, status := r.rounds(); file != "1c 2a 3c" || status != file {
		t.Fatalf("after a restart: file %q, /status %q", file, status)
	}
	r.abandon() // 4, past the checkpoint
	r.restart()
	if file, status := r.rounds(); file != "1c 2a 3c" || status != file {
		t.Fatalf("after a restart past an abandoned round: file %q, /status %q", file, status)
	}
	r.commit() // 4 again
	r.commit() // 5
	r.restart()
	if file, status := r.rounds(); file != "1c 2a 3c 4c 5c" || status != file {
		t.Fatalf("file %q, /status %q", file, status)
	}
	recent := r.s.Status().Recent
	if rec := recent[0]; rec.Round != 5 || rec.Reports != 2 || rec.Selected != 2 || len(rec.Stages) != 3 || rec.Opened.IsZero() {
		t.Fatalf("round 5's record after a restart: %+v", rec)
	}
}

// TestStatusShowsTheLastRoundsOfALongHistory: a restart reads only the
// end of a long history, and /status shows its last historyLen rounds.
func TestStatusShowsTheLastRoundsOfALongHistory(t *testing.T) {
	r := newHistoryRig(t)
	for range historyLen + 20 {
		r.commit()
	}
	r.restart()
	recent := r.s.Status().Recent
	if len(recent) != historyLen || recent[0].Round != historyLen+20 || recent[historyLen-1].Round != 21 {
		t.Fatalf("%d recent rounds, from %d to %d", len(recent), recent[len(recent)-1].Round, recent[0].Round)
	}
	// A hundred rounds abandoned after the last commit hide the committed
	// ones from the end of the file: all cut off, /status still shows the
	// last historyLen that remain.
	for range 100 {
		r.abandon()
	}
	r.restart()
	recent = r.s.Status().Recent
	if len(recent) != historyLen || recent[0].Round != historyLen+20 || !recent[0].Committed {
		t.Fatalf("%d recent rounds, the newest %+v", len(recent), recent[0])
	}
	if recs, _, _ := ReadRounds(HistoryPath(r.state)); len(recs) != historyLen+20 {
		t.Fatalf("%d records in the file, want %d", len(recs), historyLen+20)
	}
}

func TestHistoryRepairsATornLastLine(t *testing.T) {
	r := newHistoryRig(t)
	r.commit()
	r.commit()
	path := HistoryPath(r.state)
	whole, _ := os.ReadFile(path)
	if err := os.WriteFile(path, append(slices.Clone(whole), whole[:30]...), 0o644); err != nil {
		t.Fatal(err)
	}
	// A report reads past it, changing nothing.
	if recs, torn, err := ReadRounds(path); err != nil || torn == nil || len(recs) != 2 {
		t.Fatalf("ReadRounds: %d records, torn %v, %v", len(recs), torn, err)
	}
	r.restart()
	if got, _ := os.ReadFile(path); string(got) != string(whole) {
		t.Fatalf("after the repair the file holds\n%s\nwant\n%s", got, whole)
	}
	r.commit()
	if file, status := r.rounds(); file != "1c 2c 3c" || status != file {
		t.Fatalf("file %q, /status %q", file, status)
	}
}

// TestDamagedHistoryIsRefused: a history that is not one is refused with
// an error naming the file and the damage, and left as it is.
func TestDamagedHistoryIsRefused(t *testing.T) {
	r := newHistoryRig(t)
	r.commit()
	r.commit()
	path := HistoryPath(r.state)
	whole, _ := os.ReadFile(path)
	lines := strings.SplitAfter(string(whole), "\n")
	for name, tc := range map[string]struct{ content, want string }{
		"garbage before the last line": {"not a record\n" + string(whole), "rounds.jsonl:1: damaged"},
		"rounds out of order":          {lines[1] + lines[0], "damaged: round 1 after round 2, out of order"},
		"a round twice":                {lines[0] + lines[0], "round 1 after round 1"},
		"a line of a megabyte":         {strings.Repeat("x", 1<<20) + "\n" + string(whole), "damaged: a line longer than 65536 bytes"},
		"ten megabytes and no newline": {string(whole) + strings.Repeat("\x00", 10<<20), fmt.Sprintf("damaged: its last %d lines are not all within 65536 bytes", historyLen)},
	} {
		if err := os.WriteFile(path, []byte(tc.content), 0o644); err != nil {
			t.Fatal(err)
		}
		_, _, err := LoadHistory(path, 2, historyLen, nil)
		if !errors.Is(err, jsonl.ErrDamaged) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), tc.want) ||
			!strings.Contains(err.Error(), "move it aside") {
			t.Errorf("%s: %v, want %q", name, err, tc.want)
		}
		if got, _ := os.ReadFile(path); string(got) != tc.content {
			t.Errorf("%s: the refused file was changed", name)
		}
	}
}

type memHistory struct {
	recs []RoundRecord
	fail bool
}

func (h *memHistory) Append(r RoundRecord) error {
	if h.fail {
		return errors.New("disk full")
	}
	h.recs = append(h.recs, r)
	return nil
}

// TestHistoryFollowsTheCheckpoint: a round whose checkpoint failed has no
// record, and a history that cannot be written does not stop training.
func TestHistoryFollowsTheCheckpoint(t *testing.T) {
	run := func(ckpt *memCheckpoints, hist *memHistory) *Service {
		s, _ := newTestService(t, ckpt, prometheus.NewRegistry(), 1)
		s.record = hist
		for r := int64(1); r <= 2; r++ {
			s.CheckIn("a", -1)
			s.CheckIn("b", -1)
			s.Report("a", round.Report{Round: r, Update: []float32{1, 1}, Weight: 1})
			s.Report("b", round.Report{Round: r, Update: []float32{1, 1}, Weight: 1})
		}
		return s
	}
	hist := &memHistory{}
	if run(&memCheckpoints{fail: true}, hist); len(hist.recs) != 0 {
		t.Fatalf("%d records of rounds whose checkpoint failed", len(hist.recs))
	}
	ckpt := &memCheckpoints{}
	s := run(ckpt, &memHistory{fail: true})
	if s.Err() != nil || len(ckpt.saved) != 2 || len(s.Status().Recent) != 2 {
		t.Fatalf("with a failing history: %v, %d checkpoints", s.Err(), len(ckpt.saved))
	}
}

// TestHistoryAppendLeavesNoTornLine: an append that fails leaves the file
// as it was.
func TestHistoryAppendLeavesNoTornLine(t *testing.T) {
	dir := t.TempDir()
	h, _, err := LoadHistory(filepath.Join(dir, "missing", "h.rounds.jsonl"), 0, 10, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.Append(RoundRecord{Round: 1}); err == nil || !strings.Contains(err.Error(), "recording round 1") {
		t.Fatalf("append into a missing directory: %v", err)
	}
	if err := os.Mkdir(filepath.Join(dir, "missing"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := h.Append(RoundRecord{Round: 1}); err != nil {
		t.Fatal(err)
	}
	if recs, torn, err := ReadRounds(h.Path()); err != nil || torn != nil || len(recs) != 1 {
		t.Fatalf("%+v %v %v", recs, torn, err)
	}
}

func TestDroppedFromStages(t *testing.T) {
	for _, tc := range []struct {
		r    RoundRecord
		want int
	}{
		{RoundRecord{Selected: 10, Reports: 7, Stages: []round.Stage{{Name: "selected", Devices: 10}, {Name: "checked-in", Devices: 9}, {Name: "reported", Devices: 7}}}, 3},
		{RoundRecord{Selected: 10, Reports: 8, Stages: []round.Stage{{Name: "selected", Devices: 10}, {Name: "checked-in", Devices: 9}, {Name: "advertise-keys", Devices: 9}, {Name: "masked-input", Devices: 8}, {Name: "unmask", Devices: 6}}}, 4},
		{RoundRecord{Selected: 10, Reports: 6}, 4},
		{RoundRecord{Reports: 300}, 0}, // the central twin's iterations: nobody selected
	} {
		if got := tc.r.Dropped(); got != tc.want {
			t.Errorf("%+v: dropped %d, want %d", tc.r, got, tc.want)
		}
	}
}
