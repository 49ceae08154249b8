package privacy

import (
	"math"
	"testing"
)

func TestCalibrateRDP(t *testing.T) {
	// Opacus' get_noise_multiplier (ε 8, δ 1e-5, q 0.04, 90 epochs = 2250
	// steps) returns 1.416015625 from a coarse bisection (stopping within
	// 0.01 of the target); the smallest multiplier is just below it.
	z, err := Calibrate(RDPEpsilon, 8, 1e-5, 0.04, 2250)
	if err != nil {
		t.Fatal(err)
	}
	at, _ := RDPEpsilon(0.04, z, 2250, 1e-5)
	below, _ := RDPEpsilon(0.04, z*(1-2e-6), 2250, 1e-5)
	if at > 8 || below <= 8 {
		t.Fatalf("z %v: ε %v, and %v just below: not the smallest meeting 8", z, at, below)
	}
	if z > 1.416015625 || z < 1.40 {
		t.Fatalf("z %v: want a little under Opacus' 1.416015625", z)
	}
	opacus, _ := RDPEpsilon(0.04, 1.416015625, 2250, 1e-5)
	if !(opacus <= 8 && opacus > 7.99) {
		t.Fatalf("ε at Opacus' multiplier is %v, want within its 0.01 tolerance below 8", opacus)
	}
	// 2000 steps: Opacus gives 1.356201171875.
	z, _ = Calibrate(RDPEpsilon, 8, 1e-5, 0.04, 2000)
	if z > 1.356201171875 || z < 1.34 {
		t.Fatalf("2000 steps: z %v", z)
	}
}

func TestCalibrateRefuses(t *testing.T) {
	for _, c := range []struct {
		target, q float64
		rounds    int
	}{{0, 0.1, 10}, {math.Inf(1), 0.1, 10}, {1, 0, 10}, {1, 0.1, 0}, {1e-9, 1, 100000}} {
		if _, err := Calibrate(RDPEpsilon, c.target, 1e-5, c.q, c.rounds); err == nil {
			t.Errorf("%+v accepted", c)
		}
	}
}
