package model

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestExplanationsSumToTheScore: for a person with recency-weighted
// positives, each explained score is its Base plus its past items' weights,
// and equals the score the model gives with the person's solved vector;
// Recommend ranks the untouched items by that score.
func TestExplanationsSumToTheScore(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Factors = 6
	m, _ := NewMF(50, cfg.Factors, 3)
	r := rand.New(rand.NewPCG(4, 5))
	for i := range m.Params {
		m.Params[i] += float32(r.NormFloat64() * 0.3) // a model with some structure
	}
	pos := Positives{Items: []int32{2, 7, 11, 19, 30, 44}, Ages: []int32{5, 0, 3, 1, 4, 2}}
	p := Prepare(m, cfg)
	u := make([]float32, cfg.Factors)
	if !p.solveUser(newSolver(cfg.Factors), pos, u) {
		t.Fatal("no solution")
	}
	scores := make([]float32, m.Items)
	m.Score(u, scores)
	all := make([]int32, m.Items)
	for i := range all {
		all[i] = int32(i)
	}
	ex, err := p.Explain(pos, all)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ex {
		sum := e.Base
		for _, c := range e.Because {
			sum += c.Weight
		}
		if math.Abs(sum-e.Score) > 1e-12*(1+math.Abs(e.Score)) {
			t.Fatalf("item %d: base and contributions sum to %v, score %v", e.Item, sum, e.Score)
		}
		if math.Abs(e.Score-float64(scores[e.Item])) > 1e-5*(1+math.Abs(e.Score)) {
			t.Fatalf("item %d: explained score %v, the model's %v", e.Item, e.Score, scores[e.Item])
		}
		if len(e.Because) != len(pos.Items) || !slices.IsSortedFunc(e.Because, func(a, b Contribution) int {
			switch {
			case a.Weight > b.Weight:
				return -1
			case a.Weight < b.Weight:
				return 1
			}
			return 0
		}) {
			t.Fatalf("item %d: contributions %+v", e.Item, e.Because)
		}
	}
	rec, err := p.Recommend(pos, 5)
	if err != nil {
		t.Fatal(err)
	}
	if want := TopK(scores, pos.Items, 5); !slices.Equal(rec, want) {
		t.Fatalf("recommended %v, want %v", rec, want)
	}
	for _, s := range rec {
		if slices.Contains(pos.Items, s.Item) {
			t.Fatalf("recommended %d, which the person has", s.Item)
		}
	}
	if _, err := p.Explain(pos, []int32{50}); err == nil {
		t.Fatal("an item beyond the catalogue explained")
	}
}

// TestExplanationByHand: one factor, two items, the person touched item 0;
// W, r₀ and the contributions computed by hand.
func TestExplanationByHand(t *testing.T) {
	cfg := Config{Factors: 1, Alpha: 3, NegWeight: 0.5, UserReg: 0.25}
	m := &MF{Items: 2, Factors: 1, Params: []float32{2, 1, 0.5, 0.25}} // q = (2, 1), b = (0.5, 0.25)
	p := Prepare(m, cfg)
	// A = w₀(q₀² + q₁²) + λ + (c − w₀)q₀² = 0.5·5 + 0.25 + 3.5·4 = 16.75, c = 4.
	// r₀ = −w₀·b₁q₁ = −0.125; item 0's weight c(1 − b₀) = 2.
	// Item 1: base b₁ + q₁·r₀/A = 0.25 − 0.125/16.75; item 0 adds
	// 2·q₁·q₀/A = 4/16.75.
	ex, err := p.Explain(Positives{Items: []int32{0}}, []int32{1})
	if err != nil {
		t.Fatal(err)
	}
	e := ex[0]
	if base, w := 0.25-0.125/16.75, 4/16.75; math.Abs(e.Base-base) > 1e-12 || len(e.Because) != 1 ||
		e.Because[0].Item != 0 || math.Abs(e.Because[0].Weight-w) > 1e-12 || math.Abs(e.Score-(base+w)) > 1e-12 {
		t.Fatalf("%+v, want base %v and item 0's weight %v", e, base, w)
	}
}

// BenchmarkRecommendExplain: a device's top 10 with explanations for
// ml-latest-small's largest person (2,698 past items of 9,724, 64
// factors), against the baseline of scoring every item once.
func BenchmarkRecommendExplain(b *testing.B) {
	cfg := DefaultConfig()
	cfg.Factors = 64
	m, _ := NewMF(9724, cfg.Factors, 1)
	var pos Positives
	for i := int32(0); i < 9724 && len(pos.Items) < 2698; i += 3 {
		pos.Items = append(pos.Items, i)
	}
	p := Prepare(m, cfg)
	b.Run("score-all", func(b *testing.B) {
		u, scores := make([]float32, cfg.Factors), make([]float32, m.Items)
		for b.Loop() {
			m.Score(u, scores)
		}
	})
	b.Run("recommend-explain-10", func(b *testing.B) {
		for b.Loop() {
			rec, _ := p.Recommend(pos, 10)
			items := make([]int32, len(rec))
			for i, s := range rec {
				items[i] = s.Item
			}
			p.Explain(pos, items)
		}
	})
}
