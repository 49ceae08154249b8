package simulate

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tacitfl/tacit/aggregate"
	"github.com/tacitfl/tacit/client"
	"github.com/tacitfl/tacit/coordinator"
	"github.com/tacitfl/tacit/model"
	"github.com/tacitfl/tacit/privacy"
)

// federation is a coordinator and its virtual devices in one process: the
// coordinator's Service and round machine, and the client's Agent for each
// device, joined by an in-memory transport (or real QUIC).
type federation struct {
	svc      *coordinator.Service
	pop      *population
	ids      []string       // device id of each person in pop.people
	person   map[string]int // device id → person
	template client.Plan    // what every plan carries besides round and version
	dropout  float64
	seed     uint64
	spaces   []*client.Workspace   // one per worker
	dp       *coordinator.DPConfig // nil without differential privacy

	// The clock is real time plus skip, which grows when the simulator
	// jumps past deadlines that dropouts would make it wait for. Rounds
	// thus take their real duration, as the status page shows, and no
	// deadline passes while devices are still at work (the windows are
	// long), so outcomes stay reproducible.
	started  time.Time
	skip     atomic.Int64 // nanoseconds
	outcomes []coordinator.Outcome

	connect func(id string) client.Coordinator // the transport to the coordinator
	closers []func() error
}

// Round timing: devices act as soon as a round opens, so these only decide
// when a round with dropouts ends, which the simulator skips to.
const (
	selectionTimeout = time.Hour
	reportWindow     = time.Hour
)

func newFederation(cfg Config, pop *population, items int, init *model.MF) (*federation, error) {
	f := &federation{pop: pop, person: make(map[string]int, len(pop.people)), dropout: cfg.Dropout, seed: cfg.Seed}
	for _, u := range pop.people {
		id := "p" + strconv.Itoa(u)
		f.ids = append(f.ids, id)
		f.person[id] = u
	}
	mc := cfg.Model()
	f.template = client.Plan{Items: items, Model: mc, Local: model.LocalConfig{
		Epochs: cfg.LocalEpochs, LR: cfg.ClientLR, ItemRegShare: mc.ItemReg / float64(len(pop.people)),
	}}
	opt, err := aggregate.NewOptimizer(cfg.Optimizer())
	if err != nil {
		return nil, err
	}
	rc := coordinator.RoundConfig{Goal: cfg.ClientsPerRound, OverSelection: 1, MinFraction: 1e-9,
		SelectionTimeout: selectionTimeout, ReportWindow: reportWindow, RetryMin: time.Second, Seed: cfg.Seed}
	if cfg.DP != "" {
		z, err := cfg.noiseMultiplier(len(pop.people))
		if err != nil {
			return nil, err
		}
		// Seeded noise keeps simulations reproducible; a deployment seeds
		// from the operating system.
		rc.DP = &coordinator.DPConfig{NoiseMultiplier: z, ClipNorm: cfg.ClipNorm, Delta: cfg.Delta, Budget: cfg.TargetEpsilon, Accountant: cfg.Accountant,
			Noise: privacy.NewSeededNoise(sha256.Sum256(binary.LittleEndian.AppendUint64([]byte("tacit simulate noise"), cfg.Seed)))}
		if cfg.AdaptiveClip {
			rc.DP.Adaptive = &privacy.AdaptiveClip{}
		}
	}
	f.started = time.Now()
	f.dp = rc.DP
	m, err := coordinator.NewMachine(rc, f.ids, coordinator.Snapshot{Params: init.Params}, opt, f.now())
	if err != nil {
		return nil, err
	}
	opts := coordinator.ServiceOptions{Now: f.now,
		Watch: func(o coordinator.Outcome) { f.outcomes = append(f.outcomes, o) }}
	var reg *prometheus.Registry
	if cfg.HTTP != "" {
		reg = prometheus.NewRegistry()
		opts.Metrics = coordinator.NewMetrics(reg)
	}
	f.svc = coordinator.NewService(m, opts)
	if err := f.startTransport(cfg, reg, opts.Metrics); err != nil {
		f.close()
		return nil, err
	}
	workers := cfg.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	for range workers {
		f.spaces = append(f.spaces, client.NewWorkspace())
	}
	return f, nil
}

// startTransport joins devices to the coordinator as cfg.Transport says,
// and serves the operator endpoints if cfg.HTTP is set.
func (f *federation) startTransport(cfg Config, reg *prometheus.Registry, metrics *coordinator.Metrics) error {
	f.connect = func(id string) client.Coordinator { return &memTransport{f: f, device: id} }
	if cfg.Transport == "quic" {
		q, err := startQUIC(f.svc, metrics, f.ids, f.template)
		if err != nil {
			return err
		}
		f.connect = q.connect
		f.closers = append(f.closers, q.stop)
	}
	if cfg.HTTP != "" {
		stop, err := serveHTTP(cfg.HTTP, f.svc, reg)
		if err != nil {
			return err
		}
		f.closers = append(f.closers, stop)
	}
	return nil
}

