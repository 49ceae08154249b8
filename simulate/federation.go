package simulate

import (
	"context"
	"crypto/ed25519"
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
	gproto "google.golang.org/protobuf/proto"

	"github.com/tacitfl/tacit/aggregate"
	"github.com/tacitfl/tacit/aggregate/secagg"
	"github.com/tacitfl/tacit/client"
	"github.com/tacitfl/tacit/coordinator"
	"github.com/tacitfl/tacit/coordinator/round"
	"github.com/tacitfl/tacit/model"
	"github.com/tacitfl/tacit/privacy"
	"github.com/tacitfl/tacit/proto"
	"github.com/tacitfl/tacit/proto/tacitpb"
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
	spaces   []*client.Workspace // one per worker
	dp       *round.DPConfig     // nil without differential privacy
	secure   bool                // rounds aggregate securely
	// keys are the devices' enrolment signing keys, derived from the seed,
	// in malicious-server SecAgg; nil otherwise.
	keys map[string]ed25519.PrivateKey
	// authority is the simulated enrolment authority's public key, which
	// every virtual device pins, with malicious-server SecAgg.
	authority ed25519.PublicKey
	downBits  int // bits of the downloaded model; 0: float32
	codec     *proto.Codec

	// The clock is real time plus skip, which grows when the simulator
	// jumps past deadlines that dropouts would make it wait for. Rounds
	// thus take their real duration, as the status page shows, and no
	// deadline passes while devices are still at work (the windows are
	// long), so outcomes stay reproducible.
	started  time.Time
	skip     atomic.Int64 // nanoseconds
	outcomes []round.Outcome

	connect func(id string) client.Coordinator // the transport to the coordinator
	// wire counts what the in-memory transport's exchanges would carry over
	// QUIC, when there are metrics to count it in; nil otherwise.
	wire    *memWire
	reg     *prometheus.Registry // the coordinator's metrics, with cfg.HTTP; nil otherwise
	closers []func() error
}

// Round timing: devices act as soon as a round opens, so these only decide
// when a round with dropouts ends, which the simulator skips to.
const (
	selectionTimeout = time.Hour
	reportWindow     = time.Hour
)

