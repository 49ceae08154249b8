package coordinator

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/tacitfl/tacit/aggregate"
	"github.com/tacitfl/tacit/aggregate/secagg"
	"github.com/tacitfl/tacit/coordinator/round"
	"github.com/tacitfl/tacit/privacy"
)

// TestReportsAreCountedByTheirResult: every rejection code has a label of
// its own (a SecAgg refusal once exported result=""), a rejection wrapped
// by a driver still counts as that rejection, and a failure that is no
// rejection is an error, never an acceptance.
func TestReportsAreCountedByTheirResult(t *testing.T) {
	m := NewMetrics(prometheus.NewRegistry())
	m.report(nil)
	for _, c := range round.RejectCodes() {
		m.report(&round.Rejection{Code: c, Reason: "test"})
	}
	m.report(fmt.Errorf("sending: %w", &round.Rejection{Code: round.SecAggRefused}))
	m.report(errors.New("disk on fire"))
	if n := testutil.ToFloat64(m.reports.WithLabelValues("")); n != 0 {
		t.Errorf("%v reports with an empty result", n)
	}
	want := map[string]float64{"accepted": 1, "error": 1, "secagg_refused": 2, "late": 1, "not_enrolled": 1}
	for label, n := range want {
		if got := testutil.ToFloat64(m.reports.WithLabelValues(label)); got != n {
			t.Errorf("result %q: %v reports, want %v", label, got, n)
		}
	}
}

// metered is a Service with metrics on a fake clock, as a test drives it.
type metered struct {
	*Service
	m     *Metrics
	reg   *prometheus.Registry
	clock *fakeClock
}

// newMetered makes a Service over devices with cfg, resumed from snap
// (which gets a model of two parameters and a selection key if it has
// none), checkpointing to ckpt if set.
func newMetered(t *testing.T, cfg round.Config, devices []string, snap round.Snapshot, ckpt Checkpointer) *metered {
	t.Helper()
	if snap.Params == nil {
		snap.Params = []float32{0, 0}
	}
	if snap.SelectionKey == ([32]byte{}) {
		snap.SelectionKey = [32]byte{1}
	}
	clock := &fakeClock{t: epoch}
	opt, _ := aggregate.NewOptimizer(aggregate.OptimizerConfig{Name: "fedavg"})
	m, err := round.NewMachine(cfg, round.Parts{Population: devices, Snapshot: snap, Optimizer: opt, Noise: privacy.NewSeededNoise([32]byte{})}, clock.t)
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	metrics := NewMetrics(reg)
	return &metered{Service: NewService(m, ServiceOptions{Now: clock.now, Checkpointer: ckpt, Metrics: metrics}), m: metrics, reg: reg, clock: clock}
}

