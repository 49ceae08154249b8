package client

import (
	"context"
	"errors"
	"math"
	"testing"

	"github.com/tacitfl/tacit/codec"
	"github.com/tacitfl/tacit/model"
	"github.com/tacitfl/tacit/privacy"
)

// TestDistributedMechanismFromPlan: the device reads the round's
// distributed discrete Gaussian off its plan (the quantizer's scale, the
// clip, the rotated length, the survivors the noise is sized for and the
// colluders among them), and refuses local noise the accounting does not
// cover.
func TestDistributedMechanismFromPlan(t *testing.T) {
	u := &codec.UpdateCodec{Bits: 16, ModBits: 26, Range: 0.25, Rotate: true, LocalNoise: 40, MinSurvivors: 90, Colluders: 5}
	plan := Plan{ClipNorm: 2, Codec: u}
	got, err := distributedMechanism(plan, 1000)
	want := privacy.DistributedDGauss{LocalStd: 40, Scale: 32767 / 0.25, Clip: 2, Dim: 1024, MinSurvivors: 90, Colluders: 5}
	if err != nil || *got != want {
		t.Fatalf("%+v, %v, want %+v", got, err, want)
	}
	for _, c := range []struct {
		local      float64
		surv, coll int
	}{{0.25, 90, 0}, {40, 0, 0}, {40, 90, 90}} {
		u.LocalNoise, u.MinSurvivors, u.Colluders = c.local, c.surv, c.coll
		if _, err := distributedMechanism(plan, 1000); !errors.Is(err, privacy.ErrBadParameter) {
			t.Errorf("local noise %v for %d survivors, %d colluding: %v", c.local, c.surv, c.coll, err)
		}
	}
	if m, err := distributedMechanism(Plan{Codec: &codec.UpdateCodec{Bits: 8}}, 1000); m != nil || err != nil {
		t.Errorf("without local noise: %+v, %v", m, err)
	}
}

// TestLedgerMatchesTheAccountant: a device counts a distributed round in
// its ledger as the coordinator's accountant does at q = 1: the mechanism
// the plan states, its colluders subtracted and the device's own noise
// share counted. Ignoring the colluders would have counted less.
func TestLedgerMatchesTheAccountant(t *testing.T) {
	const z, delta = 1.0, 1e-5
	coordinator := privacy.DistributedDGauss{Scale: 32767 / 0.25, Clip: 2, Dim: 1024, MinSurvivors: 90, Colluders: 5}.WithNoiseMultiplier(z)
	plan := Plan{ClipNorm: 2, NoiseMultiplier: z, Codec: &codec.UpdateCodec{Bits: 16, ModBits: 26, Range: 0.25, Rotate: true,
		LocalNoise: coordinator.LocalStd, MinSurvivors: 90, Colluders: 5}}
	mech, err := distributedMechanism(plan, 1000)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := privacy.NewAccountant(privacy.AccountantRDP)
	want, err := a.EpsilonAfterSpend(privacy.Spend{Q: 1, Sigma: z, Count: 1, Distributed: &coordinator}, delta)
	if err != nil {
		t.Fatal(err)
	}
	var l Ledger
	if got := l.EpsilonIf(z, mech, delta); got != want {
		t.Fatalf("ledger ε %v, the accountant's %v", got, want)
	}
	blind := *mech
	blind.Colluders = 0
	if e := l.EpsilonIf(z, &blind, delta); !(e < want) {
		t.Fatalf("ε %v without the colluders, %v with them", e, want)
	}
}

// TestCheckSensitivity: the bound is the L2 norm of the signed values, read
// as two's complement in m bits. With scale 10, clip 1 and 4 values it is
// (1 + √4/10 + 1e−5)·10 = 12.0001.
func TestCheckSensitivity(t *testing.T) {
	mech := &privacy.DistributedDGauss{LocalStd: 1, Scale: 10, Clip: 1, Dim: 4, MinSurvivors: 1}
	const m = 12
	neg := func(x int) uint32 { return uint32(1<<m - x) }
	for _, c := range []struct {
		v  []uint32
		ok bool
	}{
		{[]uint32{12, 0, 0, 0}, true},
		{[]uint32{0, neg(12), 0, 0}, true},
		{[]uint32{neg(6), 6, neg(6), 6}, true},
		{[]uint32{12, 1, 0, 0}, false},
		{[]uint32{neg(7), 7, neg(7), 7}, false},
		{[]uint32{1 << (m - 1), 0, 0, 0}, false}, // −2048
	} {
		err := checkSensitivity(c.v, m, mech)
		if (err == nil) != c.ok || (err != nil && !errors.Is(err, ErrUpdateTooLarge)) {
			l2 := mech.Sensitivity()
			t.Errorf("%v (bound %v): %v", c.v, l2, err)
		}
	}
	if l2 := mech.Sensitivity(); math.Abs(l2-12.0001) > 1e-9 {
		t.Fatalf("bound %v, want 12.0001", l2)
	}
}

// TestAgentRefusesDistributedDPInTheClear: a plan with local noise but no
// secure aggregation would have the device send a vector whose noise was
// sized for a sum; the agent sends nothing.
func TestAgentRefusesDistributedDPInTheClear(t *testing.T) {
	m, _ := model.NewMF(30, 4, 1)
	plan := testPlan(1, 1)
	plan.ClipNorm, plan.NoiseMultiplier, plan.Delta = 1, 1, 1e-5
	plan.Codec = &codec.UpdateCodec{Bits: 8, ModBits: 16, Range: 0.1, LocalNoise: 5, MinSurvivors: 10}
	f := &fakeCoordinator{plan: plan, params: m.Params}
	a := NewAgent(Data{Train: model.Positives{Items: []int32{1, 5}}, Test: -1}, f, NewWorkspace(), nil)
	if _, err := a.Step(context.Background()); err == nil || len(f.uploads) != 0 {
		t.Fatalf("%d uploads, err %v", len(f.uploads), err)
	}
}
