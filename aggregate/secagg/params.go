package secagg

import (
	"errors"
	"fmt"
	"math"
)

// ThreatModel is the adversary FindParams defends against.
type ThreatModel int

const (
	// NoAdversary tolerates dropouts only; the adversary rate must be 0.
	// The threshold is still a strict majority of each neighbourhood, so a
	// server that lies about dropouts (with no client on its side) cannot
	// collect both secrets of a client.
	NoAdversary ThreatModel = iota
	// SemiHonest is an honest-but-curious server colluding with a fraction
	// of honest-but-curious clients. The threshold is also a strict majority
	// of each neighbourhood (2t > k+1), which NewClient insists on by
	// default: a server lying about dropouts without colluders cannot
	// rebuild both secrets of one client.
	SemiHonest
	// SemiMalicious also lets the server lie about which clients dropped
	// while colluding with clients (Bell et al. 2020, §5), which forces t
	// above half of the neighbourhood plus the colluders in it.
	SemiMalicious
	// HonestServer is SemiHonest (or, at adversary rate 0, NoAdversary)
	// with a server trusted never to lie about dropouts: federated-compute's
	// published parameters, whose threshold may be a minority of the
	// neighbourhood. Clients refuse such a threshold unless told the server
	// is trusted (ClientOptions.HonestServer).
	HonestServer
)

func (m ThreatModel) String() string {
	switch m {
	case NoAdversary:
		return "none"
	case SemiHonest:
		return "semi-honest"
	case SemiMalicious:
		return "semi-malicious"
	case HonestServer:
		return "honest-server"
	}
	return fmt.Sprintf("ThreatModel(%d)", int(m))
}

// MaxParamClients is the largest population FindParams accepts, as in the
// reference implementation.
const MaxParamClients = 1_000_000

var (
	// ErrInvalidParams reports arguments outside FindParams' domain.
	ErrInvalidParams = errors.New("secagg: invalid parameter-finder arguments")
	// ErrInfeasible reports that no degree below n−1 meets the security and
	// correctness targets (use the full graph, or lower the rates).
	ErrInfeasible = errors.New("secagg: no Harary graph parameters meet the requirements")
)

const (
	securityBits    = 40    // P(an adversary learns a sum of too few inputs) < 2^-40
	correctnessBits = 20    // P(the round fails for lack of survivors) < 2^-20
	rateSlack       = 1e-14 // keeps rounding of rate·n from moving in the insecure direction
)

// CheckRates refuses adversary and dropout rates no graph can meet under
// the threat model, whatever the number of clients.
func CheckRates(adversaryRate, dropoutRate float64, model ThreatModel) error {
	switch {
	case !(adversaryRate >= 0 && adversaryRate < 1):
		return fmt.Errorf("%w: adversary rate %v not in [0, 1)", ErrInvalidParams, adversaryRate)
	case !(dropoutRate >= 0 && dropoutRate < 1):
		return fmt.Errorf("%w: dropout rate %v not in [0, 1)", ErrInvalidParams, dropoutRate)
	case model != NoAdversary && model != SemiHonest && model != SemiMalicious && model != HonestServer:
		return fmt.Errorf("%w: unknown threat model %v", ErrInvalidParams, model)
	case model == NoAdversary && adversaryRate > 0:
		return fmt.Errorf("%w: threat model %v needs adversary rate 0, got %v", ErrInvalidParams, model, adversaryRate)
	case model != SemiMalicious && adversaryRate+dropoutRate > 0.9:
		return fmt.Errorf("%w: %v needs adversary + dropout rate <= 0.9, got %v + %v", ErrInfeasible, model, adversaryRate, dropoutRate)
	case model == SemiMalicious && adversaryRate+2*dropoutRate > 0.9:
		return fmt.Errorf("%w: %v needs adversary + 2·dropout rate <= 0.9, got %v + 2·%v", ErrInfeasible, model, adversaryRate, dropoutRate)
	}
	return nil
}

