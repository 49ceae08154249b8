package coordinator

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tacitfl/tacit/aggregate"
	"github.com/tacitfl/tacit/coordinator/round"
	"github.com/tacitfl/tacit/privacy"
)

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// serveHTTP serves s's HTTP endpoints for the test and returns a GET of a
// path that must answer 200.
func serveHTTP(t *testing.T, s *Service, reg *prometheus.Registry) func(path string) string {
	srv := httptest.NewServer(HTTPHandler(s, reg))
	t.Cleanup(srv.Close)
	return func(path string) string {
		t.Helper()
		resp, err := srv.Client().Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: status %d", path, resp.StatusCode)
		}
		return string(b)
	}
}

// fakeClock is a clock tests move by hand.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time { return c.t }

type memCheckpoints struct {
	saved []round.Snapshot
	fail  bool
}

func (c *memCheckpoints) Save(s round.Snapshot) error {
	if c.fail {
		return errors.New("disk full")
	}
	c.saved = append(c.saved, s)
	return nil
}

func newTestService(t *testing.T, ckpt Checkpointer, reg *prometheus.Registry, minMeans int) (*Service, *fakeClock) {
	t.Helper()
	clock := &fakeClock{t: epoch}
	opt, _ := aggregate.NewOptimizer(aggregate.OptimizerConfig{Name: "fedavg"})
	cfg := round.DefaultConfig()
	cfg.MinReportsForMeans = minMeans
	m, err := round.NewMachine(cfg, round.Parts{Population: []string{"a", "b"}, Snapshot: round.Snapshot{Params: []float32{0, 0}, SelectionKey: [32]byte{1}}, Optimizer: opt}, clock.t)
	if err != nil {
		t.Fatal(err)
	}
	return NewService(m, ServiceOptions{Now: clock.now, Checkpointer: ckpt, Metrics: NewMetrics(reg)}), clock
}

func TestServiceCheckpointsEveryCommitAndServesStatus(t *testing.T) {
	ckpt := &memCheckpoints{}
	reg := prometheus.NewRegistry()
	s, clock := newTestService(t, ckpt, reg, 1)
	for _, d := range []string{"a", "b"} {
		if res, err := s.CheckIn(d, -1); err != nil || res.Plan == nil {
			t.Fatalf("%s: %+v %v", d, res, err)
		}
	}
	clock.t = clock.t.Add(time.Second)
	s.Report("a", round.Report{Round: 1, Update: []float32{1, 1}, Weight: 1, Eval: &round.Evaluation{HR: 1, NDCG: 0.5}})
	if err := s.Report("a", round.Report{Round: 1, Update: []float32{1, 1}, Weight: 1}); err == nil {
		t.Fatal("duplicate accepted")
	}
	s.Report("b", round.Report{Round: 1, Update: []float32{3, 3}, Weight: 1})
	if len(ckpt.saved) != 1 || ckpt.saved[0].Round != 1 || ckpt.saved[0].Params[0] != 2 {
		t.Fatalf("checkpoints %+v, want round 1 with params [2 2]", ckpt.saved)
	}

	get := serveHTTP(t, s, reg)
	var st StatusReport
	if err := json.Unmarshal([]byte(get("/status")), &st); err != nil {
		t.Fatal(err)
	}
	if st.Round != 2 || st.ModelVersion != 1 || len(st.Recent) != 1 || !st.Recent[0].Committed || *st.Recent[0].HR != 1 {
		t.Fatalf("status %+v", st)
	}
	metrics := get("/metrics")
	for _, want := range []string{
		"tacit_rounds_committed_total 1", `tacit_reports_total{result="accepted"} 2`,
		`tacit_reports_total{result="duplicate"} 1`, `tacit_check_ins_total{result="accepted"} 2`,
		"tacit_model_version 1", "tacit_federated_hr_at_10 1",
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if get("/healthz") != "ok\n" || !strings.Contains(get("/"), "round 2, selecting:") {
		t.Fatal("health or status page wrong")
	}
}

// TestServiceStopsWhenACheckpointFails: round 1 is checkpointed, round 2's
// checkpoint fails. The Service stops: its driver is told (Done, Err), no
// event reaches the machine any more, and the model served stays version 1,
// the last one persisted; /status says why.
func TestServiceStopsWhenACheckpointFails(t *testing.T) {
	ckpt := &memCheckpoints{}
	s, _ := newTestService(t, ckpt, prometheus.NewRegistry(), 1)
	served := func() (version int64, params []float32) {
		s.Model(func(v int64, p []float32) { version, params = v, append(params, p...) })
		return
	}
	for r := int64(1); r <= 2; r++ {
		if r == 2 {
			ckpt.fail = true
		}
		s.CheckIn("a", -1)
		s.CheckIn("b", -1)
		s.Report("a", round.Report{Round: r, Update: []float32{1, 1}, Weight: 1})
		err := s.Report("b", round.Report{Round: r, Update: []float32{3, 3}, Weight: 1})
		if err != nil {
			t.Fatalf("round %d: %v", r, err)
		}
		if v, _ := served(); v != 1 {
			t.Fatalf("after round %d the model served is version %d, want 1 (the last persisted)", r, v)
		}
	}
	select {
	case <-s.Done():
	default:
		t.Fatal("Done is not closed after a failed checkpoint")
	}
	if err := s.Err(); !errors.Is(err, ErrStopped) || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("Err %v, want ErrStopped with the cause", err)
	}
	if _, err := s.CheckIn("a", 1); !errors.Is(err, ErrStopped) {
		t.Fatalf("check-in after the failure: %v", err)
	}
	if err := s.Report("a", round.Report{Round: 3, Update: []float32{1, 1}, Weight: 1}); !errors.Is(err, ErrStopped) {
		t.Fatalf("report after the failure: %v", err)
	}
	if _, _, err := s.SecAggFetch("a", 3, 1); !errors.Is(err, ErrStopped) {
		t.Fatalf("SecAgg fetch after the failure: %v", err)
	}
	s.Tick()
	if v, p := served(); v != 1 || p[0] != 2 || p[1] != 2 {
		t.Fatalf("model served %d %v, want version 1 [2 2]", v, p)
	}
	if st := s.Status(); st.ModelVersion != 1 || st.Phase != "stopped" || !strings.Contains(st.Stopped, "disk full") || len(st.Recent) != 1 {
		t.Fatalf("status %+v", st)
	}
	if len(ckpt.saved) != 1 {
		t.Fatalf("%d checkpoints, want 1", len(ckpt.saved))
	}
}

