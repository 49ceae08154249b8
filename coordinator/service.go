package coordinator

import (
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/tacitfl/tacit/aggregate/secagg"
	"github.com/tacitfl/tacit/codec"
	"github.com/tacitfl/tacit/coordinator/round"
)

// Checkpointer persists a committed round's snapshot. Save must be durable
// when it returns: the new model is served only afterwards. A Save that
// fails stops the Service (Err): the commit's model is never served and its
// ε is not lost, since nothing after it runs.
type Checkpointer interface {
	Save(round.Snapshot) error
}

// Service serialises events into the round machine and carries out what it
// hands back: checkpoints, metrics, logs, history. Transports (QUIC, or the
// simulator's in-memory one) call it; it knows nothing of the wire.
type Service struct {
	mu      sync.Mutex
	m       *round.Machine
	now     func() time.Time
	ckpt    Checkpointer
	metrics *Metrics
	log     *slog.Logger
	history []RoundRecord // the most recent rounds, oldest first
	record  History       // keeps every round's record; nil for none
	watch   func(round.Outcome)
	// version and params are the model served: the last one checkpointed
	// (or, before any commit, the machine's first).
	version int64
	params  []float32
	failed  error         // why the Service stopped; nil while it runs
	done    chan struct{} // closed when it stops
	// What the transport tells (Traffic, attach): each device's last
	// request (Unix nanoseconds), the bytes of each recent round, and the
	// devices connected; nil without a transport that tells.
	lastSeen  map[string]int64
	bytes     map[int64]*[2]int64 // round → bytes received, sent
	connected func() int
}

// ErrStopped is what every event gets once a checkpoint has failed: the
// Service refuses to go on rather than serve a model, or spend privacy,
// that a restart would not know of.
var ErrStopped = errors.New("coordinator stopped: a checkpoint failed")

// historyLen is how many finished rounds Status keeps: the status page's
// charts span them.
const historyLen = 100

// ServiceOptions are the parts a Service is assembled from.
type ServiceOptions struct {
	Now          func() time.Time // the clock; time.Now if nil
	Checkpointer Checkpointer     // nil keeps nothing across restarts
	Metrics      *Metrics         // nil records none
	Log          *slog.Logger     // nil discards
	// Watch, if set, is called with every finished round, under the
	// service's lock: keep it short.
	Watch func(round.Outcome)
	// History, if set, keeps every finished round's record, appended
	// after the round's checkpoint is saved (LoadHistory opens a file).
	History History
	// Recent are the records of the rounds finished before a restart,
	// oldest first, which Status shows until newer ones replace them.
	Recent []RoundRecord
}

// NewService wraps m.
func NewService(m *round.Machine, o ServiceOptions) *Service {
	s := &Service{m: m, now: o.Now, ckpt: o.Checkpointer, metrics: o.Metrics, log: o.Log, watch: o.Watch, done: make(chan struct{}),
		record: o.History, history: slices.Clone(o.Recent[max(0, len(o.Recent)-historyLen):])}
	v, p := m.Model()
	s.version, s.params = v, slices.Clone(p)
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.metrics != nil {
		s.metrics.start(m.Status(), s.version, s.now())
	}
	return s
}

// Done is closed when the Service stops: a checkpoint failed (Err says
// which). Its driver then stops serving.
func (s *Service) Done() <-chan struct{} { return s.done }

// Err is why the Service stopped, wrapping ErrStopped; nil while it runs.
func (s *Service) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.failed
}

// CheckIn asks the machine to take a device into the current round.
func (s *Service) CheckIn(device string, cachedVersion int64) (round.CheckInResult, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failed != nil {
		return round.CheckInResult{}, s.failed
	}
	res, err := s.m.CheckIn(s.now(), device, cachedVersion)
	if s.metrics != nil {
		s.metrics.checkIn(res, err)
	}
	s.drain()
	return res, err
}

