package privacy

import "math"

// GaussianDelta is the exact δ(ε) of one Gaussian mechanism with noise
// multiplier sigma and sensitivity 1 (Balle and Wang 2018, Thm 8):
// Φ(−ε/μ + μ/2) − e^ε Φ(−ε/μ − μ/2), μ = 1/σ.
func GaussianDelta(sigma, eps float64) float64 {
	mu := 1 / sigma
	return phi(-eps/mu+mu/2) - math.Exp(eps)*phi(-eps/mu-mu/2)
}

func phi(x float64) float64 { return 0.5 * math.Erfc(-x/math.Sqrt2) }