// TestServeStopsWhenTheServiceStops: the driver loop RunProcess uses ends
// serving when a checkpoint fails and returns the failure.
func TestServeStopsWhenTheServiceStops(t *testing.T) {
	ckpt := &memCheckpoints{fail: true}
	s, _ := newTestService(t, ckpt, prometheus.NewRegistry(), 1)
	err := serveUntilStopped(context.Background(), s, func(ctx context.Context) error {
		<-ctx.Done() // a server: it serves until told to stop
		return nil
	}, func() {
		s.CheckIn("a", -1)
		s.CheckIn("b", -1)
		s.Report("a", round.Report{Round: 1, Update: []float32{1, 1}, Weight: 1})
		s.Report("b", round.Report{Round: 1, Update: []float32{1, 1}, Weight: 1})
	})
	if !errors.Is(err, ErrStopped) {
		t.Fatalf("serve returned %v, want ErrStopped", err)
	}
	// Stopped by its context, it returns nothing.
	ctx, cancel := context.WithCancel(context.Background())
	s, _ = newTestService(t, &memCheckpoints{}, prometheus.NewRegistry(), 1)
	if err := serveUntilStopped(ctx, s, func(ctx context.Context) error { <-ctx.Done(); return nil }, cancel); err != nil {
		t.Fatal(err)
	}
}

