package client

import (
	"context"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tacitfl/tacit/model"
	"github.com/tacitfl/tacit/privacy"
)

// TestLedgerRecordsAndEnforcesTheDeviceBudget: a device with a budget of
// ε 6 joins rounds with z = 1 (ε 4.73, then 7.08 for two rounds counted
// without sampling) and so takes part once, declines the second, and its
// ledger file says so after a restart.
func TestLedgerRecordsAndEnforcesTheDeviceBudget(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ledger.jsonl")
	m, _ := model.NewMF(30, 4, 1)
	plan := testPlan(1, 1)
	plan.ClipNorm, plan.NoiseMultiplier, plan.Delta = 1, 1, 1e-5
	f := &fakeCoordinator{plan: plan, params: m.Params}
	l, err := OpenLedger(path)
	if err != nil {
		t.Fatal(err)
	}
	policy := Policy{AllowPlain: true, Delta: 1e-5, MaxRoundsPerDay: 24, Budget: 6}
	a := NewAgent(Data{Train: model.Positives{Items: []int32{1, 5}}, Test: -1}, f, NewWorkspace(), nil).KeepLedger(l, policy)
	for r := int64(1); r <= 2; r++ {
		f.plan.Round = r
		if _, err := a.Step(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if len(f.uploads) != 1 {
		t.Fatalf("%d uploads, want 1: the second round would exceed the budget", len(f.uploads))
	}
	again, err := OpenLedger(path)
	if err != nil || len(again.Entries) != 2 || again.Entries[1].Kind != EntryDeclined || !strings.Contains(again.Entries[1].Reason, "past its budget") {
		t.Fatalf("reopened ledger: %+v, %v", again, err)
	}
	e := again.Entries[0]
	one := privacy.NewRDP(nil)
	one.ComposePoissonGaussian(1, 1, 1)
	want, _, _ := one.Epsilon(1e-5)
	if e.Round != 1 || e.BytesSent != 4*len(m.Params) || math.Abs(e.Epsilon-want) > 1e-12 {
		t.Fatalf("entry %+v, want round 1, %d bytes, ε %v", e, 4*len(m.Params), want)
	}
	// A round without noise is unbounded ε: a device with any budget declines.
	f.plan.NoiseMultiplier, f.plan.Round = 0, 3
	if !math.IsInf(again.EpsilonIf(0, nil, 1e-5), 1) {
		t.Fatal("a round without noise counted as bounded")
	}
}

// TestLedgerCountsDistributedRounds: a round under distributed DP is
// counted as the distributed discrete Gaussian its plan states, which costs
// more ε than the Gaussian of the same noise multiplier, and its entry
// survives the file.
func TestLedgerCountsDistributedRounds(t *testing.T) {
	// Coarse rounding (scale 40 on a clip of 1, 1,024 values) makes the
	// discrete mechanism's sensitivity 1 + √1024/40 = 1.8 clips.
	const z, delta = 1.0, 1e-5
	mech := (&privacy.DistributedDGauss{Scale: 40, Clip: 1, Dim: 1024, MinSurvivors: 50}).WithNoiseMultiplier(z)
	l, err := OpenLedger(filepath.Join(t.TempDir(), "ledger.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	first := l.EpsilonIf(z, &mech, delta)
	if err := l.Record(LedgerEntry{Round: 1, NoiseMultiplier: z, ClipNorm: 1, Distributed: &mech, Delta: delta, Epsilon: first}); err != nil {
		t.Fatal(err)
	}
	want, err := privacy.DistributedDGaussEpsilon(mech, 1, 2, delta)
	if err != nil {
		t.Fatal(err)
	}
	gaussian := privacy.NewRDP(nil)
	gaussian.ComposePoissonGaussian(1, z, 2)
	gaussianEps, _, _ := gaussian.Epsilon(delta)
	again, err := OpenLedger(l.path)
	if err != nil || len(again.Entries) != 1 || *again.Entries[0].Distributed != mech {
		t.Fatalf("reopened ledger: %+v, %v", again, err)
	}
	got := again.EpsilonIf(z, &mech, delta)
	t.Logf("two rounds: ε %.4f (distributed DG accounting alone %.4f), Gaussian %.4f", got, want, gaussianEps)
	if math.Abs(got-want) > 1e-9*want || got < 1.5*gaussianEps {
		t.Fatalf("two distributed rounds: ε %v, want %v (and well above the Gaussian's %v)", got, want, gaussianEps)
	}
}
