package privacy

import (
	"errors"
	"math"
	"testing"
)

// TestAccountantMatchesOneShot: composing round by round, with the budget
// check's EpsilonAfter before each round, gives the ε of composing all the
// rounds at once, for both accountants; the history is run-length encoded.
func TestAccountantMatchesOneShot(t *testing.T) {
	const q, z, rounds, delta = 0.01, 1.1, 40, 1e-6
	for _, name := range Accountants() {
		a, err := NewAccountant(name)
		if err != nil {
			t.Fatal(err)
		}
		var after float64
		for r := 0; r < rounds; r++ {
			if after, err = a.EpsilonAfterSpend(Spend{Q: q, Sigma: z, Count: 1}, delta); err != nil {
				t.Fatal(err)
			}
			if err := a.ComposeSpend(Spend{Q: q, Sigma: z, Count: 1}); err != nil {
				t.Fatal(err)
			}
		}
		got, err := a.Epsilon(delta)
		if err != nil {
			t.Fatal(err)
		}
		fn, _ := EpsilonFuncFor(name)
		want, err := fn(q, z, rounds, delta)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(got-want) > 1e-9*want || got != after {
			t.Errorf("%s: ε %v round by round (last EpsilonAfter %v), %v at once", name, got, after, want)
		}
		if s := a.Spends(); len(s) != 1 || s[0] != (Spend{Q: q, Sigma: z, Count: rounds}) {
			t.Errorf("%s: spends %+v", name, s)
		}
	}
}

// TestAccountantRestoresChangingRounds: a history whose q and z change
// (adaptive selection, a new configuration) restores to the same ε, and
// PLD stays below RDP on it.
func TestAccountantRestoresChangingRounds(t *testing.T) {
	spends := []Spend{{Q: 0.01, Sigma: 1.0, Count: 30}, {Q: 0.02, Sigma: 1.3, Count: 10}, {Q: 0.01, Sigma: 1.0, Count: 5}}
	eps := map[string]float64{}
	for _, name := range Accountants() {
		a, _ := NewAccountant(name)
		for _, s := range spends {
			for range s.Count {
				if err := a.ComposeSpend(Spend{Q: s.Q, Sigma: s.Sigma, Count: 1}); err != nil {
					t.Fatal(err)
				}
			}
		}
		if got := a.Spends(); len(got) != len(spends) {
			t.Fatalf("%s: spends %+v, want %+v", name, got, spends)
		}
		b, err := RestoreAccountant(name, a.Spends())
		if err != nil {
			t.Fatal(err)
		}
		e1, _ := a.Epsilon(1e-5)
		e2, _ := b.Epsilon(1e-5)
		if math.Abs(e1-e2) > 1e-9*e1 {
			t.Errorf("%s: ε %v, restored %v", name, e1, e2)
		}
		eps[name] = e1
	}
	if eps[AccountantPLD] > eps[AccountantRDP] {
		t.Errorf("PLD ε %v above RDP ε %v", eps[AccountantPLD], eps[AccountantRDP])
	}
}

func TestAccountantNoNoiseAndBadInput(t *testing.T) {
	for _, name := range Accountants() {
		a, _ := NewAccountant(name)
		if e, _ := a.EpsilonAfterSpend(Spend{Q: 0.1, Sigma: 0, Count: 1}, 1e-5); !math.IsInf(e, 1) {
			t.Errorf("%s: ε after a noiseless round %v, want +Inf", name, e)
		}
		if err := a.ComposeSpend(Spend{Q: 0.1, Sigma: 0, Count: 1}); err != nil {
			t.Fatal(err)
		}
		if e, _ := a.Epsilon(1e-5); !math.IsInf(e, 1) {
			t.Errorf("%s: ε %v after a noiseless round, want +Inf", name, e)
		}
		for _, bad := range []Spend{{Q: 0, Sigma: 1, Count: 1}, {Q: 1.5, Sigma: 1, Count: 1}, {Q: 0.1, Sigma: -1, Count: 1}, {Q: 0.1, Sigma: 1, Count: 0}} {
			if err := a.ComposeSpend(Spend{Q: bad.Q, Sigma: bad.Sigma, Count: bad.Count}); !errors.Is(err, ErrBadParameter) {
				t.Errorf("%s: Compose(%+v) = %v, want ErrBadParameter", name, bad, err)
			}
		}
		if _, err := a.Epsilon(0); !errors.Is(err, ErrBadParameter) {
			t.Errorf("%s: δ 0 accepted", name)
		}
	}
	if _, err := NewAccountant("moments"); !errors.Is(err, ErrBadParameter) {
		t.Errorf("unknown accountant: %v", err)
	}
}

