package privacy

import (
	"fmt"
	"math"
)

// Distributed DP under secure aggregation: the distributed discrete
// Gaussian of Kairouz, Liu and Steinke 2021 (KLS21), as TFF's
// DistributedDpSumFactory runs it. Each device clips its update to L2 norm
// C, rotates it (padded to d′ coordinates), scales it by s, rounds it
// stochastically to integers, and adds N_Z(0, σ²) to every coordinate
// (Noise.AddDiscreteGaussian, σ in those scaled units); SecAgg sums the
// vectors modulo 2^b and the coordinator sees only the sum.
//
// The RDP accountant composes a bound on the Rényi divergence between a
// round's two neighbouring outputs, the device's own noise share coming and
// going with it (roundRDP), subsampled by Zhu and Wang's general theorem,
// under the assumptions below. The PLD accountant does not count the own
// share, and refuses the mechanism (CheckDistributedAccountant). A
// deployment that breaks an assumption does not get the ε it reports.
//
//   - Adjacency is user-level add/remove of one device, which takes its
//     noise share with it. The number of shares shows in the spread of the
//     sum, so the share itself reveals that the device took part, and the
//     bound counts that. (Google's distributed_dp accounting, KLS21's
//     Prop. 14, keeps the share in both neighbours.)
//   - Sampling is Poisson: each device takes part in a round independently
//     with probability q. The amplification (Zhu and Wang 2019) holds only
//     against parties who do not learn who was sampled. The coordinator
//     selects the cohort and runs SecAgg with it, so against the
//     coordinator the figure is the one at q = 1 over the rounds the device
//     took part in.
//   - The noise counted is that of H = MinSurvivors − Colluders devices.
//     MinSurvivors is the fewest devices whose contributions a round's sum
//     may hold (the SecAgg threshold): devices that drop out take their
//     noise with them. Up to Colluders of those may collude with the
//     coordinator, and a device that knows its own noise can subtract it.
//     More honest survivors only add independent noise, which cannot hurt.
//   - The coordinator is semi-honest (follows the protocol) and colludes
//     with at most Colluders of the survivors.
//   - Devices draw the noise from a cryptographically secure generator
//     (NewNoise; a seeded Noise is for simulations only): predictable noise
//     can be subtracted.
//   - Each device checks its integer vector x̃ against the bound,
//     Σ x̃ᵢ² ≤ l2² for l2 from Sensitivity (the sum exact in integers), and
//     does not send a vector that exceeds it.
//
// Wrapping modulo 2^b is a function of the sum, so it costs accuracy, not
// privacy.

// DistributedDGaussOrders are the integer orders of the accounting, as in
// Google's distributed_dp accounting: 2, 3, …, 128 and 256.
var DistributedDGaussOrders = func() []float64 {
	var o []float64
	for a := 2; a <= 128; a++ {
		o = append(o, float64(a))
	}
	return append(o, 256)
}()

// minLocalStd is the smallest local noise accepted: KLS21 state the bound
// on sums of discrete Gaussians for σ ≥ 1/2.
const minLocalStd = 0.5

// roundingSlack is TFF's allowance, in units of the update, for floating
// point error in clipping and scaling before the norm bound is checked.
const roundingSlack = 1e-5

// DistributedDGauss is one round of the distributed discrete Gaussian
// mechanism, as each device runs it.
type DistributedDGauss struct {
	// LocalStd is σ, the standard deviation of each device's discrete
	// Gaussian noise per coordinate, in the scaled integer units. At least
	// 1/2.
	LocalStd float64 `json:"local_std"`
	// Scale is s: a clipped update x is sent as a rounding of s·x (the
	// granularity is γ = 1/s).
	Scale float64 `json:"scale"`
	// Clip is C, the L2 norm bound of an update before scaling.
	Clip float64 `json:"clip"`
	// Dim is d′, the dimension after padding for the rotation.
	Dim int `json:"dim"`
	// MinSurvivors is n_min, the fewest devices whose noise a sum the round
	// accepts holds.
	MinSurvivors int `json:"min_survivors"`
	// Colluders is c, the most of those survivors that may collude with the
	// coordinator and subtract their noise: H = n_min − c honest shares
	// remain, at least 1.
	Colluders int `json:"colluders"`
	// Beta is β of conditional randomized rounding (KLS21): 0 for plain
	// stochastic rounding; in (0, 1) when a device rounds again until its
	// vector meets the tighter bound Sensitivity then gives.
	Beta float64 `json:"beta"`
}

