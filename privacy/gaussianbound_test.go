package privacy

import (
	"fmt"
	"math"
	"testing"

	"gonum.org/v1/gonum/stat/distuv"
)

// TestGaussianBoundRounding checks, coordinate by coordinate, the two
// inequalities between the discrete Gaussian g and the rounded Gaussian r
// that GaussianBound rests on, at small S where they are large enough to
// see: ln g − ln r ≤ −ln(1 − 1/(24S²)), and ln r − ln g ≤ ln(1+ζ) +
// k²/(24S⁴), each nearly reached somewhere.
func TestGaussianBoundRounding(t *testing.T) {
	for _, s := range []float64{1, 3, 7} {
		g, gm := dgaussPMF(s)
		one := DistributedDGauss{LocalStd: s, Scale: 1e3, Clip: 1, Dim: 1, MinSurvivors: 1}.GaussianBound()
		zeta := 2 * math.Exp(-2*math.Pi*math.Pi*s*s)
		upBound := -math.Log1p(-1 / (24 * s * s))
		var up, downShare float64 // the largest gap g over r, and r over g against its bound
		for k := -gm + 1; k < gm; k++ {
			x := float64(k)
			var r float64
			if k >= 0 { // the upper tail, where erfc keeps its precision
				r = 0.5 * (math.Erfc((x-0.5)/(s*math.Sqrt2)) - math.Erfc((x+0.5)/(s*math.Sqrt2)))
			} else {
				r = 0.5 * (math.Erfc(-(x+0.5)/(s*math.Sqrt2)) - math.Erfc(-(x-0.5)/(s*math.Sqrt2)))
			}
			if r < 1e-290 {
				continue // beyond double precision
			}
			lg := math.Log(g[k+gm])
			up = max(up, lg-math.Log(r))
			down := math.Log(r) - lg
			bound := math.Log1p(zeta) + x*x/(24*s*s*s*s)
			if down > bound*(1+1e-9)+1e-15 {
				t.Errorf("S %v, k %d: ln r − ln g = %.6g above %.6g", s, k, down, bound)
			}
			if math.Abs(x) > 5*s {
				downShare = max(downShare, down/bound)
			}
		}
		if up > upBound*(1+1e-9) || up < upBound*0.9 {
			t.Errorf("S %v: ln g − ln r reaches %.4g against the bound %.4g", s, up, upBound)
		}
		if one.Up != upBound {
			t.Errorf("S %v: Up %v, want %v", s, one.Up, upBound)
		}
		if downShare < 0.5 {
			t.Errorf("S %v: ln r − ln g reaches only %.2f of its bound", s, downShare)
		}
		t.Logf("S %v: up %.4g of %.4g; down up to %.2f of its bound", s, up, upBound, downShare)
	}
}

// TestChiSquareBulk: the Chernoff bound GaussianBound takes for the mass
// outside its bulk is at least the exact χ² tail, and its u the smallest
// that gives it.
func TestChiSquareBulk(t *testing.T) {
	for _, d := range []float64{1, 40, 393216} {
		for _, tail := range []float64{1e-6, gaussianBulkTail} {
			u := chiSquareBulk(d, tail)
			chernoff := math.Exp(-d / 2 * (u - math.Log1p(u)))
			exact := distuv.ChiSquared{K: d}.Survival(d * (1 + u))
			if chernoff > tail || chernoff < tail*(1-1e-9) || exact > chernoff {
				t.Errorf("d %v, tail %v: u %v, Chernoff %v, exact %v", d, tail, u, chernoff, exact)
			}
		}
	}
	if b := (DistributedDGauss{LocalStd: 1e5, Scale: 3e6, Clip: 1, Dim: 393216, MinSurvivors: 850}).GaussianBound(); b.Tail > gaussianBulkTail {
		t.Errorf("Tail %v", b.Tail)
	}
}

