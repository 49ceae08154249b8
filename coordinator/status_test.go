package coordinator

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/tacitfl/tacit/aggregate"
	"github.com/tacitfl/tacit/aggregate/secagg"
	"github.com/tacitfl/tacit/coordinator/round"
	"github.com/tacitfl/tacit/privacy"
)

// pageClock is a clock the test moves while the page's server reads it.
type pageClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *pageClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *pageClock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// to moves the clock to t, if t is later.
func (c *pageClock) to(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.After(c.t) {
		c.t = t
	}
}

// The traffic the fleet tells the Service, as a QUIC server would: a
// check-in and its answer, a model download, an update (a model of 310,000
// parameters, 8 bits a value up, float32 down) and its acknowledgement.
const (
	checkInUp, checkInDown = 180, 260
	modelDown              = 1_240_000
	reportUp, reportDown   = 310_000, 40
)

// pageFleet plays devices of a Service in-process, on an injected clock,
// and tells the Service their traffic as its QUIC server would.
type pageFleet struct {
	t     *testing.T
	s     *Service
	clock *pageClock
	dim   int
	rng   *rand.Rand
	coins *rand.ChaCha8      // rounding coins
	bytes map[int64][2]int64 // what it told, by round
	plans map[string]*round.Plan
	// inMemory tells no traffic, as a transport that does not count (the
	// simulator's in-memory one without --http).
	inMemory bool
	devices  []string
}

// pageDevices are the fleet's device ids: none may appear on the page.
func pageDevices(n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = fmt.Sprintf("device-%03d", i)
	}
	return ids
}

func newPageFleet(t *testing.T, cfg round.Config, devices int, excluded []string) *pageFleet {
	t.Helper()
	f := &pageFleet{t: t, clock: &pageClock{t: time.Date(2026, 3, 14, 9, 0, 0, 0, time.UTC)}, dim: 32,
		rng: rand.New(rand.NewPCG(7, 11)), coins: rand.NewChaCha8([32]byte{5}), bytes: map[int64][2]int64{}, plans: map[string]*round.Plan{}, devices: pageDevices(devices)}
	opt, _ := aggregate.NewOptimizer(aggregate.OptimizerConfig{Name: "fedavg"})
	m, err := round.NewMachine(cfg, round.Parts{Population: f.devices, Optimizer: opt, Noise: privacy.NewSeededNoise([32]byte{9}),
		Snapshot: round.Snapshot{Params: make([]float32, f.dim), SelectionKey: [32]byte{4, 2}, Excluded: excluded}}, f.clock.now())
	if err != nil {
		t.Fatal(err)
	}
	f.s = NewService(m, ServiceOptions{Now: f.clock.now, Metrics: NewMetrics(prometheus.NewRegistry())})
	return f
}

// serve attaches the fleet's Service to a transport that reports
// connected devices, as NewServer does, and serves its HTTP endpoints.
func (f *pageFleet) serve(connected int) *httptest.Server {
	f.s.Attach(func() int { return connected })
	srv := httptest.NewServer(HTTPHandler(f.s, prometheus.NewRegistry()))
	f.t.Cleanup(srv.Close)
	return srv
}

func (f *pageFleet) traffic(device string, in, out int) {
	if f.inMemory {
		return
	}
	r := f.s.m.Round() // the test's own look: Traffic counts to the same round
	b := f.bytes[r]
	b[0], b[1] = b[0]+int64(in), b[1]+int64(out)
	f.bytes[r] = b
	f.s.Traffic(device, in, out)
}

func (f *pageFleet) pause(lo, hi float64) {
	f.clock.add(time.Duration((lo + (hi-lo)*f.rng.Float64()) * float64(time.Second)))
}

func (f *pageFleet) update(norm float64) []float32 {
	u := make([]float32, f.dim)
	var sum float64
	for i := range u {
		u[i] = float32(f.rng.NormFloat64())
		sum += float64(u[i]) * float64(u[i])
	}
	for i := range u {
		u[i] *= float32(norm / math.Sqrt(sum))
	}
	return u
}

// checkIn checks device in, with its traffic and a model download.
func (f *pageFleet) checkIn(device string) *round.Plan {
	f.t.Helper()
	res, err := f.s.CheckIn(device, -1)
	if err != nil || res.Plan == nil {
		f.t.Fatalf("%s: check-in %+v, %v", device, res, err)
	}
	f.traffic(device, checkInUp, checkInDown)
	f.traffic(device, 60, modelDown)
	f.plans[device] = res.Plan
	return res.Plan
}

