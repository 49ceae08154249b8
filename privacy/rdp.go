package privacy

import (
	"errors"
	"fmt"
	"math"
)

// DefaultOrders are dp_accounting's DEFAULT_RDP_ORDERS: 1.1, 1.2, …, 10.9,
// 11, 12, …, 63, 128, 256, 512, 1024.
var DefaultOrders = func() []float64 {
	var o []float64
	for x := 1; x <= 99; x++ {
		o = append(o, 1+float64(x)/10)
	}
	for a := 11; a <= 63; a++ {
		o = append(o, float64(a))
	}
	return append(o, 128, 256, 512, 1024)
}()

// RDPPoissonGaussian is the Rényi differential privacy at order alpha of the
// Poisson-subsampled Gaussian mechanism with sampling rate q and noise
// multiplier sigma (sensitivity 1, add/remove adjacency), after Mironov,
// Talwar and Zhang 2019, §3.3.
//
// For fractional orders it sums the series with signed binomial
// coefficients, subtracting the negative terms (the Opacus and pre-2024 TF
// Privacy form). That is A_α itself, as numerical integration confirms;
// dp_accounting since April 2024 adds absolute values instead, a slightly
// larger upper bound chosen there for numerical robustness. Both are valid;
// this one is the tighter, honest figure.
func RDPPoissonGaussian(q, sigma, alpha float64) float64 {
	switch {
	case q == 0:
		return 0
	case sigma == 0 || math.IsInf(alpha, 1):
		return math.Inf(1)
	case q == 1:
		return alpha / (2 * sigma * sigma)
	}
	if alpha == math.Floor(alpha) {
		return logAInt(q, sigma, int(alpha)) / (alpha - 1)
	}
	return logAFrac(q, sigma, alpha) / (alpha - 1)
}

// logAInt is log A_α for an integer α:
// log Σ_{i=0}^{α} C(α,i) q^i (1−q)^{α−i} exp((i²−i)/(2σ²)).
func logAInt(q, sigma float64, alpha int) float64 {
	logA := math.Inf(-1)
	lq, l1q := math.Log(q), math.Log1p(-q)
	for i := 0; i <= alpha; i++ {
		fi := float64(i)
		term := logBinomInt(alpha, i) + fi*lq + float64(alpha-i)*l1q + (fi*fi-fi)/(2*sigma*sigma)
		logA = logAdd(logA, term)
	}
	return logA
}

func logBinomInt(n, k int) float64 {
	a, _ := math.Lgamma(float64(n + 1))
	b, _ := math.Lgamma(float64(k + 1))
	c, _ := math.Lgamma(float64(n - k + 1))
	return a - b - c
}

// logAFrac is log A_α for a fractional α, from the two tails of the
// integral split at z₀ = σ² log(1/q − 1) + ½.
func logAFrac(q, sigma, alpha float64) float64 {
	logA0, logA1 := math.Inf(-1), math.Inf(-1)
	z0 := sigma*sigma*math.Log(1/q-1) + 0.5
	lq, l1q := math.Log(q), math.Log1p(-q)
	logCoef, sign := 0.0, 1.0 // log|C(α,i)| and its sign, built up term by term
	for i := 0; ; i++ {
		if i > 0 {
			d := alpha - float64(i-1)
			logCoef += math.Log(math.Abs(d)) - math.Log(float64(i))
			if d < 0 {
				sign = -sign
			}
		}
		fi, j := float64(i), alpha-float64(i)
		logT0 := logCoef + fi*lq + j*l1q
		logT1 := logCoef + j*lq + fi*l1q
		logE0 := math.Log(0.5) + logErfc((fi-z0)/(math.Sqrt2*sigma))
		logE1 := math.Log(0.5) + logErfc((z0-j)/(math.Sqrt2*sigma))
		logS0 := logT0 + (fi*fi-fi)/(2*sigma*sigma) + logE0
		logS1 := logT1 + (j*j-j)/(2*sigma*sigma) + logE1
		if sign > 0 {
			logA0, logA1 = logAdd(logA0, logS0), logAdd(logA1, logS1)
		} else {
			logA0, logA1 = logSub(logA0, logS0), logSub(logA1, logS1)
		}
		if math.Max(logS0, logS1) < -30 || i > 10000 {
			break
		}
	}
	return logAdd(logA0, logA1)
}

// logErfc is log(erfc(x)), accurate where erfc underflows: there the
// asymptotic expansion takes over.
func logErfc(x float64) float64 {
	if r := math.Erfc(x); x < 25 && r > 0 {
		return math.Log(r)
	}
	r := 1 / (x * x)
	return -math.Log(math.Pi)/2 - math.Log(x) - x*x - 0.5*r + 0.625*r*r - 37.0/24*r*r*r + 353.0/64*r*r*r*r
}

// logAdd is log(e^a + e^b), +Inf if either is.
func logAdd(a, b float64) float64 {
	if math.IsInf(a, -1) {
		return b
	}
	if math.IsInf(b, -1) {
		return a
	}
	hi, lo := math.Max(a, b), math.Min(a, b)
	if math.IsInf(hi, 1) {
		return hi
	}
	return hi + math.Log1p(math.Exp(lo-hi))
}

