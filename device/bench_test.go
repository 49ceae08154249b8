package device

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/tacitfl/tacit/client"
	"github.com/tacitfl/tacit/dataset"
	"github.com/tacitfl/tacit/model"
)

// The device's resource bounds on ml-latest-small's largest person, at the
// coordinator's default model (64 factors over 9,724 items):
//
//	go test -run '^$' -bench . -benchtime 40x ./device
//
// BenchmarkOpen reports the time and allocation of opening a device,
// BenchmarkRecommend reports the device's time to recommend (reading the
// person's events from the store, ranking, and explaining) against the
// prepared model's ranking of the same positives in memory (the baseline,
// in the same run), BenchmarkStore the bytes a stored event costs, BenchmarkTraining
// the heap a round of training holds.

func largestDevice(b *testing.B) (*Device, *dataset.Log, int, *model.MF, model.Config) {
	l, err := dataset.Embedded()
	if err != nil {
		b.Fatal(err)
	}
	u := largestPerson(l)
	d := importPerson(b, l, u, len(l.Items(u)))
	cfg := model.DefaultConfig()
	m, _ := model.NewMF(l.NumItems, cfg.Factors, 1)
	if err := d.saveModel(modelHeader{Version: 1, Items: m.Items, Config: cfg}, m.Params); err != nil {
		b.Fatal(err)
	}
	return d, l, u, m, cfg
}

func BenchmarkRecommend(b *testing.B) {
	d, l, u, m, cfg := largestDevice(b)
	b.Logf("person %s: %d ratings", l.UserIDs[u], len(l.Items(u)))
	items, ages := dataset.Positives(l.Items(u))
	pos := model.Positives{Items: items, Ages: ages}
	p := model.Prepare(m, cfg)
	b.Run("baseline=model-ranking", func(b *testing.B) {
		for b.Loop() {
			if _, err := p.Recommend(pos, 10); err != nil {
				b.Fatal(err)
			}
		}
	})
	for _, explain := range []bool{false, true} {
		b.Run(fmt.Sprintf("device/explain=%v", explain), func(b *testing.B) {
			for b.Loop() {
				if _, err := d.Recommend(10, explain); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkStore(b *testing.B) {
	l, err := dataset.Embedded()
	if err != nil {
		b.Fatal(err)
	}
	u := largestPerson(l)
	for _, n := range []int{len(l.Items(u)), DefaultMaxEvents} {
		b.Run(fmt.Sprintf("events=%d", n), func(b *testing.B) {
			for b.Loop() {
				b.StopTimer()
				d := importPerson(b, l, u, len(l.Items(u)))
				batch := NewBatch()
				for i := len(l.Items(u)); i < n; i++ { // the person's ratings again, a day later each time round
					j := i % len(l.Items(u))
					batch.Add(&Event{Kind: "rating", Item: l.ItemIDs[l.Items(u)[j]], UnixMillis: l.Times(u)[j]*1000 + int64(i/len(l.Items(u)))*86_400_000})
				}
				b.StartTimer()
				if _, err := d.RecordBatch(batch); err != nil {
					b.Fatal(err)
				}
				b.StopTimer()
				fi, err := os.Stat(filepath.Join(d.dir, storeFile))
				if err != nil {
					b.Fatal(err)
				}
				d.Close()
				b.ReportMetric(float64(fi.Size())/float64(n), "file-bytes/event")
				b.StartTimer()
			}
		})
	}
}

func BenchmarkTraining(b *testing.B) {
	d, _, _, m, cfg := largestDevice(b)
	d.SetConditions(true, true, true)
	d.policy.AllowPlain = true
	c := &coordinator{params: m.Params}
	var before, after runtime.MemStats
	for b.Loop() {
		c.mu.Lock()
		c.plan = &client.Plan{Round: 1, ModelVersion: 1, Items: m.Items, Model: cfg, Local: model.LocalConfig{Epochs: 1, LR: 0.1}}
		c.mu.Unlock()
		runtime.GC()
		runtime.ReadMemStats(&before)
		a := client.NewAgent(client.Data{}, c, client.NewWorkspace(), nil).KeepLedger(d.ledger, d.policy).
			WithSource(d.trainingData).WithConditions(d.currentConditions)
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		if _, err := a.Step(ctx); err != nil {
			b.Fatal(err)
		}
		cancel()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.TotalAlloc-before.TotalAlloc)/(1<<20), "MiB-allocated/round")
		runtime.GC()
		runtime.ReadMemStats(&after)
		b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/(1<<20), "MiB-held-after")
		runtime.KeepAlive(a)
	}
}

func BenchmarkOpen(b *testing.B) {
	dir := filepath.Join(b.TempDir(), "dev")
	b.ReportAllocs()
	for b.Loop() {
		d, err := Open(dir, nil)
		if err != nil {
			b.Fatal(err)
		}
		d.Close()
	}
}