// next lets the clock run to the current round's next deadline: the end
// of selection, of a SecAgg phase or of the round.
func (f *pageFleet) next() {
	st := f.s.m.Status()
	next := st.Deadline
	if st.Phase == round.Selecting {
		next = st.Opened.Add(f.s.m.Config().SelectionTimeout)
	}
	f.clock.to(next)
	f.s.Tick()
}

// finish lets the clock run from deadline to deadline until round r ends.
func (f *pageFleet) finish(r int64) {
	for i := 0; f.s.m.Round() == r && i < 20; i++ {
		f.next()
	}
}

// plainRound plays the current round: a share skipIn of the cohort never
// checks in, skipReport of the rest never report, and the others report an
// update (with an evaluation of quality hr) at human pace.
func (f *pageFleet) plainRound(skipIn, skipReport, hr, loss float64) {
	f.t.Helper()
	r := f.s.m.Round()
	var in []string
	for _, d := range f.s.Cohort() {
		f.pause(0.1, 0.6)
		if f.rng.Float64() < skipIn {
			continue
		}
		f.checkIn(d)
		in = append(in, d)
	}
	for _, d := range in {
		f.pause(0.2, 1.6)
		if f.rng.Float64() < skipReport {
			continue
		}
		f.reportPlain(d, hr, loss)
	}
	f.finish(r)
	f.pause(0.5, 2)
}

// reportPlain sends device's report of the current round, with an
// evaluation of about hr and a training loss of about loss.
func (f *pageFleet) reportPlain(device string, hr, loss float64) {
	f.t.Helper()
	p := f.plans[device]
	rep := round.Report{Round: p.Round, Weight: 1, Loss: loss * (0.9 + 0.2*f.rng.Float64()),
		Eval: &round.Evaluation{HR: min(1, hr*(0.6+0.8*f.rng.Float64())), NDCG: min(1, 0.52*hr*(0.6+0.8*f.rng.Float64()))}}
	if p.Codec != nil {
		enc, _, err := p.Codec.Alone().Encode(nil, f.update(0.6*p.ClipNorm), nil, f.coins)
		if err != nil {
			f.t.Fatal(err)
		}
		rep.Encoded = enc
	} else {
		rep.Update = f.update(0.5)
	}
	if err := f.s.Report(device, rep); err != nil {
		f.t.Fatalf("%s: report: %v", device, err)
	}
	f.traffic(device, reportUp, reportDown)
}

// secureRound plays the current secure round: each device of the cohort
// drops out before its message of dropAt[device] (none: it sends all).
func (f *pageFleet) secureRound(dropAt map[string]secagg.Phase) {
	f.t.Helper()
	r := f.s.m.Round()
	clients, plans, done := map[string]*secagg.Client{}, map[string]*round.Plan{}, map[string]bool{}
	var in []string
	drop := func(d string) secagg.Phase {
		if p, ok := dropAt[d]; ok {
			return p
		}
		return secagg.PhaseDone
	}
	for _, d := range f.s.Cohort() {
		f.pause(0.3, 1.2)
		if drop(d) == secagg.PhaseAdvertiseKeys {
			continue
		}
		p := f.checkIn(d)
		c, err := secagg.NewClient(*p.SecAgg, p.SecAggID, rand.NewChaCha8([32]byte{byte(r), byte(p.SecAggID)}))
		if err != nil {
			f.t.Fatal(err)
		}
		adv, err := c.Start()
		if err == nil {
			err = f.s.SecAggSend(d, r, adv)
		}
		if err != nil {
			f.t.Fatalf("%s: advertise: %v", d, err)
		}
		clients[d], plans[d] = c, p
		in = append(in, d)
	}
	for step := 0; step < 30 && f.s.m.Round() == r; step++ {
		moved := false
		for _, d := range in {
			c := clients[d]
			phase := c.Phase()
			if done[d] || phase >= drop(d) || f.s.m.Round() != r {
				continue
			}
			msg, _, err := f.s.SecAggFetch(d, r, phase)
			if err != nil || msg == nil {
				continue // out of the round, or its phase has not opened
			}
			f.pause(0.1, 0.8)
			if phase == secagg.PhaseMaskedInput {
				enc, _, err := plans[d].Codec.Encode(nil, f.update(0.5), nil, f.coins)
				if err == nil {
					err = c.SetInput(enc)
				}
				if err != nil {
					f.t.Fatal(err)
				}
			}
			out, err := c.Step(msg)
			if err != nil {
				f.t.Fatalf("%s: %v: %v", d, phase, err)
			}
			if err := f.s.SecAggSend(d, r, out); err != nil && f.s.m.Round() == r {
				f.t.Fatalf("%s: send %v: %v", d, phase, err)
			}
			up := 2_000
			if phase == secagg.PhaseMaskedInput {
				up = reportUp * 2 // a ring of 16 bits
			}
			f.traffic(d, up, 1_500)
			done[d] = phase == secagg.PhaseUnmask
			moved = true
		}
		if !moved {
			f.next() // only dropouts to wait for: on to the deadline
		}
	}
	f.finish(r)
}

