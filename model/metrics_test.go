package model

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestFullRankHandComputed(t *testing.T) {
	// Items 0..5. The person trained on items 1 and 4, the test item is 3.
	// Candidates are 0, 2, 3, 5; scores above the test item's 0.5: item 5
	// (0.9) and item 0 (0.5, a tie, ranked ahead). Item 1 (0.99) is in
	// training and does not count.
	scores := []float32{0.5, 0.99, 0.1, 0.5, 0.95, 0.9}
	train := []int32{1, 4}
	if r := FullRank(scores, train, 3); r != 2 {
		t.Fatalf("rank = %d, want 2", r)
	}
	hit, ndcg := HitNDCG(2, 10)
	if hit != 1 || math.Abs(ndcg-1/math.Log2(4)) > 1e-15 || ndcg != 0.5 {
		t.Fatalf("hit %v ndcg %v, want 1 and 0.5", hit, ndcg)
	}
	if hit, ndcg := HitNDCG(0, 10); hit != 1 || ndcg != 1 {
		t.Fatalf("rank 0: hit %v ndcg %v, want 1, 1", hit, ndcg)
	}
	if hit, ndcg := HitNDCG(9, 10); hit != 1 || math.Abs(ndcg-1/math.Log2(11)) > 1e-15 {
		t.Fatalf("rank 9: hit %v ndcg %v", hit, ndcg)
	}
	if hit, ndcg := HitNDCG(10, 10); hit != 0 || ndcg != 0 {
		t.Fatalf("rank 10: hit %v ndcg %v, want 0, 0", hit, ndcg)
	}
}

func TestFullRankTestItemAlsoInTraining(t *testing.T) {
	// A repeat: the test item 2 also occurs in training. It is still ranked,
	// and only against items not in training.
	scores := []float32{0.1, 0.3, 0.2, 0.9}
	if r := FullRank(scores, []int32{2, 3}, 2); r != 1 {
		t.Fatalf("rank = %d, want 1 (item 1 only)", r)
	}
}

func TestConstantScoresGetNoCredit(t *testing.T) {
	scores := make([]float32, 50)
	if r := FullRank(scores, nil, 7); r != 49 {
		t.Fatalf("rank = %d, want 49: ties rank ahead", r)
	}
}

func TestSampledRank(t *testing.T) {
	// 200 items; the person trained on 0..9; test item 100 scores 0.5; items
	// 150..199 score 1 and everything else 0. Sampled negatives never include
	// training items or the test item, so the rank counts sampled items in
	// 150..199 only.
	scores := make([]float32, 200)
	scores[100] = 0.5
	for i := 150; i < 200; i++ {
		scores[i] = 1
	}
	train := []int32{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}
	for i := range train {
		scores[i] = 2 // training items score highest but are excluded
	}
	rng := rand.New(rand.NewPCG(1, 2))
	r := SampledRank(scores, train, 100, 99, rng)
	// Recount with the same draw, by hand.
	rng = rand.New(rand.NewPCG(1, 2))
	seen := map[int]bool{}
	want := 0
	for len(seen) < 99 {
		i := rng.IntN(200)
		if i < 10 || i == 100 || seen[i] {
			continue
		}
		seen[i] = true
		if i >= 150 {
			want++
		}
	}
	if r != want || r == 0 || r == 99 {
		t.Fatalf("rank = %d, want %d (strictly between 0 and 99)", r, want)
	}
	// Fewer candidates than negatives: all are used.
	small := []float32{0.2, 0.9, 0.5, 0.7}
	if r := SampledRank(small, []int32{1}, 2, 99, rng); r != 1 {
		t.Fatalf("rank = %d, want 1 (item 3 only)", r)
	}
}

func TestTopK(t *testing.T) {
	scores := []float32{0.3, 0.9, 0.9, 0.1, 0.8, 0.95}
	got := TopK(scores, []int32{5}, 3)
	want := []Scored{{1, 0.9}, {2, 0.9}, {4, 0.8}}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
	if got := TopK(scores, nil, 0); got != nil {
		t.Fatalf("n=0: got %v", got)
	}
	if got := TopK(scores, nil, 10); len(got) != 6 || got[0].Item != 5 {
		t.Fatalf("n>items: got %v", got)
	}
}
