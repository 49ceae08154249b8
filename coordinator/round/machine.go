package round

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"github.com/tacitfl/tacit/aggregate"
	"github.com/tacitfl/tacit/aggregate/secagg"
	"github.com/tacitfl/tacit/codec"
	"github.com/tacitfl/tacit/privacy"
)

// Snapshot is the state that survives a restart, written after each commit.
type Snapshot struct {
	Round     int64 // the last round that committed; 0 before any
	Version   int64 // the model version, one more with every commit
	Params    []float32
	Optimizer aggregate.OptimizerState
	// ClipNorm is the clip norm for the next round (it moves with adaptive
	// clipping); 0 without differential privacy.
	ClipNorm float64
	// Spends are the committed rounds' privacy mechanisms, which the
	// accountant replays on restart; nil without differential privacy.
	Spends []privacy.Spend
	// SelectionKey keys the selection of every round's cohort. It must be
	// secret (amplification by sampling holds only against those who do not
	// know the sample) and random: the driver draws it from crypto/rand for
	// a new run and keeps it with the snapshot. It is never logged, shown
	// or written anywhere else.
	SelectionKey [32]byte
	// Participation counts, per device, the committed rounds whose sum
	// held its update; with distributed DP only, the one mode in which ε
	// against the coordinator is bounded. It is what ε
	// against the coordinator is computed from.
	Participation map[string]int
	// Excluded are the devices that revealed a share off its owner's
	// sharing polynomial in a secure round: never selected again.
	Excluded []string
}

// Plan is what an accepted device is told to do.
type Plan struct {
	Round         int64
	ModelVersion  int64
	DownloadModel bool      // the device's cached model is not this version
	Deadline      time.Time // reports after it are late
	// With differential privacy: the norm to clip the update to, and the
	// noise multiplier and δ, for the device's ledger.
	ClipNorm, NoiseMultiplier, Delta float64
	// Codec, if set, is how to encode the update.
	Codec *codec.UpdateCodec
	// SecAgg, if set, is the round's secure aggregation and SecAggID the
	// device's id in it: the device sends a masked input, not a report.
	SecAgg   *secagg.Config
	SecAggID secagg.ClientID
}

// CheckInResult is the answer to a check-in: a plan, or a window after
// which to come back.
type CheckInResult struct {
	Plan       *Plan
	RetryAfter time.Duration
	Reason     string
}

// Stopped is the phase of a machine that will open no more rounds: the
// privacy budget is spent.
const Stopped Phase = 2

// Report is a device's contribution to a round.
type Report struct {
	Round int64
	// Update is the update of the shared parameters, or, in a round with a
	// codec, Encoded is its encoding (codec.UpdateCodec, b-bit values).
	Update  []float32
	Encoded []uint32
	// Weight must be in (0, 2^22) but is not used: every person counts
	// alike.
	Weight float64
	Loss   float64
	Eval   *Evaluation // the device's metrics on the model it trained from, if it evaluated
	// Clipped says the device scaled its update down to the plan's clip
	// norm (the coordinator, seeing only the result, cannot tell).
	Clipped bool
}

// Evaluation is one device's ranking metrics (federated evaluation).
type Evaluation struct{ HR, NDCG float64 }

// Phase is where a round is.
type Phase int

const (
	// Selecting: selected devices may check in and be configured.
	Selecting Phase = iota
	// Reporting: selection is closed; accepted devices may still report.
	Reporting
)

func (p Phase) String() string {
	switch p {
	case Selecting:
		return "selecting"
	case Reporting:
		return "reporting"
	}
	return "stopped"
}

