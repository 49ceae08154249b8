package simulate

import (
	"context"
	"sync"
	"testing"
	"time"

	"gonum.org/v1/gonum/blas/blas32"

	"github.com/tacitfl/tacit/dataset"
	"github.com/tacitfl/tacit/model"
)

// BenchmarkClientUpdates is the simulator's speed: virtual-device updates per
// second (no privacy) on ml-latest-small with 32 factors, everyone in each
// round, through the coordinator's round machine and the client's agent, and
// the ratio to a memory-bandwidth bound measured in the same run: one float32
// axpy over the shared parameters per update, on as many goroutines as
// workers. A ratio of 1 would mean an update costs no more than touching the
// model once.
func BenchmarkClientUpdates(b *testing.B) {
	data, err := dataset.Embedded()
	if err != nil {
		b.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.Factors = 32
	pop, err := newPopulation(data, cfg)
	if err != nil {
		b.Fatal(err)
	}
	m, _ := model.NewMF(data.NumItems, cfg.Factors, 1)
	fed, err := newFederation(cfg, pop, data.NumItems, m)
	if err != nil {
		b.Fatal(err)
	}
	var updates int
	start := time.Now()
	for b.Loop() {
		o, err := fed.round(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		updates += o.Reports
	}
	perSecond := float64(updates) / time.Since(start).Seconds()
	axpyPerSecond := axpyRate(len(m.Params), updates, len(fed.spaces))
	b.ReportMetric(perSecond, "updates/s")
	b.ReportMetric(axpyPerSecond, "axpys/s")
	b.ReportMetric(perSecond/axpyPerSecond, "ratio-to-axpy")
	b.ReportMetric(0, "ns/op")
}

// axpyRate times n float32 axpys of dim values spread over workers
// goroutines and returns axpys per second.
func axpyRate(dim, n, workers int) float64 {
	x := make([]float32, dim)
	for i := range x {
		x[i] = float32(i%89) * 0.01
	}
	ys := make([][]float32, workers)
	for w := range ys {
		ys[w] = make([]float32, dim)
	}
	start := time.Now()
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			y := blas32.Vector{N: dim, Inc: 1, Data: ys[w]}
			for j := w; j < n; j += workers {
				blas32.Axpy(1, blas32.Vector{N: dim, Inc: 1, Data: x}, y)
			}
		}()
	}
	wg.Wait()
	return float64(n) / time.Since(start).Seconds()
}
