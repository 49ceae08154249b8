package client

import (
	"context"
	"crypto/ed25519"
	crand "crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"time"

	"github.com/tacitfl/tacit/aggregate/secagg"
	"github.com/tacitfl/tacit/codec"
	"github.com/tacitfl/tacit/model"
	"github.com/tacitfl/tacit/privacy"
)

// Coordinator is what a device needs from the coordinator; a transport (QUIC,
// or the simulator's in-memory one) implements it.
type Coordinator interface {
	// CheckIn asks to take part: a plan, or how long to wait before asking
	// again.
	CheckIn(ctx context.Context, cachedVersion int64) (*Plan, time.Duration, error)
	// DownloadModel fetches the shared parameters of a model version, which
	// has length values, into dst if it is large enough.
	DownloadModel(ctx context.Context, version int64, length int, dst []float32) ([]float32, error)
	// Report uploads the device's contribution to a round.
	Report(ctx context.Context, u Upload) error
	// SecAggSend sends the device's message of a SecAgg phase; a masked
	// input's values have bits bits.
	SecAggSend(ctx context.Context, round int64, m secagg.ClientMessage, bits int) error
	// SecAggFetch fetches the coordinator's message that opens phase for
	// the device with SecAgg id to, or how long to wait for it.
	SecAggFetch(ctx context.Context, round int64, phase secagg.Phase, to secagg.ClientID) (secagg.ServerMessage, time.Duration, error)
}

// Upload is everything a device sends about a round: the update of the
// shared parameters and a few numbers. Never events, item ids or the
// person's own vector.
type Upload struct {
	Round int64
	// Update is the update of the shared parameters or, when the plan has
	// a codec, Encoded is its quantized form, Bits bits a value.
	Update  []float32
	Encoded []uint32
	Bits    int
	Weight  float64
	Loss    float64
	// Clipped says the device scaled the update down to the plan's clip
	// norm: what adaptive clipping counts.
	Clipped bool
	// Evaluated says HR and NDCG hold the device's metrics on its held-out
	// item with the model it downloaded (federated evaluation).
	Evaluated bool
	HR, NDCG  float64
}

// Data is what a device holds about its person: training positives and,
// optionally, a held-out item for federated evaluation (-1 for none).
type Data struct {
	Train model.Positives
	Test  int32
}

// Agent is a device's participation in federated training: check in, fetch
// the model when stale, train on the device's own data, report.
type Agent struct {
	data   Data
	source func() (Data, error) // reads data afresh at each check-in, if set
	coord  Coordinator
	// conditions reports the device's state, which the policy's
	// eligibility checks before each check-in; nil: always eligible.
	conditions func() Conditions
	ws         *Workspace
	log        *slog.Logger

	ledger *Ledger
	policy Policy // what the device accepts, with a ledger
	now    func() time.Time

	seed *[32]byte          // seeds the round's coins, in simulations only
	key  ed25519.PrivateKey // the device's enrolment key, for malicious-server SecAgg
	// authority is the enrolment authority's public key, pinned at
	// enrolment: every key of a malicious-server round's registry must
	// carry its endorsement. nil: not checked.
	authority ed25519.PublicKey
	sec       *secureRound // the secure round the device is in, between Steps
}

// secureRound is a device's part in a round that aggregates securely.
type secureRound struct {
	plan   Plan
	client *secagg.Client
	coins  io.Reader // the stochastic rounding's
	noise  *privacy.Noise
	mech   *privacy.DistributedDGauss // with distributed DP
	entry  LedgerEntry
}

// Workspace is the memory an agent trains in: the cached model and scratch
// buffers. A device has one; the simulator gives one to each worker and lets
// the virtual devices it runs share it, so a million virtual devices do not
// hold a million models.
type Workspace struct {
	version  int64 // of the cached model; -1 before any
	mf       *model.MF
	cfg      model.Config
	prepared *model.Prepared
	eval     *model.Evaluator
	trainer  *model.Trainer
	update   []float32
	rotated  []float32 // the rotated update, with a rotating codec
	encoded  []uint32
}