// FullGraphParams is plain SecAgg's (everyone each other's neighbour,
// k = n−1) largest threshold that survives the dropouts, t = ⌈(1−δ)n⌉
// (at least 2), checked against the colluders as federated-compute's
// CheckFullGraphParameters does: semi-honest (HonestServer) needs
// t > ⌈a·n⌉, semi-malicious t > ⌈(n + a·n)/2⌉; NoAdversary and SemiHonest
// also need a strict majority, t > n/2. It is what a cohort too small for
// a sparser graph (FindParams' ErrInfeasible) uses.
func FullGraphParams(n int, adversaryRate, dropoutRate float64, model ThreatModel) (k, t int, err error) {
	if n < 2 || n > MaxParamClients {
		return 0, 0, fmt.Errorf("%w: n = %d, want 2..%d", ErrInvalidParams, n, MaxParamClients)
	}
	if err := CheckRates(adversaryRate, dropoutRate, model); err != nil {
		return 0, 0, err
	}
	t = max(2, int(math.Ceil((1-dropoutRate-rateSlack)*float64(n))))
	colluders := int(math.Ceil(adversaryRate * float64(n)))
	need := colluders + 1
	switch model {
	case SemiMalicious:
		need = int(math.Ceil(float64(n+colluders)/2)) + 1
	case NoAdversary, SemiHonest:
		need = max(need, n/2+1)
	}
	if t < need {
		return 0, 0, fmt.Errorf("%w: the full graph of %d clients needs a threshold of at least %d to resist %d colluders but at most %d to survive the dropouts",
			ErrInfeasible, n, need, colluders, t)
	}
	return n - 1, t, nil
}

// FindParams returns the number of neighbours k (even, excluding the client
// itself) and the Shamir threshold t (counted over the k+1 shares a client
// makes, its own included) for a random Harary graph on n clients of which
// at most adversaryRate·n collude with the server and dropoutRate·n drop
// out. It is the parameter finder of Google's federated-compute
// (ComputeHararyGraphParameters, graph_parameter_finder.cc): statistical
// security 2^-40 (2^-41 for each of the two bad events) and failure
// probability below 2^-20. For NoAdversary and SemiHonest the threshold is
// moreover a strict majority of the neighbourhood (t > (k+1)/2, so at
// least k/2 + 1), which can take a larger k; HonestServer gives the
// published semi-honest values without that floor.
func FindParams(n int, adversaryRate, dropoutRate float64, model ThreatModel) (k, t int, err error) {
	if n <= 0 || n > MaxParamClients {
		return 0, 0, fmt.Errorf("%w: n = %d, want 1..%d", ErrInvalidParams, n, MaxParamClients)
	}
	if err := CheckRates(adversaryRate, dropoutRate, model); err != nil {
		return 0, 0, err
	}
	f := finder{
		n:         n,
		adversary: int(math.Floor((adversaryRate + rateSlack) * float64(n))),
		dropouts:  int(math.Floor((dropoutRate + rateSlack) * float64(n))),
		survivors: int(math.Ceil((1 - dropoutRate - rateSlack) * float64(n))),
		model:     model,
	}
	for k := 2; k < n-1; k += 2 {
		if t, ok := f.threshold(k); ok {
			return k, t, nil
		}
	}
	return 0, 0, fmt.Errorf("%w: n = %d, adversary rate %v, dropout rate %v, %v", ErrInfeasible, n, adversaryRate, dropoutRate, model)
}

type finder struct {
	n, adversary, dropouts, survivors int
	model                             ThreatModel
}

// threshold returns t for degree k, or false when k is too small.
func (f finder) threshold(k int) (int, bool) {
	logEventBound := -(securityBits + 1) * math.Ln2
	if f.logProbDisconnected(k) >= logEventBound {
		return 0, false
	}
	n := float64(f.n)
	// t1: P(more than t1 of a client's k neighbours are adversarial) is
	// below 2^-41/n. t2: P(at most t2 of them survive) reaches 2^-20/n.
	adversarial := hypergeometric{total: f.n, marked: f.adversary, sampled: k}
	surviving := hypergeometric{total: f.n, marked: f.survivors, sampled: k}
	t1 := adversarial.upperQuantile(logEventBound - math.Log(n))
	logCorrect := -correctnessBits*math.Ln2 - math.Log(n)
	t2 := surviving.lowerQuantile(logCorrect)
	if surviving.logCDF(t2) < logCorrect {
		t2++
	}
	switch f.model {
	case SemiMalicious:
		// t must exceed (t1 + k)/2 so that a server lying about dropouts
		// cannot collect t shares of both kinds from honest neighbours.
		t1 = int(math.Ceil((float64(t1+k) - 1.25) / 2))
	case NoAdversary, SemiHonest:
		// t = t1 + 1 must be a strict majority of the k+1 shares.
		t1 = max(t1, k/2)
	}
	if t2 <= t1 {
		return 0, false
	}
	return max(t1+1, 2), true
}

