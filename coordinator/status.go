package coordinator

import (
	"time"

	"github.com/tacitfl/tacit/codec"
	"github.com/tacitfl/tacit/coordinator/round"
)

// What /status adds to the round machine's view for the operator's page:
// the population and its traffic as counts (never a device's own), the
// privacy budget, and the configuration in force.

// Traffic is what the transport tells of one exchange: in bytes received
// from device, out bytes sent (device is "" where the sender does not know
// it). The bytes count to the current round; the device was seen now.
func (s *Service) Traffic(device string, in, out int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.lastSeen == nil {
		s.lastSeen, s.bytes = make(map[string]int64), make(map[int64]*[2]int64)
	}
	if device != "" {
		s.lastSeen[device] = s.now().UnixNano()
	}
	r := s.m.Round()
	b := s.bytes[r]
	if b == nil {
		b = new([2]int64)
		s.bytes[r] = b
		for old := range s.bytes { // keep the rounds history keeps
			if old <= r-historyLen-1 {
				delete(s.bytes, old)
			}
		}
	}
	b[0] += int64(in)
	b[1] += int64(out)
}

// Attach is called by the transport that carries the Service's traffic
// (the QUIC server, or the simulator's in-memory wire): connected counts
// the devices it holds connections of, and must not call the Service.
// From then on the Service counts bytes and last requests (Traffic).
func (s *Service) Attach(connected func() int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.connected = connected
	if s.lastSeen == nil {
		s.lastSeen, s.bytes = make(map[string]int64), make(map[int64]*[2]int64)
	}
}

// addBytes sets rec's bytes, if the transport counted those of its round
// (a round carried over a restart has none) and rec has none.
func (s *Service) addBytes(rec *RoundRecord) {
	if c := s.bytes[rec.Round]; c != nil && rec.BytesUp == nil {
		up, down := c[0], c[1]
		rec.BytesUp, rec.BytesDown = &up, &down
	}
}

// PopulationReport counts the devices: enrolled, connected now, seen (a
// request of theirs arrived) in the last hour and day, and quarantined:
// excluded from every later round for revealing a bad SecAgg share.
// Connected and the seen counts are null where the transport does not
// tell them (the simulator's in-memory one).
type PopulationReport struct {
	Enrolled     int  `json:"enrolled"`
	Connected    *int `json:"connected"`
	SeenLastHour *int `json:"seen_last_hour"`
	SeenLastDay  *int `json:"seen_last_day"`
	Quarantined  int  `json:"quarantined"`
}

func (s *Service) population(st round.Status, now time.Time) *PopulationReport {
	p := &PopulationReport{Enrolled: st.Enrolled, Quarantined: st.Excluded}
	if s.lastSeen == nil {
		return p
	}
	hour, day := now.Add(-time.Hour).UnixNano(), now.Add(-24*time.Hour).UnixNano()
	var h, d int
	for _, t := range s.lastSeen {
		if t > day {
			d++
			if t > hour {
				h++
			}
		}
	}
	p.SeenLastHour, p.SeenLastDay = &h, &d
	return p
}

// SecAggRoundReport is the current secure round's progress: Sent of the
// Expected devices still in it have sent their message of Phase. Of the
// round's Clients, each shares its secrets among Degree neighbours, any
// Threshold of whom can rebuild them: a device that drops out is unmasked
// only if Threshold of its neighbours are still in.
type SecAggRoundReport struct {
	Phase     string `json:"phase"`
	Sent      int    `json:"sent"`
	Expected  int    `json:"expected"`
	Clients   int    `json:"clients"`
	Threshold int    `json:"threshold"`
	Degree    int    `json:"degree"`
}

func (s *Service) secAggRound(st round.Status) *SecAggRoundReport {
	r := &SecAggRoundReport{Phase: st.SecAggPhase.String(), Sent: st.SecAggSent, Expected: st.SecAggExpected}
	if c, ok := s.m.SecAggConfig(); ok {
		r.Clients, r.Threshold, r.Degree = c.NumClients, c.Threshold, c.Degree
	}
	return r
}

// BudgetReport is the privacy budget: the ε (against observers, the figure
// the accountant stops at) the training may spend, what is left of it, and
// at the rate of the recent committed rounds (EpsilonPerRound, from the
// history), about how many more rounds may commit. ε grows more slowly than
// linearly over rounds, so RoundsLeft errs low. The rate is null until two
// committed rounds are in the history.
type BudgetReport struct {
	Epsilon         float64  `json:"epsilon"`
	Left            float64  `json:"epsilon_left"`
	EpsilonPerRound *float64 `json:"epsilon_per_round"`
	RoundsLeft      *int     `json:"rounds_left"`
}

// budgetRateRounds is how many of the latest committed rounds the rate of
// spending is taken over.
const budgetRateRounds = 10

func newBudgetReport(budget float64, st round.Status, history []RoundRecord) *BudgetReport {
	b := &BudgetReport{Epsilon: budget, Left: max(0, budget-st.Spent.Observers)}
	var eps []float64 // ε after each committed round, newest first
	for i := len(history) - 1; i >= 0 && len(eps) < budgetRateRounds; i-- {
		if h := history[i]; h.Committed && h.PrivacyReport != nil {
			eps = append(eps, h.AgainstObservers)
		}
	}
	if n := len(eps); n >= 2 && eps[0] > eps[n-1] {
		rate := (eps[0] - eps[n-1]) / float64(n-1)
		left := int(b.Left / rate)
		b.EpsilonPerRound, b.RoundsLeft = &rate, &left
	}
	if st.Phase == round.Stopped { // the next round would have gone over
		none := 0
		b.RoundsLeft = &none
	}
	return b
}

