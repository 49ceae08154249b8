package privacy

import (
	"fmt"
	"math"
)

// The accountants an Accountant can use.
const (
	AccountantRDP = "rdp" // Rényi DP at DefaultOrders: fast, looser
	AccountantPLD = "pld" // privacy loss distribution: tighter, slower
)

// Accountants lists the accountant names, for flags and messages.
func Accountants() []string { return []string{AccountantPLD, AccountantRDP} }

// EpsilonFuncFor is the named accountant's EpsilonFunc, for calibration.
func EpsilonFuncFor(name string) (EpsilonFunc, error) {
	switch name {
	case AccountantRDP:
		return RDPEpsilon, nil
	case AccountantPLD:
		return PLDEpsilon, nil
	}
	return nil, fmt.Errorf("%w: unknown accountant %q (want %s or %s)", ErrBadParameter, name, AccountantPLD, AccountantRDP)
}

// Spend is a run of Count identical rounds of the Poisson-subsampled
// Gaussian mechanism at sampling rate Q and noise multiplier Sigma.
type Spend struct {
	Q, Sigma float64
	Count    int
}

// Accountant follows the privacy a training spends, round by round, with
// the RDP or the PLD accountant. It keeps the history of mechanisms as
// well, run-length encoded: that history (Spends) is what a checkpoint
// stores, whichever accountant reads it, and replaying it restores the
// accountant exactly.
type Accountant struct {
	name     string
	spends   []Spend
	infinite bool // a round without noise was composed: ε is unbounded
	rdp      *RDP
	pld      *PLD
	// next is the PLD that EpsilonAfter composed, kept for the Compose of
	// the same round that usually follows (a round is checked against the
	// budget before it opens and composed when it commits).
	next      *PLD
	nextSpend Spend
}

// NewAccountant returns the named accountant with nothing spent.
func NewAccountant(name string) (*Accountant, error) {
	a := &Accountant{name: name}
	switch name {
	case AccountantRDP:
		a.rdp = NewRDP(nil)
	case AccountantPLD:
		a.pld = NewPLD(0)
	default:
		_, err := EpsilonFuncFor(name)
		return nil, err
	}
	return a, nil
}

// RestoreAccountant is the named accountant after the spends of a
// checkpoint.
func RestoreAccountant(name string, spends []Spend) (*Accountant, error) {
	a, err := NewAccountant(name)
	if err != nil {
		return nil, err
	}
	for _, s := range spends {
		if err := a.Compose(s.Q, s.Sigma, s.Count); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// Name is the accountant's name.
func (a *Accountant) Name() string { return a.name }

// Spends is the history of composed mechanisms, oldest first.
func (a *Accountant) Spends() []Spend { return append([]Spend(nil), a.spends...) }

// Compose adds count rounds at (q, sigma). A sigma of 0 (no noise) makes ε
// infinite from then on. On error nothing changes.
func (a *Accountant) Compose(q, sigma float64, count int) error {
	if err := CheckMechanism(q, sigma, count); err != nil {
		return err
	}
	s := Spend{Q: q, Sigma: sigma, Count: count}
	switch {
	case sigma == 0:
		a.infinite = true
	case a.rdp != nil:
		if err := a.rdp.ComposePoissonGaussian(q, sigma, count); err != nil {
			return err
		}
	case a.next != nil && a.nextSpend == s:
		a.pld = a.next
	default:
		if err := a.pld.ComposePoissonGaussian(q, sigma, count); err != nil {
			return err
		}
	}
	a.next = nil
	if n := len(a.spends); n > 0 && a.spends[n-1].Q == q && a.spends[n-1].Sigma == sigma {
		a.spends[n-1].Count += count
	} else {
		a.spends = append(a.spends, s)
	}
	return nil
}

// Epsilon is the ε spent so far at delta.
func (a *Accountant) Epsilon(delta float64) (float64, error) {
	if !(delta > 0 && delta < 1) {
		return 0, fmt.Errorf("%w: δ must be in (0, 1), got %v", ErrBadParameter, delta)
	}
	switch {
	case a.infinite:
		return math.Inf(1), nil
	case a.rdp != nil:
		eps, _, err := a.rdp.Epsilon(delta)
		return eps, err
	}
	return a.pld.Epsilon(delta)
}

// EpsilonAfter is the ε at delta if count more rounds at (q, sigma) were
// composed, without composing them.
func (a *Accountant) EpsilonAfter(q, sigma float64, count int, delta float64) (float64, error) {
	if err := CheckMechanism(q, sigma, count); err != nil {
		return 0, err
	}
	switch {
	case a.infinite || sigma == 0:
		return math.Inf(1), nil
	case a.rdp != nil:
		return a.rdp.EpsilonAfter(q, sigma, count, delta)
	}
	next := a.pld.Clone()
	if err := next.ComposePoissonGaussian(q, sigma, count); err != nil {
		return 0, err
	}
	a.next, a.nextSpend = next, Spend{Q: q, Sigma: sigma, Count: count}
	return next.Epsilon(delta)
}