// Check refuses a mechanism the accounting does not cover, with an error
// wrapping ErrBadParameter.
func (m DistributedDGauss) Check() error {
	bad := func(format string, v any) error {
		return fmt.Errorf("%w: "+format, ErrBadParameter, v)
	}
	switch {
	case !(m.LocalStd >= minLocalStd) || math.IsInf(m.LocalStd, 1):
		return bad("local noise std must be finite and at least 1/2 (scaled units), got %v", m.LocalStd)
	case !(m.Scale > 0) || math.IsInf(m.Scale, 1):
		return bad("scale must be positive and finite, got %v", m.Scale)
	case !(m.Clip > 0) || math.IsInf(m.Clip, 1):
		return bad("clip must be positive and finite, got %v", m.Clip)
	case m.Dim <= 0:
		return bad("dimension must be positive, got %d", m.Dim)
	case m.MinSurvivors < 1:
		return bad("minimum survivors must be at least 1, got %d", m.MinSurvivors)
	case m.Colluders < 0:
		return bad("colluders must be non-negative, got %d", m.Colluders)
	case m.honest() < 1:
		return fmt.Errorf("%w: %d colluders leave no honest device among %d survivors", ErrBadParameter, m.Colluders, m.MinSurvivors)
	case !(m.Beta >= 0 && m.Beta < 1):
		return bad("β must be in [0, 1), got %v", m.Beta)
	}
	return nil
}

// WithNoiseMultiplier is m with the local noise that gives the sum of the
// H honest devices' shares the central noise multiplier z: σ = z·C·s/√H.
func (m DistributedDGauss) WithNoiseMultiplier(z float64) DistributedDGauss {
	m.LocalStd = z * m.Clip * m.Scale / math.Sqrt(float64(m.honest()))
	return m
}

// NoiseMultiplier is the central noise multiplier the H honest devices'
// shares give the sum, z = σ·√H/(C·s): WithNoiseMultiplier's inverse.
func (m DistributedDGauss) NoiseMultiplier() float64 {
	return m.LocalStd * math.Sqrt(float64(m.honest())) / (m.Clip * m.Scale)
}

// honest is H = n_min − c, the noise shares of a round's sum that no
// colluder knows.
func (m DistributedDGauss) honest() int { return m.MinSurvivors - m.Colluders }

// Sensitivity is the L2 norm bound of one device's integer vector, in
// scaled units: KLS21 Thm 1's after stochastic rounding at granularity
// γ = 1/s, C + γ√d′, or with conditional rounding the smaller of that and
// √(C² + γ²d′/4 + √(2 ln(1/β))·γ·(C + γ√d′/2)), plus TFF's slack of 1e−5,
// all times s.
func (m DistributedDGauss) Sensitivity() float64 {
	g, d := 1/m.Scale, float64(m.Dim)
	b := m.Clip + g*math.Sqrt(d)
	if m.Beta > 0 {
		b = math.Min(b, math.Sqrt(m.Clip*m.Clip+g*g*d/4+math.Sqrt(2*math.Log(1/m.Beta))*g*(m.Clip+g*math.Sqrt(d)/2)))
	}
	return (b + roundingSlack) * m.Scale
}

