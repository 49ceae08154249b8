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
// clip, the rotated length and the survivors the noise is sized for), and
// refuses local noise the accounting does not cover.
func TestDistributedMechanismFromPlan(t *testing.T) {
	u := &codec.UpdateCodec{Bits: 16, ModBits: 26, Range: 0.25, Rotate: true, LocalNoise: 40, MinSurvivors: 90}
	plan := Plan{ClipNorm: 2, Codec: u}
	got, err := distributedMechanism(plan, 1000)
	want := privacy.DistributedDGauss{LocalStd: 40, Scale: 32767 / 0.25, Clip: 2, Dim: 1024, MinSurvivors: 90}
	if err != nil || *got != want {
		t.Fatalf("%+v, %v, want %+v", got, err, want)
	}
	for _, c := range []struct {
		local float64
		surv  int
	}{{0.25, 90}, {40, 0}} {
		u.LocalNoise, u.MinSurvivors = c.local, c.surv
		if _, err := distributedMechanism(plan, 1000); !errors.Is(err, privacy.ErrBadParameter) {
			t.Errorf("local noise %v for %d survivors: %v", c.local, c.surv, err)
		}
	}
	if m, err := distributedMechanism(Plan{Codec: &codec.UpdateCodec{Bits: 8}}, 1000); m != nil || err != nil {
		t.Errorf("without local noise: %+v, %v", m, err)
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
