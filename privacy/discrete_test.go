package privacy

import (
	"errors"
	"fmt"
	"math"
	"math/big"
	"math/rand/v2"
	"slices"
	"testing"
)

func seeded(b byte) *Noise { return NewSeededNoise([32]byte{b}) }

// dgaussPMF is the exact N_Z(0, σ²) pmf on −m…m (index x+m), m = ⌈40σ⌉+10:
// the mass left out is below e^−800.
func dgaussPMF(sigma float64) (pmf []float64, m int) {
	m = int(math.Ceil(40*sigma)) + 10
	pmf = make([]float64, 2*m+1)
	var z float64
	for x := -m; x <= m; x++ {
		pmf[x+m] = math.Exp(-float64(x*x) / (2 * sigma * sigma))
		z += pmf[x+m]
	}
	for i := range pmf {
		pmf[i] /= z
	}
	return pmf, m
}

// chiSquare compares counts of x (keyed x+m) with the pmf: the cells are
// the x with expected count ≥ 5 and the two tails, folded into the
// outermost of those. It returns the statistic and the degrees of freedom.
func chiSquare(counts []int, pmf []float64, n int) (stat float64, df int) {
	m := len(pmf) / 2
	c := 0
	for c+1 <= m && float64(n)*pmf[m+c+1] >= 5 {
		c++
	}
	cell := func(lo, hi int) { // x in [lo, hi], keyed
		var o, e float64
		for i := lo; i <= hi; i++ {
			o += float64(counts[i])
			e += float64(n) * pmf[i]
		}
		stat += (o - e) * (o - e) / e
		df++
	}
	cell(0, m-c)
	for i := m - c + 1; i < m+c; i++ {
		cell(i, i)
	}
	cell(m+c, 2*m)
	return stat, df - 1
}

// chiSquareCritical is the upper 1e−4 point of χ²(df) (Wilson–Hilferty).
func chiSquareCritical(df int) float64 {
	const z = 3.719
	k := float64(df)
	return k * math.Pow(1-2/(9*k)+z*math.Sqrt(2/(9*k)), 3)
}

func TestDiscreteGaussianDistribution(t *testing.T) {
	const n = 200000
	for i, sigma := range []float64{0.5, 1, 3.7, 50, 1000} {
		pmf, m := dgaussPMF(sigma)
		var v2, v4 float64 // exact E[X²], E[X⁴]
		for x := -m; x <= m; x++ {
			f := float64(x * x)
			v2 += f * pmf[x+m]
			v4 += f * f * pmf[x+m]
		}
		if sigma == 0.5 && !(v2 < 0.2151 && v2 > 0.2150) {
			t.Fatalf("exact variance at σ = ½ is %v, want 0.2150…", v2)
		}
		draws := make([]uint32, n)
		if err := seeded(byte(i+1)).AddDiscreteGaussian(draws, sigma); err != nil {
			t.Fatal(err)
		}
		counts := make([]int, 2*m+1)
		var sum, sum2 float64
		for _, u := range draws {
			x := int64(int32(u))
			if x < -int64(m) || x > int64(m) {
				t.Fatalf("σ %v: draw %d beyond 40σ", sigma, x)
			}
			counts[x+int64(m)]++
			sum += float64(x)
			sum2 += float64(x * x)
		}
		mean, variance := sum/n, sum2/n
		if se := math.Sqrt(v2 / n); math.Abs(mean) > 5*se {
			t.Errorf("σ %v: mean %v, %.1f standard errors from 0", sigma, mean, mean/se)
		}
		if se := math.Sqrt((v4 - v2*v2) / n); math.Abs(variance-v2) > 5*se {
			t.Errorf("σ %v: variance %v, exact %v: %.1f standard errors", sigma, variance, v2, (variance-v2)/se)
		}
		stat, df := chiSquare(counts, pmf, n)
		if crit := chiSquareCritical(df); stat > crit {
			t.Errorf("σ %v: χ² %.1f on %d degrees of freedom, above the 1e-4 point %.1f", sigma, stat, df, crit)
		}
		t.Logf("σ %v: mean %.4f, variance %.4f (exact %.4f), χ² %.1f / %d", sigma, mean, variance, v2, stat, df)
	}
}

// TestDiscreteGaussianTestHasPower shows the χ² test above tells the
// discrete Gaussian from the continuous one rounded to integers, whose
// variance at σ = ½ is 1/3 instead of 0.2150.
func TestDiscreteGaussianTestHasPower(t *testing.T) {
	const n, sigma = 200000, 0.5
	pmf, m := dgaussPMF(sigma)
	r := rand.New(rand.NewPCG(9, 9))
	counts := make([]int, 2*m+1)
	for range n {
		counts[int(math.Round(r.NormFloat64()*sigma))+m]++
	}
	if stat, df := chiSquare(counts, pmf, n); stat < 10*chiSquareCritical(df) {
		t.Fatalf("rounded Gaussian passes: χ² %.1f on %d", stat, df)
	}
}

