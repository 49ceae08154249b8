package round

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/tacitfl/tacit/aggregate"
)

// TestCohortsFollowTheSecretKeyNotTheSeed: whoever knows the run's seed
// (it seeds the model and is written in summaries) cannot compute the
// cohorts, which once were a hash of the seed; the same key draws the same
// cohorts, another key others, and a snapshot without a key is refused.
func TestCohortsFollowTheSecretKeyNotTheSeed(t *testing.T) {
	var population []string
	for i := range 200 {
		population = append(population, fmt.Sprintf("d%03d", i))
	}
	cohorts := func(key [32]byte) [][]string {
		cfg := DefaultConfig()
		cfg.Goal = 20
		opt, _ := aggregate.NewOptimizer(aggregate.OptimizerConfig{Name: "fedavg"})
		now := time.Unix(1000, 0)
		m, err := NewMachine(cfg, Parts{Population: population, Snapshot: Snapshot{Params: []float32{0}, SelectionKey: key}, Optimizer: opt}, now)
		if err != nil {
			t.Fatal(err)
		}
		var out [][]string
		for r := range 5 {
			if got := m.Status().Round; got != int64(r+1) {
				t.Fatalf("round %d, want %d", got, r+1)
			}
			out = append(out, m.Cohort())
			now = now.Add(cfg.SelectionTimeout) // nobody checks in: the next round opens
			m.Tick(now)
		}
		return out
	}
	a, b := cohorts([32]byte{1}), cohorts([32]byte{2})
	if !slices.EqualFunc(a, cohorts([32]byte{1}), slices.Equal) {
		t.Fatal("the same key drew different cohorts")
	}
	for r := range a {
		if slices.Equal(a[r], b[r]) {
			t.Fatalf("round %d: two keys with the same seed drew the same cohort %v", r+1, a[r])
		}
		// What the seed alone once gave: SHA-256(seed, round, device) < q.
		var bySeed []string
		for _, d := range population {
			if seedSelected(DefaultConfig().Seed, int64(r+1), d, 0.1) {
				bySeed = append(bySeed, d)
			}
		}
		if slices.Equal(a[r], bySeed) {
			t.Fatalf("round %d: the cohort is the seed's", r+1)
		}
	}
	opt, _ := aggregate.NewOptimizer(aggregate.OptimizerConfig{Name: "fedavg"})
	if _, err := NewMachine(DefaultConfig(), Parts{Population: population, Snapshot: Snapshot{Params: []float32{0}}, Optimizer: opt}, time.Unix(0, 0)); !errors.Is(err, ErrNoSelectionKey) {
		t.Fatalf("no key: %v", err)
	}
}

// seedSelected is the selection by the public seed that the key replaced.
func seedSelected(seed uint64, round int64, device string, q float64) bool {
	h := sha256.New()
	h.Write(binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, seed), uint64(round)))
	h.Write([]byte(device))
	return float64(binary.BigEndian.Uint64(h.Sum(nil))>>11)/(1<<53) < q
}