// roundRDP is the RDP of one round at an integer order α ≥ 2 and, where
// q < 1, the smaller of that and its amplification by Poisson sampling
// (zhuWang, which takes any mechanism's add/remove RDP at the orders up to
// α, and keeps +Inf).
//
// Unsubsampled, the other devices' updates are the same in both
// neighbours and the colluders' shares known, so what the two neighbouring
// outputs differ in is P = x̃ + (a sum of H+1 shares), the device's own
// among them, against Q = (a sum of H shares), with ‖x̃‖₂ ≤ Δ₂
// (Sensitivity). More honest survivors add the same independent noise to
// both, a post-processing. The bound is the larger of sharesRDP's bounds on
// D_α(P‖Q) and D_α(Q‖P); the first is +Inf from α = H+1 on, where the
// wider P's tails outweigh Q's.
//
// It replaces KLS21's Prop. 14, which bounds x̃ + N against N with the
// same shares in both: the device's update removed but its share kept,
// which is not the add/remove pair and misses what the share reveals. It
// loses nothing of Prop. 14 either: its P‖Q bound has the mean term
// αΔ₂²/(2(H+1−α)σ²) ≥ αΔ₂²/(2Hσ²), the rest is non-negative and includes
// d′τ_H, so it is at least Prop. 14's first form for the H honest shares,
// and so bounds that pair too.
func (m DistributedDGauss) roundRDP(q float64) func(alpha int) float64 {
	l2 := m.Sensitivity()
	h := m.honest()
	with, without := m.noiseSum(h+1), m.noiseSum(h)
	eps := func(alpha int) float64 {
		a := float64(alpha)
		return max(m.sharesRDP(a, with, without, l2), m.sharesRDP(a, without, with, l2))
	}
	if q == 1 {
		return eps
	}
	return func(alpha int) float64 { return min(eps(alpha), zhuWang(alpha, q, eps)) }
}

// noiseSum is a sum of n of a mechanism's noise shares, per coordinate,
// with what sharesRDP needs of it: τ(n) (pointwise, the sum is within a
// factor e^{±τ} of N_Z(0, nσ²); see GaussianBound) and ln(1 + ζ) at the
// standard deviation √n·σ (thetaSlack).
type noiseSum struct{ n, tau, logZeta float64 }

func (m DistributedDGauss) noiseSum(n int) noiseSum {
	return noiseSum{float64(n), m.tau(n), math.Log1p(thetaSlack(math.Sqrt(float64(n)) * m.LocalStd))}
}

// sharesRDP bounds D_α(A‖B) for A and B sums of a.n and b.n of m's shares
// on each of the d′ coordinates, one of them shifted by an integer vector
// of norm at most l2.
//
// For continuous Gaussians of variances vₐ, v_b per coordinate (Gil,
// Alajaji and Linder 2013), with v_α = α·v_b + (1−α)·vₐ,
// D_α = (d′/2)·ln(v_b/vₐ) + d′·ln(v_b/v_α)/(2(α−1)) + α·l2²/(2v_α)
// if v_α > 0, and +Inf otherwise; here vₐ = a.n·σ², v_b = b.n·σ².
//
// For the sums of discrete Gaussians: pointwise A ≤ e^{τ_A}·gₐ and
// B ≥ e^{−τ_B}·g_b for the discrete Gaussians gₐ, g_b of the same centres
// and variances, so, α > 1, the Rényi sum Σ A^α B^{1−α} is at most
// e^{α·τ_A + (α−1)·τ_B} times Σ gₐ^α g_b^{1−α}. On a coordinate that is
// Nₐ^{−α}·N_b^{α−1} times a sum over the integers of a Gaussian of
// variance v* = vₐv_b/v_α, where N are the normalizers and the continuous
// case has √(2πv) in their place. By Poisson summation, with ζ(v) =
// thetaSlack(√v), a normalizer is at least √(2πv) and at most
// √(2πv)(1 + ζ(v)) (the centres are integers), and the Gaussian's sum at
// most its integral times 1 + ζ(v*). So D_α(A‖B) ≤ D_α(continuous)
// + d′·(α·τ_A/(α−1) + τ_B + ln(1+ζ(v*))/(α−1) + ln(1+ζ(v_b))). The tests
// check τ, the discrete Gaussians' step and the whole bound against exact
// convolutions.
func (m DistributedDGauss) sharesRDP(alpha float64, a, b noiseSum, l2 float64) float64 {
	nAlpha := alpha*b.n + (1-alpha)*a.n // v_α/σ²
	if !(nAlpha > 0) {
		return math.Inf(1)
	}
	v, d := m.LocalStd*m.LocalStd, float64(m.Dim)
	// ln(v_b/v_α) = ln(1 + (α−1)(a.n − b.n)/(v_α/σ²)), exact in the counts.
	gauss := d*(math.Log1p((b.n-a.n)/a.n)/2+math.Log1p((alpha-1)*(a.n-b.n)/nAlpha)/(2*(alpha-1))) +
		alpha*l2*l2/(2*nAlpha*v)
	star := math.Log1p(thetaSlack(math.Sqrt(a.n * b.n / nAlpha * v)))
	return gauss + d*(alpha*a.tau/(alpha-1)+b.tau+star/(alpha-1)+b.logZeta)
}