// logSub is log(e^a − e^b) for a ≥ b; −∞ when they are equal, and when
// rounding makes b exceed a (the difference is then below precision).
func logSub(a, b float64) float64 {
	if math.IsInf(b, -1) {
		return a
	}
	if b >= a {
		return math.Inf(-1)
	}
	return a + math.Log(-math.Expm1(b-a))
}

// EpsilonFromRDP converts RDP values at orders into (ε, δ)-DP with the
// conversion of Canonne, Kamath and Steinke 2020 (Prop. 12) and Asoodeh et
// al. 2020, as dp_accounting's compute_epsilon: it returns the smallest ε
// over the orders and the order that gives it.
func EpsilonFromRDP(orders, rdp []float64, delta float64) (eps, order float64) {
	if delta == 0 {
		for _, r := range rdp {
			if r > 0 {
				return math.Inf(1), 0
			}
		}
		return 0, 0
	}
	eps, order = math.Inf(1), math.NaN()
	for i, a := range orders {
		r := rdp[i]
		var e float64
		switch {
		case r < 0:
			e = 0
		case delta*delta+math.Expm1(-r) > 0:
			e = 0 // the KL bound δ ≤ √(1 − e^{−r}) already holds
		case a > 1.01:
			e = r + math.Log1p(-1/a) - math.Log(delta*a)/(a-1)
		default:
			e = math.Inf(1)
		}
		if e < eps {
			eps, order = e, a
		}
	}
	return math.Max(0, eps), order
}

// DeltaFromRDP is the inverse: the smallest δ over the orders at which the
// RDP values give (ε, δ)-DP, and that order.
func DeltaFromRDP(orders, rdp []float64, eps float64) (delta, order float64) {
	best, order := math.Inf(1), math.NaN()
	for i, a := range orders {
		r := rdp[i]
		if r < 0 {
			return 0, a
		}
		logD := 0.5 * math.Log1p(-math.Exp(-r))
		if a > 1.01 {
			logD = math.Min(logD, (a-1)*(r-eps+math.Log1p(-1/a))-math.Log(a))
		}
		if logD < best {
			best, order = logD, a
		}
	}
	return math.Min(math.Exp(best), 1), order
}

// RDP accumulates the Rényi DP of a sequence of mechanisms at fixed orders:
// composition adds.
type RDP struct {
	orders []float64
	rdp    []float64
}

// NewRDP returns an accountant at the given orders (DefaultOrders if nil).
func NewRDP(orders []float64) *RDP {
	if orders == nil {
		orders = DefaultOrders
	}
	return &RDP{orders: append([]float64(nil), orders...), rdp: make([]float64, len(orders))}
}

// ErrBadParameter is wrapped by every refusal of a nonsense parameter.
var ErrBadParameter = errors.New("bad privacy parameter")

// CheckMechanism validates a Poisson-subsampled Gaussian's parameters.
func CheckMechanism(q, sigma float64, count int) error {
	switch {
	case !(q > 0 && q <= 1):
		return fmt.Errorf("%w: sampling rate q must be in (0, 1], got %v", ErrBadParameter, q)
	case !(sigma >= 0) || math.IsInf(sigma, 1):
		return fmt.Errorf("%w: noise multiplier must be a non-negative number, got %v", ErrBadParameter, sigma)
	case count <= 0:
		return fmt.Errorf("%w: rounds must be positive, got %d", ErrBadParameter, count)
	}
	return nil
}

// ComposePoissonGaussian adds count rounds of the Poisson-subsampled
// Gaussian mechanism.
func (a *RDP) ComposePoissonGaussian(q, sigma float64, count int) error {
	if err := CheckMechanism(q, sigma, count); err != nil {
		return err
	}
	for i, o := range a.orders {
		a.rdp[i] += float64(count) * RDPPoissonGaussian(q, sigma, o)
	}
	return nil
}

// Epsilon is the ε spent so far at δ, and the order that gives it.
func (a *RDP) Epsilon(delta float64) (float64, float64, error) {
	if !(delta > 0 && delta < 1) {
		return 0, 0, fmt.Errorf("%w: δ must be in (0, 1), got %v", ErrBadParameter, delta)
	}
	eps, order := EpsilonFromRDP(a.orders, a.rdp, delta)
	return eps, order, nil
}

// Delta is the δ at which the composition is ε-DP, and the order.
func (a *RDP) Delta(eps float64) (float64, float64, error) {
	if !(eps >= 0) {
		return 0, 0, fmt.Errorf("%w: ε must be non-negative, got %v", ErrBadParameter, eps)
	}
	d, o := DeltaFromRDP(a.orders, a.rdp, eps)
	return d, o, nil
}

// Values are the accumulated RDP at each order.
func (a *RDP) Values() []float64 { return append([]float64(nil), a.rdp...) }

// EpsilonAfter is the ε at δ if count more rounds at (q, sigma) were added,
// without adding them.
func (a *RDP) EpsilonAfter(q, sigma float64, count int, delta float64) (float64, error) {
	b := &RDP{orders: a.orders, rdp: a.Values()}
	if err := b.ComposePoissonGaussian(q, sigma, count); err != nil {
		return 0, err
	}
	eps, _, err := b.Epsilon(delta)
	return eps, err
}
