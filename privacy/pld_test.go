package privacy

import (
	"errors"
	"math"
	"testing"
	"time"
)

// Test vectors from /work/shared/reference/privacy-vectors.md §3.4 (c), (d)
// and (e), with the tolerances stated there.

// pldWithin fails unless got is within rtol of want, relatively.
func pldWithin(t *testing.T, what string, got, want, rtol float64) {
	t.Helper()
	if !(math.Abs(got-want) <= rtol*math.Abs(want)) {
		t.Errorf("%s = %.10g, want %.10g (relative error %.3g > %.3g)", what, got, want, math.Abs(got-want)/math.Abs(want), rtol)
	} else {
		t.Logf("%s = %.10g, want %.10g (relative error %.3g)", what, got, want, math.Abs(got-want)/math.Abs(want))
	}
}

func pldCompose(t *testing.T, p *PLD, q, sigma float64, count int) {
	t.Helper()
	if err := p.ComposePoissonGaussian(q, sigma, count); err != nil {
		t.Fatalf("ComposePoissonGaussian(%v, %v, %d): %v", q, sigma, count, err)
	}
}

func pldDelta(t *testing.T, p *PLD, eps float64) float64 {
	t.Helper()
	d, err := p.Delta(eps)
	if err != nil {
		t.Fatalf("Delta(%v): %v", eps, err)
	}
	return d
}

func pldEpsilon(t *testing.T, p *PLD, delta float64) float64 {
	t.Helper()
	e, err := p.Epsilon(delta)
	if err != nil {
		t.Fatalf("Epsilon(%v): %v", delta, err)
	}
	return e
}

// pldExactGaussianDelta is δ(ε) of one Gaussian mechanism with noise
// multiplier sigma (Balle and Wang 2018): Φ(−ε/μ + μ/2) − e^ε Φ(−ε/μ − μ/2),
// μ = 1/σ.
func pldExactGaussianDelta(sigma, eps float64) float64 {
	mu := 1 / sigma
	cdf := func(x float64) float64 { return 0.5 * math.Erfc(-x/math.Sqrt2) }
	return cdf(-eps/mu+mu/2) - math.Exp(eps)*cdf(-eps/mu-mu/2)
}

// dp_accounting pld_privacy_accountant_test: Gaussian(z=√3) composed once
// and then twice more (q = 1).
func TestPLDGaussianComposedDpAccounting(t *testing.T) {
	p := NewPLD(0)
	pldCompose(t, p, 1, math.Sqrt(3), 1)
	pldCompose(t, p, 1, math.Sqrt(3), 2)
	pldWithin(t, "δ(ε=1)", pldDelta(t, p, 1), 0.126936, 1e-3)
	pldWithin(t, "ε(δ=0.126936)", pldEpsilon(t, p, 0.126936), 1, 1e-3)
	// Three rounds at σ = √3 are one Gaussian at σ = 1: never below it.
	if d, exact := pldDelta(t, p, 1), pldExactGaussianDelta(1, 1); d < exact {
		t.Errorf("δ(ε=1) = %.12g below the exact %.12g", d, exact)
	}
}

// dp_accounting: PoissonSampled(q=0.2, Gaussian(0.5)) × 3.
func TestPLDPoissonGaussianDpAccounting(t *testing.T) {
	p := NewPLD(0)
	pldCompose(t, p, 0.2, 0.5, 3)
	pldWithin(t, "δ(ε=1)", pldDelta(t, p, 1), 0.15594, 1e-3)
	pldWithin(t, "ε(δ=0.15594)", pldEpsilon(t, p, 0.15594), 1, 1e-3)
}