// TestRestartFromCheckpointFile runs two rounds through a Service that
// checkpoints to a file, "crashes" mid-round 3, and resumes from the file:
// the model, version and optimizer state are the committed ones, and the
// interrupted round's report is not counted.
func TestRestartFromCheckpointFile(t *testing.T) {
	ckpt := FileCheckpointer{Path: t.TempDir() + "/ckpt"}
	clock := &fakeClock{t: epoch}
	start := func(snap round.Snapshot) *Service {
		opt, _ := aggregate.NewOptimizer(aggregate.OptimizerConfig{Name: "fedadam", LR: 0.1})
		m, err := round.NewMachine(round.DefaultConfig(), round.Parts{Population: []string{"a", "b"}, Snapshot: snap, Optimizer: opt}, clock.t)
		if err != nil {
			t.Fatal(err)
		}
		return NewService(m, ServiceOptions{Now: clock.now, Checkpointer: ckpt})
	}
	s := start(round.Snapshot{Params: []float32{0, 0}, SelectionKey: [32]byte{1}})
	for r := int64(1); r <= 2; r++ {
		s.CheckIn("a", -1)
		s.CheckIn("b", -1)
		s.Report("a", round.Report{Round: r, Update: []float32{1, -1}, Weight: 1})
		s.Report("b", round.Report{Round: r, Update: []float32{3, -3}, Weight: 1})
	}
	var before []float32
	s.Model(func(v int64, p []float32) { before = append(before, p...) })
	s.CheckIn("a", 2)
	s.Report("a", round.Report{Round: 3, Update: []float32{100, 100}, Weight: 1})

	snap, err := ckpt.Load()
	if err != nil {
		t.Fatal(err)
	}
	if snap.Round != 2 || snap.Version != 2 || snap.Optimizer.Step != 2 {
		t.Fatalf("checkpoint at round %d version %d step %d, want 2, 2, 2", snap.Round, snap.Version, snap.Optimizer.Step)
	}
	s = start(snap)
	var after []float32
	s.Model(func(v int64, p []float32) { after = append(after, p...) })
	if after[0] != before[0] || after[1] != before[1] {
		t.Fatalf("resumed model %v, committed %v", after, before)
	}
	if err := s.Report("a", round.Report{Round: 3, Update: []float32{100, 100}, Weight: 1}); err == nil {
		t.Fatal("a report from before the restart was counted")
	}
	if st := s.Status(); st.Round != 3 || st.Reports != 0 {
		t.Fatalf("status %+v, want round 3 with no reports", st)
	}
}

// TestServiceShowsBothEpsilons: /status, /metrics and the status page
// label ε against observers of the model and against the coordinator
// (none under central DP), and never show the selection key.
func TestServiceShowsBothEpsilons(t *testing.T) {
	cfg := round.DefaultConfig()
	cfg.DP = &round.DPConfig{NoiseMultiplier: 1, ClipNorm: 1, Delta: 1e-5}
	opt, _ := aggregate.NewOptimizer(aggregate.OptimizerConfig{Name: "fedavg"})
	key := [32]byte{0x5e, 0xc7, 0xe7}
	clock := &fakeClock{t: epoch}
	m, err := round.NewMachine(cfg, round.Parts{Population: []string{"a", "b"}, Snapshot: round.Snapshot{Params: []float32{0, 0}, SelectionKey: key},
		Optimizer: opt, Noise: privacy.NewSeededNoise([32]byte{})}, clock.t)
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	s := NewService(m, ServiceOptions{Now: clock.now, Metrics: NewMetrics(reg)})
	for _, d := range []string{"a", "b"} {
		s.CheckIn(d, -1)
		if err := s.Report(d, round.Report{Round: 1, Update: []float32{0.1, 0.2}, Weight: 1}); err != nil {
			t.Fatal(err)
		}
	}
	get := serveHTTP(t, s, reg)
	var st StatusReport
	status := get("/status")
	if err := json.Unmarshal([]byte(status), &st); err != nil {
		t.Fatal(err)
	}
	if p := st.Privacy; p == nil || !(p.AgainstObservers > 0) || p.AgainstCoordinator != nil || p.Delta != 1e-5 || p.Accountant != "rdp" ||
		!strings.Contains(status, `"epsilon_against_coordinator": null`) {
		t.Fatalf("status %s", status)
	}
	metrics, page := get("/metrics"), get("/")
	for _, want := range []string{`tacit_privacy_epsilon_spent{against="coordinator"} +Inf`, `tacit_privacy_epsilon_spent{against="observers"} `} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if !strings.Contains(page, `"epsilon_against_coordinator":null`) { // which its script shows as no bound (TestStatusPageInABrowser)
		t.Errorf("the status page does not carry both figures")
	}
	for _, out := range []string{status, metrics, page} {
		if strings.Contains(out, hex.EncodeToString(key[:])) || strings.Contains(out, string(key[:3])) {
			t.Fatal("the selection key is shown")
		}
	}
}