// NewWorkspace returns a workspace with no cached model.
func NewWorkspace() *Workspace { return &Workspace{version: -1} }

// NewAgent returns the agent of a device with data, talking to coord and
// working in ws.
func NewAgent(data Data, coord Coordinator, ws *Workspace, log *slog.Logger) *Agent {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Agent{data: data, coord: coord, ws: ws, log: log, now: time.Now}
}

// KeepLedger makes the agent check every plan against the device's policy
// p (which must be valid) and record in l every round it takes part in, at
// p's δ, and every plan it declines, with the reason. A round without
// differential privacy counts as unbounded ε. Without a ledger an agent
// (a simulation's virtual device) takes part in whatever it is asked to.
func (a *Agent) KeepLedger(l *Ledger, p Policy) *Agent {
	a.ledger, a.policy = l, p
	return a
}

// WithClock makes the agent read the time, which its ledger records and
// its policy's rounds a day count, from now rather than the system clock.
func (a *Agent) WithClock(now func() time.Time) *Agent {
	a.now = now
	return a
}

// WithSeed makes the agent draw the coins of each round (stochastic
// rounding, distributed noise, SecAgg secrets) from a generator seeded by
// seed and the round, for reproducible simulations. Without it they come
// from crypto/rand, as they must on a real device: predictable coins let
// the coordinator remove the noise or the masks.
func (a *Agent) WithSeed(seed [32]byte) *Agent {
	a.seed = &seed
	return a
}

// coins are a round's sources of randomness: for the stochastic rounding,
// for the SecAgg secrets, and the distributed noise. Each has its own
// stream, so a seeded update rounds alike with or without SecAgg.
func (a *Agent) coins(round int64) (rounding, secrets io.Reader, noise *privacy.Noise) {
	if a.seed == nil {
		var seed [32]byte
		crand.Read(seed[:])
		return rand.NewChaCha8(seed), crand.Reader, privacy.NewNoise()
	}
	seed := sha256.Sum256(binary.LittleEndian.AppendUint64(append([]byte("tacit agent coins"), a.seed[:]...), uint64(round)))
	derive := func(purpose string) [32]byte { return sha256.Sum256(append(seed[:], purpose...)) }
	return rand.NewChaCha8(derive("rounding")), rand.NewChaCha8(derive("secagg")), privacy.NewSeededNoise(derive("noise"))
}

// WithSigningKey gives the agent the device's long-term Ed25519 enrolment
// key, whose public half the coordinator's tokens file holds: it signs
// the device's part in malicious-server secure aggregation. A device
// without one declines such rounds.
func (a *Agent) WithSigningKey(k ed25519.PrivateKey) *Agent {
	a.key = k
	return a
}

// WithAuthority pins the enrolment authority's public key: the agent then
// declines a malicious-server round whose registry holds a key the
// authority did not endorse, as a coordinator that lies would register its
// own keys for other devices.
func (a *Agent) WithAuthority(pub ed25519.PublicKey) *Agent {
	a.authority = pub
	return a
}

// WithSource makes the agent read its data from source before each
// check-in instead of holding the data it was made with: a device whose
// person records events, or withdraws consent, between rounds.
func (a *Agent) WithSource(source func() (Data, error)) *Agent {
	a.source = source
	return a
}

// WithConditions makes the agent ask conditions for the device's state
// before each check-in, and check in only when its policy's eligibility
// holds (Policy.Eligible).
func (a *Agent) WithConditions(conditions func() Conditions) *Agent {
	a.conditions = conditions
	return a
}

// SetWorkspace moves the agent to another workspace: a simulator's worker
// lends its own to each device it runs.
func (a *Agent) SetWorkspace(ws *Workspace) { a.ws = ws }

// SecAggPhase is the SecAgg phase the device is in (the one whose message
// it sends next), if it is in a secure round.
func (a *Agent) SecAggPhase() (secagg.Phase, bool) {
	if a.sec == nil {
		return 0, false
	}
	return a.sec.client.Phase(), true
}

