package privacy

import "testing"

// TestRDPBoundsPLDBoundsExact: both accountants are upper bounds, the PLD
// the tighter one: RDP ≥ PLD ≥ the exact ε, where the exact δ(ε) is known
// (one unsampled Gaussian), and RDP ≥ PLD for subsampled compositions.
func TestRDPBoundsPLDBoundsExact(t *testing.T) {
	for _, c := range []struct {
		q, z   float64
		rounds int
	}{{1, 1, 1}, {1, 2, 1}, {0.01, 1.0, 1000}, {0.1, 1.5, 100}, {0.001, 0.8, 500}} {
		for _, delta := range []float64{1e-5, 1e-7} {
			rdp, err := RDPEpsilon(c.q, c.z, c.rounds, delta)
			if err != nil {
				t.Fatal(err)
			}
			pld, err := PLDEpsilon(c.q, c.z, c.rounds, delta)
			if err != nil {
				t.Fatal(err)
			}
			if pld > rdp {
				t.Errorf("%+v δ %v: PLD ε %v above RDP ε %v", c, delta, pld, rdp)
			}
			if c.q == 1 && c.rounds == 1 {
				// The exact ε solves GaussianDelta(z, ε) = δ; PLD's ε must
				// be at least that: the exact δ at PLD's ε is at most δ.
				if exact := GaussianDelta(c.z, pld); exact > delta*(1+1e-9) {
					t.Errorf("%+v: PLD ε %v is below the exact one (δ there %v > %v)", c, pld, exact, delta)
				}
			}
		}
	}
}
