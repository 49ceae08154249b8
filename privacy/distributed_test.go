package privacy

import (
	"errors"
	"math"
	"slices"
	"testing"
)

// The tiny cases of the by-hand tests. Their expected values were computed
// from the formulas written out independently (Python, mpmath), not with
// this code: the inflated bound Δ₂, τ, ζ, sharesRDP's bound in both
// directions and Zhu–Wang's sum.
var (
	// C 1, s 2, d′ 4, n 2, σ 1: bound 1 + √4/2 = 2, Δ₂ = 2.00001·2,
	// τ(2) = 10·e^{−π²}. H + 1 = 3: from order 3 on the bound is +Inf.
	tiny = DistributedDGauss{LocalStd: 1, Scale: 2, Clip: 1, Dim: 4, MinSurvivors: 2}
	// C 1, s 4, d′ 10⁴, n 100, σ 1.
	wide = DistributedDGauss{LocalStd: 1, Scale: 4, Clip: 1, Dim: 10000, MinSurvivors: 100}
	// The same with conditional rounding at β = e^{−1/2}: Δ₂ < √d′.
	wideBeta = DistributedDGauss{LocalStd: 1, Scale: 4, Clip: 1, Dim: 10000, MinSurvivors: 100, Beta: math.Exp(-0.5)}
)

func TestDistributedDGaussSensitivity(t *testing.T) {
	tinyBeta := tiny
	tinyBeta.Beta = math.Exp(-0.5) // √(2 ln(1/β)) = 1: bound √(1 + ¼ + ½·(1 + ½)) = √2
	for _, c := range []struct {
		name string
		m    DistributedDGauss
		l2   float64
	}{
		{"tiny", tiny, 4.00002},
		{"tiny β", tinyBeta, 2.8284471247461904},
		{"wide", wide, 104.00004},
		{"wide β", wideBeta, 50.695207422546304},
	} {
		near(t, c.name+" Δ₂", c.m.Sensitivity(), c.l2, 1e-14)
	}
	near(t, "tiny τ", tiny.tau(tiny.MinSurvivors), 10*math.Exp(-math.Pi*math.Pi), 1e-14)
	near(t, "wide τ", wide.tau(wide.MinSurvivors), 0.000547788699060149, 1e-12)
	if (DistributedDGauss{LocalStd: 30}).tau(1000) != 0 {
		t.Error("τ at σ 30 should underflow to 0")
	}
}

func TestDistributedDGaussByHand(t *testing.T) {
	orders := []float64{2, 3, 8, 20, 256}
	const rounds = 3
	inf := math.Inf(1)
	for _, c := range []struct {
		name string
		m    DistributedDGauss
		want []float64 // one round, q = 1
		// KLS21 Prop. 14 for the same n shares in both neighbours
		// (Google's distributed_dp accounting), which the bound must
		// not undercut.
		prop14 []float64
	}{
		{"tiny", tiny, []float64{16.581885098999816, inf, inf, inf, inf},
			[]float64{8.002148927648152, 12.002188927748152, 32.002388928248145, 80.00286892944814, 1024.012308953048}},
		{"wide", wide, []float64{126.18694581248302, 180.00146716913819, 479.02791483288311, 1352.255344063443, inf},
			[]float64{109.30248485688023, 163.95372728532033, 437.2099394275209, 1087.0787189907612, 13849.968536592647}},
		{"wide β", wideBeta, []float64{42.893973444941541, 53.787116183628909, 124.36106475173876, 334.23012623793603, inf},
			[]float64{25.984714229794843, 38.97707134469226, 103.93885691917937, 259.84714229794844, 3295.083078177793}},
	} {
		got, err := DistributedDGaussRDP(c.m, 1, rounds, orders)
		if err != nil {
			t.Fatal(err)
		}
		for i := range orders {
			near(t, c.name+" RDP", got[i], rounds*c.want[i], 1e-12)
			if !(got[i] >= rounds*c.prop14[i]) {
				t.Errorf("%s at order %v: RDP %v below Prop. 14's %v", c.name, orders[i], got[i], rounds*c.prop14[i])
			}
		}
	}
	// Poisson sampling, Zhu–Wang Thm 5, one round: below the unsubsampled
	// values, and +Inf (not NaN) where those are.
	for _, c := range []struct {
		m    DistributedDGauss
		q    float64
		want []float64 // at α = 2, 3, 4
	}{
		{tiny, 0.1, []float64{11.976721139062305, inf, inf}},
		{tiny, 0.01, []float64{7.3721733624571755, inf, inf}},
		{wide, 0.1, []float64{121.58177562649493, 177.09689567398117, 234.10243301446074}},
		{wide, 0.01, []float64{116.97660544050683, 173.6430180344901, 231.03231955713534}},
	} {
		got, err := DistributedDGaussRDP(c.m, c.q, 1, []float64{2, 3, 4})
		if err != nil {
			t.Fatal(err)
		}
		for i := range got {
			near(t, "subsampled RDP", got[i], c.want[i], 1e-12)
		}
	}
}