// ineligibleWait is how long an agent waits before it looks again at a
// device that is not eligible, or has no data to train on.
const ineligibleWait = time.Minute

// ErrNoData is returned by Step for a device with nothing to train on.
var ErrNoData = errors.New("client: no training data on this device")

// ErrUpdateTooLarge is why a device does not send an update under
// distributed DP whose integer vector would break the accounting's bound.
var ErrUpdateTooLarge = errors.New("client: the encoded update is too large to send")

// Step checks in once and, if given a plan, takes part in that round. It
// returns how long to wait before checking in again (0: at once).
func (a *Agent) Step(ctx context.Context) (time.Duration, error) {
	if a.sec != nil {
		return a.secureStep(ctx)
	}
	if a.conditions != nil { // before the data, which an ineligible device need not read
		if why := a.policy.Ineligible(a.conditions()); why != "" {
			a.log.Debug("not checking in", "reason", why)
			return ineligibleWait, nil
		}
	}
	if a.source != nil {
		d, err := a.source()
		if err != nil {
			return 0, fmt.Errorf("client: reading the device's data: %w", err)
		}
		a.data = d
	}
	if len(a.data.Train.Items) == 0 {
		return 0, ErrNoData
	}
	ws := a.ws
	plan, wait, err := a.coord.CheckIn(ctx, ws.version)
	if err != nil || plan == nil {
		return wait, err
	}
	mech, err := distributedMechanism(*plan, model.ParamCount(plan.Items, plan.Model.Factors))
	if err == nil && mech != nil && plan.SecAgg == nil {
		// Its share of the noise protects the device only inside a sum.
		err = errors.New("distributed DP without secure aggregation")
	}
	if err != nil {
		return 0, fmt.Errorf("client: plan for round %d: %w", plan.Round, err)
	}
	var entry LedgerEntry
	why := a.unsignable(*plan)
	if why == "" && a.ledger != nil {
		entry, why = a.admit(*plan, mech)
	}
	if why != "" {
		if a.ledger == nil {
			return 0, fmt.Errorf("client: plan for round %d: %s", plan.Round, why)
		}
		return a.decline(*plan, why)
	}
	if err := ws.ensureModel(ctx, a.coord, plan); err != nil {
		return 0, err
	}
	if plan.SecAgg != nil {
		return a.startSecure(ctx, *plan, mech, entry)
	}
	u := Upload{Round: plan.Round}
	if a.data.Test >= 0 && int(a.data.Test) < ws.mf.Items {
		pm := ws.eval.Person(0, a.data.Train, a.data.Test)
		u.Evaluated, u.HR, u.NDCG = true, pm.HR, pm.NDCG
	}
	rep, err := train(ws.trainer, ws.prepared, a.data.Train, *plan, ws.update)
	if err != nil {
		return 0, err
	}
	u.Update, u.Weight, u.Loss, u.Clipped = ws.update, rep.Weight, rep.Loss, rep.Clipped
	sent := 4 * len(u.Update)
	if plan.Codec != nil {
		single := plan.Codec.Alone()
		coins, _, _ := a.coins(plan.Round)
		if u.Encoded, err = ws.encode(single, nil, coins, nil); err != nil {
			return 0, err
		}
		u.Update, u.Bits = nil, single.Bits
		sent = codec.PackedLen(len(u.Encoded), u.Bits)
	}
	if err := a.record(entry, sent); err != nil {
		return 0, err
	}
	if err := a.coord.Report(ctx, u); err != nil {
		return 0, fmt.Errorf("client: report for round %d: %w", plan.Round, err)
	}
	a.log.Debug("reported", "round", plan.Round, "loss", rep.Loss)
	return 0, nil
}

