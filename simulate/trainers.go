package simulate

import (
	"runtime"
	"sync"

	"github.com/tacitfl/tacit/aggregate"
	"github.com/tacitfl/tacit/client"
	"github.com/tacitfl/tacit/model"
)

// trainers run virtual devices in parallel and feed their updates to the
// mean in cohort order, so the sum, and so the model, does not depend on
// scheduling. Memory is a fixed number of update buffers, whatever the
// cohort size.
type trainers struct {
	workers int
	tr      []*model.Trainer // one per worker
	bufs    [][]float32      // one update buffer per slot of a batch
	reports []client.Report
	errs    []error
}

// slotsPerWorker sets the batch size: enough slots that a worker rarely
// waits for the others at the end of a batch, few enough to keep memory flat.
const slotsPerWorker = 4

func newTrainers(dim, factors, workers int) *trainers {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	t := &trainers{workers: workers}
	for range workers {
		t.tr = append(t.tr, model.NewTrainer(factors))
	}
	slots := workers * slotsPerWorker
	for range slots {
		t.bufs = append(t.bufs, make([]float32, dim))
	}
	t.reports = make([]client.Report, slots)
	t.errs = make([]error, slots)
	return t
}

// train runs every device of the cohort and adds its update to mean; it
// returns the sum of the devices' losses.
func (t *trainers) train(global *model.Prepared, pop *population, cohort []int, plan client.Plan, mean *aggregate.Mean) (float64, error) {
	var loss float64
	slots := len(t.bufs)
	for lo := 0; lo < len(cohort); lo += slots {
		batch := cohort[lo:min(lo+slots, len(cohort))]
		var wg sync.WaitGroup
		for w := range min(t.workers, len(batch)) {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for j := w; j < len(batch); j += t.workers {
					t.reports[j], t.errs[j] = client.Train(t.tr[w], global, pop.Positives(batch[j]), plan, t.bufs[j])
				}
			}()
		}
		wg.Wait()
		for j := range batch {
			if t.errs[j] != nil {
				return 0, t.errs[j]
			}
			if err := mean.Add(t.bufs[j], t.reports[j].Weight); err != nil {
				return 0, err
			}
			loss += t.reports[j].Loss
		}
	}
	return loss, nil
}