// pageConfig is the plain scenario's, for 120 devices: a goal of 24, an
// 8-bit rotated codec and central DP against a budget.
func pageConfig() round.Config {
	cfg := round.DefaultConfig()
	cfg.Goal, cfg.MinFraction = 24, 0.5
	cfg.SelectionTimeout, cfg.ReportWindow, cfg.RetryMin = 20*time.Second, time.Minute, time.Second
	cfg.MinReportsForMeans = 3
	cfg.Codec = &round.CodecConfig{Bits: 8, Rotate: true, Norm: 1}
	cfg.DP = &round.DPConfig{NoiseMultiplier: 1.1, ClipNorm: 1, Delta: 1e-5, Budget: 12}
	return cfg
}

// playPlain plays n rounds of the plain scenario from round `from`: most
// commit, some lose devices at check-in or before the report, and now and
// then one is abandoned for want of check-ins or reports.
func (f *pageFleet) playPlain(from, n int) {
	for i := from; i < from+n; i++ {
		progress := 1 - math.Exp(-float64(i)/14)
		hr, loss := 0.06+0.3*progress, 0.69-0.33*progress
		switch {
		case i%9 == 4:
			f.plainRound(0.75, 0, hr, loss) // a network outage: few check in
		case i%13 == 10:
			f.plainRound(0.1, 0.7, hr, loss) // devices die while training
		case i%3 == 0:
			f.plainRound(0, 0, hr, loss)
		default:
			f.plainRound(0.12, 0.1, hr, loss)
		}
	}
}

// statusOf decodes a /status answer, failing the test on anything else.
func statusOf(t *testing.T, srv *httptest.Server) (StatusReport, string) {
	t.Helper()
	body, resp := get(t, srv, "/status")
	var st StatusReport
	if err := json.Unmarshal([]byte(body), &st); err != nil || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("/status: %v (%s)", err, resp.Header.Get("Content-Type"))
	}
	return st, body
}

func get(t *testing.T, srv *httptest.Server, path string) (string, *http.Response) {
	t.Helper()
	resp, err := srv.Client().Get(srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %v", path, resp.StatusCode, err)
	}
	return string(b), resp
}

// noDevices fails the test if out names a device.
func noDevices(t *testing.T, what, out string, devices []string) {
	t.Helper()
	for _, d := range devices {
		if strings.Contains(out, d) {
			t.Fatalf("%s names device %s", what, d)
		}
	}
}

