package simulate

import (
	"context"
	"errors"
	"time"

	"github.com/tacitfl/tacit/dataset"
	"github.com/tacitfl/tacit/model"
)

// Central trains the same model on the same split centrally, by alternating
// least squares over everyone's data pooled: the twin that federated runs
// are measured against. Its summary has the shape of Run's, with Rounds
// counting ALS iterations. A cancelled ctx stops training after the current
// iteration; the summary then covers the iterations done.
func Central(ctx context.Context, cfg Config, data *dataset.Log, obs Observer) (Summary, error) {
	start := time.Now()
	pop, err := newPopulation(data, cfg)
	if err != nil {
		return Summary{}, err
	}
	mc := cfg.Model.Config()
	iterStart := time.Now()
	done := 0
	m, err := model.TrainALS(mc, data.NumItems, data.NumUsers, pop, model.ALSOptions{
		Iterations: cfg.ALSIterations, Seed: cfg.Seed, Workers: cfg.Workers,
		AfterIteration: func(it int, m *model.MF) error {
			rec := Round{Round: int64(it), Committed: true, Opened: iterStart, Reports: len(pop.people)}
			if it == cfg.ALSIterations || (cfg.EvalEvery > 0 && it%cfg.EvalEvery == 0) {
				met := pop.evaluate(m, mc, cfg)
				rec.HR, rec.NDCG = &met.HR, &met.NDCG
			}
			rec.Seconds = time.Since(iterStart).Seconds()
			iterStart = time.Now()
			if obs != nil {
				obs.Round(rec)
			}
			done = it
			return ctx.Err()
		},
	})
	if err != nil && !errors.Is(err, context.Canceled) {
		return Summary{}, err
	}
	return newSummary("central", data, cfg, done, pop.evaluate(m, mc, cfg), start), err
}