// Outcome is a finished round, for the driver to persist and publish.
type Outcome struct {
	Round                        int64
	Committed                    bool
	Reason                       string
	Selected, CheckedIn, Reports int
	Opened, Ended                time.Time
	// Stages are the devices still in the round at the end of each of its
	// stages, in order: selected, checked in, then reported or, in a
	// secure round, each SecAgg phase the round reached (devices that sent
	// their message of the phase). The drop from one stage to the next is
	// the round's dropouts there.
	Stages []Stage
	// Excluded are the devices this round found revealing bad SecAgg
	// shares, from now on never selected (Snapshot.Excluded).
	Excluded []string
	// TrainLoss is the mean over Losses reports; Evaluated reports carried
	// an evaluation, whose means are HR and NDCG. Both counts are 0, and
	// the means absent, below Config.MinReportsForMeans.
	Losses    int
	TrainLoss float64
	Evaluated int
	HR, NDCG  float64   // means over those
	Snapshot  *Snapshot // the new state, when Committed
	// With differential privacy: reports clipped, the sensitivity Δ (the
	// largest norm one device's contribution could have: the clip norm, or
	// more under SecAgg), the noise's standard deviation on the sum (z·Δ
	// with central noise), and the ε spent in all after this round, in the
	// two figures of Epsilons.
	Clipped     int
	ClipNorm    float64
	Sensitivity float64
	NoiseStd    float64
	Epsilons
	// UpdateNorms are the L2 norms of the round's accepted plain reports,
	// in arrival order, before any clipping (decoded, still rotated, in a
	// round with a codec: rotation keeps norms); nil in a secure round,
	// whose updates the coordinator never sees.
	UpdateNorms []float64
}

// Stage is how many devices were still in a round at the end of one of
// its stages.
type Stage struct {
	Name    string `json:"stage"` // "selected", "checked-in", "reported", or a SecAgg phase
	Devices int    `json:"devices"`
}

// Epsilons are the ε spent, at the configured δ, against two kinds of
// party. Observers of the released models are protected with amplification
// by sampling (the sample is secret) and, under central DP, only if the
// coordinator is trusted. The coordinator knows who took part in each
// round, so against it there is no amplification: the figure is the worst
// device's over the rounds its update was in; under central DP the
// coordinator holds the un-noised sum (or each update), so it is +Inf.
type Epsilons struct {
	Observers, Coordinator float64
}

// Machine is the round machine; see the package documentation. It is not
// safe for concurrent use: the driver serialises events.
type Machine struct {
	cfg        Config
	population []string
	enrolled   map[string]bool
	q          float64
	opt        aggregate.Optimizer
	rng        *rand.Rand

	params    []float32
	version   int64
	committed int64 // last committed round

	round       int64
	phase       Phase
	opened      time.Time
	selectClose time.Time
	deadline    time.Time
	cohort      map[string]bool
	accepted    map[string]bool // device → has reported
	reports     int
	mean        *aggregate.Mean
	// losses and evals average the reports' numbers exactly and in any
	// order, like the updates, so outcomes are reproducible too.
	losses *aggregate.Mean // [loss]
	evals  *aggregate.Mean // [HR, NDCG]
	step   []float32

	acct     *privacy.Accountant // committed rounds' privacy, with DP
	noise    *privacy.Noise
	clip     float64               // this round's clip norm
	adaptive *privacy.AdaptiveClip // with defaults filled
	zUpdate  float64               // the noise multiplier on updates (z, less the count's share)
	// participation counts each device's committed rounds, with distributed
	// DP, and
	// mostRounds is its largest count.
	participation map[string]int
	mostRounds    int
	selectionKey  [32]byte
	excluded      map[string]bool // Snapshot.Excluded
	signingKeys   map[string]ed25519.PublicKey
	endorsements  map[string][]byte // Parts.Endorsements // device → enrolment key, in malicious-server SecAgg
	clipped       int
	norms         []float64 // Outcome.UpdateNorms
	stopReason    string

	codec     *codec.UpdateCodec // this round's, with Config.Codec
	encoded   []float32          // a report's decoded (rotated) values; the rotated mean
	clipBuf   []float32          // a plain report scaled down to its norm limit
	sec       *secureRound       // this round's, with Config.SecAgg
	setupErr  error              // why this round cannot run; it is abandoned at selection's end
	secParams map[int][2]int     // SecAgg (degree, threshold) by cohort size

	ready         []Outcome
	newlyExcluded []string // this round's Outcome.Excluded
}