// BenchmarkAccountantRound is what the coordinator spends on privacy per
// round after 300 rounds at q = 1%, z = 0.8: the budget check, the commit's
// composition and the ε it reports.
func BenchmarkAccountantRound(b *testing.B) {
	for _, name := range Accountants() {
		b.Run(name, func(b *testing.B) {
			a, _ := RestoreAccountant(name, []Spend{{Q: 0.01, Sigma: 0.8, Count: 300}})
			for b.Loop() {
				if _, err := a.EpsilonAfterSpend(Spend{Q: 0.01, Sigma: 0.8, Count: 1}, 1e-6); err != nil {
					b.Fatal(err)
				}
				if err := a.ComposeSpend(Spend{Q: 0.01, Sigma: 0.8, Count: 1}); err != nil {
					b.Fatal(err)
				}
				if _, err := a.Epsilon(1e-6); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestAccountantDistributedRounds: distributed discrete Gaussian rounds
// compose, run-length encode and restore like Gaussian ones in the RDP
// accountant. The PLD accountant, which does not count a device's own
// noise share, refuses them, and nothing changes.
func TestAccountantDistributedRounds(t *testing.T) {
	mech := DistributedDGauss{Scale: 1e4, Clip: 1, Dim: 1 << 10, MinSurvivors: 50}.WithNoiseMultiplier(1)
	s := Spend{Q: 0.01, Sigma: 1, Count: 1, Distributed: &mech}
	a, _ := NewAccountant(AccountantRDP)
	for range 20 {
		c := mech // a copy: equal mechanisms merge, whatever the pointer
		s.Distributed = &c
		if err := a.ComposeSpend(s); err != nil {
			t.Fatal(err)
		}
	}
	got, _ := a.Epsilon(1e-5)
	want, err := DistributedDGaussEpsilon(mech, 0.01, 20, 1e-5)
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(got-want) > 1e-9*want || len(a.Spends()) != 1 || a.Spends()[0].Count != 20 {
		t.Fatalf("ε %v, want %v; spends %+v", got, want, a.Spends())
	}
	b, err := RestoreAccountant(AccountantRDP, a.Spends())
	if err != nil {
		t.Fatal(err)
	}
	if e, _ := b.Epsilon(1e-5); e != got {
		t.Fatalf("restored ε %v, want %v", e, got)
	}
	p, _ := NewAccountant(AccountantPLD)
	if err := p.ComposeSpend(Spend{Q: 0.01, Sigma: 1, Count: 1}); err != nil {
		t.Fatal(err)
	}
	before, _ := p.Epsilon(1e-5)
	if err := p.ComposeSpend(s); !errors.Is(err, ErrBadParameter) {
		t.Errorf("PLD ComposeSpend of a distributed round: %v", err)
	}
	if _, err := p.EpsilonAfterSpend(s, 1e-5); !errors.Is(err, ErrBadParameter) {
		t.Errorf("PLD EpsilonAfterSpend of a distributed round: %v", err)
	}
	if e, _ := p.Epsilon(1e-5); e != before || len(p.Spends()) != 1 {
		t.Errorf("refused rounds changed the PLD accountant: ε %v, was %v; spends %+v", e, before, p.Spends())
	}
	if _, err := RestoreAccountant(AccountantPLD, a.Spends()); !errors.Is(err, ErrBadParameter) {
		t.Errorf("PLD restored distributed rounds: %v", err)
	}
	if _, err := CalibrateDistributedDGauss(mech, AccountantPLD, 3, 1e-5, 0.01, 20); !errors.Is(err, ErrBadParameter) {
		t.Errorf("PLD calibrated distributed rounds: %v", err)
	}
	for name, ok := range map[string]bool{AccountantRDP: true, AccountantPLD: false, "": false} {
		if err := CheckDistributedAccountant(name); (err == nil) != ok || (err != nil && !errors.Is(err, ErrBadParameter)) {
			t.Errorf("CheckDistributedAccountant(%q): %v", name, err)
		}
	}
}