// round plays round r: every device in updates checks in, then reports its
// update, a second later each.
func (s *metered) round(t *testing.T, r int64, updates map[string][]float32) {
	t.Helper()
	for _, d := range sortedKeys(updates) {
		if res, err := s.CheckIn(d, -1); err != nil || res.Plan == nil {
			t.Fatalf("round %d, %s: check-in %+v %v", r, d, res, err)
		}
	}
	for _, d := range sortedKeys(updates) {
		s.clock.t = s.clock.t.Add(time.Second)
		if err := s.Report(d, round.Report{Round: r, Update: updates[d], Weight: 1}); err != nil {
			t.Fatalf("round %d, %s: %v", r, d, err)
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// histogram is h's sample count and sum.
func histogram(t *testing.T, h prometheus.Histogram) (uint64, float64) {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(h)
	mfs, err := reg.Gather()
	if err != nil || len(mfs) != 1 {
		t.Fatalf("gathering a histogram: %v", err)
	}
	hist := mfs[0].GetMetric()[0].GetHistogram()
	return hist.GetSampleCount(), hist.GetSampleSum()
}

func want(t *testing.T, name string, c prometheus.Collector, value float64) {
	t.Helper()
	if got := testutil.ToFloat64(c); got != value && !(math.IsNaN(got) && math.IsNaN(value)) {
		t.Errorf("%s = %v, want %v", name, got, value)
	}
}

var twoReports = map[string][]float32{"a": {1, 1}, "b": {3, 3}}

func TestMetricRoundsCommitted(t *testing.T) {
	s := newMetered(t, round.DefaultConfig(), []string{"a", "b"}, round.Snapshot{}, nil)
	want(t, "tacit_rounds_committed_total", s.m.roundsCommitted, 0)
	s.round(t, 1, twoReports)
	want(t, "tacit_rounds_committed_total", s.m.roundsCommitted, 1)
	want(t, "tacit_rounds_abandoned_total", s.m.roundsAbandoned, 0)
	want(t, "tacit_model_version", s.m.modelVersion, 1)
}

// TestMetricRoundsAbandoned: nobody checks in; the selection window
// passes and the round is abandoned, its end and its dropouts counted.
func TestMetricRoundsAbandoned(t *testing.T) {
	s := newMetered(t, round.DefaultConfig(), []string{"a", "b"}, round.Snapshot{}, nil)
	s.clock.t = s.clock.t.Add(30 * time.Second) // the selection timeout
	s.Tick()
	want(t, "tacit_rounds_abandoned_total", s.m.roundsAbandoned, 1)
	want(t, "tacit_rounds_committed_total", s.m.roundsCommitted, 0)
	want(t, "tacit_last_round_end_timestamp_seconds", s.m.lastRoundEnd, float64(epoch.Unix()+30))
	want(t, `tacit_round_dropouts_total{stage="checked-in"}`, s.m.dropouts.WithLabelValues("checked-in"), 2)
	want(t, "tacit_model_version", s.m.modelVersion, 0)
}

func TestMetricRoundDurationAndParticipants(t *testing.T) {
	s := newMetered(t, round.DefaultConfig(), []string{"a", "b"}, round.Snapshot{}, nil)
	s.round(t, 1, twoReports) // reports at 1 s and 2 s
	if n, sum := histogram(t, s.m.roundSeconds); n != 1 || sum != 2 {
		t.Errorf("tacit_round_duration_seconds: %d rounds, %v s in all, want 1 of 2 s", n, sum)
	}
	want(t, "tacit_round_participants", s.m.participants, 2)
}

// TestMetricLastRoundEnd: the coordinator's start until a round ends, then
// that round's end, by the Service's clock.
func TestMetricLastRoundEnd(t *testing.T) {
	s := newMetered(t, round.DefaultConfig(), []string{"a", "b"}, round.Snapshot{}, nil)
	want(t, "tacit_last_round_end_timestamp_seconds", s.m.lastRoundEnd, float64(epoch.Unix()))
	s.clock.t = s.clock.t.Add(500 * time.Millisecond)
	s.round(t, 1, twoReports)
	want(t, "tacit_last_round_end_timestamp_seconds", s.m.lastRoundEnd, float64(epoch.Unix())+2.5)
}

// TestMetricDropoutsAndStages: of three devices selected, two check in and
// one reports; at the deadline the round is abandoned. Then all three
// take part: the stage gauges follow the last round, the dropouts add up.
func TestMetricDropoutsAndStages(t *testing.T) {
	s := newMetered(t, round.DefaultConfig(), []string{"a", "b", "c"}, round.Snapshot{}, nil)
	s.CheckIn("a", -1)
	s.CheckIn("b", -1)
	if err := s.Report("a", round.Report{Round: 1, Update: []float32{1, 1}, Weight: 1}); err != nil {
		t.Fatal(err)
	}
	s.clock.t = s.clock.t.Add(30*time.Second + 2*time.Minute) // selection, then the report window
	s.Tick()
	want(t, "tacit_rounds_abandoned_total", s.m.roundsAbandoned, 1)
	stages := map[string]float64{"selected": 3, "checked-in": 2, "reported": 1}
	dropouts := map[string]float64{"checked-in": 1, "reported": 1}
	check := func() {
		t.Helper()
		for _, name := range []string{"selected", "checked-in", "reported", "advertise-keys", "share-keys", "masked-input", "consistency", "unmask"} {
			want(t, fmt.Sprintf("tacit_round_stage_devices{stage=%q}", name), s.m.stageDevices.WithLabelValues(name), stages[name])
			if name != "selected" {
				want(t, fmt.Sprintf("tacit_round_dropouts_total{stage=%q}", name), s.m.dropouts.WithLabelValues(name), dropouts[name])
			}
		}
	}
	check()
	s.round(t, 2, map[string][]float32{"a": {1, 1}, "b": {1, 1}, "c": {1, 1}})
	stages = map[string]float64{"selected": 3, "checked-in": 3, "reported": 3}
	check()
}

// secureConfig is a secure round's configuration, as round's tests use.
func secureConfig() round.Config {
	cfg := round.DefaultConfig()
	cfg.Codec = &round.CodecConfig{Bits: 12, Rotate: true, Norm: 1}
	cfg.SecAgg = &round.SecAggConfig{DropoutRate: 0.3, ThreatModel: secagg.NoAdversary, PhaseWindow: time.Minute}
	return cfg
}

var sixDevices = []string{"d0", "d1", "d2", "d3", "d4", "d5"}

// TestMetricSecureDropouts: a secure round whose six devices check in but
// never advertise keys is abandoned at the selection's end: all six are
// lost at advertise-keys.
func TestMetricSecureDropouts(t *testing.T) {
	s := newMetered(t, secureConfig(), sixDevices, round.Snapshot{Params: make([]float32, 8)}, nil)
	for _, d := range sixDevices {
		if res, err := s.CheckIn(d, -1); err != nil || res.Plan == nil || res.Plan.SecAgg == nil {
			t.Fatalf("%s: %+v %v", d, res, err)
		}
	}
	s.clock.t = s.clock.t.Add(30 * time.Second)
	s.Tick()
	want(t, "tacit_rounds_abandoned_total", s.m.roundsAbandoned, 1)
	want(t, `tacit_round_dropouts_total{stage="advertise-keys"}`, s.m.dropouts.WithLabelValues("advertise-keys"), 6)
	want(t, `tacit_round_stage_devices{stage="checked-in"}`, s.m.stageDevices.WithLabelValues("checked-in"), 6)
	want(t, `tacit_round_stage_devices{stage="advertise-keys"}`, s.m.stageDevices.WithLabelValues("advertise-keys"), 0)
	want(t, `tacit_round_stage_devices{stage="reported"}`, s.m.stageDevices.WithLabelValues("reported"), 0)
}

// TestNoMetricHasAnEmptyLabel drives a secure round's refusal of a masked
// input (sent in the wrong phase) through the Service: it is counted as
// secagg_refused, and no series of any metric has an empty label value.
// With a label table that lacks a code, as before issue 11 (the SecAgg
// refusal had no label), the refusal exports result="" and this fails.
func TestNoMetricHasAnEmptyLabel(t *testing.T) {
	s := newMetered(t, secureConfig(), sixDevices, round.Snapshot{Params: make([]float32, 8)}, nil)
	res, err := s.CheckIn("d0", -1)
	if err != nil || res.Plan == nil {
		t.Fatal(res, err)
	}
	err = s.SecAggSend("d0", 1, &secagg.MaskedInput{From: res.Plan.SecAggID, Vector: make([]uint32, 4)})
	var r *round.Rejection
	if !errors.As(err, &r) || r.Code != round.SecAggRefused {
		t.Fatalf("a masked input while keys are advertised: %v, want a SecAgg refusal", err)
	}
	want(t, `tacit_reports_total{result="secagg_refused"}`, s.m.reports.WithLabelValues("secagg_refused"), 1)
	noEmptyLabels(t, s.reg)
}

// noEmptyLabels fails on any series of reg with an empty label value.
func noEmptyLabels(t *testing.T, reg prometheus.Gatherer) {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetValue() == "" {
					t.Errorf("%s{%s=\"\"} is exported (value %v)", mf.GetName(), l.GetName(), m.GetCounter().GetValue()+m.GetGauge().GetValue())
				}
			}
		}
	}
}