// TestStatusTellsTheOperator: /status adds, to what it always served, the
// configuration in force, the privacy budget and the rounds it leaves at
// the recent rate, the population in counts (enrolled, connected, seen,
// quarantined), the fewest reports to commit, and each recent round's
// bytes as the transport told them. It names no device.
func TestStatusTellsTheOperator(t *testing.T) {
	f := newPageFleet(t, pageConfig(), 120, []string{"device-119"})
	srv := f.serve(31)
	f.playPlain(1, 14)
	st, body := statusOf(t, srv)
	noDevices(t, "/status", body, f.devices)
	for _, field := range []string{`"round"`, `"phase"`, `"selected"`, `"checked_in"`, `"reports"`, `"opened"`, `"deadline"`,
		`"model_version"`, `"privacy"`, `"recent_rounds"`, `"epsilon_against_observers"`, `"stages"`} {
		if !strings.Contains(body, field) {
			t.Errorf("/status lacks %s, which it always served", field)
		}
	}
	if st.Round != 15 || len(st.Recent) != 14 || !st.Now.Equal(f.clock.now()) || st.MinReports < 1 {
		t.Fatalf("round %d, %d recent, now %v (clock %v), min reports %d", st.Round, len(st.Recent), st.Now, f.clock.now(), st.MinReports)
	}
	var committed, abandoned int
	for _, r := range st.Recent {
		if r.BytesUp == nil || r.BytesDown == nil || *r.BytesUp != f.bytes[r.Round][0] || *r.BytesDown != f.bytes[r.Round][1] {
			t.Fatalf("round %d: bytes %v/%v, the transport told %v", r.Round, r.BytesUp, r.BytesDown, f.bytes[r.Round])
		}
		if r.Committed {
			committed++
		} else {
			abandoned++
		}
	}
	if committed < 8 || abandoned < 2 {
		t.Fatalf("%d committed and %d abandoned: the scenario should have both", committed, abandoned)
	}

	p := st.Population
	if p == nil || p.Enrolled != 120 || p.Quarantined != 1 || p.Connected == nil || *p.Connected != 31 ||
		p.SeenLastHour == nil || p.SeenLastDay == nil || *p.SeenLastHour == 0 || *p.SeenLastDay != len(f.s.lastSeen) {
		t.Fatalf("population %+v", p)
	}
	f.clock.add(2 * time.Hour)
	if p := f.s.Status().Population; *p.SeenLastHour != 0 || *p.SeenLastDay != len(f.s.lastSeen) {
		t.Fatalf("two hours on: seen %d in the last hour, %d in the day, want 0 and %d", *p.SeenLastHour, *p.SeenLastDay, len(f.s.lastSeen))
	}

	c := st.Config
	if c == nil || c.Goal != 24 || c.Codec == nil || c.Codec.Bits != 8 || !c.Codec.Rotate || c.DP == nil || c.DP.Mode != "central" ||
		c.DP.Budget != 12 || c.DP.Accountant != "rdp" || c.DP.ClipNormNow != 1 || c.SecAgg != nil || c.MinReportsForMeans != 3 ||
		c.SelectionTimeout != "20s" || !(c.SamplingRate > 0.19 && c.SamplingRate < 0.21) {
		t.Fatalf("config %+v (codec %+v, dp %+v)", c, c.Codec, c.DP)
	}

	b := st.Budget
	if b == nil || b.Epsilon != 12 || b.EpsilonPerRound == nil || b.RoundsLeft == nil {
		t.Fatalf("budget %+v", b)
	}
	var eps []float64
	for i := len(st.Recent) - 1; i >= 0; i-- {
		if r := st.Recent[i]; r.Committed {
			eps = append(eps, r.AgainstObservers)
		}
	}
	eps = eps[max(0, len(eps)-budgetRateRounds):]
	rate := (eps[len(eps)-1] - eps[0]) / float64(len(eps)-1)
	left := 12 - st.Privacy.AgainstObservers
	if math.Abs(*b.EpsilonPerRound-rate) > 1e-12 || math.Abs(b.Left-left) > 1e-12 || *b.RoundsLeft != int(left/rate) {
		t.Fatalf("budget %+v (rate %v, rounds left %d), want rate %v, %v left, %d rounds", b, *b.EpsilonPerRound, *b.RoundsLeft, rate, left, int(left/rate))
	}
}

// TestStatusWithoutATransportThatCounts: a Service whose transport tells
// no traffic (the simulator's in-memory one without --http): /status has
// no bytes and null connection and seen counts, which the page shows as
// not measured.
func TestStatusWithoutATransportThatCounts(t *testing.T) {
	s, _ := newTestService(t, &memCheckpoints{}, prometheus.NewRegistry(), 1)
	for _, d := range []string{"a", "b"} {
		s.CheckIn(d, -1)
		s.Report(d, round.Report{Round: 1, Update: []float32{1, 1}, Weight: 1})
	}
	srv := httptest.NewServer(HTTPHandler(s, prometheus.NewRegistry()))
	defer srv.Close()
	st, body := statusOf(t, srv)
	if len(st.Recent) != 1 || st.Recent[0].BytesUp != nil || st.Population.Connected != nil || st.Population.SeenLastHour != nil ||
		st.Budget != nil || st.Config.DP != nil || st.Config.MaxUpdateNorm != round.DefaultMaxUpdateNorm {
		t.Fatalf("status %s", body)
	}
	for _, want := range []string{`"connected": null`, `"seen_last_day": null`} {
		if !strings.Contains(body, want) {
			t.Errorf("/status lacks %s", want)
		}
	}
	if strings.Contains(body, "bytes_up") {
		t.Error("/status shows bytes the transport did not count")
	}
}