// TestDistributedDGaussOwnShare: a round's RDP is at least the divergence
// between the two neighbouring outputs, computed directly: with the device,
// its vector (here 30 on one coordinate, within Δ₂ = 32.6) plus the sum of
// H+1 shares; without it, the sum of H. Over d′ = 1000 coordinates the
// change of variance alone costs about d′·α/(4H²), and the mean term has
// H+1−α in place of H: at H = 4 both far exceed KLS21 Prop. 14's
// αΔ₂²/(2Hσ²), which keeps the device's share in both. From order H+1 on
// the divergence is infinite.
func TestDistributedDGaussOwnShare(t *testing.T) {
	const h, shift = 4, 30
	m := DistributedDGauss{LocalStd: 5, Scale: 1, Clip: 1, Dim: 1000, MinSurvivors: h}
	with, wh := sumPMF(m.LocalStd, h+1)
	without, woh := sumPMF(m.LocalStd, h)
	d := float64(m.Dim)
	orders := []float64{2, 3, 4, 5, 8}
	got, err := DistributedDGaussRDP(m, 1, 1, orders)
	if err != nil {
		t.Fatal(err)
	}
	for i, a := range orders {
		if a >= h+1 {
			if !math.IsInf(got[i], 1) {
				t.Errorf("order %v: RDP %v, want +Inf", a, got[i])
			}
			continue
		}
		// Coordinates are independent: the divergences add up.
		pq := renyiPMF(with, wh, without, woh, shift, a) + (d-1)*renyiPMF(with, wh, without, woh, 0, a)
		qp := renyiPMF(without, woh, with, wh, -shift, a) + (d-1)*renyiPMF(without, woh, with, wh, 0, a)
		exact := max(pq, qp)
		l2 := m.Sensitivity()
		prop14 := a * l2 * l2 / (2 * h * m.LocalStd * m.LocalStd)
		if !(got[i] >= exact) || !(exact > 2*prop14) {
			t.Errorf("order %v: RDP %v, the neighbours' divergence %v, Prop. 14 %v", a, got[i], exact, prop14)
		}
		t.Logf("order %v: RDP %.4g ≥ the neighbours' divergence %.4g (P‖Q %.4g, Q‖P %.4g); Prop. 14 %.4g", a, got[i], exact, pq, qp, prop14)
	}
}

// gaussianEpsilon is the continuous Gaussian's ε from the RDP accountant
// (Mironov et al., exact at integer orders) at DistributedDGaussOrders.
func gaussianEpsilon(q, z float64, rounds int, delta float64) (float64, error) {
	a := NewRDP(DistributedDGaussOrders)
	if err := a.ComposePoissonGaussian(q, z, rounds); err != nil {
		return 0, err
	}
	eps, _, err := a.Epsilon(delta)
	return eps, err
}

// fine is fine quantization with many devices for the dimension: s = 10⁶
// inflates the bound by γ√d′ + 1e−5 = 2.7e−4 of C, the local noise is far
// too large for τ, and H² ≫ d′, so that the variance a device's own share
// adds costs little (about d′·α/(4H²) = 1.6e−6·α a round).
func fine(z float64) DistributedDGauss {
	return DistributedDGauss{Scale: 1e6, Clip: 1, Dim: 1 << 16, MinSurvivors: 100000}.WithNoiseMultiplier(z)
}

