package round

import (
	"errors"
	"testing"
	"time"

	"github.com/tacitfl/tacit/aggregate"
	"github.com/tacitfl/tacit/privacy"
)

// TestDPNeedsAnInjectedNoiseSource: the machine draws no randomness of its
// own (it once fell back to crypto/rand), so a configuration that needs
// noise is refused without a source, and one that does not is accepted.
func TestDPNeedsAnInjectedNoiseSource(t *testing.T) {
	central := DefaultConfig()
	central.DP = &DPConfig{NoiseMultiplier: 1, ClipNorm: 1, Delta: 1e-5}
	adaptive := central
	adaptive.DP = &DPConfig{NoiseMultiplier: 1, ClipNorm: 1, Delta: 1e-5, Adaptive: &privacy.AdaptiveClip{}}
	distributed := secureConfig()
	distributed.DP = &DPConfig{NoiseMultiplier: 1, ClipNorm: 1, Delta: 1e-5, Distributed: true}
	for _, c := range []struct {
		name  string
		cfg   Config
		noise *privacy.Noise
		want  error
	}{
		{"central DP without noise", central, nil, ErrNoNoise},
		{"adaptive clipping without noise", adaptive, nil, ErrNoNoise},
		{"central DP with noise", central, privacy.NewSeededNoise([32]byte{1}), nil},
		{"distributed DP without noise", distributed, nil, nil},
		{"no DP without noise", DefaultConfig(), nil, nil},
	} {
		opt, _ := aggregate.NewOptimizer(aggregate.OptimizerConfig{Name: "fedavg"})
		p := Parts{Population: []string{"a", "b", "c"}, Snapshot: Snapshot{Params: make([]float32, secureDim)}, Optimizer: opt, Noise: c.noise}
		if _, err := NewMachine(c.cfg, p, time.Unix(1000, 0)); !errors.Is(err, c.want) || (c.want == nil) != (err == nil) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
}
