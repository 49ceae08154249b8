package client

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"time"

	"github.com/tacitfl/tacit/privacy"
)

// Ledger is the device's own record of what it gave away: one entry per
// round it took part in, kept in a file the person can read (`tacit agent
// ledger`). From it the device computes its own ε, trusting nothing of the
// coordinator but the noise it promises: each round it joined counts at
// full strength, without the coordinator's sampling amplification, an
// upper bound on what the person revealed. A round counts as the Gaussian
// mechanism of its noise multiplier, or under distributed DP as the
// distributed discrete Gaussian the plan states (the devices' noise, summed
// over the fewest survivors the round accepts less the colluders it
// counts, with this device's own share coming and going with it, and the
// rounding's cost), whose ε is the higher.
type Ledger struct {
	path    string
	Entries []LedgerEntry
}

// LedgerEntry is one round the device took part in.
type LedgerEntry struct {
	Time            time.Time `json:"time"`
	Round           int64     `json:"round"`
	NoiseMultiplier float64   `json:"noise_multiplier"` // 0: no differential privacy
	ClipNorm        float64   `json:"clip_norm"`
	// Distributed is the round's mechanism under distributed DP.
	Distributed *privacy.DistributedDGauss `json:"distributed,omitempty"`
	Delta       float64                    `json:"delta"`
	BytesSent   int                        `json:"bytes_sent"`
	Epsilon     float64                    `json:"epsilon"` // the device's ε after this round, at Delta
}

// maxLedgerLine bounds a ledger line; the file is the device's own, but a
// damaged one must not exhaust memory.
const maxLedgerLine = 4096

// OpenLedger reads the ledger at path; a missing file is an empty ledger.
func OpenLedger(path string) (*Ledger, error) {
	l := &Ledger{path: path}
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return l, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 512), maxLedgerLine)
	for line := 1; sc.Scan(); line++ {
		var e LedgerEntry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, line, err)
		}
		l.Entries = append(l.Entries, e)
	}
	return l, sc.Err()
}

// EpsilonIf is the device's ε at delta if it also took part in a round with
// noise multiplier z (and, under distributed DP, mechanism mech): +Inf for
// a round without noise.
func (l *Ledger) EpsilonIf(z float64, mech *privacy.DistributedDGauss, delta float64) float64 {
	a, err := privacy.NewAccountant(privacy.AccountantRDP)
	if err != nil {
		return math.Inf(1)
	}
	for _, e := range append(l.Entries, LedgerEntry{NoiseMultiplier: z, Distributed: mech}) {
		if e.NoiseMultiplier <= 0 {
			return math.Inf(1)
		}
		if err := a.ComposeSpend(privacy.Spend{Q: 1, Sigma: e.NoiseMultiplier, Count: 1, Distributed: e.Distributed}); err != nil {
			return math.Inf(1)
		}
	}
	eps, err := a.Epsilon(delta)
	if err != nil {
		return math.Inf(1)
	}
	return eps
}

// Record appends an entry, to the file first: an entry that is not on disk
// was not given.
func (l *Ledger) Record(e LedgerEntry) error {
	b, err := json.Marshal(e)
	if err != nil {
		return err
	}
	f, err := os.OpenFile(l.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(append(b, '\n')); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	l.Entries = append(l.Entries, e)
	return nil
}

// Print writes the ledger for the person to read.
func (l *Ledger) Print(w io.Writer) {
	if len(l.Entries) == 0 {
		fmt.Fprintln(w, "this device has not taken part in any round")
		return
	}
	fmt.Fprintf(w, "%-20s %8s %8s %8s %10s %12s\n", "time", "round", "noise", "clip", "bytes", "ε so far")
	bytes := 0
	for _, e := range l.Entries {
		bytes += e.BytesSent
		fmt.Fprintf(w, "%-20s %8d %8.3g %8.3g %10d %12.4g\n", e.Time.Format("2006-01-02 15:04:05"), e.Round, e.NoiseMultiplier, e.ClipNorm, e.BytesSent, e.Epsilon)
	}
	last := l.Entries[len(l.Entries)-1]
	fmt.Fprintf(w, "\n%d rounds, %d bytes sent; ε = %.4g at δ = %g (each round counted without sampling, as a Gaussian or\n"+
		"under distributed DP a distributed discrete Gaussian mechanism)\n", len(l.Entries), bytes, last.Epsilon, last.Delta)
}
