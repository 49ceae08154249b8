package privacy

import (
	"crypto/rand"
	mrand "math/rand/v2"
)

// Noise draws the noise of differential privacy, exact discrete Gaussians
// for integer vectors (a model's sum on a grid, a device's quantized
// update, a count), from ChaCha8, a
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
