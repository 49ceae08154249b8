package round

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/cockroachdb/datadriven"

	"github.com/tacitfl/tacit/aggregate"
	"github.com/tacitfl/tacit/privacy"
)

// The round machine's scenarios live in testdata/rounds/*.txt as scripts.
// Commands (times are offsets from the start, as Go durations):
//
//	init population=a,b,c [goal=0 over=1 min=0.5 select=10s window=20s retry=1s seed=1 dim=2 optimizer=fedavg]
//	checkin dev=a t=1s [cached=-1]
//	report dev=a t=2s round=1 update=0.5,1 [weight=1 loss=0.1 hr=1 ndcg=1 clipped]
//	tick t=40s
//	status
//	model
//	restart t=50s   (a new machine from the last committed snapshot)
//	epsilon         (the privacy spent)
//
// init dp-clip=C [dp-noise=z dp-budget=ε dp-accountant=pld dp-adaptive] turns on central
// differential privacy (δ 1e-5, seeded noise; adaptive clipping with a
// negligible count noise, so its arithmetic shows).
//
// Quantized and secure rounds have commands of their own: see
// script_test.go.
//
// Every command's output ends with the rounds it finished.
func TestRoundScenarios(t *testing.T) {
	datadriven.Walk(t, "testdata/rounds", func(t *testing.T, path string) {
		h := &harness{}
		datadriven.RunTest(t, path, func(t *testing.T, d *datadriven.TestData) string {
			return h.run(t, d)
		})
	})
}

var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// testSelectionKey keys the tests' cohorts; a deployment's is random.
var testSelectionKey = [32]byte{'t', 'e', 's', 't'}

type harness struct {
	cfg        Config
	population []string
	optName    string
	m          *Machine
	last       Snapshot // the snapshot a driver would have persisted
	noise      *privacy.Noise
	script     scriptRounds // quantized and secure rounds' devices
}

func (h *harness) run(t *testing.T, d *datadriven.TestData) string {
	var b strings.Builder
	switch d.Cmd {
	case "init":
		h.cfg = DefaultConfig()
		h.cfg.MinReportsForMeans = 1 // the scripts' rounds are small: show their means
		h.cfg.SelectionTimeout, h.cfg.ReportWindow = 10*time.Second, 20*time.Second
		var pop string
		d.ScanArgs(t, "population", &pop)
		h.population = strings.Split(pop, ",")
		d.MaybeScanArgs(t, "goal", &h.cfg.Goal)
		d.MaybeScanArgs(t, "over", &h.cfg.OverSelection)
		d.MaybeScanArgs(t, "min", &h.cfg.MinFraction)
		d.MaybeScanArgs(t, "seed", &h.cfg.Seed)
		h.cfg.SelectionTimeout = durationArg(t, d, "select", h.cfg.SelectionTimeout)
		h.cfg.ReportWindow = durationArg(t, d, "window", h.cfg.ReportWindow)
		h.cfg.RetryMin = durationArg(t, d, "retry", h.cfg.RetryMin)
		dim := 2
		d.MaybeScanArgs(t, "dim", &dim)
		h.optName = "fedavg"
		d.MaybeScanArgs(t, "optimizer", &h.optName)
		if d.HasArg("dp-clip") {
			h.cfg.DP = &DPConfig{Delta: 1e-5}
			h.noise = privacy.NewSeededNoise([32]byte{7})
			d.ScanArgs(t, "dp-clip", &h.cfg.DP.ClipNorm)
			d.MaybeScanArgs(t, "dp-noise", &h.cfg.DP.NoiseMultiplier)
			d.MaybeScanArgs(t, "dp-budget", &h.cfg.DP.Budget)
			d.MaybeScanArgs(t, "dp-accountant", &h.cfg.DP.Accountant)
			if d.HasArg("dp-adaptive") {
				h.cfg.DP.Adaptive = &privacy.AdaptiveClip{CountStd: 1e-9}
			}
		}
		h.initCodec(t, d)
		h.last = Snapshot{Params: make([]float32, dim), SelectionKey: testSelectionKey}
		if err := h.start(epoch); err != nil {
			return "error: " + err.Error() + "\n"
		}
		h.status(&b)
	case "restart":
		if err := h.start(at(t, d)); err != nil {
			return "error: " + err.Error() + "\n"
		}
		h.status(&b)
	case "checkin":
		var dev string
		d.ScanArgs(t, "dev", &dev)
		cached := int64(-1)
		d.MaybeScanArgs(t, "cached", &cached)
		res, err := h.m.CheckIn(at(t, d), dev, cached)
		switch {
		case err != nil:
			fmt.Fprintf(&b, "%s: rejected: %v\n", dev, err)
		case res.Plan != nil:
			p := res.Plan
			fmt.Fprintf(&b, "%s: plan round=%d version=%d download=%t deadline=%s", dev, p.Round, p.ModelVersion, p.DownloadModel, p.Deadline.Sub(epoch))
			if p.SecAgg != nil {
				fmt.Fprintf(&b, " secagg-id=%d", p.SecAggID)
			}
			b.WriteString("\n")
			if h.cfg.Codec != nil {
				h.describePlan(&b, dev, p)
			}
		default:
			fmt.Fprintf(&b, "%s: retry after %s (%s)\n", dev, res.RetryAfter.Round(time.Millisecond), res.Reason)
		}
	case "report":
		var dev string
		var r Report
		d.ScanArgs(t, "dev", &dev)
		d.ScanArgs(t, "round", &r.Round)
		if d.HasArg("update") {
			r.Update = floatsArg(t, d, "update")
		}
		r.Weight = 1
		d.MaybeScanArgs(t, "weight", &r.Weight)
		d.MaybeScanArgs(t, "loss", &r.Loss)
		r.Clipped = d.HasArg("clipped")
		if d.HasArg("hr") {
			r.Eval = &Evaluation{}
			d.ScanArgs(t, "hr", &r.Eval.HR)
			d.ScanArgs(t, "ndcg", &r.Eval.NDCG)
		}
		update := r.Update
		if h.cfg.Codec != nil {
			h.encodeReport(t, d, &b, dev, &r)
		}
		if err := h.m.Report(at(t, d), dev, r); err != nil {
			fmt.Fprintf(&b, "%s: rejected: %v\n", dev, err)
		} else {
			h.reported(dev, r, update)
			fmt.Fprintf(&b, "%s: accepted\n", dev)
		}
	case "tick":
		h.m.Tick(at(t, d))
	case "status":
		h.status(&b)
	case "model":
		v, p := h.m.Model()
		fmt.Fprintf(&b, "version %d params %s\n", v, h.params(p))
	case "epsilon":
		h.epsilon(t, &b)
	default:
		if !h.runSecure(t, d, &b) {
			t.Fatalf("unknown command %q", d.Cmd)
		}
	}
	h.phaseMoves(&b)
	for _, o := range h.m.Ready() {
		h.outcome(&b, o)
	}
	return b.String()
}

