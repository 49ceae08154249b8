package dataset

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
)

// SyntheticConfig sizes a generated population.
type SyntheticConfig struct {
	Users   int
	Items   int
	Events  int    // mean interactions per person; default 20
	Factors int    // latent topics; default 16
	Seed    uint64 // default 1
}

// Limits that keep a typo from asking for terabytes.
const (
	maxSyntheticUsers = 100_000_000
	maxSyntheticItems = 10_000_000
)

// ParseSynthetic parses the part of a "synthetic:" spec after the colon:
// comma-separated key=value pairs with keys users, items, events, factors,
// seed.
func ParseSynthetic(s string) (SyntheticConfig, error) {
	cfg := SyntheticConfig{}
	if s == "" {
		return cfg, fmt.Errorf("synthetic data needs users= and items=, e.g. synthetic:users=100000,items=10000")
	}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return cfg, fmt.Errorf("synthetic spec: %q is not key=value", kv)
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			return cfg, fmt.Errorf("synthetic spec: %s=%q is not a positive integer", k, v)
		}
		switch k {
		case "users":
			cfg.Users = int(min(n, math.MaxInt32))
		case "items":
			cfg.Items = int(min(n, math.MaxInt32))
		case "events":
			cfg.Events = int(min(n, math.MaxInt32))
		case "factors":
			cfg.Factors = int(min(n, math.MaxInt32))
		case "seed":
			cfg.Seed = uint64(n)
		default:
			return cfg, fmt.Errorf("synthetic spec: unknown key %q (valid: users, items, events, factors, seed)", k)
		}
	}
	return cfg, nil
}

func (c *SyntheticConfig) fill() error {
	if c.Events == 0 {
		c.Events = 20
	}
	if c.Factors == 0 {
		c.Factors = 16
	}
	if c.Seed == 0 {
		c.Seed = 1
	}
	switch {
	case c.Users <= 0 || c.Users > maxSyntheticUsers:
		return fmt.Errorf("synthetic users must be in [1, %d], got %d", maxSyntheticUsers, c.Users)
	case c.Items < 4 || c.Items > maxSyntheticItems:
		return fmt.Errorf("synthetic items must be in [4, %d], got %d", maxSyntheticItems, c.Items)
	case c.Events < 2 || c.Events > c.Items/2:
		return fmt.Errorf("synthetic events must be in [2, items/2 = %d], got %d", c.Items/2, c.Events)
	case c.Factors < 1 || c.Factors > c.Items:
		return fmt.Errorf("synthetic factors must be in [1, items = %d], got %d", c.Items, c.Factors)
	}
	return nil
}

// Synthetic generates a population that matrix factorisation can learn: a
// topic model with Zipf (exponent 1) item popularity. Each item belongs to
// one topic, and to a second with probability 0.3; each person mixes one to
// three topics; each person's activity is lognormal (σ 1) with mean Events,
// at least 2 and at most Items/2. An interaction picks a topic from the
// person's mix (or, one time in ten, the whole catalogue) and an item from
// it by popularity, avoiding repeats. Interactions are in time order. The
// same config gives the same log; the memory is the log itself plus O(Items).
func Synthetic(cfg SyntheticConfig) (*Log, error) {
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0))
	pop := make([]float64, cfg.Items)
	for i, r := range rng.Perm(cfg.Items) {
		pop[i] = 1 / float64(r+1)
	}
	members := make([][]int32, cfg.Factors)
	for i := range cfg.Items {
		t := rng.IntN(cfg.Factors)
		members[t] = append(members[t], int32(i))
		if rng.Float64() < 0.3 {
			if t2 := rng.IntN(cfg.Factors); t2 != t {
				members[t2] = append(members[t2], int32(i))
			}
		}
	}
	topics := make([]*alias, cfg.Factors)
	for t, m := range members {
		topics[t] = newAlias(m, pop)
	}
	all := make([]int32, cfg.Items)
	for i := range all {
		all[i] = int32(i)
	}
	catalogue := newAlias(all, pop)

	l := &Log{Name: fmt.Sprintf("synthetic:users=%d,items=%d,events=%d,factors=%d,seed=%d",
		cfg.Users, cfg.Items, cfg.Events, cfg.Factors, cfg.Seed), NumUsers: cfg.Users, NumItems: cfg.Items}
	l.offsets = make([]int64, cfg.Users+1)
	l.items = make([]int32, 0, cfg.Users*cfg.Events)
	const sigma = 1.0
	mu := math.Log(float64(cfg.Events)) - sigma*sigma/2
	var mix []int
	seen := map[int32]struct{}{}
	for u := range cfg.Users {
		ur := rand.New(rand.NewPCG(cfg.Seed, uint64(u)+1))
		n := int(math.Round(math.Exp(mu + sigma*ur.NormFloat64())))
		n = max(2, min(n, cfg.Items/2))
		mix = mix[:0]
		for range 1 + ur.IntN(3) {
			mix = append(mix, ur.IntN(cfg.Factors))
		}
		clear(seen)
		for len(seen) < n {
			src := catalogue
			if ur.Float64() >= 0.1 {
				if t := topics[mix[ur.IntN(len(mix))]]; t != nil {
					src = t
				}
			}
			it := src.draw(ur)
			if _, dup := seen[it]; dup {
				it = catalogue.draw(ur) // a bounded fallback: topics may be smaller than n
				if _, dup := seen[it]; dup {
					continue
				}
			}
			seen[it] = struct{}{}
			l.items = append(l.items, it)
		}
		l.offsets[u+1] = int64(len(l.items))
	}
	l.items = slices.Clip(l.items)
	return l, nil
}

// alias is Walker's alias table: O(1) draws from a discrete distribution.
type alias struct {
	items []int32
	prob  []float64
	alt   []int32
}

func newAlias(items []int32, weight []float64) *alias {
	n := len(items)
	if n == 0 {
		return nil
	}
	a := &alias{items: items, prob: make([]float64, n), alt: make([]int32, n)}
	var total float64
	for _, it := range items {
		total += weight[it]
	}
	scaled := make([]float64, n)
	var small, large []int32
	for j, it := range items {
		scaled[j] = weight[it] * float64(n) / total
		if scaled[j] < 1 {
			small = append(small, int32(j))
		} else {
			large = append(large, int32(j))
		}
	}
	for len(small) > 0 && len(large) > 0 {
		s, g := small[len(small)-1], large[len(large)-1]
		small = small[:len(small)-1]
		a.prob[s], a.alt[s] = scaled[s], g
		scaled[g] -= 1 - scaled[s]
		if scaled[g] < 1 {
			large = large[:len(large)-1]
			small = append(small, g)
		}
	}
	for _, j := range append(small, large...) {
		a.prob[j], a.alt[j] = 1, j
	}
	return a
}

func (a *alias) draw(r *rand.Rand) int32 {
	j := r.IntN(len(a.items))
	if r.Float64() >= a.prob[j] {
		j = int(a.alt[j])
	}
	return a.items[j]
}