// tau is KLS21's τ = 10·Σ_{k=1}^{n−1} exp(−2π²σ²·k/(k+1)), what summing
// n of m's discrete Gaussians costs against one discrete Gaussian of the
// total variance.
func (m DistributedDGauss) tau(n int) float64 {
	c := -2 * math.Pi * math.Pi * m.LocalStd * m.LocalStd
	var s float64
	for k := 1; k < n; k++ {
		e := math.Exp(c * float64(k) / float64(k+1))
		if e == 0 { // the terms decrease in k
			break
		}
		s += e
	}
	return 10 * s
}

// zhuWang is Zhu and Wang 2019, Thm 5: an upper bound on the RDP at
// integer order α ≥ 2 of a mechanism with RDP eps run on a Poisson sample
// at rate q < 1,
// 1/(α−1) · log[(1−q)^{α−1}(1 + (α−1)q) + C(α,2) q² (1−q)^{α−2} e^{ε(2)}
// + 3 Σ_{l=3}^{α} C(α,l) q^l (1−q)^{α−l} e^{(l−1)ε(l)}].
func zhuWang(alpha int, q float64, eps func(int) float64) float64 {
	a := float64(alpha)
	lq, l1q := math.Log(q), math.Log1p(-q)
	s := (a-1)*l1q + math.Log1p((a-1)*q)
	s = logAdd(s, logBinomInt(alpha, 2)+2*lq+(a-2)*l1q+eps(2))
	for l := 3; l <= alpha; l++ {
		fl := float64(l)
		s = logAdd(s, math.Log(3)+logBinomInt(alpha, l)+fl*lq+(a-fl)*l1q+(fl-1)*eps(l))
	}
	return s / (a - 1)
}

// gaussianBulkTail is the mass of the rounded Gaussian that GaussianBound
// leaves outside its bulk, a round: far below any δ, so that the bulk, and
// the slack it costs, can be as small as that allows.
const gaussianBulkTail = 1e-40