func TestMetricCheckIns(t *testing.T) {
	s := newMetered(t, round.DefaultConfig(), []string{"a", "b"}, round.Snapshot{}, nil)
	s.CheckIn("a", -1) // accepted
	s.CheckIn("z", -1) // not enrolled: rejected
	s.CheckIn("b", -1) // accepted; selection closes
	s.Report("a", round.Report{Round: 1, Update: []float32{1, 1}, Weight: 1})
	s.CheckIn("a", -1) // already reported: retry
	for result, n := range map[string]float64{"accepted": 2, "rejected": 1, "retry": 1} {
		want(t, fmt.Sprintf("tacit_check_ins_total{result=%q}", result), s.m.checkIns.WithLabelValues(result), n)
	}
}

// TestMetricReports: each refusal the machine makes of a report counts
// under its code.
func TestMetricReports(t *testing.T) {
	s := newMetered(t, round.DefaultConfig(), []string{"a", "b", "c"}, round.Snapshot{}, nil)
	s.CheckIn("a", -1)
	s.CheckIn("b", -1)
	ok := []float32{1, 1}
	s.Report("z", round.Report{Round: 1, Update: ok, Weight: 1})           // not_enrolled
	s.Report("a", round.Report{Round: 2, Update: ok, Weight: 1})           // wrong_round
	s.Report("c", round.Report{Round: 1, Update: ok, Weight: 1})           // not_selected
	s.Report("a", round.Report{Round: 1, Update: []float32{1}, Weight: 1}) // bad_update
	s.Report("a", round.Report{Round: 1, Update: ok, Weight: 1})           // accepted
	s.Report("a", round.Report{Round: 1, Update: ok, Weight: 1})           // duplicate
	s.clock.t = s.clock.t.Add(30*time.Second + 2*time.Minute)              // round 1 ends
	s.Report("b", round.Report{Round: 1, Update: ok, Weight: 1})           // late
	for result, n := range map[string]float64{"accepted": 1, "not_enrolled": 1, "wrong_round": 1, "not_selected": 1,
		"bad_update": 1, "duplicate": 1, "late": 1, "secagg_refused": 0, "error": 0} {
		want(t, fmt.Sprintf("tacit_reports_total{result=%q}", result), s.m.reports.WithLabelValues(result), n)
	}
	noEmptyLabels(t, s.reg)
}