// TestStatusOfASecureRound: in a secure round /status tells the SecAgg
// phase, the messages of it in, the devices still in against the round's
// cohort, and the sharing threshold of the neighbourhood; the finished
// rounds' stages are the SecAgg phases.
func TestStatusOfASecureRound(t *testing.T) {
	cfg := secureScenarioConfig()
	f := newPageFleet(t, cfg, 16, nil)
	srv := f.serve(14)
	f.secureRound(nil)
	cohort := f.s.Cohort()
	f.secureRound(map[string]secagg.Phase{cohort[0]: secagg.PhaseShareKeys, cohort[1]: secagg.PhaseUnmask})
	// The third round: one device never checks in; selection ends; two
	// share their keys.
	r := f.s.m.Round()
	cohort = f.s.Cohort()
	clients := map[string]*secagg.Client{}
	for _, d := range cohort[1:] {
		p := f.checkIn(d)
		c, _ := secagg.NewClient(*p.SecAgg, p.SecAggID, rand.NewChaCha8([32]byte{byte(p.SecAggID)}))
		adv, _ := c.Start()
		if err := f.s.SecAggSend(d, r, adv); err != nil {
			t.Fatal(err)
		}
		clients[d] = c
	}
	f.clock.add(cfg.SelectionTimeout)
	f.s.Tick()
	for _, d := range cohort[1:3] {
		msg, _, err := f.s.SecAggFetch(d, r, secagg.PhaseShareKeys)
		if err != nil || msg == nil {
			t.Fatalf("%s: %v %v", d, msg, err)
		}
		out, _ := clients[d].Step(msg)
		if err := f.s.SecAggSend(d, r, out); err != nil {
			t.Fatal(err)
		}
	}
	st, body := statusOf(t, srv)
	noDevices(t, "/status", body, f.devices)
	sa, seat := st.SecAgg, f.s.m.Status()
	c, _ := f.s.SecAggConfig()
	if sa == nil || st.SecAggPhase != "share-keys" || sa.Phase != "share-keys" || sa.Sent != 2 || sa.Expected != len(cohort)-1 ||
		sa.Clients != len(cohort) || sa.Threshold != c.Threshold || sa.Degree != c.Degree || st.MinReports != seat.MinReports {
		t.Fatalf("secagg %+v (phase %q, min reports %d), want 2 of %d sent, %d clients, threshold %d of %d",
			sa, st.SecAggPhase, st.MinReports, len(cohort)-1, len(cohort), c.Threshold, c.Degree)
	}
	if st.Config.SecAgg == nil || st.Config.SecAgg.ThreatModel != "semi-honest" || st.Config.Codec.ModBits == 0 {
		t.Fatalf("config %+v", st.Config)
	}
	var stages []string
	for _, g := range st.Recent[0].Stages {
		stages = append(stages, fmt.Sprintf("%s %d", g.Name, g.Devices))
	}
	if !st.Recent[1].Committed || !st.Recent[0].Committed {
		t.Fatalf("recent rounds %+v", st.Recent)
	}
	want := fmt.Sprintf("selected %d,checked-in %d,advertise-keys %d,share-keys %d,masked-input %d,unmask %d",
		st.Recent[0].Selected, st.Recent[0].Selected, st.Recent[0].Selected, st.Recent[0].Selected-1, st.Recent[0].Selected-1, st.Recent[0].Selected-2)
	if strings.Join(stages, ",") != want {
		t.Fatalf("stages %v, want %s", stages, want)
	}
}

// secureScenarioConfig is semi-honest SecAgg over 16 devices, half of them
// a round, and dropouts of up to a third.
func secureScenarioConfig() round.Config {
	cfg := round.DefaultConfig()
	cfg.Goal, cfg.MinFraction = 8, 0.5
	cfg.SelectionTimeout, cfg.ReportWindow, cfg.RetryMin = 20*time.Second, time.Minute, time.Second
	cfg.Codec = &round.CodecConfig{Bits: 8, Rotate: true, Norm: 1}
	cfg.SecAgg = round.SemiHonestSecAgg(0.1, 0.34, 10*time.Second)
	return cfg
}