func newFederation(cfg Config, pop *population, items int, init *model.MF) (*federation, error) {
	codec, err := proto.NewCodec()
	if err != nil {
		return nil, err
	}
	f := &federation{pop: pop, person: make(map[string]int, len(pop.people)), dropout: cfg.Dropout, seed: cfg.Seed,
		downBits: cfg.DownBits, codec: codec}
	for _, u := range pop.people {
		id := "p" + strconv.Itoa(u)
		f.ids = append(f.ids, id)
		f.person[id] = u
	}
	f.template = client.Plan{Items: items, Model: cfg.Model.Config(), Local: cfg.Local.Config(cfg.Model, len(pop.people))}
	opt, err := aggregate.NewOptimizer(cfg.Optimizer.Config())
	if err != nil {
		return nil, err
	}
	rc, err := cfg.roundConfig(len(init.Params), len(pop.people))
	if err != nil {
		return nil, err
	}
	f.secure = rc.SecAgg != nil
	f.started = time.Now()
	f.dp = rc.DP
	// Seeded noise and a selection key derived from the seed keep
	// simulations reproducible; a deployment draws both from the operating
	// system. The ε a simulation reports assumes, as a deployment's holds,
	// that the sample is secret (Summary.PrivacyAssumptions says so).
	noise := privacy.NewSeededNoise(sha256.Sum256(binary.LittleEndian.AppendUint64([]byte("tacit simulate noise"), cfg.Seed)))
	key := sha256.Sum256(binary.LittleEndian.AppendUint64([]byte("tacit simulate selection key"), cfg.Seed))
	parts := round.Parts{Population: f.ids, Snapshot: round.Snapshot{Params: init.Params, SelectionKey: key}, Optimizer: opt, Noise: noise}
	if rc.SecAgg != nil && rc.SecAgg.Malicious {
		f.keys, parts.SigningKeys, parts.Endorsements, f.authority = enrol(f.ids, cfg.Seed)
	}
	m, err := round.NewMachine(rc, parts, f.now())
	if err != nil {
		return nil, err
	}
	opts := coordinator.ServiceOptions{Now: f.now,
		Watch: func(o round.Outcome) { f.outcomes = append(f.outcomes, o) }}
	var reg *prometheus.Registry
	if cfg.HTTP != "" {
		reg = prometheus.NewRegistry()
		opts.Metrics = coordinator.NewMetrics(reg)
	}
	f.svc, f.reg = coordinator.NewService(m, opts), reg
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

// enrol is the virtual devices' enrolment: their keys, each derived from
// the seed and its id, the registry of their public halves, the simulated
// authority's endorsements of those, and the authority's public key.
func enrol(ids []string, seed uint64) (map[string]ed25519.PrivateKey, map[string]ed25519.PublicKey, map[string][]byte, ed25519.PublicKey) {
	s := sha256.Sum256(binary.LittleEndian.AppendUint64([]byte("tacit simulate enrolment authority"), seed))
	authority := ed25519.NewKeyFromSeed(s[:])
	priv, pub := make(map[string]ed25519.PrivateKey, len(ids)), make(map[string]ed25519.PublicKey, len(ids))
	endorsed := make(map[string][]byte, len(ids))
	for _, id := range ids {
		s := sha256.Sum256(binary.LittleEndian.AppendUint64([]byte("tacit simulate signing key "+id), seed))
		priv[id] = ed25519.NewKeyFromSeed(s[:])
		pub[id] = priv[id].Public().(ed25519.PublicKey)
		endorsed[id] = secagg.Endorse(authority, pub[id])
	}
	return priv, pub, endorsed, authority.Public().(ed25519.PublicKey)
}

// startTransport joins devices to the coordinator as cfg.Transport says,
// and serves the operator endpoints if cfg.HTTP is set.
func (f *federation) startTransport(cfg Config, reg *prometheus.Registry, metrics *coordinator.Metrics) error {
	f.connect = func(id string) client.Coordinator { return &memTransport{f: f, device: id} }
	if cfg.Transport != "quic" && metrics != nil {
		f.wire = &memWire{metrics: metrics, svc: f.svc, codec: f.codec, downBits: cfg.DownBits, connected: make(map[string]bool),
			model: proto.ModelConfig(f.template.Items, f.template.Model), local: proto.LocalTraining(f.template.Local), modelVersion: -1}
		f.svc.Attach(func() int { return int(f.wire.open.Load()) })
		f.closers = append(f.closers, f.wire.close)
	}
	if cfg.Transport == "quic" {
		q, err := startQUIC(f.svc, metrics, f.ids, f.template, cfg.DownBits)
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

// roundConfig is the round machine's configuration for a run on people
// devices training params parameters: the shared settings, with round
// timing made for the simulator, every selected report counted, and the
// noise calibrated if --target-epsilon says so.
func (c Config) roundConfig(params, people int) (round.Config, error) {
	rc := round.Config{Goal: c.ClientsPerRound, OverSelection: 1, MinFraction: 1e-9,
		SelectionTimeout: selectionTimeout, ReportWindow: reportWindow, RetryMin: time.Second, Seed: c.Seed,
		DP: c.Privacy.Config(c.TargetEpsilon), Codec: c.Quantization.Config(), SecAgg: c.SecureAggregation.Config(selectionTimeout)}
	if rc.SecAgg != nil && c.Dropout > rc.SecAgg.DropoutRate {
		// The coordinator unmasks only within the dropout rate secure
		// aggregation is sized for: size it for the simulated dropouts.
		rc.SecAgg.DropoutRate = c.Dropout
	}
	if rc.DP == nil {
		return rc, nil
	}
	if rc.DP.Distributed {
		// The devices' noise is calibrated for the fewest survivors a
		// round accepts: a margin below the expected reports, wide
		// enough for the configured dropouts and the cohort's spread.
		rc.MinFraction = max(0.5, 1-1.5*c.SecAggDropout)
	}
	var err error
	rc.DP.NoiseMultiplier, err = c.noiseMultiplier(rc, params, people)
	return rc, err
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
func (c Config) noiseMultiplier(rc round.Config, params, people int) (float64, error) {
	if c.TargetEpsilon == 0 {
		return c.NoiseMultiplier, nil
	}
	if rc.DP.Distributed {
		mech := round.DistributedMechanism(rc, params, people, rc.DP.ClipNorm)
		return privacy.CalibrateDistributedDGauss(mech, c.Accountant, c.TargetEpsilon, c.Delta, c.samplingRate(people), c.Rounds)
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
// not drop out checks in, trains and reports, or with secure aggregation
// goes through the SecAgg phases, one exchange per pass over the devices;
// when a pass moves nothing the clock skips to the round's next deadline,
// which dropouts would have it wait for. It returns the round's outcome,
// whose stages count the devices that dropped out.
func (f *federation) round(ctx context.Context) (round.Outcome, error) {
	current := f.svc.Status().Round
	type device struct {
		id     string
		agent  *client.Agent
		dropAt secagg.Phase // the SecAgg phase whose message it never sends; PhaseDone if none
		done   bool
	}
	var devs []*device
	for _, id := range f.svc.Cohort() {
		at := f.dropPhase(current, id)
		if at == secagg.PhaseAdvertiseKeys { // never checks in
			continue
		}
		devs = append(devs, &device{id: id, dropAt: at})
	}
	for pass := 0; len(f.outcomes) == 0; pass++ {
		if pass > maxPasses {
			return round.Outcome{}, fmt.Errorf("round %d did not end after %d passes", current, pass)
		}
		var next, moved atomic.Int64
		errs := make([]error, len(f.spaces))
		var wg sync.WaitGroup
		for w, ws := range f.spaces {
			wg.Go(func() {
				for {
					j := int(next.Add(1)) - 1
					if j >= len(devs) || errs[w] != nil {
						return
					}
					d := devs[j]
					if d.done {
						continue
					}
					if d.agent == nil {
						u := f.person[d.id]
						seed := sha256.Sum256(binary.LittleEndian.AppendUint64([]byte("tacit simulate device "+d.id), f.seed))
						d.agent = client.NewAgent(client.Data{Train: f.pop.Positives(u), Test: -1}, f.connect(d.id), ws, nil).WithSeed(seed).
							WithSigningKey(f.keys[d.id]).WithAuthority(f.authority)
					}
					d.agent.SetWorkspace(ws)
					before, secure := d.agent.SecAggPhase()
					if secure && before >= d.dropAt {
						d.done = true // drops out: never sends this phase's message
						continue
					}
					_, err := d.agent.Step(ctx)
					after, still := d.agent.SecAggPhase()
					if !still {
						d.done = true
					}
					if !still || !secure || after != before {
						moved.Add(1)
					}
					if err != nil {
						errs[w] = fmt.Errorf("device %s: %w", d.id, err)
					}
				}
			})
		}
		wg.Wait()
		if len(f.outcomes) > 0 {
			break // devices refused once the round ended are no failure
		}
		for _, err := range errs {
			if err != nil {
				return round.Outcome{}, err
			}
		}
		if moved.Load() > 0 {
			continue
		}
		// Only dropouts are left to wait for: skip to the next deadline.
		st := f.svc.Status()
		deadline := st.Deadline
		if st.Phase == round.Selecting.String() {
			deadline = st.Opened.Add(selectionTimeout)
		}
		f.skip.Add(int64(max(0, deadline.Sub(f.now()))))
		f.svc.Tick()
	}
	if len(f.outcomes) != 1 || f.outcomes[0].Round != current {
		return round.Outcome{}, fmt.Errorf("round %d finished as %d rounds", current, len(f.outcomes))
	}
	o := f.outcomes[0]
	f.outcomes = f.outcomes[:0]
	return o, nil
}

// maxPasses bounds the passes of a round: a secure one takes five, plus one
// per deadline its dropouts leave it waiting for.
const maxPasses = 100

// dropPhase decides, from (seed, round, device) alone, whether and when a
// selected device drops out: PhaseAdvertiseKeys means it never checks in,
// and with secure aggregation a device drops at a uniformly chosen phase;
// PhaseDone means it stays. In malicious-server mode a device drawn to drop
// at the unmask drops, by a further draw, at the consistency phase or the
// unmask, so the masked inputs, and the sum, are those of a semi-honest
// round.
func (f *federation) dropPhase(round int64, id string) secagg.Phase {
	if f.dropout == 0 {
		return secagg.PhaseDone
	}
	rng := rand.New(rand.NewPCG(f.seed^0xd409, uint64(round)<<32|uint64(f.person[id])))
	if rng.Float64() >= f.dropout {
		return secagg.PhaseDone
	}
	if !f.secure {
		return secagg.PhaseAdvertiseKeys
	}
	phases := []secagg.Phase{secagg.PhaseAdvertiseKeys, secagg.PhaseShareKeys, secagg.PhaseMaskedInput, secagg.PhaseUnmask} // a semi-honest round's
	at := phases[rng.IntN(len(phases))]
	if at == secagg.PhaseUnmask && f.keys != nil && rng.IntN(2) == 0 {
		at = secagg.PhaseConsistency
	}
	return at
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
	if w := t.f.wire; w != nil {
		w.exchange(t.device, &tacitpb.Request{Body: &tacitpb.Request_CheckIn{CheckIn: &tacitpb.CheckIn{CachedModelVersion: cached}}},
			coordinator.CheckInResponse(res, err, w.model, w.local))
	}
	if err != nil || res.Plan == nil {
		return nil, res.RetryAfter, err
	}
	p := t.f.template
	p.Round, p.ModelVersion, p.DownloadModel, p.Deadline = res.Plan.Round, res.Plan.ModelVersion, res.Plan.DownloadModel, res.Plan.Deadline
	p.ClipNorm, p.NoiseMultiplier, p.Delta = res.Plan.ClipNorm, res.Plan.NoiseMultiplier, res.Plan.Delta
	p.Codec, p.SecAgg, p.SecAggID = res.Plan.Codec, res.Plan.SecAgg, res.Plan.SecAggID
	return &p, 0, nil
}

func (t *memTransport) DownloadModel(_ context.Context, version int64, _ int, dst []float32) ([]float32, error) {
	var err error
	var in, out int
	t.f.svc.Model(func(v int64, params []float32) {
		if w := t.f.wire; w != nil {
			in, out = w.download(t.device, version, v, params)
		}
		switch {
		case v != version:
			err = fmt.Errorf("model version %d is no longer current (%d is)", version, v)
		case t.f.downBits > 0: // what the QUIC server would send
			dst, err = t.f.codec.RoundTripModel(params, t.f.downBits, dst)
		default:
			dst = append(dst[:0], params...)
		}
	})
	if w := t.f.wire; w != nil && in > 0 {
		w.svc.Traffic(t.device, in, out)
	}
	return dst, err
}

func (t *memTransport) Report(_ context.Context, u client.Upload) error {
	r := round.Report{Round: u.Round, Update: u.Update, Encoded: u.Encoded, Weight: u.Weight, Loss: u.Loss, Clipped: u.Clipped}
	if u.Evaluated {
		r.Eval = &round.Evaluation{HR: u.HR, NDCG: u.NDCG}
	}
	err := t.f.svc.Report(t.device, r)
	if w := t.f.wire; w != nil {
		w.report(t.device, u, err)
	}
	return err
}

func (t *memTransport) SecAggSend(_ context.Context, round int64, m secagg.ClientMessage, bits int) error {
	err := t.f.svc.SecAggSend(t.device, round, m)
	if w := t.f.wire; w != nil {
		w.secAggSend(t.device, round, m, bits, err)
	}
	return err
}

func (t *memTransport) SecAggFetch(_ context.Context, round int64, phase secagg.Phase, _ secagg.ClientID) (secagg.ServerMessage, time.Duration, error) {
	msg, wait, err := t.f.svc.SecAggFetch(t.device, round, phase)
	if w := t.f.wire; w != nil {
		w.secAggFetch(t.device, round, phase, msg, wait, err)
	}
	return msg, wait, err
}

// memWire counts in the coordinator's metrics what the in-memory
// transport's exchanges would have carried over QUIC (coordinator.Server
// and client.QUIC): a connection per device from its first exchange, which
// a Hello opens, until the run ends, as the QUIC transport keeps them; and
// the frames of each request and its response, built as client.QUIC and
// the Server build them. Building them costs an encoding of every update,
// so only a run with metrics (--http) has a memWire.
type memWire struct {
	metrics      *coordinator.Metrics
	svc          *coordinator.Service // counts each round's bytes and the devices seen
	open         atomic.Int64         // devices connected, read by the Service without w.mu
	codec        *proto.Codec
	downBits     int
	model        *tacitpb.ModelConfig   // every plan's
	local        *tacitpb.LocalTraining // every plan's
	mu           sync.Mutex
	connected    map[string]bool
	modelVersion int64 // the version whose framed download is modelFrame bytes
	modelFrame   int
}

// frameLen is the bytes m takes framed (proto.AppendFrame).
func frameLen(m gproto.Message) int { return 4 + gproto.Size(m) }

// exchange counts req and its response resp of device's, and the device's
// connection and its Hello if this is its first exchange.
func (w *memWire) exchange(device string, req *tacitpb.Request, resp *tacitpb.Response) {
	req.ProtocolVersion = proto.ProtocolVersion
	in, out := frameLen(req), frameLen(resp)
	w.mu.Lock()
	w.exchangeFramed(device, in, out)
	w.mu.Unlock()
	w.svc.Traffic(device, in, out)
}

// exchangeFramed is exchange of frames already sized, under w.mu.
func (w *memWire) exchangeFramed(device string, in, out int) {
	if !w.connected[device] {
		w.connected[device] = true
		w.open.Add(1)
		w.metrics.DeviceConnected()
		hello := &tacitpb.Request{ProtocolVersion: proto.ProtocolVersion, Token: tokenOf(device), Body: &tacitpb.Request_Hello{Hello: &tacitpb.Hello{}}}
		w.metrics.Exchanged(frameLen(hello), frameLen(&tacitpb.Response{Body: &tacitpb.Response_Hello{Hello: &tacitpb.HelloAck{}}}))
	}
	w.metrics.Exchanged(in, out)
}

// download counts a download of version, the current model being v with
// params: its frame is encoded once a version, as the Server caches it. It
// runs under the Service's lock (Service.Model), so it returns the bytes
// in and out for the caller to tell the Service (Traffic) once that is
// released.
func (w *memWire) download(device string, version, v int64, params []float32) (in, out int) {
	req := &tacitpb.Request{ProtocolVersion: proto.ProtocolVersion, Body: &tacitpb.Request_Model{Model: &tacitpb.ModelRequest{Version: version}}}
	w.mu.Lock()
	defer w.mu.Unlock()
	in, out = frameLen(req), 0
	if v != version {
		out = frameLen(proto.NewError(tacitpb.ErrorCode_ERROR_CODE_STALE_MODEL, fmt.Sprintf("model %d is not current; %d is", version, v)))
		w.exchangeFramed(device, in, out)
		return in, out
	}
	if w.modelVersion != v {
		t := w.codec.Encode(params, tacitpb.Compression_COMPRESSION_ZSTD)
		if w.downBits > 0 {
			var err error
			if t, err = w.codec.EncodeModel(params, w.downBits, tacitpb.Compression_COMPRESSION_ZSTD); err != nil {
				return 0, 0 // the download fails too (RoundTripModel), and the Server sends no model
			}
		}
		w.modelVersion = v
		w.modelFrame = frameLen(&tacitpb.Response{Body: &tacitpb.Response_Model{Model: &tacitpb.Model{Version: v, Params: t, Config: w.model}}})
	}
	w.exchangeFramed(device, in, w.modelFrame)
	return in, w.modelFrame
}

// report counts the upload u, answered with err.
func (w *memWire) report(device string, u client.Upload, err error) {
	r := &tacitpb.Report{Round: u.Round, Weight: u.Weight, TrainLoss: u.Loss, Clipped: u.Clipped}
	if u.Encoded != nil {
		r.Update = w.codec.EncodeUint(u.Encoded, u.Bits, tacitpb.Compression_COMPRESSION_ZSTD)
	} else {
		r.Update = w.codec.Encode(u.Update, tacitpb.Compression_COMPRESSION_NONE)
	}
	if u.Evaluated {
		r.Evaluation = &tacitpb.Evaluation{HrAt_10: u.HR, NdcgAt_10: u.NDCG}
	}
	resp := &tacitpb.Response{Body: &tacitpb.Response_ReportAck{ReportAck: &tacitpb.ReportAck{}}}
	if err != nil {
		resp = coordinator.RejectionResponse(err)
	}
	w.exchange(device, &tacitpb.Request{Body: &tacitpb.Request_Report{Report: r}}, resp)
}

// secAggSend counts the SecAgg message m, answered with err.
func (w *memWire) secAggSend(device string, round int64, m secagg.ClientMessage, bits int, err error) {
	s, encErr := w.codec.SecAggSend(round, m, bits)
	if encErr != nil {
		return // client.QUIC would not have sent it
	}
	resp := &tacitpb.Response{Body: &tacitpb.Response_SecaggSend{SecaggSend: &tacitpb.SecAggSendAck{}}}
	if err != nil {
		resp = coordinator.RejectionResponse(err)
	}
	w.exchange(device, &tacitpb.Request{Body: &tacitpb.Request_SecaggSend{SecaggSend: s}}, resp)
}

// secAggFetch counts a fetch of phase's message, answered with msg, or
// wait, or err.
func (w *memWire) secAggFetch(device string, round int64, phase secagg.Phase, msg secagg.ServerMessage, wait time.Duration, err error) {
	req := &tacitpb.Request{Body: &tacitpb.Request_SecaggFetch{SecaggFetch: &tacitpb.SecAggFetch{Round: round, Phase: proto.SecAggPhase(phase)}}}
	var resp *tacitpb.Response
	switch {
	case err != nil:
		resp = coordinator.RejectionResponse(err)
	case msg == nil:
		resp = &tacitpb.Response{Body: &tacitpb.Response_SecaggFetch{SecaggFetch: &tacitpb.SecAggFetchResult{
			Result: &tacitpb.SecAggFetchResult_Retry{Retry: &tacitpb.RetryAfter{AfterMillis: wait.Milliseconds()}}}}}
	default:
		res, err := proto.SecAggFetchResult(msg)
		if err != nil {
			resp = proto.NewError(tacitpb.ErrorCode_ERROR_CODE_INTERNAL, err.Error())
		} else {
			resp = &tacitpb.Response{Body: &tacitpb.Response_SecaggFetch{SecaggFetch: res}}
		}
	}
	w.exchange(device, req, resp)
}

// close ends every connection: the run is over.
func (w *memWire) close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	for range w.connected {
		w.metrics.DeviceDisconnected()
	}
	clear(w.connected)
	w.open.Store(0)
	return nil
}

var _ client.Coordinator = (*memTransport)(nil)
