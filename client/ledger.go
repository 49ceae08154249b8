package client

import (
	"encoding/json"
	"errors"
	"math"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/tacitfl/tacit/internal/jsonl"
	"github.com/tacitfl/tacit/privacy"
)

// Ledger is the device's own record of what it gave away: one entry per
// round it took part in or declined, kept in a file the person can read
// (`tacit device ledger`). From it the device computes its own ε, trusting nothing of the
// coordinator but the noise it promises: each round it joined counts at
// full strength, without the coordinator's sampling amplification, an
// upper bound on what the person revealed. A round counts as the Gaussian
// mechanism of its noise multiplier, or under distributed DP as the
// distributed discrete Gaussian the plan states (the devices' noise, summed
// over the fewest survivors the round accepts less the colluders it
// counts, with this device's own share coming and going with it, and the
// rounding's cost), whose ε is the higher.
//
// A ledger is safe to use from several goroutines (an agent, and the app
// recording the person's choices) through its methods; Entries may be read
// directly only while nothing records, and Snapshot copies it otherwise.
type Ledger struct {
	path    string
	mu      sync.Mutex // guards Entries and the file
	Entries []LedgerEntry
}

// LedgerEntry is one round the device took part in or, by its Kind, declined
// or cannot account for, or a choice of the person's about their data.
type LedgerEntry struct {
	Time  time.Time `json:"time"`
	Kind  string    `json:"kind,omitempty"` // "": a round the device took part in
	Round int64     `json:"round"`
	// ModelVersion is the version of the model the device trained on in the
	// round.
	ModelVersion int64 `json:"model_version,omitempty"`
	// Reason says why the device declined the round, or why its cost is
	// unknown, or what the person chose.
	Reason          string  `json:"reason,omitempty"`
	NoiseMultiplier float64 `json:"noise_multiplier"` // 0: no differential privacy
	ClipNorm        float64 `json:"clip_norm"`
	// Distributed is the round's mechanism under distributed DP.
	Distributed *privacy.DistributedDGauss `json:"distributed,omitempty"`
	Delta       float64                    `json:"delta"`
	BytesSent   int                        `json:"bytes_sent"`
	// Epsilon is the device's ε after this entry, at Delta: +Inf once it
	// took part in a round without noise, written as null.
	Epsilon float64 `json:"epsilon"`
}

// The kinds of ledger entry other than a round the device took part in.
const (
	// EntryDeclined is a plan the device declined: it spent nothing.
	EntryDeclined = "declined"
	// EntryUnknown stands for a torn last line, repaired when the ledger
	// was opened: a round whose cost the device cannot know, counted as
	// unbounded ε.
	EntryUnknown = "unknown"
	// EntryConsent is the person granting or withdrawing consent to a kind
	// of event: it spends nothing.
	EntryConsent = "consent"
	// EntryForget is the person deleting events: it spends nothing, and
	// its Reason names the rounds and model versions the device had
	// contributed to before, which the deletion cannot reach.
	EntryForget = "forget"
)

// spends says whether an entry of kind counts towards ε: a round taken
// part in, or one of unknown cost.
func spends(kind string) bool { return kind == "" || kind == EntryUnknown }

// ledgerJSON is how an entry is written: ε null when unbounded, which JSON
// has no number for.
type ledgerJSON struct {
	ledgerFields
	Epsilon *float64 `json:"epsilon"`
}

// ledgerFields is LedgerEntry without its methods.
type ledgerFields LedgerEntry

// MarshalJSON writes the entry, an unbounded ε as null.
func (e LedgerEntry) MarshalJSON() ([]byte, error) {
	j := ledgerJSON{ledgerFields: ledgerFields(e)}
	if !math.IsInf(e.Epsilon, 1) {
		j.Epsilon = &e.Epsilon
	}
	return json.Marshal(j)
}

// UnmarshalJSON reads an entry, a null ε as +Inf.
func (e *LedgerEntry) UnmarshalJSON(b []byte) error {
	var j ledgerJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*e = LedgerEntry(j.ledgerFields)
	e.Epsilon = math.Inf(1)
	if j.Epsilon != nil {
		e.Epsilon = *j.Epsilon
	}
	return nil
}

// maxLedgerLine bounds a ledger line; the file is the device's own, but a
// damaged one must not exhaust memory.
const maxLedgerLine = 4096