// TF Privacy MNIST tutorial (§3.4 (c)): q = 256/60000, σ = 1.1, 60 epochs
// = 14063 steps, δ = 1e-5; dp_accounting's PLD gives 2.3817788079120428.
func TestPLDMNIST(t *testing.T) {
	start := time.Now()
	p := NewPLD(0)
	pldCompose(t, p, 256.0/60000, 1.1, 14063)
	eps := pldEpsilon(t, p, 1e-5)
	elapsed := time.Since(start)
	t.Logf("14063 rounds composed and ε found in %v", elapsed)
	pldWithin(t, "ε(δ=1e-5)", eps, 2.3817788079120428, 0.02)
	// The truncations moved almost nothing to an infinite loss, so small δ
	// stay within reach.
	if inf := pldDelta(t, p, math.Inf(1)); inf > 1e-14 {
		t.Errorf("infinite-loss mass %.3g after 14063 rounds", inf)
	}
	if e := pldEpsilon(t, p, 1e-12); !(e > eps && e < 10) {
		t.Errorf("ε(δ=1e-12) = %v, want finite and above ε(1e-5) = %v", e, eps)
	}
	// The distribution's own δ at that ε is the δ asked for.
	pldWithin(t, "δ(ε(1e-5))", pldDelta(t, p, eps), 1e-5, 1e-9)
}

// Opacus accountants_test setting (§3.4 (d)): z = 1.5, q = 0.04, 2250
// steps, δ = 1e-5; dp_accounting's PLD gives 6.768787376865218.
func TestPLDOpacus(t *testing.T) {
	p := NewPLD(0)
	pldCompose(t, p, 0.04, 1.5, 2250)
	pldWithin(t, "ε(δ=1e-5)", pldEpsilon(t, p, 1e-5), 6.768787376865218, 0.02)
}

// pldRounding is the relative slack allowed to "never below" comparisons:
// at grid losses the connect-the-dots discretization is exact, so only
// floating-point rounding (about 1e-15 relative) separates the two.
const pldRounding = 1e-12

// One unsampled Gaussian round: the discretization must never be below the
// exact δ(ε), and must be close to it. ε = 0.5, 1, 2 are grid losses, where
// the bound is tight; 0.50005 and 1.00003 are between grid losses.
func TestPLDGaussianUpperBound(t *testing.T) {
	for _, sigma := range []float64{0.8, 1, 2} {
		p := NewPLD(0)
		pldCompose(t, p, 1, sigma, 1)
		for _, eps := range []float64{0.5, 0.50005, 1, 1.00003, 2} {
			got, exact := pldDelta(t, p, eps), pldExactGaussianDelta(sigma, eps)
			if got < exact*(1-pldRounding) {
				t.Errorf("σ=%v: δ(ε=%v) = %.15g below the exact %.15g", sigma, eps, got, exact)
			}
			if got > exact*1.01 {
				t.Errorf("σ=%v: δ(ε=%v) = %.15g more than 1%% above the exact %.15g", sigma, eps, got, exact)
			}
		}
	}
}

// pldSubsampledDelta is the exact δ(ε) of one round of the Poisson-subsampled
// Gaussian, the larger of the remove and add directions, by Simpson's rule on
// the region where P(t) > e^ε·Q(t), whose end is found by bisection.
func pldSubsampledDelta(q, sigma, eps float64) float64 {
	n0 := func(t float64) float64 { return math.Exp(-t*t/(2*sigma*sigma)) / (sigma * math.Sqrt(2*math.Pi)) }
	mix := func(t float64) float64 { return (1-q)*n0(t) + q*n0(t-1) }
	// ratio(t) = mix(t)/n0(t), increasing in t.
	ratio := func(t float64) float64 { return (1 - q) + q*math.Exp((2*t-1)/(2*sigma*sigma)) }
	cross := func(target float64) float64 { // ratio(t) = target
		lo, hi := -60*sigma, 1+60*sigma
		for range 200 {
			mid := (lo + hi) / 2
			if ratio(mid) < target {
				lo = mid
			} else {
				hi = mid
			}
		}
		return (lo + hi) / 2
	}
	simpson := func(f func(float64) float64, a, b float64) float64 {
		const n = 20000
		step := (b - a) / n
		s := f(a) + f(b)
		for i := 1; i < n; i++ {
			w := 2.0
			if i%2 == 1 {
				w = 4
			}
			s += w * f(a+float64(i)*step)
		}
		return s * step / 3
	}
	width := 1 + 20*sigma
	// Remove: P = mix, Q = N(0, σ²); P > e^ε·Q where ratio > e^ε.
	remove := 1 - math.Exp(eps) // ratio > 1−q ≥ e^ε everywhere
	if math.Exp(eps) > 1-q {
		t0 := cross(math.Exp(eps))
		remove = simpson(func(t float64) float64 { return mix(t) - math.Exp(eps)*n0(t) }, t0, t0+width)
	}
	// Add: P = N(0, σ²), Q = mix; P > e^ε·Q where ratio < e^−ε.
	add := 0.0
	if math.Exp(-eps) > 1-q {
		t0 := cross(math.Exp(-eps))
		add = simpson(func(t float64) float64 { return n0(t) - math.Exp(eps)*mix(t) }, t0-width, t0)
	}
	return math.Max(remove, add)
}