func TestDistributedDGaussContinuousLimit(t *testing.T) {
	const delta = 1e-5
	// Without sampling the accounting converges to the Gaussian's.
	for _, z := range []float64{1, 5} {
		want, _ := gaussianEpsilon(1, z, 10, delta)
		got, err := DistributedDGaussEpsilon(fine(z), 1, 10, delta)
		if err != nil {
			t.Fatal(err)
		}
		if got < want || got > want*(1+1e-3) {
			t.Errorf("q 1, z %v: ε %v, Gaussian %v", z, got, want)
		}
	}
	// With sampling it converges to Zhu–Wang's amplification of the
	// Gaussian's RDP curve α/(2z²): looser than the exact subsampled
	// Gaussian, by a gap that closes as q → 0. That gap is the generic
	// amplification bound's, not the discretization's.
	for _, c := range []struct {
		q, z   float64
		rounds int
		gap    float64 // the most ε may exceed the exact Gaussian's, relative
	}{
		{0.01, 1, 1000, 0.20},
		{0.1, 2, 100, 0.60},
		{0.001, 1.2, 10000, 0.05},
	} {
		zw := make([]float64, len(DistributedDGaussOrders))
		curve := func(l int) float64 { return float64(l) / (2 * c.z * c.z) }
		for i, o := range DistributedDGaussOrders {
			zw[i] = float64(c.rounds) * min(curve(int(o)), zhuWang(int(o), c.q, curve))
		}
		want, _ := EpsilonFromRDP(DistributedDGaussOrders, zw, delta)
		exact, _ := gaussianEpsilon(c.q, c.z, c.rounds, delta)
		got, err := DistributedDGaussEpsilon(fine(c.z), c.q, c.rounds, delta)
		if err != nil {
			t.Fatal(err)
		}
		if got < want || got > want*(1+2e-3) {
			t.Errorf("%+v: ε %v, Zhu–Wang on the Gaussian curve %v", c, got, want)
		}
		if got < exact || got > exact*(1+c.gap) {
			t.Errorf("%+v: ε %v, exact subsampled Gaussian %v", c, got, exact)
		}
		t.Logf("q %v z %v ×%d: distributed %.5f, Zhu–Wang Gaussian %.5f, exact Gaussian %.5f (+%.1f%%)",
			c.q, c.z, c.rounds, got, want, exact, 100*(got/exact-1))
	}
}

func TestDistributedDGaussNeverBetter(t *testing.T) {
	const delta, rounds = 1e-5, 100
	for _, q := range []float64{1, 0.1, 0.01, 0.001} {
		for _, z := range []float64{0.8, 1.5, 4} {
			exact, _ := gaussianEpsilon(q, z, rounds, delta)
			for _, s := range []float64{1e6, 1e3, 50} {
				for _, n := range []int{1, 2, 100, 3000} {
					m := DistributedDGauss{Scale: s, Clip: 1, Dim: 1 << 16, MinSurvivors: n}.WithNoiseMultiplier(z)
					if m.LocalStd < 0.5 {
						continue
					}
					got, err := DistributedDGaussEpsilon(m, q, rounds, delta)
					if err != nil {
						t.Fatal(err)
					}
					if !(got >= exact) {
						t.Errorf("q %v z %v s %v n %d: ε %v below the Gaussian's %v", q, z, s, n, got, exact)
					}
				}
			}
		}
	}
}

func TestDistributedDGaussCoarseQuantizationCosts(t *testing.T) {
	prev := 0.0
	for _, s := range []float64{1e6, 1e5, 1e4, 1e3, 300, 100, 30, 10} {
		m := DistributedDGauss{Scale: s, Clip: 1, Dim: 1 << 16, MinSurvivors: 100}.WithNoiseMultiplier(1)
		eps, err := DistributedDGaussEpsilon(m, 0.01, 1000, 1e-5)
		if err != nil {
			t.Fatal(err)
		}
		if !(eps > prev) {
			t.Errorf("s %v: ε %v, not above %v at the finer scale", s, eps, prev)
		}
		t.Logf("s %g (σ %.1f): ε %.4g", s, m.LocalStd, eps)
		prev = eps
	}
}