// admit checks plan, with distributed mechanism mech, against the device's
// policy and budget: the ledger entry of the round if the device takes
// part, or why it declines.
func (a *Agent) admit(plan Plan, mech *privacy.DistributedDGauss) (LedgerEntry, string) {
	p := a.policy
	if why := p.decline(plan, mech, a.ledger.roundsSince(a.now().Add(-24*time.Hour))); why != "" {
		return LedgerEntry{}, why
	}
	eps := a.ledger.EpsilonIf(plan.NoiseMultiplier, mech, p.Delta)
	if p.Budget > 0 && eps > p.Budget {
		return LedgerEntry{}, fmt.Sprintf("it would take this device's ε to %.4g at δ = %g, past its budget of %g", eps, p.Delta, p.Budget)
	}
	return LedgerEntry{Round: plan.Round, ModelVersion: plan.ModelVersion, NoiseMultiplier: plan.NoiseMultiplier, ClipNorm: plan.ClipNorm, Delta: p.Delta,
		Distributed: mech, Epsilon: eps}, ""
}

// unsignable is why the device cannot take part in plan's malicious-server
// secure aggregation, or "": it has no signing key, or the plan's registry
// does not hold its key at its id (the round could not agree keys).
func (a *Agent) unsignable(plan Plan) string {
	s := plan.SecAgg
	switch {
	case s == nil || !s.Malicious():
		return ""
	case a.key == nil:
		return "malicious-server secure aggregation needs this device's signing key, and it has none"
	case int(plan.SecAggID) >= len(s.Registry.Keys) || !s.Registry.Keys[plan.SecAggID].Equal(a.key.Public()):
		return fmt.Sprintf("the plan's registry does not hold this device's signing key at its id %d", plan.SecAggID)
	case a.authority != nil && !s.Registry.EndorsedBy(a.authority):
		return "the plan's registry holds a key the enrolment authority did not endorse"
	}
	return ""
}

// decline records in the ledger that the device declines plan, and why,
// once a round, and waits out the round: the coordinator learns nothing
// but that the device does not report.
func (a *Agent) decline(plan Plan, why string) (time.Duration, error) {
	a.log.Warn("declining a round", "round", plan.Round, "reason", why)
	if !a.ledger.declinedLast(plan.Round) {
		err := a.record(LedgerEntry{Kind: EntryDeclined, Round: plan.Round, Reason: why, Delta: a.policy.Delta,
			Epsilon: a.ledger.epsilon(a.policy.Delta)}, 0)
		if err != nil {
			return 0, err
		}
	}
	return max(plan.Deadline.Sub(a.now()), time.Minute), nil
}

// record writes the round's ledger entry before anything is sent: an upload
// the ledger lacks must not exist.
func (a *Agent) record(entry LedgerEntry, bytesSent int) error {
	if a.ledger == nil {
		return nil
	}
	entry.Time, entry.BytesSent = a.now().UTC(), bytesSent
	if err := a.ledger.Record(entry); err != nil {
		return fmt.Errorf("client: ledger: %w", err)
	}
	return nil
}

// encode quantizes the workspace's update with codec u. Under distributed
// DP (mech) it then checks the integer vector against the norm bound the
// accounting counts on and adds the device's noise, drawn from noise.
func (ws *Workspace) encode(u codec.UpdateCodec, mech *privacy.DistributedDGauss, coins io.Reader, noise *privacy.Noise) ([]uint32, error) {
	enc, rotated, err := u.Encode(ws.encoded[:0], ws.update, ws.rotated, coins)
	ws.encoded, ws.rotated = enc, rotated
	if err != nil || mech == nil {
		return enc, err
	}
	if err := checkSensitivity(enc, u.ModBits, mech); err != nil {
		return nil, err
	}
	if err := noise.AddDiscreteGaussian(enc, mech.LocalStd); err != nil {
		return nil, err
	}
	mask := codec.RingMask(u.ModBits)
	for i := range enc {
		enc[i] &= mask
	}
	return enc, nil
}

