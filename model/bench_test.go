package model

import (
	"math/rand/v2"
	"testing"
)

// BenchmarkUpdate is one device's local training on an ml-latest-small-sized
// model (9,724 items, 32 factors) with 165 positives, the data set's mean.
func BenchmarkUpdate(b *testing.B) {
	cfg := DefaultConfig()
	cfg.Factors = 32
	m, _ := NewMF(9724, 32, 1)
	p := Prepare(m, cfg)
	rng := rand.New(rand.NewPCG(1, 1))
	var pos Positives
	for _, i := range rng.Perm(9724)[:165] {
		pos.Items = append(pos.Items, int32(i))
	}
	sortInt32(pos.Items)
	pos.Ages = make([]int32, len(pos.Items))
	for j := range pos.Ages {
		pos.Ages[j] = int32(rng.IntN(165))
	}
	tr := NewTrainer(32)
	delta := make([]float32, len(m.Params))
	lc := LocalConfig{Epochs: 1, LR: 0.1, ItemRegShare: 0.01}
	b.SetBytes(int64(4 * len(m.Params)))
	for b.Loop() {
		if _, err := tr.Update(p, pos, lc, delta); err != nil {
			b.Fatal(err)
		}
	}
}