// Parts are what a machine is assembled from besides its configuration:
// its driver's to give, so the machine holds no hidden source of anything.
type Parts struct {
	Population []string            // the enrolled devices
	Snapshot   Snapshot            // where to resume: the initial model before any commit
	Optimizer  aggregate.Optimizer // fresh: its state is restored from Snapshot
	// Noise draws central DP noise and adaptive clipping's noised count
	// (privacy.NewNoise in production, a seeded one in simulations and
	// tests). A machine with Config.DP needs it, except with distributed
	// DP, where the devices add the noise.
	Noise *privacy.Noise
	// SigningKeys are the devices' Ed25519 enrolment keys (device id →
	// public key). Malicious-server SecAgg (SecAggConfig.Malicious) needs
	// one for every device of Population; otherwise they are unused.
	SigningKeys map[string]ed25519.PublicKey
	// Endorsements are the enrolment authority's endorsements of those keys
	// (secagg.Endorse), by device id: with one for every device of a
	// cohort, the round's registry carries them, so that devices pinning
	// the authority can check that no key is the coordinator's own.
	Endorsements map[string][]byte
}

// ErrNoNoise refuses differential privacy to a machine given no noise
// source.
var ErrNoNoise = errors.New("differential privacy needs a noise source (Parts.Noise)")

// ErrNoSelectionKey refuses a snapshot without a selection key: a cohort
// anyone can compute voids the amplification by sampling that ε counts on.
var ErrNoSelectionKey = errors.New("the snapshot has no selection key (Snapshot.SelectionKey, 32 random bytes)")

// NewMachine resumes from p.Snapshot with p's population, and opens the
// next round at now.
func NewMachine(cfg Config, p Parts, now time.Time) (*Machine, error) {
	population, snap, opt := p.Population, p.Snapshot, p.Optimizer
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if len(population) == 0 {
		return nil, fmt.Errorf("coordinator: no devices enrolled")
	}
	if len(snap.Params) == 0 {
		return nil, fmt.Errorf("coordinator: the snapshot has no model")
	}
	if d := cfg.DP; d != nil && p.Noise == nil && (!d.Distributed || d.Adaptive != nil) {
		return nil, ErrNoNoise
	}
	if snap.SelectionKey == ([32]byte{}) {
		return nil, ErrNoSelectionKey
	}
	if s := cfg.SecAgg; s != nil && s.Malicious {
		for _, d := range population {
			if len(p.SigningKeys[d]) != ed25519.PublicKeySize {
				return nil, fmt.Errorf("coordinator: malicious-server secure aggregation needs every device's signing key, and device %q has none", d)
			}
		}
	}
	if snap.Optimizer.Name != "" {
		if err := opt.Restore(snap.Optimizer); err != nil {
			return nil, err
		}
	}
	m := &Machine{
		cfg: cfg, opt: opt,
		population: slices.Sorted(slices.Values(population)),
		enrolled:   make(map[string]bool, len(population)),
		rng:        rand.New(rand.NewPCG(cfg.Seed, uint64(snap.Round))),
		params:     slices.Clone(snap.Params), version: snap.Version, committed: snap.Round,
		mean: aggregate.NewMean(len(snap.Params)), step: make([]float32, len(snap.Params)),
		losses: aggregate.NewMean(1), evals: aggregate.NewMean(2), secParams: make(map[int][2]int),
		selectionKey: snap.SelectionKey, excluded: make(map[string]bool, len(snap.Excluded)),
	}
	for _, d := range snap.Excluded {
		m.excluded[d] = true
	}
	if s := cfg.SecAgg; s != nil && s.Malicious {
		m.signingKeys, m.endorsements = p.SigningKeys, p.Endorsements
	}
	for _, d := range population {
		m.enrolled[d] = true
	}
	m.q = samplingRate(cfg, len(m.enrolled))
	if d := cfg.DP; d != nil {
		acct, err := privacy.RestoreAccountant(d.AccountantName(), snap.Spends)
		if err != nil {
			return nil, err
		}
		m.acct, m.noise, m.clip, m.zUpdate = acct, p.Noise, d.ClipNorm, d.NoiseMultiplier
		m.participation = maps.Clone(snap.Participation)
		if m.participation == nil {
			m.participation = make(map[string]int)
		}
		for _, n := range m.participation {
			m.mostRounds = max(m.mostRounds, n)
		}
		if snap.ClipNorm > 0 {
			m.clip = snap.ClipNorm
		}
		if d.Adaptive != nil {
			a := d.Adaptive.Defaults(m.expectedReports())
			m.adaptive = &a
			z, err := a.UpdateNoise(d.NoiseMultiplier)
			if err != nil {
				return nil, err
			}
			m.zUpdate = z
		}
	}
	m.open(now, snap.Round+1)
	return m, nil
}

