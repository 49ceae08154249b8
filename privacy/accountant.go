package privacy

import (
	"fmt"
	"math"
	"strings"
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
	return nil, fmt.Errorf("%w: unknown accountant %q (want %s)", ErrBadParameter, name, strings.Join(Accountants(), " or "))
}

// errPLDDistributed is why the PLD accountant refuses distributed DP.
var errPLDDistributed = fmt.Errorf("%w: the PLD accountant does not count a device's own noise share under distributed DP; use %s",
	ErrBadParameter, AccountantRDP)

// CheckDistributedAccountant refuses, with an error wrapping
// ErrBadParameter, an accountant that cannot follow the distributed
// discrete Gaussian (DistributedDGauss): an unknown one, and PLD, which
// does not count a device's own noise share (PLD.ComposeDistributedDGauss
// bounds a round with the share in both neighbours).
func CheckDistributedAccountant(name string) error {
	if _, err := EpsilonFuncFor(name); err != nil {
		return err
	}
	if name == AccountantPLD {
		return errPLDDistributed
	}
	return nil
}

// Spend is a run of Count identical rounds at sampling rate Q: of the
// Gaussian mechanism with noise multiplier Sigma or, when Distributed is
// set, of that distributed discrete Gaussian (Sigma then records the
// central noise multiplier it was calibrated from).
type Spend struct {
	Q, Sigma    float64
	Count       int
	Distributed *DistributedDGauss
}

func (s Spend) sameMechanism(o Spend) bool {
	if s.Q != o.Q || s.Sigma != o.Sigma || (s.Distributed == nil) != (o.Distributed == nil) {
		return false
	}
	return s.Distributed == nil || *s.Distributed == *o.Distributed
}

// Check refuses a spend no accountant covers.
func (s Spend) Check() error {
	if err := CheckMechanism(s.Q, s.Sigma, s.Count); err != nil {
		return err
	}
	if s.Distributed != nil {
		return s.Distributed.Check()
	}
	return nil
}

// Accountant follows the privacy a training spends, round by round, with
// the RDP or the PLD accountant (the RDP one alone for distributed DP; see
// CheckDistributedAccountant). It keeps the history of mechanisms as
// well, run-length encoded: that history (Spends) is what a checkpoint
// stores, whichever accountant reads it, and replaying it restores the
// accountant exactly.
type Accountant struct {
	spends   []Spend
	infinite bool // a round without noise was composed: ε is unbounded
	rdp      *RDP
	pld      *PLD
	// next is the PLD that EpsilonAfterSpend composed, kept for the
	// ComposeSpend of the same round that usually follows (a round is checked against the
	// budget before it opens and composed when it commits).
	next      *PLD
	nextSpend Spend
}

// NewAccountant returns the named accountant with nothing spent.
func NewAccountant(name string) (*Accountant, error) {
	a := &Accountant{}
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
		if err := a.ComposeSpend(s); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// Spends is the history of composed mechanisms, oldest first.
func (a *Accountant) Spends() []Spend { return append([]Spend(nil), a.spends...) }

// check refuses a spend a does not cover.
func (a *Accountant) check(s Spend) error {
	if s.Distributed != nil && a.pld != nil {
		return errPLDDistributed
	}
	return s.Check()
}

// ComposeSpend adds the rounds of s. A Gaussian spend with Sigma 0 (no
// noise) makes ε infinite from then on. On error nothing changes.
func (a *Accountant) ComposeSpend(s Spend) error {
	if err := a.check(s); err != nil {
		return err
	}
	switch {
	case s.Distributed == nil && s.Sigma == 0:
		a.infinite = true
	case a.rdp != nil && s.Distributed != nil:
		if err := a.rdp.ComposeDistributedDGauss(*s.Distributed, s.Q, s.Count); err != nil {
			return err
		}
	case a.rdp != nil:
		if err := a.rdp.ComposePoissonGaussian(s.Q, s.Sigma, s.Count); err != nil {
			return err
		}
	case a.next != nil && a.nextSpend.sameMechanism(s) && a.nextSpend.Count == s.Count:
		a.pld = a.next
	default:
		if err := a.pld.ComposePoissonGaussian(s.Q, s.Sigma, s.Count); err != nil {
			return err
		}
	}
	a.next = nil
	if n := len(a.spends); n > 0 && a.spends[n-1].sameMechanism(s) {
		a.spends[n-1].Count += s.Count
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

// EpsilonAfterSpend is the ε at delta if s were composed, without
// composing it.
func (a *Accountant) EpsilonAfterSpend(s Spend, delta float64) (float64, error) {
	if err := a.check(s); err != nil {
		return 0, err
	}
	switch {
	case a.infinite || (s.Distributed == nil && s.Sigma == 0):
		return math.Inf(1), nil
	case a.rdp != nil && s.Distributed != nil:
		return a.rdp.EpsilonAfterDistributedDGauss(*s.Distributed, s.Q, s.Count, delta)
	case a.rdp != nil:
		return a.rdp.EpsilonAfter(s.Q, s.Sigma, s.Count, delta)
	}
	next := a.pld.Clone()
	if err := next.ComposePoissonGaussian(s.Q, s.Sigma, s.Count); err != nil {
		return 0, err
	}
	a.next, a.nextSpend = next, s
	return next.Epsilon(delta)
}
