package device

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/tacitfl/tacit/aggregate/secagg"
	"github.com/tacitfl/tacit/client"
	"github.com/tacitfl/tacit/model"
)

// coordinator is a fake coordinator of plain rounds over the five-item
// catalogue: each round is one check-in and one report.
type coordinator struct {
	mu       sync.Mutex
	plan     *client.Plan
	params   []float32
	checkIns int
	reports  []client.Upload
}

func (c *coordinator) CheckIn(context.Context, int64) (*client.Plan, time.Duration, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.checkIns++
	if c.plan == nil {
		return nil, time.Hour, nil
	}
	p := *c.plan
	return &p, 0, nil
}

func (c *coordinator) DownloadModel(_ context.Context, _ int64, _ int, dst []float32) ([]float32, error) {
	return append(dst[:0], c.params...), nil
}

func (c *coordinator) Report(_ context.Context, u client.Upload) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.reports = append(c.reports, u)
	c.plan = nil // one report a round
	return nil
}

func (c *coordinator) SecAggSend(context.Context, int64, secagg.ClientMessage, int) error {
	return errors.New("no secure aggregation here")
}

func (c *coordinator) SecAggFetch(context.Context, int64, secagg.Phase, secagg.ClientID) (secagg.ServerMessage, time.Duration, error) {
	return nil, 0, errors.New("no secure aggregation here")
}

func (c *coordinator) counts() (checkIns, reports int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.checkIns, len(c.reports)
}

func (c *coordinator) open(round, version int64) {
	cfg := model.DefaultConfig()
	cfg.Factors = 2
	c.mu.Lock()
	defer c.mu.Unlock()
	c.plan = &client.Plan{Round: round, ModelVersion: version, Items: 5, Model: cfg,
		Local: model.LocalConfig{Epochs: 1, LR: 0.1, ItemRegShare: 0.01}}
}

// TestTheAgentTrainsOnTheStoreWhenEligible: the device checks in only
// while its conditions hold and it has consented data, trains on the
// store as it is at each check-in, keeps the round's model for
// recommendations, and records the round with its model version.
func TestTheAgentTrainsOnTheStoreWhenEligible(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		dir := t.TempDir()
		cat := filepath.Join(dir, "catalogue.txt")
		os.WriteFile(cat, []byte("a\nb\nc\nd\ne\n"), 0o600)
		os.MkdirAll(filepath.Join(dir, "dev"), 0o700)
		os.WriteFile(filepath.Join(dir, "dev", policyFile), []byte("allow_plain = true\n"), 0o600)
		d, err := Open(filepath.Join(dir, "dev"), &Options{Catalogue: cat})
		if err != nil {
			t.Fatal(err)
		}
		defer d.Close()
		now := time.Now().UnixMilli()
		for i, it := range []string{"a", "b", "c"} {
			d.Record(&Event{Kind: "view", Item: it, UnixMillis: now - int64(3-i)*1000})
		}
		d.Consent("view", true)
		m, _ := model.NewMF(5, 2, 1)
		c := &coordinator{params: m.Params}
		c.open(1, 7)
		if err := d.join(c, nil, nil, nil); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Minute)
		synctest.Wait()
		if n, _ := c.counts(); n != 0 {
			t.Fatalf("%d check-ins while not charging, idle nor on an unmetered network", n)
		}
		if s := d.Status(); !s.Running || s.Waiting == "" {
			t.Fatalf("status %+v", s)
		}

		d.SetConditions(true, true, true)
		time.Sleep(2 * time.Minute)
		synctest.Wait()
		if _, n := c.counts(); n != 1 {
			t.Fatalf("%d reports once eligible, want 1", n)
		}
		if u := c.reports[0]; !u.Evaluated {
			t.Fatal("the device did not evaluate on its held-out item")
		}
		l := d.Ledger()
		if r := l.Get(l.Len() - 1); r.Kind != KindRound || r.Round != 1 || r.ModelVersion != 7 {
			t.Fatalf("ledger: %+v", r)
		}
		recs, err := d.Recommend(2, true)
		if err != nil || recs.ModelVersion != 7 || recs.Len() != 2 {
			t.Fatalf("recommend: %+v, %v", recs, err)
		}
		for i := range recs.Len() {
			if it := recs.Get(i).Item; it != "d" && it != "e" {
				t.Fatalf("recommended %s, which the person viewed", it)
			}
		}

		// Withdrawn, the views are out of use at the next check-in: the
		// device has nothing to train on and does not take part.
		d.Consent("view", false)
		before, _ := c.counts()
		c.open(2, 7)
		time.Sleep(2 * time.Hour)
		synctest.Wait()
		if after, n := c.counts(); after != before || n != 1 {
			t.Fatalf("after withdrawing consent: %d check-ins (was %d), %d reports", after, before, n)
		}
		d.Leave()
		if d.Status().Running {
			t.Fatal("still running after Leave")
		}
	})
}