// outcome prints a finished round.
func (h *harness) outcome(b *strings.Builder, o Outcome) {
	verb := "abandoned"
	if o.Committed {
		verb = "committed"
		h.last = *o.Snapshot
	}
	fmt.Fprintf(b, "round %d %s at %s (%s): selected %d, checked in %d, reports %d",
		o.Round, verb, o.Ended.Sub(epoch), o.Reason, o.Selected, o.CheckedIn, o.Reports)
	if h.cfg.SecAgg != nil { // plain rounds' stages are the three counts
		for _, st := range o.Stages[2:] {
			fmt.Fprintf(b, "; %s %d", st.Name, st.Devices)
		}
	}
	if o.Committed {
		fmt.Fprintf(b, "; version %d params %s", o.Snapshot.Version, h.params(o.Snapshot.Params))
		if h.cfg.Codec != nil {
			h.countedDevices(b, o.Round)
		}
	}
	if o.Evaluated > 0 {
		fmt.Fprintf(b, "; HR@10 %.3g NDCG@10 %.3g over %d", o.HR, o.NDCG, o.Evaluated)
	}
	if h.cfg.DP != nil && o.Committed {
		fmt.Fprintf(b, "; clip %.4g, clipped %d, noise std %.3g, ε spent %.4g (against the coordinator %.4g); next clip %.4g", o.ClipNorm, o.Clipped, o.NoiseStd, o.Observers, o.Coordinator, o.Snapshot.ClipNorm)
	}
	b.WriteString("\n")
}

func (h *harness) start(now time.Time) error {
	opt, err := aggregate.NewOptimizer(aggregate.OptimizerConfig{Name: h.optName})
	if err != nil {
		return err
	}
	h.m, err = NewMachine(h.cfg, Parts{Population: h.population, Snapshot: h.last, Optimizer: opt, Noise: h.noise}, now)
	h.script.reset()
	return err
}

func (h *harness) status(b *strings.Builder) {
	s := h.m.Status()
	var cohort []string
	for _, d := range h.m.population {
		if h.m.cohort[d] {
			cohort = append(cohort, d)
		}
	}
	fmt.Fprintf(b, "round %d %s: cohort %s, checked in %d, reports %d, deadline %s, model version %d\n",
		s.Round, s.Phase, strings.Join(cohort, ","), s.CheckedIn, s.Reports, s.Deadline.Sub(epoch), s.ModelVersion)
	if r := s.Stopped; r != "" {
		fmt.Fprintf(b, "stopped: %s\n", r)
	}
	if s.SecAgg {
		fmt.Fprintf(b, "secagg phase %v\n", s.SecAggPhase)
	}
}

func at(t *testing.T, d *datadriven.TestData) time.Time {
	return epoch.Add(durationArg(t, d, "t", 0))
}

func durationArg(t *testing.T, d *datadriven.TestData, key string, def time.Duration) time.Duration {
	var s string
	if !d.MaybeScanArgs(t, key, &s) {
		return def
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		t.Fatalf("%s: %v", key, err)
	}
	return v
}

func floatsArg(t *testing.T, d *datadriven.TestData, key string) []float32 {
	var s string
	d.ScanArgs(t, key, &s)
	return parseFloats(t, key, s)
}

func parseFloats(t *testing.T, key, s string) []float32 {
	var out []float32
	for _, f := range strings.Split(s, ",") {
		v, err := strconv.ParseFloat(f, 32)
		if err != nil {
			t.Fatalf("%s: %v", key, err)
		}
		out = append(out, float32(v))
	}
	return out
}