// One subsampled round: never below the exact δ(ε) (by quadrature), and
// close to it.
func TestPLDSubsampledUpperBound(t *testing.T) {
	for _, c := range []struct{ q, sigma, h float64 }{
		{0.01, 1, 0}, {0.2, 0.5, 0}, {0.5, 2, 0}, {0.999, 0.3, 1e-3}, {1, 0.1, 1e-3},
	} {
		p := NewPLD(c.h)
		pldCompose(t, p, c.q, c.sigma, 1)
		for _, eps := range []float64{0.001, 0.00505, 0.1, 0.50005, 1} {
			exact := pldSubsampledDelta(c.q, c.sigma, eps)
			if exact < 1e-12 {
				continue
			}
			got := pldDelta(t, p, eps)
			if got < exact*(1-pldRounding) {
				t.Errorf("q=%v σ=%v: δ(ε=%v) = %.15g below the exact %.15g", c.q, c.sigma, eps, got, exact)
			}
			if got > exact*1.01 {
				t.Errorf("q=%v σ=%v: δ(ε=%v) = %.15g more than 1%% above the exact %.15g", c.q, c.sigma, eps, got, exact)
			}
		}
	}
}

// pldExactGaussianEpsilon inverts pldExactGaussianDelta by bisection.
func pldExactGaussianEpsilon(sigma, delta float64) float64 {
	lo, hi := 0.0, 100.0
	for range 200 {
		mid := (lo + hi) / 2
		if pldExactGaussianDelta(sigma, mid) > delta {
			lo = mid
		} else {
			hi = mid
		}
	}
	return hi
}

// Composition and conversion stay pessimistic, which a coarse grid makes
// visible: k Gaussian rounds at σ are one Gaussian at σ/√k.
func TestPLDComposedGaussianUpperBound(t *testing.T) {
	for _, h := range []float64{0.05, 1e-3} {
		for _, c := range []struct {
			sigma float64
			k     int
		}{{1, 4}, {2, 10}, {5, 100}} {
			p := NewPLD(h)
			pldCompose(t, p, 1, c.sigma, c.k)
			sigma := c.sigma / math.Sqrt(float64(c.k))
			for _, eps := range []float64{0.3, 1, 2.5} {
				got, exact := pldDelta(t, p, eps), pldExactGaussianDelta(sigma, eps)
				if got < exact*(1-pldRounding) {
					t.Errorf("h=%v, %d rounds at σ=%v: δ(ε=%v) = %.15g below the exact %.15g", h, c.k, c.sigma, eps, got, exact)
				}
			}
			for _, delta := range []float64{1e-2, 1e-5, 1e-10} {
				got, exact := pldEpsilon(t, p, delta), pldExactGaussianEpsilon(sigma, delta)
				if got < exact*(1-pldRounding) {
					t.Errorf("h=%v, %d rounds at σ=%v: ε(δ=%v) = %.15g below the exact %.15g", h, c.k, c.sigma, delta, got, exact)
				}
				if h == 1e-3 && got > exact+0.01 {
					t.Errorf("h=%v, %d rounds at σ=%v: ε(δ=%v) = %.15g too far above the exact %.15g", h, c.k, c.sigma, delta, got, exact)
				}
			}
		}
	}
}