func TestDistributedDGaussComposes(t *testing.T) {
	m := fine(1.1)
	a := NewRDP(nil) // DefaultOrders, fractional ones included
	if err := a.ComposePoissonGaussian(0.01, 1.1, 500); err != nil {
		t.Fatal(err)
	}
	central := a.Values()
	after, err := a.EpsilonAfterDistributedDGauss(m, 0.01, 300, 1e-5)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(a.Values(), central) {
		t.Fatal("EpsilonAfterDistributedDGauss changed the accountant")
	}
	if err := a.ComposeDistributedDGauss(m, 0.01, 300); err != nil {
		t.Fatal(err)
	}
	if eps, _, _ := a.Epsilon(1e-5); eps != after {
		t.Errorf("ε %v after composing, %v predicted", eps, after)
	}
	ceil, _ := DistributedDGaussRDP(m, 0.01, 300, []float64{2, 3, 64, 1024})
	for i, o := range DefaultOrders {
		added := a.Values()[i] - central[i]
		var want float64
		switch {
		case o <= 2: // 1.1 … 2 use order 2
			want = ceil[0]
		case o <= 3:
			want = ceil[1]
		case o == 64:
			want = ceil[2]
		case o == 1024:
			want = ceil[3]
		default:
			continue
		}
		near(t, "RDP added", added, want, 1e-12)
	}
	one, _ := DistributedDGaussRDP(m, 0.01, 1, nil)
	many, _ := DistributedDGaussRDP(m, 0.01, 300, nil)
	for i := range one {
		near(t, "300 rounds", many[i], 300*one[i], 1e-12)
	}
}

func TestDistributedDGaussCalibrate(t *testing.T) {
	const target, delta, q, rounds = 3.0, 1e-5, 0.01, 1000
	m := DistributedDGauss{Scale: 1e4, Clip: 1, Dim: 1 << 16, MinSurvivors: 1000}
	z, err := CalibrateDistributedDGauss(m, AccountantRDP, target, delta, q, rounds)
	if err != nil {
		t.Fatal(err)
	}
	// Calibration reads the Accountant, as the coordinator does.
	accEps := func(z float64) float64 {
		mz := m.WithNoiseMultiplier(z)
		a, _ := NewAccountant(AccountantRDP)
		eps, err := a.EpsilonAfterSpend(Spend{Q: q, Sigma: z, Count: rounds, Distributed: &mz}, delta)
		if err != nil {
			t.Fatal(err)
		}
		return eps
	}
	at, below := accEps(z), accEps(z*(1-2e-6))
	if at > target || below <= target {
		t.Fatalf("z %v: ε %v, and %v just below: not the smallest meeting %v", z, at, below, target)
	}
	central, _ := Calibrate(gaussianEpsilon, target, delta, q, rounds)
	if z < central {
		t.Fatalf("z %v below the Gaussian's %v", z, central)
	}
	t.Logf("z %.6f (σ %.1f scaled), Gaussian at the same orders %.6f", z, m.WithNoiseMultiplier(z).LocalStd, central)

	// A loose target is met by the smallest local noise the bound allows.
	m.Scale, m.MinSurvivors = 2, 10
	z, err = CalibrateDistributedDGauss(m, AccountantRDP, 1e6, delta, q, 1)
	if err != nil {
		t.Fatal(err)
	}
	if sd := m.WithNoiseMultiplier(z).LocalStd; sd < 0.5 || sd > 0.5*(1+2e-6) {
		t.Fatalf("loose target: local σ %v, want just above 1/2", sd)
	}
}

