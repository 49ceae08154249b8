package privacy

import (
	"math"
	"testing"
)

func TestAdaptiveClipMovesTowardTheQuantile(t *testing.T) {
	a := AdaptiveClip{}.Defaults(100)
	if a.TargetQuantile != 0.5 || a.LR != 0.2 || a.CountStd != 5 {
		t.Fatalf("defaults %+v", a)
	}
	quiet := AdaptiveClip{TargetQuantile: 0.5, LR: 0.2} // no count noise
	n := NewSeededNoise([32]byte{})
	// All 100 updates within the clip: b̄ = 1, C ← C·e^(−0.2·0.5).
	if got := quiet.Next(1, 100, 100, 100, n); math.Abs(got-math.Exp(-0.1)) > 1e-9 {
		t.Fatalf("all unclipped: %v, want %v", got, math.Exp(-0.1))
	}
	// None within: b̄ = 0, C grows by e^(0.1).
	if got := quiet.Next(1, 0, 100, 100, n); math.Abs(got-math.Exp(0.1)) > 1e-9 {
		t.Fatalf("all clipped: %v", got)
	}
	// Exactly the target: unchanged.
	if got := quiet.Next(2, 50, 100, 100, n); math.Abs(got-2) > 1e-9 {
		t.Fatalf("at the quantile: %v", got)
	}
}

func TestAdaptiveClipNoiseSplit(t *testing.T) {
	// z = 1 with σ_b = 5: z_Δ = (1 − 1/100)^(−1/2) = 1.00504.
	a := AdaptiveClip{CountStd: 5}
	zd, err := a.UpdateNoise(1)
	if err != nil || math.Abs(zd-1/math.Sqrt(0.99)) > 1e-12 {
		t.Fatalf("z_Δ %v (%v)", zd, err)
	}
	// The two Gaussians compose to z: 1/z² = 1/z_Δ² + 1/(2σ_b)².
	if got := 1 / math.Sqrt(1/(zd*zd)+1/100.0); math.Abs(got-1) > 1e-12 {
		t.Fatalf("composed multiplier %v, want 1", got)
	}
	if _, err := a.UpdateNoise(10); err == nil {
		t.Fatal("z ≥ 2σ_b accepted")
	}
}