// open starts round r at now, unless it would spend more privacy than the
// budget allows: then the machine stops.
func (m *Machine) open(now time.Time, r int64) {
	if d := m.cfg.DP; d != nil && d.Budget > 0 {
		if eps, err := m.acct.EpsilonAfterSpend(m.spend(), d.Delta); err != nil || eps > d.Budget {
			m.round, m.phase, m.opened, m.selectClose, m.deadline, m.reports = r, Stopped, now, now, now, 0
			m.stopReason = fmt.Sprintf("privacy budget: round %d would bring ε to %.4g, over the budget %.4g (δ %g)", r, eps, d.Budget, d.Delta)
			m.cohort, m.accepted = map[string]bool{}, map[string]bool{}
			return
		}
	}
	m.round, m.phase, m.opened = r, Selecting, now
	m.selectClose = now.Add(m.cfg.SelectionTimeout)
	m.deadline = m.selectClose.Add(m.cfg.ReportWindow)
	m.cohort = make(map[string]bool)
	for _, d := range m.population {
		if selected(&m.selectionKey, r, d, m.q) && !m.excluded[d] {
			m.cohort[d] = true
		}
	}
	m.accepted = make(map[string]bool)
	m.reports, m.clipped = 0, 0
	m.mean.Reset()
	m.losses.Reset()
	m.evals.Reset()
	m.setupErr = m.setupRound()
	if m.sec != nil {
		// Every phase may take its whole window.
		m.deadline = m.selectClose.Add(2*m.cfg.SecAgg.PhaseWindow + m.cfg.ReportWindow)
	}
}

// samplingRate is q, each device's chance of selection in a round.
func samplingRate(cfg Config, population int) float64 {
	if cfg.Goal == 0 {
		return 1
	}
	return math.Min(1, float64(cfg.Goal)*cfg.OverSelection/float64(population))
}

// minReports is the fewest reports a round may commit with: with
// distributed DP, at least the survivors whose noise the accountant counts.
func (m *Machine) minReports() int {
	expected := len(m.cohort)
	if m.cfg.Goal > 0 {
		expected = min(expected, m.cfg.Goal)
	}
	n := max(1, int(math.Ceil(m.cfg.MinFraction*float64(expected))))
	if m.distributed() {
		n = max(n, minSurvivors(m.cfg, m.expectedReports()))
	}
	return n
}

// Tick moves the machine's clock to now: selection closes and deadlines
// pass.
func (m *Machine) Tick(now time.Time) {
	if m.phase == Stopped {
		return
	}
	if m.phase == Selecting && !now.Before(m.selectClose) {
		r := m.round
		m.closeSelection(m.selectClose)
		if m.round != r { // it ended the round: the next one's selection may be over too
			m.Tick(now)
			return
		}
	}
	if !now.Before(m.deadline) {
		switch {
		case m.sec != nil && m.phase != Selecting:
			m.endSecurePhase(m.deadline)
		case m.reports >= m.minReports():
			m.commit(m.deadline, "deadline")
		default:
			m.abandon(m.deadline, fmt.Sprintf("deadline with %d reports, %d needed", m.reports, m.minReports()))
		}
		m.Tick(now) // the next round may be over too if now is far ahead
	}
}

func (m *Machine) closeSelection(now time.Time) {
	m.phase = Reporting
	switch {
	case m.setupErr != nil:
		m.abandon(now, fmt.Sprintf("round %d could not be set up: %v", m.round, m.setupErr))
		return
	case m.sec != nil && m.sec.sent < m.minReports():
		m.sec.stages = append(m.sec.stages, Stage{secagg.PhaseAdvertiseKeys.String(), m.sec.sent})
		m.abandon(now, fmt.Sprintf("%d of %d selected devices advertised SecAgg keys, %d needed", m.sec.sent, len(m.cohort), m.minReports()))
		return
	case m.sec != nil:
		m.endSecurePhase(now)
		return
	}
	if len(m.accepted) < m.minReports() {
		m.abandon(now, fmt.Sprintf("%d of %d selected devices checked in, %d needed", len(m.accepted), len(m.cohort), m.minReports()))
		return
	}
	m.maybeFinish(now)
}