// Report hands a device's update to the machine.
func (s *Service) Report(device string, r round.Report) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failed != nil {
		return s.failed
	}
	err := s.m.Report(s.now(), device, r)
	if s.metrics != nil {
		s.metrics.report(err)
	}
	if err != nil {
		s.log.Info("report rejected", "device", device, "round", r.Round, "reason", err)
	}
	s.drain()
	return err
}

// SecAggSend hands a device's SecAgg message to the machine.
func (s *Service) SecAggSend(device string, round int64, msg secagg.ClientMessage) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failed != nil {
		return s.failed
	}
	err := s.m.SecAggSend(s.now(), device, round, msg)
	if err != nil {
		s.log.Info("SecAgg message refused", "device", device, "round", round, "type", fmt.Sprintf("%T", msg), "reason", err)
	}
	if _, masked := msg.(*secagg.MaskedInput); masked && s.metrics != nil {
		s.metrics.report(err)
	}
	s.drain()
	return err
}

// SecAggFetch asks the machine for the message that opens a SecAgg phase
// for a device, or how long to wait for it.
func (s *Service) SecAggFetch(device string, round int64, phase secagg.Phase) (secagg.ServerMessage, time.Duration, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failed != nil {
		return nil, 0, s.failed
	}
	msg, wait, err := s.m.SecAggFetch(s.now(), device, round, phase)
	s.drain()
	return msg, wait, err
}

// SecAggSeat is the current round's SecAgg configuration and device's id
// in it, for decoding what the device sends; false if the round does not
// aggregate securely or the device is not in it.
func (s *Service) SecAggSeat(device string) (secagg.Config, secagg.ClientID, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m.SecAggSeat(device)
}

// SecAggConfig is the current round's SecAgg configuration, if it has one.
func (s *Service) SecAggConfig() (secagg.Config, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m.SecAggConfig()
}

// Codec is the current round's update codec; nil for float32 updates.
func (s *Service) Codec() *codec.UpdateCodec {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m.Codec()
}

// Tick lets the machine's deadlines pass; drivers call it periodically.
func (s *Service) Tick() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.failed != nil {
		return
	}
	s.m.Tick(s.now())
	s.drain()
}

// Cohort lists the devices selected for the current round.
func (s *Service) Cohort() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m.Cohort()
}

// Model calls f with the current model version and parameters, under the
// lock: f must not keep params. The model is the last one checkpointed:
// once a checkpoint fails, no newer one is ever served.
func (s *Service) Model(f func(version int64, params []float32)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s.version, s.params)
}

// drain carries out the rounds the machine finished. A commit is
// checkpointed before the lock is released and before its model is served,
// so no device sees a model, and nobody a round's ε, that a restart could
// lose. A failed checkpoint stops the Service: the rest is not carried out.
// Each round's record joins the history after its checkpoint.
func (s *Service) drain() {
	if s.failed != nil {
		return
	}
	for _, o := range s.m.Ready() {
		if o.Committed && s.ckpt != nil {
			began := s.now()
			err := s.ckpt.Save(*o.Snapshot)
			if s.metrics != nil {
				s.metrics.checkpoint(s.now().Sub(began), err)
			}
			if err != nil {
				s.failed = fmt.Errorf("%w: round %d committed (model version %d) but was not persisted: %w", ErrStopped, o.Round, o.Snapshot.Version, err)
				s.log.Error("checkpoint failed; the coordinator stops, a restart resumes from the previous checkpoint", "round", o.Round, "err", err)
				close(s.done)
				return
			}
		}
		if o.Committed {
			s.version, s.params = o.Snapshot.Version, o.Snapshot.Params // the snapshot's own copy
		}
		if s.metrics != nil {
			s.metrics.outcome(o)
		}
		s.log.Info("round finished", "round", o.Round, "committed", o.Committed, "reason", o.Reason,
			"selected", o.Selected, "reports", o.Reports, "seconds", o.Ended.Sub(o.Opened).Seconds())
		for _, d := range o.Excluded {
			s.log.Warn("device excluded: it revealed a SecAgg share off its owner's polynomial", "device", d, "round", o.Round)
		}
		o.Snapshot = nil // history keeps no model copies
		var privacy *PrivacyReport
		if d := s.m.Config().DP; d != nil { // o holds the ε; Status would compute it again
			privacy = NewPrivacyReport(o.Epsilons, d.Delta, d.AccountantName())
		}
		rec := NewRoundRecord(o, privacy)
		s.history = append(s.history, rec)
		if len(s.history) > historyLen {
			s.history = s.history[len(s.history)-historyLen:]
		}
		// After the checkpoint: no record of a round the checkpoint lost.
		// The history is the operator's record, not the run's state, so
		// failing to write it does not stop training.
		if s.record != nil {
			if err := s.record.Append(rec); err != nil {
				s.log.Error("round not recorded in the history", "round", o.Round, "err", err)
			}
		}
		if s.watch != nil {
			s.watch(o)
		}
	}
}

