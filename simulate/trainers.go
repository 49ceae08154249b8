package simulate

import (
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/tacitfl/tacit/aggregate"
	"github.com/tacitfl/tacit/client"
	"github.com/tacitfl/tacit/model"
)

// trainers run virtual devices in parallel. Each worker adds its devices'
// updates to a mean of its own; the round's mean merges them. Mean sums are
// exact and order-free, so the model does not depend on scheduling or on
// the number of workers. Memory is one update buffer and one mean per
// worker, whatever the cohort size.
type trainers struct {
	workers []*worker
	losses  []float64 // per cohort position, summed in order for a reproducible loss
}

type worker struct {
	tr   *model.Trainer
	buf  []float32
	mean *aggregate.Mean
	err  error
}

func newTrainers(dim, factors, workers int) *trainers {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	t := &trainers{}
	for range workers {
		t.workers = append(t.workers, &worker{tr: model.NewTrainer(factors), buf: make([]float32, dim), mean: aggregate.NewMean(dim)})
	}
	return t
}

// train runs every device of the cohort and adds its update to mean; it
// returns the sum of the devices' losses.
func (t *trainers) train(global *model.Prepared, pop *population, cohort []int, plan client.Plan, mean *aggregate.Mean) (float64, error) {
	if cap(t.losses) < len(cohort) {
		t.losses = make([]float64, len(cohort))
	}
	losses := t.losses[:len(cohort)]
	var next atomic.Int64
	var wg sync.WaitGroup
	for _, w := range t.workers {
		w.mean.Reset()
		w.err = nil
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				j := int(next.Add(1)) - 1
				if j >= len(cohort) || w.err != nil {
					return
				}
				r, err := client.Train(w.tr, global, pop.Positives(cohort[j]), plan, w.buf)
				if err == nil {
					err = w.mean.Add(w.buf, r.Weight)
				}
				w.err = err
				losses[j] = r.Loss
			}
		}()
	}
	wg.Wait()
	for _, w := range t.workers {
		if w.err != nil {
			return 0, w.err
		}
		if err := mean.Merge(w.mean); err != nil {
			return 0, err
		}
	}
	var loss float64
	for _, l := range losses {
		loss += l
	}
	return loss, nil
}