// CheckIn answers a device that asks to take part at now.
func (m *Machine) CheckIn(now time.Time, device string, cachedVersion int64) (CheckInResult, error) {
	m.Tick(now)
	if !m.enrolled[device] {
		return CheckInResult{}, reject(NotEnrolled, "device %q is not enrolled", device)
	}
	if reported, ok := m.accepted[device]; ok && !reported {
		return CheckInResult{Plan: m.plan(device, cachedVersion)}, nil // a device that reconnects gets its plan again
	}
	switch {
	case m.phase == Stopped:
		return CheckInResult{RetryAfter: 24 * time.Hour, Reason: "training has stopped: " + m.stopReason}, nil
	case m.accepted[device]:
		return m.retry(now, m.deadline, fmt.Sprintf("already reported in round %d", m.round)), nil
	case m.phase != Selecting:
		return m.retry(now, m.deadline, fmt.Sprintf("round %d is past selection", m.round)), nil
	case !m.cohort[device]:
		return m.retry(now, m.deadline, fmt.Sprintf("not selected for round %d", m.round)), nil
	case m.setupErr != nil:
		return m.retry(now, m.deadline, fmt.Sprintf("round %d cannot run: %v", m.round, m.setupErr)), nil
	}
	m.accepted[device] = false
	plan := m.plan(device, cachedVersion)
	if len(m.accepted) == len(m.cohort) && m.sec == nil {
		m.closeSelection(now) // with SecAgg, selection ends when every key is advertised
	}
	return CheckInResult{Plan: plan}, nil
}

func (m *Machine) plan(device string, cachedVersion int64) *Plan {
	p := &Plan{Round: m.round, ModelVersion: m.version, DownloadModel: cachedVersion != m.version, Deadline: m.deadline}
	if d := m.cfg.DP; d != nil {
		p.ClipNorm, p.NoiseMultiplier, p.Delta = m.clip, d.NoiseMultiplier, d.Delta
	}
	p.Codec = m.codec
	if m.codec != nil && m.cfg.DP == nil {
		// The range is set for updates of this norm: larger ones are
		// clipped to it on the device rather than coordinate by coordinate.
		p.ClipNorm = m.cfg.Codec.Norm
	}
	if m.sec != nil {
		cfg := m.sec.cfg
		p.SecAgg, p.SecAggID = &cfg, m.sec.ids[device]
	}
	return p
}

// retry turns a device away until about `until`, plus up to a quarter of
// jitter so that returning devices spread out. The round may end long before
// `until` (when everyone has reported), so the wait is capped at half the
// selection timeout: a device turned away never misses a whole selection
// window. It is never below RetryMin.
func (m *Machine) retry(now, until time.Time, reason string) CheckInResult {
	wait := max(m.cfg.RetryMin, min(until.Sub(now), m.cfg.SelectionTimeout/2))
	wait += time.Duration(m.rng.Float64() * 0.25 * float64(wait))
	return CheckInResult{RetryAfter: wait, Reason: reason}
}

