package privacy

import (
	"crypto/rand"
	mrand "math/rand/v2"
)

// Noise draws the noise of differential privacy (the discrete Gaussian for
// integer vectors, and Gaussian draws for noised counts) from ChaCha8, a
// cryptographically secure generator: its output cannot be predicted, so
// the noise cannot be subtracted. NewNoise seeds it from the operating
// system; a fixed seed (NewSeededNoise) is for reproducible simulations
// only, where nobody is protected.
type Noise struct{ r *mrand.Rand }

// NewNoise returns a noise source seeded from crypto/rand.
func NewNoise() *Noise {
	var seed [32]byte
	rand.Read(seed[:]) // never fails (crypto/rand panics rather than return weak bytes)
	return NewSeededNoise(seed)
}

// NewSeededNoise returns a reproducible noise source: for simulations.
func NewSeededNoise(seed [32]byte) *Noise {
	return &Noise{r: mrand.New(mrand.NewChaCha8(seed))}
}

// Gaussian is one N(0, std²) draw.
func (n *Noise) Gaussian(std float64) float64 { return n.r.NormFloat64() * std }