// StatusReport is what /status serves, and the status page shows. Fields
// are only ever added to it.
type StatusReport struct {
	Now          time.Time `json:"now"` // the coordinator's clock, which Opened and Deadline are on
	Round        int64     `json:"round"`
	Phase        string    `json:"phase"`
	Selected     int       `json:"selected"`
	CheckedIn    int       `json:"checked_in"`
	Reports      int       `json:"reports"`
	Opened       time.Time `json:"opened"`
	Deadline     time.Time `json:"deadline"`
	ModelVersion int64     `json:"model_version"`
	// Privacy is the ε the committed rounds spent; absent without
	// differential privacy.
	Privacy     *PrivacyReport `json:"privacy,omitempty"`
	SecAggPhase string         `json:"secagg_phase,omitempty"` // with secure aggregation
	Stopped     string         `json:"stopped,omitempty"`      // why training stopped, if it has
	Recent      []RoundRecord  `json:"recent_rounds"`
	// MinReports is the fewest reports (masked inputs, in a secure round)
	// the current round commits with.
	MinReports int                `json:"min_reports"`
	SecAgg     *SecAggRoundReport `json:"secagg,omitempty"` // the current round's, when it aggregates securely
	// Budget is the ε the training may spend and the rounds it leaves;
	// absent without a budget.
	Budget     *BudgetReport     `json:"privacy_budget,omitempty"`
	Population *PopulationReport `json:"population"`
	Config     *ConfigReport     `json:"config"` // the configuration in force
}

// PrivacyReport is the user-level ε spent at Delta, by Accountant, in the
// two figures a deployment publishes (round.Epsilons says whom each holds
// against).
type PrivacyReport struct {
	// AgainstObservers holds against whoever sees the released models but
	// not the cohorts: amplified by sampling, which the secret selection
	// key keeps secret, and under central DP only while the coordinator,
	// who adds the noise, is trusted.
	AgainstObservers float64 `json:"epsilon_against_observers"`
	// AgainstCoordinator is the worst device's ε over the rounds its update
	// was in, with no amplification: the coordinator knows the cohorts. Nil
	// (null) where there is no bound: under central DP the coordinator
	// sees the un-noised sum.
	AgainstCoordinator *float64 `json:"epsilon_against_coordinator"`
	Delta              float64  `json:"delta"`
	Accountant         string   `json:"accountant"`
}

// NewPrivacyReport is the report of e at delta by accountant.
func NewPrivacyReport(e round.Epsilons, delta float64, accountant string) *PrivacyReport {
	r := &PrivacyReport{AgainstObservers: e.Observers, Delta: delta, Accountant: accountant}
	if !math.IsInf(e.Coordinator, 1) {
		r.AgainstCoordinator = &e.Coordinator
	}
	return r
}