// TestRoundMeansNeedEnoughReports: a round's mean loss and HR/NDCG are not
// noised, so below the minimum of reports (one device's own values, here
// two devices') neither /status, the page nor /metrics shows them.
func TestRoundMeansNeedEnoughReports(t *testing.T) {
	reg := prometheus.NewRegistry()
	s, _ := newTestService(t, &memCheckpoints{}, reg, 0) // the default minimum, 10
	for _, d := range []string{"a", "b"} {
		s.CheckIn(d, -1)
		if err := s.Report(d, round.Report{Round: 1, Update: []float32{1, 1}, Weight: 1, Loss: 0.25, Eval: &round.Evaluation{HR: 1, NDCG: 1}}); err != nil {
			t.Fatal(err)
		}
	}
	get := serveHTTP(t, s, reg)
	status := get("/status")
	var st StatusReport
	if err := json.Unmarshal([]byte(status), &st); err != nil || len(st.Recent) != 1 || !st.Recent[0].Committed {
		t.Fatalf("status %s (%v)", status, err)
	}
	if r := st.Recent[0]; r.TrainLoss != nil || r.HR != nil || r.NDCG != nil {
		t.Fatalf("two reports' means shown: %s", status)
	}
	if metrics := get("/metrics"); !strings.Contains(metrics, "tacit_federated_hr_at_10 0") {
		t.Error("/metrics shows two reports' HR@10")
	}
}

// TestKilledAtEveryEventLosesNothing plays private rounds and, after every
// event, kills the coordinator as kill -9 would (the Service is dropped;
// only the checkpoint file survives) and restarts it from the file: the
// restarted coordinator serves the model the killed one last served, never
// an older one, and its ε against observers and against the coordinator
// never go backwards.
func TestKilledAtEveryEventLosesNothing(t *testing.T) {
	ckpt := FileCheckpointer{Path: t.TempDir() + "/ckpt"}
	clock := &fakeClock{t: epoch}
	cfg := round.DefaultConfig()
	cfg.DP = &round.DPConfig{NoiseMultiplier: 1, ClipNorm: 1, Delta: 1e-5}
	devices := []string{"a", "b", "c"}
	start := func() *Service {
		snap, err := ckpt.Load()
		if errors.Is(err, os.ErrNotExist) {
			snap, err = round.Snapshot{Params: []float32{0, 0}, SelectionKey: [32]byte{2}}, nil
		}
		if err != nil {
			t.Fatal(err)
		}
		opt, _ := aggregate.NewOptimizer(aggregate.OptimizerConfig{Name: "fedadam", LR: 0.1})
		m, err := round.NewMachine(cfg, round.Parts{Population: devices, Snapshot: snap, Optimizer: opt, Noise: privacy.NewSeededNoise([32]byte{3})}, clock.t)
		if err != nil {
			t.Fatal(err)
		}
		return NewService(m, ServiceOptions{Now: clock.now, Checkpointer: ckpt})
	}
	type seen struct {
		version               int64
		observers, coordinatr float64
	}
	look := func(s *Service) seen {
		var v int64
		s.Model(func(version int64, _ []float32) { v = version })
		st := s.Status()
		if st.Privacy == nil {
			return seen{version: v}
		}
		c := math.Inf(1)
		if st.Privacy.AgainstCoordinator != nil {
			c = *st.Privacy.AgainstCoordinator
		}
		return seen{v, st.Privacy.AgainstObservers, c}
	}
	s := start()
	last := look(s)
	for r := int64(1); r <= 3; r++ {
		for _, d := range devices {
			clock.t = clock.t.Add(time.Second)
			s.CheckIn(d, -1)
			s = start() // killed and restarted: the check-in is forgotten
			s.CheckIn(d, -1)
		}
		for _, d := range devices {
			clock.t = clock.t.Add(time.Second)
			before := look(s)
			s.Report(d, round.Report{Round: r, Update: []float32{0.3, -0.2}, Weight: 1})
			served := look(s)
			s = start() // killed right after the event
			got := look(s)
			switch {
			case got.version != served.version:
				t.Fatalf("round %d, %s reported: restarted at version %d, the killed coordinator served %d", r, d, got.version, served.version)
			case got.observers < served.observers || got.observers < before.observers || got.coordinatr < served.coordinatr:
				t.Fatalf("round %d, %s reported: ε went back from %+v to %+v", r, d, served, got)
			}
			if got.version < last.version {
				t.Fatalf("version went back from %d to %d", last.version, got.version)
			}
			last = got
			if got.version < r && d == devices[len(devices)-1] {
				t.Fatalf("round %d never committed", r)
			}
			if d != devices[len(devices)-1] { // the restart lost the round's reports so far: send them again
				for _, e := range devices {
					s.CheckIn(e, -1)
				}
				for _, e := range devices[:slices.Index(devices, d)+1] {
					s.Report(e, round.Report{Round: r, Update: []float32{0.3, -0.2}, Weight: 1})
				}
			}
		}
	}
	if last.version != 3 || !(last.observers > 0) {
		t.Fatalf("after three rounds: %+v", last)
	}
}
