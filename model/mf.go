package model

import (
	"fmt"
	"math"
	"math/rand/v2"
)

// MF is implicit-feedback matrix factorisation. Its shared (federated)
// parameters are one flat vector: the item factors, row-major with one row of
// Factors values per item, followed by one bias per item. A person's own
// factor vector is not part of it: it is solved on the device and stays there.
type MF struct {
	Items   int
	Factors int
	Params  []float32 // len Items*(Factors+1)
}

// NewMF returns a model with small random item factors (normal, standard
// deviation 0.1/√Factors, so initial scores are near zero whatever the size)
// and zero biases, drawn from a generator seeded by seed.
func NewMF(items, factors int, seed uint64) (*MF, error) {
	if items <= 0 || factors <= 0 {
		return nil, fmt.Errorf("model: need positive items and factors, got %d items, %d factors", items, factors)
	}
	m := &MF{Items: items, Factors: factors, Params: make([]float32, ParamCount(items, factors))}
	rng := rand.New(rand.NewPCG(seed, 0x6d66))
	scale := 0.1 / math.Sqrt(float64(factors))
	q := m.ItemFactors()
	for i := range q {
		q[i] = float32(rng.NormFloat64() * scale)
	}
	return m, nil
}

// ParamCount is the length of the shared vector of a model with these sizes.
func ParamCount(items, factors int) int { return items * (factors + 1) }

// ItemFactors is the Items×Factors row-major block of Params.
func (m *MF) ItemFactors() []float32 { return m.Params[:m.Items*m.Factors] }

// Biases is the per-item bias block of Params.
func (m *MF) Biases() []float32 { return m.Params[m.Items*m.Factors:] }