// TestMetricModelVersionAfterRestart: a coordinator resumed at model
// version 7 says 7 before its first commit, not 0.
func TestMetricModelVersionAfterRestart(t *testing.T) {
	s := newMetered(t, round.DefaultConfig(), []string{"a", "b"}, round.Snapshot{Round: 7, Version: 7}, nil)
	want(t, "tacit_model_version", s.m.modelVersion, 7)
	s.round(t, 8, twoReports)
	want(t, "tacit_model_version", s.m.modelVersion, 8)
}

func TestMetricEnrolledDevices(t *testing.T) {
	s := newMetered(t, round.DefaultConfig(), []string{"a", "b", "c"}, round.Snapshot{}, nil)
	want(t, "tacit_enrolled_devices", s.m.enrolled, 3)
}

// TestMetricPrivacySettings: the budget and δ are exported from the start,
// 0 without DP, and a resumed private run's ε before its first commit.
func TestMetricPrivacySettings(t *testing.T) {
	plain := newMetered(t, round.DefaultConfig(), []string{"a", "b"}, round.Snapshot{}, nil)
	want(t, "tacit_privacy_epsilon_budget", plain.m.budget, 0)
	want(t, "tacit_privacy_delta", plain.m.delta, 0)

	cfg := round.DefaultConfig()
	cfg.DP = &round.DPConfig{NoiseMultiplier: 1, ClipNorm: 1, Delta: 1e-5, Budget: 50}
	ckpt := &memCheckpoints{}
	s := newMetered(t, cfg, []string{"a", "b"}, round.Snapshot{}, ckpt)
	want(t, "tacit_privacy_epsilon_budget", s.m.budget, 50)
	want(t, "tacit_privacy_delta", s.m.delta, 1e-5)
	s.round(t, 1, map[string][]float32{"a": {0.1, 0}, "b": {0, 0.1}})
	spent := testutil.ToFloat64(s.m.epsilon.WithLabelValues("observers"))
	if !(spent > 0) || spent != s.Status().Privacy.AgainstObservers {
		t.Fatalf("ε against observers %v, status %+v", spent, s.Status().Privacy)
	}
	resumed := newMetered(t, cfg, []string{"a", "b"}, ckpt.saved[0], nil)
	want(t, `tacit_privacy_epsilon_spent{against="observers"}`, resumed.m.epsilon.WithLabelValues("observers"), spent)
	want(t, `tacit_privacy_epsilon_spent{against="coordinator"}`, resumed.m.epsilon.WithLabelValues("coordinator"), math.Inf(1))
}

