package dataset

import (
	"slices"
	"sort"
	"testing"
)

func TestSyntheticDeterministicAndShaped(t *testing.T) {
	cfg := SyntheticConfig{Users: 2000, Items: 1000, Events: 15, Factors: 8, Seed: 7}
	a, err := Synthetic(cfg)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Synthetic(cfg)
	if !slices.Equal(a.items, b.items) || !slices.Equal(a.offsets, b.offsets) {
		t.Fatal("the same seed gave different logs")
	}
	cfg.Seed = 8
	if c, _ := Synthetic(cfg); slices.Equal(a.items, c.items) {
		t.Fatal("another seed gave the same log")
	}
	counts := make([]int, a.NumItems)
	for u := 0; u < a.NumUsers; u++ {
		items := a.Items(u)
		if len(items) < 2 || len(items) > a.NumItems/2 {
			t.Fatalf("person %d has %d interactions", u, len(items))
		}
		seen := map[int32]bool{}
		for _, it := range items {
			if it < 0 || int(it) >= a.NumItems || seen[it] {
				t.Fatalf("person %d: item %d out of range or repeated", u, it)
			}
			seen[it] = true
			counts[it]++
		}
	}
	mean := float64(a.Len()) / float64(a.NumUsers)
	if mean < 12 || mean > 18 {
		t.Fatalf("mean activity %.1f, want about 15", mean)
	}
	sort.Sort(sort.Reverse(sort.IntSlice(counts)))
	top := 0
	for _, c := range counts[:a.NumItems/100] {
		top += c
	}
	if share := float64(top) / float64(a.Len()); share < 0.05 {
		t.Fatalf("top 1%% of items hold %.3f of interactions, want a skew well above 0.01", share)
	}
}

func BenchmarkSynthetic100k(b *testing.B) {
	for b.Loop() {
		if _, err := Synthetic(SyntheticConfig{Users: 100_000, Items: 10_000}); err != nil {
			b.Fatal(err)
		}
	}
}