// ConfigReport is the configuration rounds run with (round.Config), as an
// operator reads it; durations are Go's ("30s").
type ConfigReport struct {
	// Goal is the reports a round is after (0: every selected device's);
	// each device is selected with probability SamplingRate.
	Goal               int     `json:"goal"`
	OverSelection      float64 `json:"over_selection"`
	SamplingRate       float64 `json:"sampling_rate"`
	MinFraction        float64 `json:"min_fraction"`
	SelectionTimeout   string  `json:"selection_timeout"`
	ReportWindow       string  `json:"report_window"`
	RetryMin           string  `json:"retry_min"`
	MinReportsForMeans int     `json:"min_reports_for_means"`
	// MaxUpdateNorm bounds plain updates, without a codec or DP.
	MaxUpdateNorm float64             `json:"max_update_norm,omitempty"`
	Codec         *CodecConfigReport  `json:"codec,omitempty"`
	SecAgg        *SecAggConfigReport `json:"secagg,omitempty"`
	DP            *DPConfigReport     `json:"dp,omitempty"`
}

// CodecConfigReport is the quantization of updates: Bits a value, after a
// random rotation or not, for updates of norm Norm (under DP the clip
// norm); in a secure round, sums in a ring of ModBits bits.
type CodecConfigReport struct {
	Bits    int     `json:"bits"`
	Rotate  bool    `json:"rotate"`
	Norm    float64 `json:"norm,omitempty"`
	ModBits int     `json:"mod_bits,omitempty"`
}

// SecAggConfigReport is secure aggregation's sizing: against a coordinator
// of ThreatModel colluding with up to AdversaryRate of the devices, with up
// to DropoutRate dropping out; Malicious is the malicious-server mode.
type SecAggConfigReport struct {
	ThreatModel   string  `json:"threat_model"`
	Malicious     bool    `json:"malicious"`
	AdversaryRate float64 `json:"adversary_rate"`
	DropoutRate   float64 `json:"dropout_rate"`
	PhaseWindow   string  `json:"phase_window"`
}

// DPConfigReport is differential privacy: Mode central (the coordinator
// adds the noise) or distributed (the devices do), noise multiplier z, the
// clip norm configured and the current round's (they differ with adaptive
// clipping, toward the TargetQuantile of update norms), δ, the accountant
// and the budget (0: none).
type DPConfigReport struct {
	Mode            string  `json:"mode"`
	NoiseMultiplier float64 `json:"noise_multiplier"`
	ClipNorm        float64 `json:"clip_norm"`
	ClipNormNow     float64 `json:"clip_norm_now"`
	Adaptive        bool    `json:"adaptive"`
	TargetQuantile  float64 `json:"target_quantile,omitempty"`
	Delta           float64 `json:"delta"`
	Accountant      string  `json:"accountant"`
	Budget          float64 `json:"budget"`
}

func newConfigReport(c round.Config, st round.Status, u *codec.UpdateCodec) *ConfigReport {
	r := &ConfigReport{Goal: c.Goal, OverSelection: c.OverSelection, SamplingRate: st.SamplingRate, MinFraction: c.MinFraction,
		SelectionTimeout: c.SelectionTimeout.String(), ReportWindow: c.ReportWindow.String(), RetryMin: c.RetryMin.String(),
		MinReportsForMeans: c.MinReportsForMeans}
	if r.MinReportsForMeans == 0 {
		r.MinReportsForMeans = round.DefaultMinReportsForMeans
	}
	if c.DP == nil && c.Codec == nil {
		r.MaxUpdateNorm = c.MaxUpdateNorm
		if r.MaxUpdateNorm == 0 {
			r.MaxUpdateNorm = round.DefaultMaxUpdateNorm
		}
	}
	if k := c.Codec; k != nil {
		r.Codec = &CodecConfigReport{Bits: k.Bits, Rotate: k.Rotate}
		if c.DP == nil {
			r.Codec.Norm = k.Norm
		}
		if u != nil && c.SecAgg != nil {
			r.Codec.ModBits = u.ModBits
		}
	}
	if a := c.SecAgg; a != nil {
		r.SecAgg = &SecAggConfigReport{ThreatModel: a.ThreatModel.String(), Malicious: a.Malicious,
			AdversaryRate: a.AdversaryRate, DropoutRate: a.DropoutRate, PhaseWindow: a.PhaseWindow.String()}
	}
	if d := c.DP; d != nil {
		r.DP = &DPConfigReport{Mode: "central", NoiseMultiplier: d.NoiseMultiplier, ClipNorm: d.ClipNorm, ClipNormNow: st.ClipNorm,
			Adaptive: d.Adaptive != nil, Delta: d.Delta, Accountant: st.Accountant, Budget: d.Budget}
		if d.Distributed {
			r.DP.Mode = "distributed"
		}
		if a := d.Adaptive; a != nil {
			r.DP.TargetQuantile = a.Defaults(1).TargetQuantile
		}
	}
	return r
}