// logProbDisconnected bounds (union bound) the log probability that the
// Harary graph of degree k falls apart once the adversarial and dropped
// clients are removed: that needs k/2 consecutive bad clients in two places
// on the circle.
func (f finder) logProbDisconnected(k int) float64 {
	bad := f.adversary + f.dropouts
	if k > bad {
		return math.Inf(-1)
	}
	n := float64(f.n)
	logGapPairs := math.Log(n) + math.Log(n-float64(k)-1) - math.Ln2
	return logGapPairs + lgamma(bad+1) + lgamma(f.n-k+1) - lgamma(f.n+1) - lgamma(bad-k+1)
}

func lgamma(x int) float64 {
	v, _ := math.Lgamma(float64(x))
	return v
}

// hypergeometric is the number of marked items in a sample drawn without
// replacement. All probabilities are kept as logarithms: for a million
// clients the tails of interest are far below the float64 range of the
// probabilities themselves.
type hypergeometric struct{ total, marked, sampled int }

// logPMF is ln P(X = x) when counted items of the population are marked.
func (h hypergeometric) logPMF(x, counted int) float64 {
	if x < 0 || x > h.sampled || x > counted || h.total+x < counted+h.sampled {
		return math.Inf(-1)
	}
	return lgamma(h.sampled+1) + lgamma(counted+1) + lgamma(h.total-counted+1) +
		lgamma(h.total-h.sampled+1) - lgamma(x+1) - lgamma(h.sampled-x+1) -
		lgamma(counted-x+1) - lgamma(h.total+1) - lgamma(h.total-h.sampled-counted+x+1)
}

// logLowerTail is ln P(X <= x) when counted items are marked, summed from x
// downward relative to P(X = x) until the terms stop mattering.
func (h hypergeometric) logLowerTail(x, counted int) float64 {
	lp := h.logPMF(x, counted)
	if math.IsInf(lp, -1) {
		return lp
	}
	sum, term := 1.0, 1.0
	for i := x; i > 0; i-- {
		term *= float64(i) * float64(h.total-counted-h.sampled+i) /
			(float64(counted-i+1) * float64(h.sampled-i+1))
		if term <= sum*1e-16 {
			break
		}
		sum += term
	}
	return lp + math.Log(sum)
}

// logCDF is ln P(X <= x), computed from the shorter tail.
func (h hypergeometric) logCDF(x int) float64 {
	mean := float64(h.marked) * float64(h.sampled) / float64(h.total)
	if float64(x) > mean {
		return math.Log1p(-math.Exp(h.logLowerTail(h.sampled-x-1, h.total-h.marked)))
	}
	return h.logLowerTail(x, h.marked)
}

// lowerQuantile is the largest x with P(X <= x) < e^logQ ("rounded
// outward", away from the median); logQ must be far below ln ½.
func (h hypergeometric) lowerQuantile(logQ float64) int {
	return h.lowerQuantileOf(logQ, h.marked)
}

// upperQuantile is the smallest x with P(X > x) < e^logQ.
func (h hypergeometric) upperQuantile(logQ float64) int {
	return h.sampled - h.lowerQuantileOf(logQ, h.total-h.marked) - 1
}

func (h hypergeometric) lowerQuantileOf(logQ float64, counted int) int {
	// Start below the answer: the support's lower end, or the inverted
	// Hoeffding bound.
	s := float64(h.sampled)
	hoeffding := s * (float64(counted)/float64(h.total) - math.Sqrt(-logQ/(2*s)))
	x := int(math.Floor(max(-1, float64(counted+h.sampled-h.total-1), hoeffding)))
	logCDF := h.logLowerTail(x, counted)
	logPMF := h.logPMF(x, counted)
	for logCDF < logQ && x < h.sampled {
		if math.IsInf(logPMF, -1) {
			logPMF = h.logPMF(x+1, counted)
		} else {
			logPMF += math.Log(float64(counted-x)) + math.Log(float64(h.sampled-x)) -
				math.Log(float64(x+1)) - math.Log(float64(h.total-counted-h.sampled+x+1))
		}
		logCDF = logAddExp(logCDF, logPMF)
		x++
	}
	return x - 1
}

func logAddExp(a, b float64) float64 {
	if a < b {
		a, b = b, a
	}
	if math.IsInf(b, -1) {
		return a
	}
	return a + math.Log1p(math.Exp(b-a))
}