// TestGaussianBoundSums checks KLS21's τ as GaussianBound uses it, a
// pointwise bound: the sum of n discrete Gaussians of σ (computed by
// convolution) is within a factor e^τ of N_Z(0, nσ²) at every point, at
// the smallest σ accepted, where τ is far from 0.
func TestGaussianBoundSums(t *testing.T) {
	for _, c := range []struct {
		sigma float64
		n     int
	}{{0.5, 2}, {0.5, 4}, {0.7, 3}, {1, 5}} {
		sum, half := sumPMF(c.sigma, c.n)
		g, gm := dgaussPMF(math.Sqrt(float64(c.n)) * c.sigma)
		tau := DistributedDGauss{LocalStd: c.sigma}.tau(c.n)
		var worst float64
		for k := -15; k <= 15; k++ {
			worst = max(worst, math.Abs(math.Log(sum[k+half])-math.Log(g[k+gm])))
		}
		if worst > tau || worst < tau/1000 { // the second: the comparison is not vacuous
			t.Errorf("σ %v, n %d: |ln p − ln g| reaches %.4g against τ %.4g", c.sigma, c.n, worst, tau)
		}
		t.Logf("σ %v, n %d: |ln p − ln g| ≤ %.4g, τ %.4g", c.sigma, c.n, worst, tau)
	}
}

// TestPLDDistributedSlack: the PLD accountant's (ε, δ) for distributed
// rounds is the Gaussian's with the slack added as GaussianBound says, its
// Delta and Epsilon agree, a large slack shows in ε rather than being
// dropped, and ε is +Inf where the tails would need more than their share
// of δ.
func TestPLDDistributedSlack(t *testing.T) {
	const q, rounds, delta = 0.01, 10, 1e-6
	// The synthetic sweep's mechanism: 16 bits, 393,216 coordinates, 850
	// survivors; the slack the README and GaussianBound's doc quote.
	m := DistributedDGauss{Scale: 3.0011342404685267e6, Clip: 1, Dim: 393216, MinSurvivors: 850}.WithNoiseMultiplier(0.8216)
	b := m.GaussianBound()
	if sl := b.Up + b.Down; sl < 5.4e-9 || sl > 5.6e-9 || b.Tail > gaussianBulkTail || math.Abs(b.Z/0.8216-1) > 1e-3 {
		t.Fatalf("bound %+v: want a slack of 5.5e-9 a round at 16 bits", b)
	}
	p := NewPLD(0)
	if err := p.ComposeDistributedDGauss(m, q, rounds); err != nil {
		t.Fatal(err)
	}
	eps, _ := p.Epsilon(delta)
	g, _ := PLDEpsilon(q, b.Z, rounds, delta)
	if !(eps >= g && eps-g < 1e-6) {
		t.Fatalf("ε %v, Gaussian at Z %v", eps, g)
	}
	if d, _ := p.Delta(eps); d > delta*(1+1e-6) {
		t.Fatalf("δ(ε(%v)) = %v", delta, d)
	}
	if d, _ := p.Delta(float64(rounds) * (b.Up + b.Down) / 2); d != 1 {
		t.Fatalf("δ below the slack %v, want 1", d)
	}

	// Coarse: scale 1 on 10⁴ coordinates, so the rounding dominates the
	// sensitivity (Δ₂ = 1 + √d′ = 101), and σ = 50.5 for S = 101, Z = 1:
	// the slack, (2 + u)·d′/(24S²) with u ≈ 0.2 at this d′, is near its
	// ceiling for Z = 1, measured 0.0905.
	m = DistributedDGauss{LocalStd: 50.5, Scale: 1, Clip: 1, Dim: 10000, MinSurvivors: 4}
	b = m.GaussianBound()
	c := NewPLD(0)
	if err := c.ComposeDistributedDGauss(m, 1, 1); err != nil {
		t.Fatal(err)
	}
	eps, _ = c.Epsilon(delta)
	g, _ = PLDEpsilon(1, b.Z, 1, delta*math.Exp(-b.Up)*(1-pldSlackShare))
	if sl := b.Up + b.Down; math.Abs(eps-g-sl) > 1e-12 || math.Abs(sl/0.0905-1) > 0.01 {
		t.Fatalf("coarse: ε %v, Gaussian %v, slack %v", eps, g, sl)
	}
	t.Logf("coarse: ε %.4g, slack %.4g", eps, b.Up+b.Down)

	// Hardly any noise: the Gaussian's ε is so large that e^ε·Tail
	// outweighs δ.
	m = DistributedDGauss{Scale: 1e6, Clip: 1, Dim: 1000, MinSurvivors: 10}.WithNoiseMultiplier(0.03)
	n := NewPLD(0)
	if err := n.ComposeDistributedDGauss(m, 1, 1); err != nil {
		t.Fatal(err)
	}
	if eps, _ := n.Epsilon(delta); !math.IsInf(eps, 1) {
		t.Fatalf("z 0.03: ε %v, want +Inf", eps)
	}
}