func TestDiscreteGaussianExtremeSigmas(t *testing.T) {
	noise := seeded(11)
	for range 1000 { // P(x ≠ 0) = 2·exp(−2^19) at σ = 2^−10
		if x, _ := drawDiscreteGaussian(noise, minDiscreteSigma); x != 0 {
			t.Fatalf("σ 2^-10: draw %d", x)
		}
	}
	const n = 20000
	var sum, sum2 float64
	for range n {
		x, err := drawDiscreteGaussian(noise, maxDiscreteSigma)
		if err != nil {
			t.Fatal(err)
		}
		f := float64(x) / maxDiscreteSigma
		sum += f
		sum2 += f * f
	}
	if mean, v := sum/n, sum2/n; math.Abs(mean) > 5/math.Sqrt(n) || math.Abs(v-1) > 5*math.Sqrt(2.0/n) {
		t.Fatalf("σ 2^28: mean %v σ, variance %v σ²", mean, v)
	}
}

// TestDiscreteGaussianParameters checks the claims of DiscreteGaussian's
// comment: σ̃² ≥ σ² exactly, within 2^−31 relative, the cut at xmax ≥ 127σ,
// and that the integer parameters are exact (no overflow).
func TestDiscreteGaussianParameters(t *testing.T) {
	for _, sigma := range []float64{minDiscreteSigma, 0.1, 0.5, 1, math.Pi, 3.7, 50, 1000, 65535.5, 65536, 92681.9, 1e6, 0x1p27 + 3, maxDiscreteSigma} {
		checkDGaussParameters(t, sigma)
	}
}

func FuzzDiscreteGaussianParameters(f *testing.F) {
	for _, sigma := range []float64{minDiscreteSigma, 0.7, 1, 3.7, 0x1p16, 0x1p16 + 0.5, maxDiscreteSigma} {
		f.Add(sigma)
	}
	f.Fuzz(func(t *testing.T, sigma float64) {
		if !(sigma >= minDiscreteSigma && sigma <= maxDiscreteSigma) {
			if _, err := newDGauss(sigma); !errors.Is(err, ErrBadParameter) {
				t.Fatalf("σ %v accepted", sigma)
			}
			return
		}
		checkDGaussParameters(t, sigma)
		r := &rng{Rand: seeded(15).r}
		g, _ := newDGauss(sigma)
		for range 10 {
			if x := g.draw(r); float64(x) > 40*sigma+10 || float64(x) < -40*sigma-10 {
				t.Fatalf("σ %v: draw %d", sigma, x)
			}
		}
	})
}

func checkDGaussParameters(t *testing.T, sigma float64) {
	t.Helper()
	g, err := newDGauss(sigma)
	if err != nil {
		t.Fatal(err)
	}
	big64 := func(u uint64) *big.Int { return new(big.Int).SetUint64(u) }
	s2 := new(big.Rat).SetFloat64(sigma)
	s2.Mul(s2, s2)
	got := new(big.Rat).SetFrac(big64(g.p), big64(g.q))
	rel, _ := new(big.Rat).Quo(new(big.Rat).Sub(got, s2), s2).Float64()
	if got.Cmp(s2) < 0 || rel >= 0x1p-31 {
		t.Errorf("σ %v: σ̃²/σ² − 1 = %v", sigma, rel)
	}
	if float64(g.xmax) < 127*sigma {
		t.Errorf("σ %v: xmax %d is %.0fσ", sigma, g.xmax, float64(g.xmax)/sigma)
	}
	if g.t != uint64(math.Floor(sigma))+1 || g.qt != g.q*g.t || g.vmax != g.xmax/g.t {
		t.Errorf("σ %v: t %d, q·t %d, vmax %d", sigma, g.t, g.qt, g.vmax)
	}
	// x·q·t − p must fit in 63 bits for every accepted x, and den be exact.
	if new(big.Int).Mul(big64(g.xmax), big64(g.qt)).BitLen() > 63 || g.p >= 1<<63 {
		t.Errorf("σ %v: xmax·q·t overflows", sigma)
	}
	den := new(big.Int).Mul(big64(2*g.p), big64(g.q))
	den.Mul(den, new(big.Int).Mul(big64(g.t), big64(g.t)))
	if got := new(big.Int).Or(new(big.Int).Lsh(big64(g.den.hi), 64), big64(g.den.lo)); got.Cmp(den) != 0 {
		t.Errorf("σ %v: den %v, want %v", sigma, got, den)
	}
}

func TestDiscreteGaussianBernoulli(t *testing.T) {
	const n = 200000
	r := &rng{Rand: seeded(12).r}
	check := func(what string, p float64, draw func() bool) {
		t.Helper()
		k := 0
		for range n {
			if draw() {
				k++
			}
		}
		if se := math.Sqrt(p * (1 - p) / n); math.Abs(float64(k)/n-p) > 5*se {
			t.Errorf("%s: frequency %v, want %v", what, float64(k)/n, p)
		}
	}
	for _, c := range []struct{ n, d uint64 }{{0, 1}, {3, 10}, {1, 1}, {5, 2}, {36, 5}} {
		check(fmt.Sprintf("exp(−%d/%d)", c.n, c.d), math.Exp(-float64(c.n)/float64(c.d)), func() bool {
			return bernExp(r, u128{lo: c.n}, u128{lo: c.d})
		})
	}
	// 128-bit ratios; the second has d.hi = 1, so the high words often tie.
	third := u128{0x5555_5555, 0x5555_5555_5555_5555}
	check("exp(−γ), 128-bit", math.Exp(-1.0/3), func() bool {
		return bernExp(r, third, u128{0xffff_ffff, math.MaxUint64})
	})
	check("Bernoulli(2^63/(2^64+2^63))", 1.0/3, func() bool {
		return below(r, u128{lo: 1 << 63}, u128{1, 1 << 63})
	})
}