// checkSensitivity refuses an integer vector (two's complement in m bits)
// whose L2 norm exceeds the sensitivity mech's accounting assumes. Clipping
// and stochastic rounding keep every honest vector within it; the check
// makes that a fact on the device rather than an assumption.
func checkSensitivity(enc []uint32, modBits int, mech *privacy.DistributedDGauss) error {
	l2 := mech.Sensitivity()
	var ss float64
	for _, v := range enc {
		k := float64(codec.Signed(v, modBits))
		ss += k * k
	}
	if ss > l2*l2 {
		return fmt.Errorf("%w: its norm %.6g exceeds %.6g, the sensitivity the privacy accounting counts on", ErrUpdateTooLarge, math.Sqrt(ss), l2)
	}
	return nil
}

// distributedMechanism is the distributed discrete Gaussian a round of plan
// runs on a model of d parameters, read from the plan's codec (nil without
// distributed DP), colluders included: what the device's ledger counts, as
// the coordinator's accountant does, and its noise must meet.
func distributedMechanism(plan Plan, d int) (*privacy.DistributedDGauss, error) {
	u := plan.Codec
	if u == nil || u.LocalNoise == 0 {
		return nil, nil
	}
	q, err := u.Quantizer()
	if err != nil {
		return nil, err
	}
	m := &privacy.DistributedDGauss{LocalStd: u.LocalNoise, Scale: q.Scale(), Clip: plan.ClipNorm, Dim: u.EncodedLen(d),
		MinSurvivors: u.MinSurvivors, Colluders: u.Colluders}
	return m, m.Check()
}

// startSecure joins the secure round of plan: the device advertises its
// keys and keeps its part of the round for the Steps that follow.
func (a *Agent) startSecure(ctx context.Context, plan Plan, mech *privacy.DistributedDGauss, entry LedgerEntry) (time.Duration, error) {
	coins, secrets, noise := a.coins(plan.Round)
	c, err := secagg.NewClientWith(*plan.SecAgg, plan.SecAggID, secrets, secagg.ClientOptions{SigningKey: a.key, Authority: a.authority})
	if err != nil {
		return 0, fmt.Errorf("client: round %d: %w", plan.Round, err)
	}
	adv, err := c.Start()
	if err != nil {
		return 0, err
	}
	a.sec = &secureRound{plan: plan, client: c, coins: coins, noise: noise, mech: mech, entry: entry}
	if err := a.coord.SecAggSend(ctx, plan.Round, adv, 0); err != nil {
		a.sec = nil
		return 0, fmt.Errorf("client: advertising keys for round %d: %w", plan.Round, err)
	}
	return 0, nil
}

// secureStep takes the device's secure round one phase on: it fetches the
// coordinator's message opening the phase (or waits for it), trains when
// the masked input is due, and sends its answer.
func (a *Agent) secureStep(ctx context.Context) (time.Duration, error) {
	sr := a.sec
	phase := sr.client.Phase()
	if phase >= secagg.PhaseDone {
		a.sec = nil
		return 0, nil
	}
	msg, wait, err := a.coord.SecAggFetch(ctx, sr.plan.Round, phase, sr.plan.SecAggID)
	if err != nil {
		a.sec = nil // the round went on without this device, or ended
		return 0, fmt.Errorf("client: round %d, %v: %w", sr.plan.Round, phase, err)
	}
	if msg == nil {
		return wait, nil
	}
	bits := 0
	if phase == secagg.PhaseMaskedInput {
		input, err := a.secureInput(ctx, sr)
		if err == nil {
			err = sr.client.SetInput(input)
		}
		if err != nil {
			a.sec = nil
			return 0, err
		}
		bits = sr.plan.SecAgg.Bits
	}
	reply, err := sr.client.Step(msg)
	var bad *secagg.ShareError
	switch {
	case errors.As(err, &bad) && reply != nil:
		// Some neighbours' shares were forged or garbled: the round goes
		// on without them.
		a.log.Warn("shares refused", "round", sr.plan.Round, "err", err)
	case err != nil:
		a.sec = nil
		return 0, fmt.Errorf("client: round %d, %v: %w", sr.plan.Round, phase, err)
	}
	if reply != nil {
		if err := a.coord.SecAggSend(ctx, sr.plan.Round, reply, bits); err != nil {
			a.sec = nil
			return 0, fmt.Errorf("client: round %d, %v: %w", sr.plan.Round, phase, err)
		}
	}
	if phase == secagg.PhaseUnmask {
		a.sec = nil // its shares revealed, the device is done with the round
	}
	return 0, nil
}