func TestMetricFederatedMeans(t *testing.T) {
	cfg := round.DefaultConfig()
	cfg.MinReportsForMeans = 1
	s := newMetered(t, cfg, []string{"a", "b"}, round.Snapshot{}, nil)
	s.CheckIn("a", -1)
	s.CheckIn("b", -1)
	s.Report("a", round.Report{Round: 1, Update: []float32{1, 1}, Weight: 1, Eval: &round.Evaluation{HR: 1, NDCG: 0.5}})
	s.Report("b", round.Report{Round: 1, Update: []float32{1, 1}, Weight: 1, Eval: &round.Evaluation{HR: 0, NDCG: 0.25}})
	want(t, "tacit_federated_hr_at_10", s.m.hr, 0.5)
	want(t, "tacit_federated_ndcg_at_10", s.m.ndcg, 0.375)
}

// TestMetricUpdateNorm: each accepted plain update's norm as it arrived,
// before the machine scales one above its limit (here 10) down.
func TestMetricUpdateNorm(t *testing.T) {
	cfg := round.DefaultConfig()
	cfg.MaxUpdateNorm = 10
	s := newMetered(t, cfg, []string{"a", "b"}, round.Snapshot{}, nil)
	s.round(t, 1, map[string][]float32{"a": {3, 4}, "b": {30, 40}})
	if n, sum := histogram(t, s.m.updateNorm); n != 2 || sum != 55 {
		t.Errorf("tacit_update_norm: %d updates of norms summing to %v, want 2 summing to 55", n, sum)
	}
	want(t, "tacit_updates_clipped_total", s.m.clipped, 0) // not DP's clip norm
}

// TestMetricClipping: under DP with clip norm 1, one update of two is
// above it: clipped, half the round.
func TestMetricClipping(t *testing.T) {
	cfg := round.DefaultConfig()
	cfg.DP = &round.DPConfig{NoiseMultiplier: 1, ClipNorm: 1, Delta: 1e-5}
	s := newMetered(t, cfg, []string{"a", "b"}, round.Snapshot{}, nil)
	s.round(t, 1, map[string][]float32{"a": {3, 4}, "b": {0.3, 0.4}})
	want(t, "tacit_updates_clipped_total", s.m.clipped, 1)
	want(t, "tacit_round_clipped_fraction", s.m.clippedFraction, 0.5)
	if n, sum := histogram(t, s.m.updateNorm); n != 2 || math.Abs(sum-5.5) > 1e-6 {
		t.Errorf("tacit_update_norm: %d updates summing to %v, want 2 summing to 5.5 (before clipping)", n, sum)
	}
	s.round(t, 2, map[string][]float32{"a": {0.3, 0.4}, "b": {0.3, 0.4}})
	want(t, "tacit_updates_clipped_total", s.m.clipped, 1)
	want(t, "tacit_round_clipped_fraction", s.m.clippedFraction, 0)
}

// slowCheckpoints takes `took` of the fake clock to save, or fails.
type slowCheckpoints struct {
	clock *fakeClock
	took  time.Duration
	fail  bool
}

func (c *slowCheckpoints) Save(round.Snapshot) error {
	c.clock.t = c.clock.t.Add(c.took)
	if c.fail {
		return errors.New("disk full")
	}
	return nil
}

func TestMetricCheckpoints(t *testing.T) {
	ckpt := &slowCheckpoints{took: 250 * time.Millisecond}
	s := newMetered(t, round.DefaultConfig(), []string{"a", "b"}, round.Snapshot{}, ckpt)
	ckpt.clock = s.clock
	s.round(t, 1, twoReports)
	want(t, "tacit_checkpoints_total", s.m.checkpoints, 1)
	want(t, "tacit_checkpoint_failures_total", s.m.ckptFailures, 0)
	if n, sum := histogram(t, s.m.ckptSeconds); n != 1 || sum != 0.25 {
		t.Errorf("tacit_checkpoint_duration_seconds: %d saves, %v s, want 1 of 0.25 s", n, sum)
	}
	ckpt.fail = true
	s.round(t, 2, twoReports)
	want(t, "tacit_checkpoints_total", s.m.checkpoints, 1)
	want(t, "tacit_checkpoint_failures_total", s.m.ckptFailures, 1)
	want(t, "tacit_rounds_committed_total", s.m.roundsCommitted, 1) // the unsaved commit is never served
	if n, _ := histogram(t, s.m.ckptSeconds); n != 2 {
		t.Errorf("tacit_checkpoint_duration_seconds: %d saves, want 2", n)
	}
}

