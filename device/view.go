package device

import (
	"encoding/json"
	"errors"
	"math"
	"slices"
	"time"

	"github.com/tacitfl/tacit/client"
)

// shownKinds are the kinds of event a device shows even before it holds any.
var shownKinds = []string{"view", "click", "purchase", "rating"}

// Summary is what the device keeps, for the person to see.
type Summary struct {
	Events    int
	MaxEvents int
	// ModelVersion is the version of the model the device recommends
	// with, -1 before it has one.
	ModelVersion int64
	kinds        []KindSummary
}

// Kinds is how many kinds of event the summary covers.
func (s *Summary) Kinds() int { return len(s.kinds) }

// Kind is the i-th kind's summary, in name order.
func (s *Summary) Kind(i int) *KindSummary { return &s.kinds[i] }

// MarshalJSON writes the summary with its kinds.
func (s *Summary) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Events       int           `json:"events"`
		MaxEvents    int           `json:"max_events"`
		ModelVersion int64         `json:"model_version"`
		Kinds        []KindSummary `json:"kinds"`
	}{s.Events, s.MaxEvents, s.ModelVersion, s.kinds})
}

// KindSummary is what the device keeps of one kind of event.
type KindSummary struct {
	Kind      string `json:"kind"`
	Events    int    `json:"events"`
	Consented bool   `json:"consented"`
	// OldestUnixMillis is the time of the oldest event kept, 0 with none.
	OldestUnixMillis int64 `json:"oldest_unix_ms"`
	RetentionDays    int   `json:"retention_days"`
	// Unknown counts the events whose item the model's catalogue lacks:
	// kept, but of no use to the model.
	Unknown int `json:"not_in_catalogue"`
}

// Summary is what the device keeps: counts per kind, the oldest event,
// retention and consent.
func (d *Device) Summary() (*Summary, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.st == nil {
		return nil, ErrClosed
	}
	consents, err := d.consentsLocked()
	if err != nil {
		return nil, err
	}
	ret, err := d.st.retentions()
	if err != nil {
		return nil, err
	}
	byKind := map[string]*KindSummary{}
	get := func(kind string) *KindSummary {
		k := byKind[kind]
		if k == nil {
			k = &KindSummary{Kind: kind, Consented: consents[kind], RetentionDays: retentionDays(ret, kind)}
			byKind[kind] = k
		}
		return k
	}
	for _, k := range shownKinds {
		get(k)
	}
	for k := range consents {
		get(k)
	}
	for k := range ret {
		get(k)
	}
	s := &Summary{MaxEvents: d.maxEvents, ModelVersion: -1}
	err = d.st.each(func(e Event) error {
		k := get(e.Kind)
		if k.Events == 0 {
			k.OldestUnixMillis = e.UnixMillis // events come oldest first
		}
		k.Events++
		if _, ok := d.index[e.Item]; !ok {
			k.Unknown++
		}
		s.Events++
		return nil
	})
	if err != nil {
		return nil, err
	}
	if v, err := d.st.modelVersion(); err == nil {
		s.ModelVersion = v
	} else if !errors.Is(err, errNoModel) {
		return nil, err
	}
	for _, k := range byKind {
		s.kinds = append(s.kinds, *k)
	}
	slices.SortFunc(s.kinds, func(a, b KindSummary) int {
		switch {
		case a.Kind < b.Kind:
			return -1
		case a.Kind > b.Kind:
			return 1
		}
		return 0
	})
	return s, nil
}

// Ledger is the device's privacy ledger as the person reads it: every round
// it took part in or declined, and every consent and deletion, oldest
// first, with the device's ε so far at its own δ.
type Ledger struct {
	// Epsilon is the device's ε at Delta over every round in the ledger,
	// +Inf once it took part in a round without noise; Budget is the
	// person's (0: none).
	Epsilon, Delta, Budget float64
	entries                []LedgerEntry
}

// Len is how many entries the ledger holds.
func (l *Ledger) Len() int { return len(l.entries) }

// Get is the i-th entry, oldest first.
func (l *Ledger) Get(i int) *LedgerEntry { return &l.entries[i] }