func TestDiscreteGaussianAddWraps(t *testing.T) {
	v := slices.Repeat([]uint32{0, 5, math.MaxUint32, 1 << 31, 1<<16 - 1, 12345}, 50)
	orig := slices.Clone(v)
	if err := seeded(13).AddDiscreteGaussian(v, 3.7); err != nil {
		t.Fatal(err)
	}
	noise := make([]uint32, len(v)) // the same draws, added to zeros
	seeded(13).AddDiscreteGaussian(noise, 3.7)
	const m = 16
	for i := range v {
		x := int64(int32(noise[i])) // two's complement
		if v[i] != orig[i]+uint32(x) || x < -50 || x > 50 {
			t.Fatalf("element %d: %d → %d, noise %d", i, orig[i], v[i], x)
		}
		// In Z_(2^16): reducing afterwards is adding x modulo 2^16.
		want := ((int64(orig[i])+x)%(1<<m) + 1<<m) % (1 << m)
		if int64(v[i]&(1<<m-1)) != want {
			t.Fatalf("element %d mod 2^16: %d, want %d", i, v[i]&(1<<m-1), want)
		}
	}
	if slices.Equal(v, orig) || !slices.ContainsFunc(noise, func(x uint32) bool { return int32(x) < 0 }) {
		t.Fatal("no negative noise added")
	}
}

func TestDiscreteGaussianRefuses(t *testing.T) {
	noise := seeded(14)
	v := []uint32{1, 2, 3}
	for _, sigma := range []float64{-1, math.NaN(), math.Inf(1), 0x1p-11, 0x1p29} {
		if err := noise.AddDiscreteGaussian(v, sigma); !errors.Is(err, ErrBadParameter) {
			t.Errorf("σ %v: error %v", sigma, err)
		}
		if _, err := drawDiscreteGaussian(noise, sigma); !errors.Is(err, ErrBadParameter) {
			t.Errorf("σ %v: error %v", sigma, err)
		}
	}
	if err := noise.AddDiscreteGaussian(v, 0); err != nil || !slices.Equal(v, []uint32{1, 2, 3}) {
		t.Fatalf("v %v, error %v", v, err)
	}
	if x, err := drawDiscreteGaussian(noise, 0); x != 0 || err != nil {
		t.Fatalf("σ 0: %d, %v", x, err)
	}
}

// BenchmarkDiscreteGaussian times one draw at several σ and, in the same
// run, one Noise.Gaussian draw.
func BenchmarkDiscreteGaussian(b *testing.B) {
	for _, sigma := range []float64{0.5, 1, 50, 1000, 1 << 20} {
		b.Run(fmt.Sprintf("sigma=%g", sigma), func(b *testing.B) {
			r := &rng{Rand: seeded(1).r}
			g, _ := newDGauss(sigma)
			for b.Loop() {
				g.draw(r)
			}
		})
	}
	b.Run("continuous", func(b *testing.B) { // the baseline: the float sampler it replaced
		r := seeded(1).r
		for b.Loop() {
			_ = r.NormFloat64() * 1000
		}
	})
}

// drawDiscreteGaussian is one draw of N_Z(0, sigma²) from n, as
// AddDiscreteGaussian adds to each element.
func drawDiscreteGaussian(n *Noise, sigma float64) (int64, error) {
	if sigma == 0 {
		return 0, nil
	}
	g, err := newDGauss(sigma)
	if err != nil {
		return 0, err
	}
	return g.draw(&rng{Rand: n.r}), nil
}

// TestDiscreteGaussianInt64MatchesUint32: the int64 form draws what the
// ring form does from the same generator, without wrapping.
func TestDiscreteGaussianInt64MatchesUint32(t *testing.T) {
	ring, wide := make([]uint32, 1000), make([]int64, 1000)
	wide[0] = 1 << 40
	if err := seeded(5).AddDiscreteGaussian(ring, 1e5); err != nil {
		t.Fatal(err)
	}
	if err := seeded(5).AddDiscreteGaussianInt64(wide, 1e5); err != nil {
		t.Fatal(err)
	}
	wide[0] -= 1 << 40
	for i := range ring {
		if int64(int32(ring[i])) != wide[i] {
			t.Fatalf("draw %d: %d in the ring, %d in int64", i, int32(ring[i]), wide[i])
		}
	}
	if err := seeded(5).AddDiscreteGaussianInt64(wide, 1e-20); !errors.Is(err, ErrBadParameter) {
		t.Fatalf("σ 1e-20: %v", err)
	}
}