// GaussianBound relates a round of the distributed discrete Gaussian, with
// the device's noise share in both neighbours, to the Gaussian mechanism
// with noise multiplier Z, so that a PLD can compose it
// (PLD.ComposeDistributedDGauss). Let S = √H·σ be the standard deviation of
// the honest devices' noise sum and Δ₂ the L2 sensitivity (Sensitivity);
// Z = S/Δ₂. Per coordinate, with p the law of the noise sum,
// g that of N_Z(0, S²) and r that of a continuous N(0, S²) rounded to the
// nearest integer:
//
//   - |ln p(k) − ln g(k)| ≤ τ for every k (KLS21's τ; by Poisson summation
//     a sum of two discrete Gaussians of variances a and b is, pointwise,
//     within a factor (1+e′)/(1−e′) of N_Z(0, a+b), where
//     e′ = 2Σ_{m≥1} exp(−2π²m²·ab/(a+b)), and ln((1+e′)/(1−e′)) is below
//     10·exp(−2π²ab/(a+b)) for ab/(a+b) ≥ 1/8; pointwise ratios survive
//     convolution, so the H − 1 additions sum to τ);
//   - r(k)/g(k) = (1+ζ)·∫_{−1/2}^{1/2} exp(−(2ku + u²)/(2S²)) du, with
//     ζ = 2Σ_{m≥1} exp(−2π²m²S²) (Poisson summation of g's normalizer).
//     Pairing u with −u, the integral is at least ∫exp(−u²/(2S²)) du ≥
//     1 − 1/(24S²); dropping u², it is at most sinh(a)/a ≤ e^{a²/6},
//     a = |k|/(2S²).
//
// Adding r-noise to an integer vector is a post-processing of the Gaussian
// mechanism (rounding commutes with integer shifts), so its rounds, however
// subsampled and composed, are dominated by the Gaussian's. Over the d′
// coordinates the true output law P and the rounded one R then satisfy
// P ≤ e^{Up}·R everywhere, Up = d′(τ − ln(1 − 1/(24S²))), and R ≤ e^{Down}·P
// on the bulk where the noise vector k has Σk² ≤ d′(S√(1+u) + 1/2)²,
// Down = d′(τ + ln(1+ζ)) + d′(√(1+u) + 1/(2S))²/(24S²). Outside the bulk
// lies R-mass at most Tail = exp(−(d′/2)(u − ln(1+u))): there the continuous
// noise has ‖N‖² > S²d′(1+u) (|k| ≤ |N| + 1/2 and Minkowski), and that is
// the Chernoff bound of a χ² with d′ degrees of freedom; u is the smallest
// that makes Tail gaussianBulkTail. After rounds summing to (Up, Down,
// Tail), a Gaussian (ε_G, δ_G) becomes (ε_G + Up + Down,
// e^{Up}·(δ_G + e^{ε_G}·Tail)): over the rounds R′ splits into a part at
// most e^{Down}·P′ and the rest, which takes some round's outside of the
// bulk and so has mass at most the summed Tail.
//
// The slack is about d′/(12S²) a round: negligible when the summed noise is
// wide in integer units (fine quantization: 5.5e−9 a round at 16 bits in the
// synthetic sweep). Δ₂ ≥ √d′, so it is at most about 1/(12Z²), and it is
// added every round whatever the sampling rate: where the rounding makes
// most of Δ₂ (coarse quantization) it adds up: at scale 1 on 65,536
// coordinates and Z = 0.956 the slack alone would be 0.094 a round, 14 over
// 150 rounds.
type GaussianBound struct {
	Z              float64 // noise multiplier of the dominating Gaussian
	Up, Down, Tail float64 // the slack of one round, as above
}

// GaussianBound is m's GaussianBound; m must pass Check.
func (m DistributedDGauss) GaussianBound() GaussianBound {
	l2 := m.Sensitivity()
	s := math.Sqrt(float64(m.honest())) * m.LocalStd
	d, tau, zeta := float64(m.Dim), m.tau(m.honest()), thetaSlack(s)
	u := chiSquareBulk(d, gaussianBulkTail)
	r := math.Sqrt(1+u) + 1/(2*s)
	return GaussianBound{
		Z:    s / l2,
		Up:   d * (tau - math.Log1p(-1/(24*s*s))),
		Down: d*(tau+math.Log1p(zeta)) + d*r*r/(24*s*s),
		Tail: math.Exp(-d / 2 * (u - math.Log1p(u))),
	}
}

// thetaSlack is ζ = 2Σ_{m≥1} exp(−2π²m²s²): by Poisson summation, the sum
// over the integers of a Gaussian density of standard deviation s, at any
// centre, is at most 1 + ζ, and at an integer centre at least 1.
func thetaSlack(s float64) float64 {
	var zeta float64
	for k := 1.0; ; k++ {
		e := 2 * math.Exp(-2*math.Pi*math.Pi*k*k*s*s)
		if e == 0 || e < zeta*1e-17 {
			break
		}
		zeta += e
	}
	return zeta
}