// secureInput trains on the device and encodes the update for the masked
// input, recording the round in the ledger first.
func (a *Agent) secureInput(ctx context.Context, sr *secureRound) ([]uint32, error) {
	ws := a.ws
	if err := ws.ensureModel(ctx, a.coord, &sr.plan); err != nil {
		return nil, err
	}
	if _, err := train(ws.trainer, ws.prepared, a.data.Train, sr.plan, ws.update); err != nil {
		return nil, err
	}
	enc, err := ws.encode(*sr.plan.Codec, sr.mech, sr.coins, sr.noise)
	if err != nil {
		return nil, err
	}
	if err := a.record(sr.entry, codec.PackedLen(len(enc), sr.plan.SecAgg.Bits)); err != nil {
		return nil, err
	}
	return enc, nil
}

// Run takes part in rounds until ctx ends. It waits out the retry windows
// the coordinator gives, and after a failure (the network lost, a report
// refused) backs off with jitter, from half a second up to half a minute,
// before trying again. It returns ctx's error, or ErrNoData for an agent
// without a source (WithSource); one with a source waits for data to come.
func (a *Agent) Run(ctx context.Context) error {
	backoff := time.Duration(0)
	for {
		wait, err := a.Step(ctx)
		switch {
		case errors.Is(err, ErrNoData) && a.source == nil:
			return err
		case errors.Is(err, ErrNoData):
			wait = ineligibleWait
		case err != nil && ctx.Err() == nil:
			backoff = min(max(2*backoff, 500*time.Millisecond), 30*time.Second)
			wait = backoff/2 + rand.N(backoff/2+1)
			a.log.Info("retrying after a failure", "in", wait, "err", err)
		default:
			backoff = 0
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// ensureModel makes the plan's model version the cached one, downloading it
// from coord if needed, and prepares it for training.
func (ws *Workspace) ensureModel(ctx context.Context, coord Coordinator, plan *Plan) error {
	if err := plan.Model.Validate(); err != nil {
		return fmt.Errorf("client: plan for round %d: %w", plan.Round, err)
	}
	if plan.Items <= 0 || plan.Items > maxItems {
		return fmt.Errorf("client: plan for round %d has %d items", plan.Round, plan.Items)
	}
	want := model.ParamCount(plan.Items, plan.Model.Factors)
	if ws.mf == nil || ws.version != plan.ModelVersion || plan.DownloadModel || len(ws.mf.Params) != want {
		var old []float32
		if ws.mf != nil {
			old = ws.mf.Params
		}
		params, err := coord.DownloadModel(ctx, plan.ModelVersion, want, old)
		if err != nil {
			return fmt.Errorf("client: downloading model %d: %w", plan.ModelVersion, err)
		}
		if len(params) != want {
			return fmt.Errorf("client: model %d has %d parameters, the plan says %d", plan.ModelVersion, len(params), want)
		}
		ws.mf = &model.MF{Items: plan.Items, Factors: plan.Model.Factors, Params: params}
		ws.version, ws.prepared = plan.ModelVersion, nil
	}
	if ws.prepared == nil || ws.cfg != plan.Model {
		if ws.trainer == nil || ws.cfg.Factors != plan.Model.Factors {
			ws.trainer = model.NewTrainer(plan.Model.Factors)
		}
		ws.cfg = plan.Model
		ws.prepared = model.Prepare(ws.mf, plan.Model)
		ws.eval = model.NewEvaluator(ws.prepared, model.DefaultEvalOptions())
	}
	if len(ws.update) != want {
		ws.update = make([]float32, want)
	}
	return nil
}

// maxItems bounds the model shape a plan may ask a device to hold.
const maxItems = 10_000_000