// Report takes a device's update at now. A rejected report changes
// nothing; the error is a *Rejection saying why.
func (m *Machine) Report(now time.Time, device string, r Report) error {
	m.Tick(now)
	switch reported, accepted := m.accepted[device]; {
	case !m.enrolled[device]:
		return reject(NotEnrolled, "device %q is not enrolled", device)
	case r.Round > m.round:
		return reject(WrongRound, "round %d has not started (current round %d)", r.Round, m.round)
	case r.Round < m.round:
		return reject(Late, "round %d has ended (current round %d)", r.Round, m.round)
	case !accepted:
		return reject(NotSelected, "device %q was not accepted in round %d", device, m.round)
	case reported:
		return reject(Duplicate, "device %q already reported in round %d", device, m.round)
	case m.sec != nil:
		return reject(BadUpdate, "round %d aggregates securely: its reports are masked inputs", m.round)
	case !(r.Loss >= 0 && r.Loss < aggregate.MaxAbsValue):
		return reject(BadUpdate, "loss %v is not in [0, %d)", r.Loss, aggregate.MaxAbsValue)
	case r.Eval != nil && !(r.Eval.HR >= 0 && r.Eval.HR <= 1 && r.Eval.NDCG >= 0 && r.Eval.NDCG <= 1):
		return reject(BadUpdate, "evaluation %+v is outside [0, 1]", *r.Eval)
	case !(r.Weight > 0 && r.Weight < aggregate.MaxAbsValue):
		return reject(BadUpdate, "aggregate: update rejected: weight %v is not in (0, %d)", r.Weight, aggregate.MaxAbsValue)
	}
	// Every person counts alike: a device's declared weight is checked as
	// the wire has always required, then not used (one device declaring a
	// huge weight would otherwise put the mean where it liked). And no
	// update counts for more than the largest norm an honest one has.
	limit := m.cfg.maxUpdateNorm()
	if m.codec != nil {
		// Decoded but left rotated: the mean is taken in the rotated space
		// (the clip too: rotation keeps norms) and rotated back once.
		q, err := m.codec.Alone().Quantizer()
		if err == nil && len(r.Encoded) != m.mean.Len() {
			err = fmt.Errorf("%d encoded values, want %d", len(r.Encoded), m.mean.Len())
		}
		if err == nil {
			m.encoded, err = q.AppendDecodeSum(m.encoded[:0], r.Encoded)
		}
		if err != nil {
			return reject(BadUpdate, "%v", err)
		}
		r.Update = m.encoded
		// Devices clip to the codec's norm before they quantize, and
		// rounding adds under one level to each of the d′ values: an
		// honest update is never longer (the sensitivity's argument).
		d := math.Sqrt(float64(len(r.Encoded)))
		limit = min(m.cfg.Codec.Norm+d/q.Scale(), m.codec.Range*d)
	}
	weight := 1.0
	tooLarge := func(v float32) bool { return !(math.Abs(float64(v)) < aggregate.MaxAbsValue) } // refused below, unscaled
	// The norm before any clipping (Outcome.UpdateNorms).
	norm := privacy.L2Norm(r.Update)
	if m.cfg.DP == nil && norm > limit && !slices.ContainsFunc(r.Update, tooLarge) {
		// Scaled, not down-weighted: the mean is over the reports, and a
		// clipped device still counts as one person.
		m.clipBuf = append(m.clipBuf[:0], r.Update...)
		for i, v := range m.clipBuf {
			m.clipBuf[i] = float32(float64(v) * limit / norm)
		}
		r.Update = m.clipBuf
	}
	if d := m.cfg.DP; d != nil {
		// Every person counts alike, and no more than the clip norm: the
		// clip is a scale on the update, applied as its weight. Devices
		// clip before they send, leaving norms at the clip to within
		// float32 rounding, which is clipped too (the accounting's
		// sensitivity is C, not a hair above it); only a larger excess
		// counts as clipped here.
		weight = 1
		if norm > m.clip { // r.Update is unscaled: the plain clip above is not applied with DP
			weight = m.clip / norm
			r.Clipped = r.Clipped || norm > m.clip*(1+1e-5)
		}
		if r.Clipped {
			m.clipped++
		}
	}
	if err := m.mean.Add(r.Update, weight); err != nil {
		return reject(BadUpdate, "%v", err)
	}
	m.accepted[device] = true
	m.reports++
	m.norms = append(m.norms, norm)
	// Checked above to be in range, so these cannot fail.
	m.losses.Add([]float32{float32(r.Loss)}, 1)
	if r.Eval != nil {
		m.evals.Add([]float32{float32(r.Eval.HR), float32(r.Eval.NDCG)}, 1)
	}
	m.maybeFinish(now)
	return nil
}

// maybeFinish commits the round if nothing more is worth waiting for.
func (m *Machine) maybeFinish(now time.Time) {
	switch {
	case m.reports == len(m.cohort):
		m.commit(now, "every selected device reported")
	case m.cfg.Goal > 0 && m.cfg.OverSelection > 1 && m.reports >= m.cfg.Goal:
		m.commit(now, "goal reached")
	case m.phase == Reporting && m.reports == len(m.accepted) && m.reports >= m.minReports():
		m.commit(now, "every checked-in device reported")
	}
}