// MarshalJSON writes the ledger; an unbounded ε is null.
func (l *Ledger) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Epsilon *float64      `json:"epsilon"`
		Delta   float64       `json:"delta"`
		Budget  float64       `json:"budget"`
		Entries []LedgerEntry `json:"entries"`
	}{finite(l.Epsilon), l.Delta, l.Budget, l.entries})
}

// LedgerEntry is one entry of the ledger (client.LedgerEntry, with its
// time in milliseconds since 1970).
type LedgerEntry struct {
	UnixMillis int64
	// Kind is "round" for a round the device took part in, or "declined",
	// "unknown", "consent" or "forget".
	Kind            string
	Round           int64
	ModelVersion    int64
	Reason          string
	NoiseMultiplier float64
	ClipNorm        float64
	BytesSent       int
	// Epsilon is the device's ε after this entry.
	Epsilon float64
}

// MarshalJSON writes the entry; an unbounded ε is null.
func (e LedgerEntry) MarshalJSON() ([]byte, error) {
	type fields struct {
		UnixMillis      int64    `json:"time_unix_ms"`
		Kind            string   `json:"kind"`
		Round           int64    `json:"round,omitempty"`
		ModelVersion    int64    `json:"model_version,omitempty"`
		Reason          string   `json:"reason,omitempty"`
		NoiseMultiplier float64  `json:"noise_multiplier,omitempty"`
		ClipNorm        float64  `json:"clip_norm,omitempty"`
		BytesSent       int      `json:"bytes_sent,omitempty"`
		Epsilon         *float64 `json:"epsilon"`
	}
	return json.Marshal(fields{e.UnixMillis, e.Kind, e.Round, e.ModelVersion, e.Reason, e.NoiseMultiplier, e.ClipNorm,
		e.BytesSent, finite(e.Epsilon)})
}

func finite(x float64) *float64 {
	if math.IsInf(x, 0) || math.IsNaN(x) {
		return nil
	}
	return &x
}

// KindRound is a ledger entry's Kind for a round the device took part in.
const KindRound = "round"

// Ledger is the device's privacy ledger.
func (d *Device) Ledger() *Ledger {
	d.mu.Lock()
	p := d.policy
	d.mu.Unlock()
	entries := d.ledger.Snapshot()
	l := &Ledger{Delta: p.Delta, Budget: p.Budget, Epsilon: d.ledger.Epsilon(p.Delta), entries: make([]LedgerEntry, len(entries))}
	for i, e := range entries {
		kind := e.Kind
		if kind == "" {
			kind = KindRound
		}
		l.entries[i] = LedgerEntry{UnixMillis: e.Time.UnixMilli(), Kind: kind, Round: e.Round, ModelVersion: e.ModelVersion,
			Reason: e.Reason, NoiseMultiplier: e.NoiseMultiplier, ClipNorm: e.ClipNorm, BytesSent: e.BytesSent, Epsilon: e.Epsilon}
	}
	return l
}

// Export is everything the device holds about the person, as JSON: their
// events, consent, retention, the device's policy and summary, and its
// ledger. The model's parameters are the coordinator's, not the person's,
// and are left out.
func (d *Device) Export() (string, error) {
	s, err := d.Summary()
	if err != nil {
		return "", err
	}
	d.mu.Lock()
	events := []Event{}
	err = d.st.each(func(e Event) error { events = append(events, e); return nil })
	var consents map[string]bool
	var ret map[string]int
	if err == nil {
		consents, err = d.consentsLocked()
	}
	if err == nil {
		ret, err = d.st.retentions()
	}
	policy := d.policy
	d.mu.Unlock()
	if err != nil {
		return "", err
	}
	b, err := json.MarshalIndent(struct {
		ExportedAt time.Time       `json:"exported_at"`
		Summary    *Summary        `json:"summary"`
		Consent    map[string]bool `json:"consent"`
		Retention  map[string]int  `json:"retention_days_set"`
		Policy     client.Policy   `json:"policy"`
		Events     []Event         `json:"events"`
		Ledger     *Ledger         `json:"ledger"`
	}{d.now().UTC(), s, consents, ret, policy, events, d.Ledger()}, "", "  ")
	return string(b), err
}