// sumPMF is the law of the sum of n discrete Gaussians of σ, computed by
// convolution, indexed from −half.
func sumPMF(sigma float64, n int) (pmf []float64, half int) {
	one, om := dgaussPMF(sigma)
	pmf = one
	for range n - 1 {
		next := make([]float64, len(pmf)+2*om)
		for i, a := range pmf {
			for j, b := range one {
				next[i+j] += a * b
			}
		}
		pmf = next
	}
	return pmf, (len(pmf) - 1) / 2
}

// renyiPMF is D_α(A‖B) for A the law a (indexed from −ah) shifted by v
// and B the law b (from −bh), over the points where both are positive:
// the others carry less than double precision.
func renyiPMF(a []float64, ah int, b []float64, bh, v int, alpha float64) float64 {
	var s float64
	for i, pb := range b {
		k := i - bh - v + ah // A's index of the point
		if k < 0 || k >= len(a) || a[k] == 0 || pb == 0 {
			continue
		}
		s += math.Exp(alpha*math.Log(a[k]) + (1-alpha)*math.Log(pb))
	}
	return math.Log(s) / (alpha - 1)
}

// TestSharesRDP checks sharesRDP's bound, one coordinate at a time, at
// small σ where its slack is large enough to matter: against the exact
// divergence of the sums of shares (by convolution), and its discrete
// Gaussian step (the normalizers and the sum over the integers, by
// Poisson summation) against the exact divergence of the two discrete
// Gaussians. Where ζ underflows the discrete Gaussians' divergence is the
// continuous one to rounding, hence the tolerance. The sums' divergence
// exceeds the continuous Gaussians' in places (by 14% or more here), so
// the slack is not for show.
func TestSharesRDP(t *testing.T) {
	const rtol = 1e-12
	var excess float64 // the most the sums' divergence exceeds the continuous, relative
	for _, sigma := range []float64{0.5, 0.7, 1} {
		m := DistributedDGauss{LocalStd: sigma, Dim: 1}
		for _, n := range [][2]int{{2, 1}, {1, 2}, {3, 2}, {2, 3}, {5, 4}, {4, 5}} {
			a, b := m.noiseSum(n[0]), m.noiseSum(n[1])
			pa, ah := sumPMF(sigma, n[0])
			pb, bh := sumPMF(sigma, n[1])
			ga, gah := dgaussPMF(math.Sqrt(a.n) * sigma)
			gb, gbh := dgaussPMF(math.Sqrt(b.n) * sigma)
			for alpha := 2.0; alpha <= 6; alpha++ {
				for _, v := range []int{0, 1, 3} {
					what := fmt.Sprintf("σ %v, %v shares against %v, shift %d, α %v", sigma, a.n, b.n, v, alpha)
					bound := m.sharesRDP(alpha, a, b, float64(v))
					if alpha*b.n+(1-alpha)*a.n <= 0 {
						if !math.IsInf(bound, 1) {
							t.Errorf("%s: bound %v, want +Inf", what, bound)
						}
						continue
					}
					if exact := renyiPMF(pa, ah, pb, bh, v, alpha); exact > bound*(1+rtol) {
						t.Errorf("%s: D_α %.6g above the bound %.6g", what, exact, bound)
					} else {
						cont := m.sharesRDP(alpha, noiseSum{a.n, 0, 0}, noiseSum{b.n, 0, 0}, float64(v))
						excess = max(excess, exact/cont-1)
					}
					noTau := m.sharesRDP(alpha, noiseSum{a.n, 0, a.logZeta}, noiseSum{b.n, 0, b.logZeta}, float64(v))
					if g := renyiPMF(ga, gah, gb, gbh, v, alpha); g > noTau*(1+rtol) {
						t.Errorf("%s: the discrete Gaussians' D_α %.6g above %.6g", what, g, noTau)
					}
				}
			}
		}
	}
	if excess < 0.05 {
		t.Errorf("the sums' divergence exceeds the continuous Gaussians' by at most %.3g", excess)
	}
	t.Logf("the sums' divergence exceeds the continuous Gaussians' by up to %.3g", excess)
}