// RoundRecord is one finished round as operators read it: in /status's
// recent rounds, in the coordinator's history and, from tacit simulate, in
// rounds.jsonl. Pointers are absent where the round has no such figure.
type RoundRecord struct {
	Round     int64     `json:"round"`
	Committed bool      `json:"committed"`
	Reason    string    `json:"reason,omitempty"`
	Opened    time.Time `json:"opened"`
	Seconds   float64   `json:"seconds"`
	Selected  int       `json:"selected"`
	CheckedIn int       `json:"checked_in"`
	Reports   int       `json:"reports"` // updates aggregated, or sent when abandoned
	// Stages are the devices left at the end of each stage of the round
	// (round.Outcome.Stages): the dropouts by phase.
	Stages    []round.Stage `json:"stages,omitempty"`
	TrainLoss *float64      `json:"train_loss,omitempty"` // absent below the round's minimum of reports
	HR        *float64      `json:"hr_at_10,omitempty"`   // federated evaluation, or the simulator's
	NDCG      *float64      `json:"ndcg_at_10,omitempty"`
	// With differential privacy, on committed rounds: the share of
	// updates the clip norm cut, the clip norm, the noise's standard
	// deviation on the sum, and the ε spent in all after the round.
	ClippedFraction *float64 `json:"clipped_fraction,omitempty"`
	ClipNorm        *float64 `json:"clip_norm,omitempty"`
	NoiseStd        *float64 `json:"noise_std,omitempty"`
	*PrivacyReport
	// BytesUp and BytesDown are the bytes devices sent the coordinator,
	// and it them, while the round was current; absent where the
	// transport does not count them (the simulator's in-memory one).
	BytesUp   *int64 `json:"bytes_up,omitempty"`
	BytesDown *int64 `json:"bytes_down,omitempty"`
}

// NewRoundRecord is the record of outcome o; privacy, with differential
// privacy, is the ε spent after it (NewPrivacyReport).
func NewRoundRecord(o round.Outcome, privacy *PrivacyReport) RoundRecord {
	r := RoundRecord{Round: o.Round, Committed: o.Committed, Reason: o.Reason, Opened: o.Opened,
		Seconds: o.Ended.Sub(o.Opened).Seconds(), Selected: o.Selected, CheckedIn: o.CheckedIn, Reports: o.Reports,
		Stages: o.Stages}
	if o.Losses > 0 {
		r.TrainLoss = &o.TrainLoss
	}
	if o.Evaluated > 0 {
		r.HR, r.NDCG = &o.HR, &o.NDCG
	}
	if privacy != nil && o.Committed {
		clipped := float64(o.Clipped) / float64(max(o.Reports, 1))
		r.ClippedFraction, r.ClipNorm, r.NoiseStd, r.PrivacyReport = &clipped, &o.ClipNorm, &o.NoiseStd, privacy
	}
	return r
}

// Status reports the current round and the recent history, newest first.
func (s *Service) Status() StatusReport {
	s.mu.Lock()
	r, connected := s.status(), s.connected
	s.mu.Unlock()
	if connected != nil { // the server's count, under its own lock
		n := connected()
		r.Population.Connected = &n
	}
	return r
}

func (s *Service) status() StatusReport {
	st := s.m.Status()
	r := StatusReport{Now: s.now(), Round: st.Round, Phase: st.Phase.String(), Selected: st.Selected, CheckedIn: st.CheckedIn,
		Reports: st.Reports, Opened: st.Opened, Deadline: st.Deadline, ModelVersion: s.version, Stopped: st.Stopped,
		MinReports: st.MinReports}
	if s.failed != nil {
		r.Phase, r.Stopped = "stopped", s.failed.Error()
	}
	if st.DP {
		r.Privacy = NewPrivacyReport(st.Spent, st.Delta, st.Accountant)
	}
	if st.SecAgg {
		r.SecAggPhase = st.SecAggPhase.String()
		r.SecAgg = s.secAggRound(st)
	}
	for i := len(s.history) - 1; i >= 0; i-- {
		r.Recent = append(r.Recent, s.history[i])
		s.addBytes(&r.Recent[len(r.Recent)-1])
	}
	cfg := s.m.Config()
	r.Config = newConfigReport(cfg, st, s.m.Codec())
	r.Population = s.population(st, r.Now)
	if d := cfg.DP; d != nil && d.Budget > 0 {
		r.Budget = newBudgetReport(d.Budget, st, s.history)
	}
	return r
}