func (m *Machine) commit(now time.Time, reason string) {
	var noiseStd float64
	var err error
	// The mean of the updates: over the reports, or with DP the sum (and
	// its noise) over the expected number of reports.
	denominator := 1.0
	switch {
	case m.cfg.DP != nil && !m.cfg.DP.Distributed:
		noiseStd, err = m.noisedSum()
	case m.sec != nil:
		err, denominator = m.secureSum(), float64(len(m.sec.survivors))
	default:
		err = m.plainMean()
	}
	if m.cfg.DP != nil && err == nil {
		denominator = m.expectedReports()
		err = m.acct.ComposeSpend(m.spend())
	}
	if err == nil && denominator != 1 {
		for i := range m.step {
			m.step[i] = float32(float64(m.step[i]) / denominator)
		}
	}
	if err == nil {
		err = m.opt.Step(m.params, m.step) // checks dimensions before it changes anything
	}
	if err != nil {
		m.abandon(now, fmt.Sprintf("cannot apply the update: %v", err))
		return
	}
	if m.distributed() { // only there is ε against the coordinator bounded
		m.countParticipation()
	}
	out := m.outcome(now, true, reason)
	if m.adaptive != nil {
		m.clip = m.adaptive.Next(m.clip, m.reports-m.clipped, m.reports, m.expectedReports(), m.noise)
	}
	m.version++
	m.committed = m.round
	out.Snapshot = &Snapshot{Round: m.round, Version: m.version, Params: slices.Clone(m.params), Optimizer: m.opt.State()}
	if m.acct != nil {
		out.Snapshot.Spends, out.Snapshot.ClipNorm = m.acct.Spends(), m.clip
		out.NoiseStd, out.Sensitivity = noiseStd, m.sensitivity()
		out.Snapshot.Participation = maps.Clone(m.participation)
	}
	out.Snapshot.SelectionKey = m.selectionKey
	out.Snapshot.Excluded = slices.Sorted(maps.Keys(m.excluded))
	m.ready = append(m.ready, out)
	m.open(now, m.round+1)
}

// plainMean writes the mean of the reports into m.step, or with DP their
// sum, rotating it back if the codec rotated the updates.
func (m *Machine) plainMean() error {
	acc := m.step
	if m.codec != nil && m.codec.Rotate {
		m.encoded = slices.Grow(m.encoded[:0], m.mean.Len())[:m.mean.Len()]
		acc = m.encoded
	}
	var err error
	if m.cfg.DP != nil {
		err = m.mean.Sum(acc)
	} else {
		err = m.mean.Mean(acc)
	}
	if err != nil || m.codec == nil || !m.codec.Rotate {
		return err
	}
	_, err = m.codec.Unrotate(m.step, acc, len(m.params))
	return err
}

func (m *Machine) abandon(now time.Time, reason string) {
	m.ready = append(m.ready, m.outcome(now, false, reason))
	m.open(now, m.round+1)
}

func (m *Machine) outcome(now time.Time, committed bool, reason string) Outcome {
	o := Outcome{Round: m.round, Committed: committed, Reason: reason, Selected: len(m.cohort),
		CheckedIn: len(m.accepted), Reports: m.reports, Opened: m.opened, Ended: now,
		Clipped: m.clipped, ClipNorm: m.clip, Epsilons: m.epsilons()}
	o.Stages = []Stage{{"selected", len(m.cohort)}, {"checked-in", len(m.accepted)}}
	if m.sec != nil {
		o.Stages = append(o.Stages, m.sec.stages...)
	} else {
		o.Stages = append(o.Stages, Stage{"reported", m.reports})
	}
	least := m.cfg.MinReportsForMeans
	if least == 0 {
		least = DefaultMinReportsForMeans
	}
	var v [2]float32
	if n := m.losses.Count(); n >= least && m.losses.Mean(v[:1]) == nil {
		o.Losses, o.TrainLoss = n, float64(v[0])
	}
	if n := m.evals.Count(); n >= least && m.evals.Mean(v[:]) == nil {
		o.Evaluated, o.HR, o.NDCG = n, float64(v[0]), float64(v[1])
	}
	o.Excluded, m.newlyExcluded = m.newlyExcluded, nil
	o.UpdateNorms, m.norms = m.norms, nil
	return o
}

// Ready returns the rounds finished since the last call, oldest first.
func (m *Machine) Ready() []Outcome {
	r := m.ready
	m.ready = nil
	return r
}