// TestMetricSecAggExcluded counts the devices an outcome excludes. (A
// device revealing bad shares is driven end to end in round's tests; the
// Service hands its outcome here.)
func TestMetricSecAggExcluded(t *testing.T) {
	m := NewMetrics(prometheus.NewRegistry())
	m.outcome(round.Outcome{Excluded: []string{"x", "y"}, Opened: epoch, Ended: epoch})
	want(t, "tacit_secagg_excluded_devices_total", m.excluded, 2)
}

// TestMetricTransportCounts: a Service driven directly carries no bytes
// and holds no connections (the transports count those: the Server, and
// the simulator's in-memory transport through these methods, which a nil
// Metrics ignores).
func TestMetricTransportCounts(t *testing.T) {
	s := newMetered(t, round.DefaultConfig(), []string{"a", "b"}, round.Snapshot{}, nil)
	s.round(t, 1, twoReports)
	for name, c := range map[string]prometheus.Collector{"tacit_received_bytes_total": s.m.bytesIn, "tacit_sent_bytes_total": s.m.bytesOut, "tacit_connected_devices": s.m.connected} {
		want(t, name, c, 0)
	}
	s.m.DeviceConnected()
	s.m.DeviceConnected()
	s.m.DeviceDisconnected()
	s.m.Exchanged(100, 20)
	want(t, "tacit_connected_devices", s.m.connected, 1)
	want(t, "tacit_received_bytes_total", s.m.bytesIn, 100)
	want(t, "tacit_sent_bytes_total", s.m.bytesOut, 20)
	var none *Metrics
	none.DeviceConnected()
	none.DeviceDisconnected()
	none.Exchanged(1, 1)
}

// TestMetricsExposition plays two private rounds, one committed and one
// abandoned, and checks the exposition a coordinator serves: every
// metric present, no empty label. With TACIT_METRICS_OUT set it writes
// that text there, for promtool check metrics (make promtool-metrics).
func TestMetricsExposition(t *testing.T) {
	cfg := round.DefaultConfig()
	cfg.DP = &round.DPConfig{NoiseMultiplier: 1, ClipNorm: 1, Delta: 1e-5, Budget: 100}
	s := newMetered(t, cfg, []string{"a", "b"}, round.Snapshot{}, &memCheckpoints{})
	s.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})) // as RunProcess does
	s.round(t, 1, map[string][]float32{"a": {3, 4}, "b": {0.3, 0.4}})
	s.clock.t = s.clock.t.Add(30 * time.Second) // round 2's selection ends with nobody
	s.Tick()
	text := serveHTTP(t, s.Service, s.reg)("/metrics")
	for _, name := range []string{
		"tacit_rounds_committed_total 1", "tacit_rounds_abandoned_total 1", "tacit_round_duration_seconds_count 2",
		"tacit_round_participants 0", "tacit_last_round_end_timestamp_seconds ", `tacit_round_dropouts_total{stage="checked-in"} 2`,
		`tacit_round_stage_devices{stage="selected"} 2`, `tacit_check_ins_total{result="accepted"} 2`, `tacit_reports_total{result="accepted"} 2`,
		"tacit_received_bytes_total 0", "tacit_sent_bytes_total 0", "tacit_connected_devices 0", "tacit_enrolled_devices 2",
		"tacit_model_version 1", "tacit_federated_hr_at_10 0", "tacit_federated_ndcg_at_10 0",
		`tacit_privacy_epsilon_spent{against="observers"} `, `tacit_privacy_epsilon_spent{against="coordinator"} +Inf`,
		"tacit_privacy_epsilon_budget 100", "tacit_privacy_delta 1e-05", "tacit_update_norm_count 2",
		"tacit_updates_clipped_total 1", "tacit_round_clipped_fraction 0.5", "tacit_secagg_excluded_devices_total 0",
		"tacit_checkpoint_duration_seconds_count 1", "tacit_checkpoints_total 1", "tacit_checkpoint_failures_total 0",
	} {
		line := "\n" + name + "\n" // the whole line, or its start for a name ending in a space
		if strings.HasSuffix(name, " ") {
			line = "\n" + name
		}
		if !strings.Contains(text, line) {
			t.Errorf("/metrics lacks %q", name)
		}
	}
	noEmptyLabels(t, s.reg)
	if out := os.Getenv("TACIT_METRICS_OUT"); out != "" {
		if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(out, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