// close stops the servers the federation started.
func (f *federation) close() error {
	var errs []error
	for _, c := range f.closers {
		errs = append(errs, c())
	}
	f.closers = nil
	return errors.Join(errs...)
}

// samplingRate is q, the chance a person is selected in a round.
func (c Config) samplingRate(people int) float64 {
	if c.ClientsPerRound == 0 {
		return 1
	}
	return min(1, float64(c.ClientsPerRound)/float64(people))
}

// noiseMultiplier is --noise, or the smallest one that keeps the run within
// --target-epsilon.
func (c Config) noiseMultiplier(people int) (float64, error) {
	if c.TargetEpsilon == 0 {
		return c.NoiseMultiplier, nil
	}
	eps, err := privacy.EpsilonFuncFor(c.Accountant)
	if err != nil {
		return 0, err
	}
	return privacy.Calibrate(eps, c.TargetEpsilon, c.Delta, c.samplingRate(people), c.Rounds)
}

func (f *federation) now() time.Time {
	return f.started.Add(time.Since(f.started) + time.Duration(f.skip.Load()))
}

// round runs the current round to its end: every selected device that does
// not drop out checks in, trains and reports; then the clock skips ahead
// to the round's deadlines so a round missing its dropouts ends too. It returns
// the round's outcome and how many selected devices dropped out.
func (f *federation) round(ctx context.Context) (coordinator.Outcome, int, error) {
	round := f.svc.Status().Round
	var active []string
	dropped := 0
	for _, id := range f.svc.Cohort() {
		if f.dropsOut(round, id) {
			dropped++
			continue
		}
		active = append(active, id)
	}
	var next atomic.Int64
	errs := make([]error, len(f.spaces))
	var wg sync.WaitGroup
	for w, ws := range f.spaces {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				j := int(next.Add(1)) - 1
				if j >= len(active) || errs[w] != nil {
					return
				}
				id := active[j]
				u := f.person[id]
				agent := client.NewAgent(client.Data{Train: f.pop.Positives(u), Test: -1}, f.connect(id), ws, nil)
				if _, err := agent.Step(ctx); err != nil {
					errs[w] = fmt.Errorf("device %s: %w", id, err)
				}
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return coordinator.Outcome{}, 0, err
		}
	}
	for len(f.outcomes) == 0 { // dropouts left the round open: skip to its next deadline
		st := f.svc.Status()
		next := st.Deadline
		if st.Phase == coordinator.Selecting.String() {
			next = st.Opened.Add(selectionTimeout)
		}
		f.skip.Add(int64(next.Sub(f.now())))
		f.svc.Tick()
	}
	if len(f.outcomes) != 1 || f.outcomes[0].Round != round {
		return coordinator.Outcome{}, 0, fmt.Errorf("round %d finished as %d rounds", round, len(f.outcomes))
	}
	o := f.outcomes[0]
	f.outcomes = f.outcomes[:0]
	return o, dropped, nil
}

// dropsOut decides, from (seed, round, device) alone, whether a selected
// device never shows up.
func (f *federation) dropsOut(round int64, id string) bool {
	if f.dropout == 0 {
		return false
	}
	rng := rand.New(rand.NewPCG(f.seed^0xd409, uint64(round)<<32|uint64(f.person[id])))
	return rng.Float64() < f.dropout
}

// model copies the current global model into dst.
func (f *federation) model(dst []float32) {
	f.svc.Model(func(_ int64, params []float32) { copy(dst, params) })
}

// memTransport is one virtual device's connection to the coordinator: it
// calls the Service directly, as the QUIC transport does after decoding.
type memTransport struct {
	f      *federation
	device string
}

func (t *memTransport) CheckIn(_ context.Context, cached int64) (*client.Plan, time.Duration, error) {
	res, err := t.f.svc.CheckIn(t.device, cached)
	if err != nil || res.Plan == nil {
		return nil, res.RetryAfter, err
	}
	p := t.f.template
	p.Round, p.ModelVersion, p.DownloadModel, p.Deadline = res.Plan.Round, res.Plan.ModelVersion, res.Plan.DownloadModel, res.Plan.Deadline
	p.ClipNorm, p.NoiseMultiplier, p.Delta = res.Plan.ClipNorm, res.Plan.NoiseMultiplier, res.Plan.Delta
	return &p, 0, nil
}

func (t *memTransport) DownloadModel(_ context.Context, version int64, _ int, dst []float32) ([]float32, error) {
	var err error
	t.f.svc.Model(func(v int64, params []float32) {
		if v != version {
			err = fmt.Errorf("model version %d is no longer current (%d is)", version, v)
			return
		}
		dst = append(dst[:0], params...)
	})
	return dst, err
}

func (t *memTransport) Report(_ context.Context, u client.Upload) error {
	r := coordinator.Report{Round: u.Round, Update: u.Update, Weight: u.Weight, Loss: u.Loss, Clipped: u.Clipped}
	if u.Evaluated {
		r.Eval = &coordinator.Evaluation{HR: u.HR, NDCG: u.NDCG}
	}
	return t.f.svc.Report(t.device, r)
}

var _ client.Coordinator = (*memTransport)(nil)