// Model is the current model version and its parameters. The slice is the
// machine's own: read it before the next event.
func (m *Machine) Model() (int64, []float32) { return m.version, m.params }

// epsilons is the ε the committed rounds spent, at the configured δ, in
// both figures; zero without differential privacy.
func (m *Machine) epsilons() Epsilons {
	if m.acct == nil {
		return Epsilons{}
	}
	observers, _ := m.acct.Epsilon(m.cfg.DP.Delta)
	return Epsilons{Observers: observers, Coordinator: m.epsilonAgainstCoordinator()}
}

// expectedReports is q times the population: the denominator of the
// private mean.
func (m *Machine) expectedReports() float64 { return m.q * float64(len(m.enrolled)) }

// Cohort lists the devices selected for the current round, sorted. A
// simulator wakes just these; real devices learn it by checking in.
func (m *Machine) Cohort() []string {
	out := make([]string, 0, len(m.cohort))
	for d := range m.cohort {
		out = append(out, d)
	}
	slices.Sort(out)
	return out
}

// Status is a view of the current round.
type Status struct {
	Round                        int64
	Phase                        Phase
	Selected, CheckedIn, Reports int
	Opened, Deadline             time.Time
	ModelVersion                 int64
	Stopped                      string // why no more rounds open, once Phase is Stopped
	// With differential privacy: the ε spent by the committed rounds, at
	// δ, by the named accountant, in both figures, and the ε budget (0 for
	// none).
	DP          bool
	Spent       Epsilons
	Delta       float64
	Accountant  string
	Budget      float64
	SecAgg      bool // the round aggregates securely, in SecAggPhase
	SecAggPhase secagg.Phase
	// SecAggSent of SecAggExpected devices still in the secure round have
	// sent their message of SecAggPhase.
	SecAggSent, SecAggExpected int
	// MinReports is the fewest reports (masked inputs, in a secure round)
	// the round commits with.
	MinReports int
	// Enrolled is the population rounds select from, each device with
	// probability SamplingRate; Excluded of them are never selected again
	// (Snapshot.Excluded).
	Enrolled, Excluded int
	SamplingRate       float64
	ClipNorm           float64 // this round's clip norm, with differential privacy
}

// Status reports the current round.
func (m *Machine) Status() Status {
	st := Status{Round: m.round, Phase: m.phase, Selected: len(m.cohort), CheckedIn: len(m.accepted),
		Reports: m.reports, Opened: m.opened, Deadline: m.deadline, ModelVersion: m.version, Stopped: m.stopReason,
		MinReports: m.minReports(), Enrolled: len(m.enrolled), Excluded: len(m.excluded), SamplingRate: m.q}
	if d := m.cfg.DP; d != nil {
		st.DP, st.Spent, st.Delta, st.Accountant, st.Budget, st.ClipNorm = true, m.epsilons(), d.Delta, d.AccountantName(), d.Budget, m.clip
	}
	if m.sec != nil && m.phase != Stopped { // a stopped machine keeps its last round's
		st.SecAgg, st.SecAggPhase, st.SecAggSent, st.SecAggExpected = true, m.sec.server.Phase(), m.sec.sent, m.sec.expected
	}
	return st
}

// Round is the current round's number (Status's, without its work).
func (m *Machine) Round() int64 { return m.round }

// Config is the configuration the machine runs every round with.
func (m *Machine) Config() Config { return m.cfg }

// Codec is the current round's update codec; nil for float32 updates.
func (m *Machine) Codec() *codec.UpdateCodec { return m.codec }

// SecAggConfig is the current round's SecAgg configuration, if it has one.
func (m *Machine) SecAggConfig() (secagg.Config, bool) {
	if m.sec == nil {
		return secagg.Config{}, false
	}
	return m.sec.cfg, true
}

// SecAggSeat is the current round's SecAgg configuration and device's id
// in it; false if the round does not aggregate securely or the device is
// not in it.
func (m *Machine) SecAggSeat(device string) (secagg.Config, secagg.ClientID, bool) {
	if m.sec == nil {
		return secagg.Config{}, 0, false
	}
	id, ok := m.sec.ids[device]
	return m.sec.cfg, id, ok
}