// Rounds at different (q, σ) compose: splitting a run into parts, or
// composing count rounds at once, gives the same distribution up to the
// truncations.
func TestPLDCompositionConsistent(t *testing.T) {
	whole := NewPLD(1e-3)
	pldCompose(t, whole, 0.01, 1, 300)
	parts := NewPLD(1e-3)
	pldCompose(t, parts, 0.01, 1, 100)
	pldCompose(t, parts, 0.01, 1, 200)
	pldWithin(t, "ε split 100+200 vs 300", pldEpsilon(t, parts, 1e-6), pldEpsilon(t, whole, 1e-6), 1e-6)

	// More rounds, or less noise, never help.
	mixed := whole.Clone()
	pldCompose(t, mixed, 0.05, 2, 10)
	if a, b := pldEpsilon(t, whole, 1e-6), pldEpsilon(t, mixed, 1e-6); !(b > a) {
		t.Errorf("ε after extra rounds %v is not above %v", b, a)
	}
}

// Delta and Epsilon invert each other, and a fresh accountant is 0-DP.
func TestPLDDeltaEpsilonConsistent(t *testing.T) {
	fresh := NewPLD(0)
	if e := pldEpsilon(t, fresh, 1e-5); e != 0 {
		t.Errorf("fresh ε = %v, want 0", e)
	}
	if d := pldDelta(t, fresh, 0); d != 0 {
		t.Errorf("fresh δ(0) = %v, want 0", d)
	}
	p := NewPLD(1e-3)
	pldCompose(t, p, 0.1, 1.2, 50)
	for _, delta := range []float64{1e-3, 1e-6, 1e-9} {
		eps := pldEpsilon(t, p, delta)
		pldWithin(t, "δ(ε(δ))", pldDelta(t, p, eps), delta, 1e-9)
	}
	if d := pldDelta(t, p, math.Inf(1)); d > 1e-9 {
		t.Errorf("infinite-loss mass %v is not negligible", d)
	}
}

func TestPLDBadParameters(t *testing.T) {
	p := NewPLD(0)
	for _, c := range []struct {
		q, sigma float64
		count    int
	}{
		{0, 1, 1}, {-0.1, 1, 1}, {1.5, 1, 1}, {math.NaN(), 1, 1},
		{0.1, 0, 1}, {0.1, -1, 1}, {0.1, math.Inf(1), 1}, {0.1, math.NaN(), 1},
		{0.1, 1, 0}, {0.1, 1, -3},
	} {
		if err := p.ComposePoissonGaussian(c.q, c.sigma, c.count); !errors.Is(err, ErrBadParameter) {
			t.Errorf("ComposePoissonGaussian(%v, %v, %d) = %v, want ErrBadParameter", c.q, c.sigma, c.count, err)
		}
	}
	for _, delta := range []float64{0, 1, -1, 2, math.NaN()} {
		if _, err := p.Epsilon(delta); !errors.Is(err, ErrBadParameter) {
			t.Errorf("Epsilon(%v) = %v, want ErrBadParameter", delta, err)
		}
	}
	for _, eps := range []float64{-1, math.NaN()} {
		if _, err := p.Delta(eps); !errors.Is(err, ErrBadParameter) {
			t.Errorf("Delta(%v) = %v, want ErrBadParameter", eps, err)
		}
	}
	// Too many grid points for one round.
	if err := NewPLD(1e-6).ComposePoissonGaussian(1, 0.01, 1); !errors.Is(err, ErrBadParameter) {
		t.Errorf("σ = 0.01 at discretization 1e-6: %v, want ErrBadParameter", err)
	}
	for _, h := range []float64{-1e-4, math.NaN(), math.Inf(1)} {
		if err := NewPLD(h).ComposePoissonGaussian(0.1, 1, 1); !errors.Is(err, ErrBadParameter) {
			t.Errorf("NewPLD(%v).ComposePoissonGaussian = %v, want ErrBadParameter", h, err)
		}
	}
	// Refused calls leave the accountant unchanged (still nothing composed).
	if e := pldEpsilon(t, p, 1e-5); e != 0 {
		t.Errorf("ε after refused calls = %v, want 0", e)
	}
}

// BenchmarkPLDMNIST times the 14063 MNIST rounds and the ε query.
func BenchmarkPLDMNIST(b *testing.B) {
	for b.Loop() {
		p := NewPLD(0)
		if err := p.ComposePoissonGaussian(256.0/60000, 1.1, 14063); err != nil {
			b.Fatal(err)
		}
		if _, err := p.Epsilon(1e-5); err != nil {
			b.Fatal(err)
		}
	}
}
