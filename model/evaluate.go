package model

import (
	"math/rand/v2"
	"runtime"
	"sync"
)

// Histories gives each person's training interactions.
type Histories interface {
	Positives(u int) Positives
}

// EvalOptions set the evaluation protocol's knobs.
type EvalOptions struct {
	K         int    // cutoff, 10 in the protocol
	Negatives int    // sampled negatives for the secondary metric, 99 in the protocol
	Seed      uint64 // seeds the sampled negatives; person u's draw depends only on (Seed, u)
	Workers   int    // goroutines; 0 means GOMAXPROCS
}

// DefaultEvalOptions is the protocol of DESIGN.md.
func DefaultEvalOptions() EvalOptions { return EvalOptions{K: 10, Negatives: 99, Seed: 1} }

// Metrics are ranking metrics averaged over the evaluated people.
type Metrics struct {
	Users       int     `json:"users"`
	HR          float64 `json:"hr_at_10"`
	NDCG        float64 `json:"ndcg_at_10"`
	SampledHR   float64 `json:"sampled_hr_at_10"`
	SampledNDCG float64 `json:"sampled_ndcg_at_10"`
}

// PersonMetrics are one person's contributions to Metrics: what a device
// computes locally and reports for federated evaluation.
type PersonMetrics struct {
	HR, NDCG, SampledHR, SampledNDCG float64
}

// Evaluator computes one person's metrics as their device would: solve the
// person's vector against the model, score every item, rank the test item.
// It holds scratch space; use one per goroutine.
type Evaluator struct {
	p      *Prepared
	opts   EvalOptions
	solver *solver
	user   []float32
	scores []float32
}

// NewEvaluator returns an evaluator of the prepared model.
func NewEvaluator(p *Prepared, opts EvalOptions) *Evaluator {
	return &Evaluator{p: p, opts: opts, solver: newSolver(p.M.Factors),
		user: make([]float32, p.M.Factors), scores: make([]float32, p.M.Items)}
}

// Person evaluates person u with training items train and test item test.
func (e *Evaluator) Person(u int, pos Positives, test int32) PersonMetrics {
	var pm PersonMetrics
	train := pos.Items
	if !e.p.solveUser(e.solver, pos, e.user) {
		return pm // a singular solve scores nothing: counted as a miss
	}
	e.p.M.Score(e.user, e.scores)
	pm.HR, pm.NDCG = HitNDCG(FullRank(e.scores, train, test), e.opts.K)
	rng := rand.New(rand.NewPCG(e.opts.Seed, uint64(u)))
	pm.SampledHR, pm.SampledNDCG = HitNDCG(SampledRank(e.scores, train, test, e.opts.Negatives, rng), e.opts.K)
	return pm
}

// Evaluate averages the metrics over the people in users (all people with a
// test item when users is nil). test[u] < 0 marks a person without a test
// item, who is skipped. The sum runs in the order of users whatever the
// number of workers, so the result is deterministic.
func Evaluate(p *Prepared, h Histories, test []int32, users []int, opts EvalOptions) Metrics {
	if users == nil {
		for u, t := range test {
			if t >= 0 {
				users = append(users, u)
			}
		}
	}
	per := make([]PersonMetrics, len(users))
	parallel(len(users), opts.Workers, func() func(i int) {
		ev := NewEvaluator(p, opts)
		return func(i int) {
			u := users[i]
			if test[u] >= 0 {
				per[i] = ev.Person(u, h.Positives(u), test[u])
			}
		}
	})
	var m Metrics
	for i, u := range users {
		if test[u] < 0 {
			continue
		}
		m.Users++
		m.HR += per[i].HR
		m.NDCG += per[i].NDCG
		m.SampledHR += per[i].SampledHR
		m.SampledNDCG += per[i].SampledNDCG
	}
	if m.Users > 0 {
		n := float64(m.Users)
		m.HR, m.NDCG, m.SampledHR, m.SampledNDCG = m.HR/n, m.NDCG/n, m.SampledHR/n, m.SampledNDCG/n
	}
	return m
}

// parallel runs work(i) for i in [0, n) on workers goroutines, each with its
// own state built by newWorker. Items are handed out in chunks so scheduling
// costs nothing next to the work.
func parallel(n, workers int, newWorker func() func(i int)) {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	const chunk = 16
	var next int
	var mu sync.Mutex
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			work := newWorker()
			for {
				mu.Lock()
				lo := next
				next += chunk
				mu.Unlock()
				if lo >= n {
					return
				}
				for i := lo; i < min(lo+chunk, n); i++ {
					work(i)
				}
			}
		}()
	}
	wg.Wait()
}