// TestDistributedDGaussPLD: by PLD, rounds of the distributed discrete
// Gaussian with the device's share in both neighbours cost the ε of the
// Gaussian with the noise multiplier of the inflated sensitivity, plus the
// slack of GaussianBound (about d′/(12S²) a round: 0.0587 over the two
// rounds at the coarser scale here, 5.86e−6 at the finer).
func TestDistributedDGaussPLD(t *testing.T) {
	const delta, q, rounds = 1e-5, 1.0, 2
	for _, c := range []struct{ scale, slack float64 }{{1e2, 0.0587}, {1e4, 5.86e-6}} {
		m := DistributedDGauss{Scale: c.scale, Clip: 1, Dim: 1 << 16, MinSurvivors: 100}.WithNoiseMultiplier(4.4)
		l2 := m.Sensitivity()
		zg := 4.4 * m.Clip * m.Scale / l2 // the inflated sensitivity's multiplier
		b := m.GaussianBound()
		p := NewPLD(0)
		if err := p.ComposeDistributedDGauss(m, q, rounds); err != nil {
			t.Fatal(err)
		}
		eps, _ := p.Epsilon(delta)
		gp := NewPLD(0)
		if err := gp.ComposePoissonGaussian(q, zg, rounds); err != nil {
			t.Fatal(err)
		}
		g, _ := gp.Epsilon(delta * math.Exp(-rounds*b.Up) * (1 - pldSlackShare))
		sl := rounds * (b.Up + b.Down)
		if math.Abs(b.Z/zg-1) > 1e-12 || math.Abs(eps-g-sl) > 1e-12 || math.Abs(sl/c.slack-1) > 0.02 {
			t.Errorf("scale %v: ε %v, Gaussian at z %v %v, slack %v", c.scale, eps, zg, g, sl)
		}
		t.Logf("scale %v: ε %.6f = Gaussian %.6f + slack %.3g", c.scale, eps, g, sl)
	}
}

// TestDistributedDGaussColluders: colluders subtract their noise shares,
// so only H = n_min − c count: the same local noise buys the ε of H
// survivors without colluders, more than that of n_min, and a noise
// multiplier takes √(n_min/H) times the local noise.
func TestDistributedDGaussColluders(t *testing.T) {
	const q, rounds, delta = 0.01, 1000, 1e-5
	all := DistributedDGauss{LocalStd: 316, Scale: 1e4, Clip: 1, Dim: 1 << 16, MinSurvivors: 1000}
	colluding := all
	colluding.Colluders = 200
	honest := all
	honest.MinSurvivors = 800
	eAll, err1 := DistributedDGaussEpsilon(all, q, rounds, delta)
	eColluding, err2 := DistributedDGaussEpsilon(colluding, q, rounds, delta)
	eHonest, err3 := DistributedDGaussEpsilon(honest, q, rounds, delta)
	if err := errors.Join(err1, err2, err3); err != nil {
		t.Fatal(err)
	}
	if !(eColluding > eAll*1.05) || eColluding != eHonest {
		t.Errorf("ε %v with 200 of 1000 colluding, %v without, %v with 800 honest alone", eColluding, eAll, eHonest)
	}
	near(t, "local noise for z", colluding.WithNoiseMultiplier(1).LocalStd, all.WithNoiseMultiplier(1).LocalStd*math.Sqrt(1000.0/800), 1e-14)
	zAll, err1 := CalibrateDistributedDGauss(all, AccountantRDP, 3, delta, q, rounds)
	zColluding, err2 := CalibrateDistributedDGauss(colluding, AccountantRDP, 3, delta, q, rounds)
	if err := errors.Join(err1, err2); err != nil {
		t.Fatal(err)
	}
	if sa, sc := all.WithNoiseMultiplier(zAll).LocalStd, colluding.WithNoiseMultiplier(zColluding).LocalStd; !(sc > sa*1.1) {
		t.Errorf("calibrated local noise %v with colluders, %v without", sc, sa)
	}
	t.Logf("ε %.4f → %.4f with 200 of 1000 colluding; z %.4f → %.4f", eAll, eColluding, zAll, zColluding)
}