// chiSquareBulk is a u > 0, within 1e−12 relative of the smallest, with
// exp(−(d/2)(u − ln(1+u))) ≤ tail: by the Chernoff bound, the chance that
// a χ² with d degrees of freedom exceeds d(1+u).
func chiSquareBulk(d, tail float64) float64 {
	want := -2 * math.Log(tail) / d
	f := func(u float64) float64 { return u - math.Log1p(u) } // increasing
	lo, hi := 0.0, 1.0
	for f(hi) < want {
		lo, hi = hi, 2*hi
	}
	for hi-lo > 1e-12*hi {
		if mid := (lo + hi) / 2; f(mid) < want {
			lo = mid
		} else {
			hi = mid
		}
	}
	return hi
}

// ComposeDistributedDGauss adds count rounds of m at sampling rate q. The
// bound is for integer orders; at a fractional order α it adds the value at
// ⌈α⌉, an upper bound since RDP does not decrease with the order. So it
// composes with the Gaussian rounds of ComposePoissonGaussian at any
// orders above 1.
func (a *RDP) ComposeDistributedDGauss(m DistributedDGauss, q float64, count int) error {
	if err := m.Check(); err != nil {
		return err
	}
	if err := CheckMechanism(q, m.LocalStd, count); err != nil {
		return err
	}
	for _, o := range a.orders {
		if !(o > 1) || math.IsInf(o, 1) {
			return fmt.Errorf("%w: distributed discrete Gaussian needs finite orders above 1, got %v", ErrBadParameter, o)
		}
	}
	rdp := m.roundRDP(q)
	for i, o := range a.orders {
		a.rdp[i] += float64(count) * rdp(int(math.Ceil(o)))
	}
	return nil
}

// EpsilonAfterDistributedDGauss is the ε at δ if count more rounds of m at
// rate q were added, without adding them.
func (a *RDP) EpsilonAfterDistributedDGauss(m DistributedDGauss, q float64, count int, delta float64) (float64, error) {
	b := &RDP{orders: a.orders, rdp: a.Values()}
	if err := b.ComposeDistributedDGauss(m, q, count); err != nil {
		return 0, err
	}
	eps, _, err := b.Epsilon(delta)
	return eps, err
}

// DistributedDGaussRDP is the RDP of `rounds` rounds of m at sampling rate
// q, at orders (DistributedDGaussOrders if nil); see
// ComposeDistributedDGauss.
func DistributedDGaussRDP(m DistributedDGauss, q float64, rounds int, orders []float64) ([]float64, error) {
	if orders == nil {
		orders = DistributedDGaussOrders
	}
	a := NewRDP(orders)
	if err := a.ComposeDistributedDGauss(m, q, rounds); err != nil {
		return nil, err
	}
	return a.Values(), nil
}

// DistributedDGaussEpsilon is the ε at δ after `rounds` rounds of m at
// sampling rate q, at DistributedDGaussOrders with EpsilonFromRDP.
func DistributedDGaussEpsilon(m DistributedDGauss, q float64, rounds int, delta float64) (float64, error) {
	return NewRDP(DistributedDGaussOrders).EpsilonAfterDistributedDGauss(m, q, rounds, delta)
}

// CalibrateDistributedDGauss finds the smallest central noise multiplier z
// for which `rounds` rounds of m.WithNoiseMultiplier(z) at rate q spend at
// most target at δ by the named accountant (an Accountant, as the
// coordinator's; see CheckDistributedAccountant), to relative precision
// 1e−6 (see Calibrate); m's LocalStd is ignored. The local noise is at least 1/2, so z is at least
// √H/(2·C·s).
func CalibrateDistributedDGauss(m DistributedDGauss, accountant string, target, delta, q float64, rounds int) (float64, error) {
	m.LocalStd = minLocalStd
	if err := m.Check(); err != nil {
		return 0, err
	}
	if err := CheckDistributedAccountant(accountant); err != nil {
		return 0, err
	}
	eps := func(q, z float64, rounds int, delta float64) (float64, error) {
		mz := m.WithNoiseMultiplier(z)
		if mz.LocalStd < minLocalStd {
			return math.Inf(1), nil
		}
		a, _ := NewAccountant(accountant)
		return a.EpsilonAfterSpend(Spend{Q: q, Sigma: z, Count: rounds, Distributed: &mz}, delta)
	}
	return Calibrate(eps, target, delta, q, rounds)
}