// OpenLedger reads the ledger at path; a missing file is an empty ledger.
//
// A last line that does not parse is a write the device did not finish:
// OpenLedger cuts it off and records in its place an entry of kind
// EntryUnknown, which counts as unbounded ε. The device writes a round's
// line, and syncs it, before it sends anything of the round, so a torn line
// should be a round that sent nothing; but the file cannot prove that, nor
// say what the round would have cost, and a figure would be a guess
// presented as a bound. A damaged line before the last is an error.
func OpenLedger(path string) (*Ledger, error) {
	l := &Ledger{path: path}
	res, err := jsonl.Read(path, jsonl.Options{MaxLine: maxLedgerLine, Repair: true}, func(line []byte) error {
		var e LedgerEntry
		if err := json.Unmarshal(line, &e); err != nil {
			return err
		}
		l.Entries = append(l.Entries, e)
		return nil
	})
	switch {
	case errors.Is(err, os.ErrNotExist):
		return l, nil
	case err != nil:
		return nil, err
	case res.Torn != nil:
		delta := 0.0
		if n := len(l.Entries); n > 0 {
			delta = l.Entries[n-1].Delta
		}
		err = l.Record(LedgerEntry{Time: res.ModTime.UTC(), Kind: EntryUnknown, Delta: delta, Epsilon: math.Inf(1),
			Reason: "a torn line, repaired when the ledger was opened: counted as a round of unbounded ε"})
		if err != nil {
			return nil, err
		}
	}
	return l, nil
}

// EpsilonIf is the device's ε at delta if it also took part in a round with
// noise multiplier z (and, under distributed DP, mechanism mech): +Inf once
// a round without noise, or of unknown cost, is among them. Declined
// rounds spend nothing.
func (l *Ledger) EpsilonIf(z float64, mech *privacy.DistributedDGauss, delta float64) float64 {
	return l.epsilon(delta, LedgerEntry{NoiseMultiplier: z, Distributed: mech})
}

// epsilon is the device's ε at delta over its rounds and more: 0 with no
// round at all.
func (l *Ledger) epsilon(delta float64, more ...LedgerEntry) float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.epsilonLocked(delta, more...)
}

func (l *Ledger) epsilonLocked(delta float64, more ...LedgerEntry) float64 {
	a, err := privacy.NewAccountant(privacy.AccountantRDP)
	if err != nil {
		return math.Inf(1)
	}
	rounds := 0
	for _, e := range append(l.Entries[:len(l.Entries):len(l.Entries)], more...) {
		if !spends(e.Kind) {
			continue
		}
		if e.NoiseMultiplier <= 0 {
			return math.Inf(1)
		}
		if err := a.ComposeSpend(privacy.Spend{Q: 1, Sigma: e.NoiseMultiplier, Count: 1, Distributed: e.Distributed}); err != nil {
			return math.Inf(1)
		}
		rounds++
	}
	if rounds == 0 {
		return 0
	}
	eps, err := a.Epsilon(delta)
	if err != nil {
		return math.Inf(1)
	}
	return eps
}

// Epsilon is the device's ε at delta over the rounds in the ledger.
func (l *Ledger) Epsilon(delta float64) float64 { return l.epsilon(delta) }

// Note records a choice of the person's, of kind EntryConsent or
// EntryForget, made at t: it spends nothing and carries the device's ε so
// far at delta.
func (l *Ledger) Note(kind, reason string, delta float64, t time.Time) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.recordLocked(LedgerEntry{Time: t.UTC(), Kind: kind, Reason: reason, Delta: delta, Epsilon: l.epsilonLocked(delta)})
}

// Snapshot is a copy of the ledger's entries.
func (l *Ledger) Snapshot() []LedgerEntry {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.Entries)
}

// declinedLast says whether the last entry declines round.
func (l *Ledger) declinedLast(round int64) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := len(l.Entries)
	return n > 0 && l.Entries[n-1].Kind == EntryDeclined && l.Entries[n-1].Round == round
}

// Contributed lists the rounds the device took part in, those of unknown
// cost included, and the model versions it trained on in them (0 where
// the ledger did not say).
func (l *Ledger) Contributed() (rounds, versions []int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, e := range l.Entries {
		if spends(e.Kind) {
			rounds, versions = append(rounds, e.Round), append(versions, e.ModelVersion)
		}
	}
	return rounds, versions
}

// Record appends an entry, to the file first: an entry that is not on disk
// was not given.
func (l *Ledger) Record(e LedgerEntry) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.recordLocked(e)
}

func (l *Ledger) recordLocked(e LedgerEntry) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	if err := jsonl.Append(l.path, append(b, '\n'), 0o600); err != nil {
		return err
	}
	l.Entries = append(l.Entries, e)
	return nil
}