func TestDistributedDGaussRefuses(t *testing.T) {
	ok := tiny
	bad := func(f func(*DistributedDGauss)) DistributedDGauss {
		m := ok
		f(&m)
		return m
	}
	for _, c := range []struct {
		name   string
		m      DistributedDGauss
		q      float64
		rounds int
		delta  float64
	}{
		{"q 0", ok, 0, 1, 1e-5},
		{"q > 1", ok, 1.5, 1, 1e-5},
		{"q NaN", ok, math.NaN(), 1, 1e-5},
		{"rounds 0", ok, 0.1, 0, 1e-5},
		{"rounds < 0", ok, 0.1, -3, 1e-5},
		{"δ 0", ok, 0.1, 1, 0},
		{"negative noise", bad(func(m *DistributedDGauss) { m.LocalStd = -1 }), 0.1, 1, 1e-5},
		{"noise below ½", bad(func(m *DistributedDGauss) { m.LocalStd = 0.4 }), 0.1, 1, 1e-5},
		{"infinite noise", bad(func(m *DistributedDGauss) { m.LocalStd = math.Inf(1) }), 0.1, 1, 1e-5},
		{"n_min 0", bad(func(m *DistributedDGauss) { m.MinSurvivors = 0 }), 0.1, 1, 1e-5},
		{"colluders < 0", bad(func(m *DistributedDGauss) { m.Colluders = -1 }), 0.1, 1, 1e-5},
		{"colluders = n_min", bad(func(m *DistributedDGauss) { m.Colluders = m.MinSurvivors }), 0.1, 1, 1e-5},
		{"d′ 0", bad(func(m *DistributedDGauss) { m.Dim = 0 }), 0.1, 1, 1e-5},
		{"d′ < 0", bad(func(m *DistributedDGauss) { m.Dim = -4 }), 0.1, 1, 1e-5},
		{"scale 0", bad(func(m *DistributedDGauss) { m.Scale = 0 }), 0.1, 1, 1e-5},
		{"clip NaN", bad(func(m *DistributedDGauss) { m.Clip = math.NaN() }), 0.1, 1, 1e-5},
		{"β 1", bad(func(m *DistributedDGauss) { m.Beta = 1 }), 0.1, 1, 1e-5},
		{"β < 0", bad(func(m *DistributedDGauss) { m.Beta = -0.1 }), 0.1, 1, 1e-5},
	} {
		if _, err := DistributedDGaussEpsilon(c.m, c.q, c.rounds, c.delta); !errors.Is(err, ErrBadParameter) {
			t.Errorf("%s: DistributedDGaussEpsilon error %v", c.name, err)
		}
		if c.delta == 0 {
			continue // the remaining calls take no δ
		}
		if _, err := DistributedDGaussRDP(c.m, c.q, c.rounds, nil); !errors.Is(err, ErrBadParameter) {
			t.Errorf("%s: DistributedDGaussRDP error %v", c.name, err)
		}
		a := NewRDP(nil)
		if err := a.ComposeDistributedDGauss(c.m, c.q, c.rounds); !errors.Is(err, ErrBadParameter) {
			t.Errorf("%s: ComposeDistributedDGauss error %v", c.name, err)
		}
		if slices.ContainsFunc(a.Values(), func(r float64) bool { return r != 0 }) {
			t.Errorf("%s: refused rounds were composed", c.name)
		}
		if c.m.LocalStd == ok.LocalStd { // calibration sets the noise itself
			if _, err := CalibrateDistributedDGauss(c.m, AccountantRDP, 1, 1e-5, c.q, c.rounds); !errors.Is(err, ErrBadParameter) {
				t.Errorf("%s: CalibrateDistributedDGauss error %v", c.name, err)
			}
		}
	}
	for _, orders := range [][]float64{{1, 2}, {0.5}, {2, math.Inf(1)}} {
		if _, err := DistributedDGaussRDP(ok, 0.1, 1, orders); !errors.Is(err, ErrBadParameter) {
			t.Errorf("orders %v: error %v", orders, err)
		}
	}
}

// TestNoiseMultiplierInvertsWithNoiseMultiplier: the multiplier read off a
// mechanism is the one its local noise was sized for.
func TestNoiseMultiplierInvertsWithNoiseMultiplier(t *testing.T) {
	m := DistributedDGauss{Scale: 1e4, Clip: 0.5, Dim: 1024, MinSurvivors: 40, Colluders: 4}
	for _, z := range []float64{0.3, 1, 2.5} {
		if got := m.WithNoiseMultiplier(z).NoiseMultiplier(); math.Abs(got-z) > 1e-12*z {
			t.Errorf("z %v read back as %v", z, got)
		}
	}
}
