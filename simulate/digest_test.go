package simulate

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"math"
	"testing"
)

// TestModelDigestIsPinned pins the model a short seeded run ends with, bit
// for bit, in each kind of round. The digests were taken before the codecs
// left the wire package and the round machine got its own package: a
// refactor that changes a digest changed behaviour. Change one only with a
// change that means to (and say so in its commit).
func TestModelDigestIsPinned(t *testing.T) {
	for _, c := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"plain", func(*Config) {}, "6508e86f1e1db27523c4fa85bfc83fb8219ad8519e5dba8ef717cd3dd8027c3c"},
		{"8 bits, rotated", func(c *Config) { c.QuantBits, c.Rotate = 8, true }, "6aec2bc451671014b6472a29c188c883dae4beb8b37761ac5726faaab05111fe"},
		{"central DP, adaptive clip", func(c *Config) {
			c.DP, c.NoiseMultiplier, c.AdaptiveClip = "central", 0.8, true
		}, "8ec47def8c987da6e6107507be79d4b9f45baf6d9afb08040c97a5d923c74fbe"},
		{"SecAgg, 12 bits", func(c *Config) { c.QuantBits, c.SecAgg = 12, true }, "be9e27ca72568c238631f2ff159f6008f9b234393f8739590e71ed6074ef3f47"},
		{"SecAgg, rotated, distributed DP", func(c *Config) {
			c.QuantBits, c.Rotate, c.SecAgg, c.DP, c.NoiseMultiplier = 16, true, true, "distributed", 1
		}, "4bb500dc575777d5aa875b2ab73f1e67b4ee1e0e3d940caf73d0b15a60cbb911"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cfg := smallConfig()
			cfg.ClientsPerRound, cfg.Dropout, cfg.Rounds = 60, 0.2, 4
			c.edit(&cfg)
			params, _ := runFederation(t, smallData(t), cfg)
			h := sha256.New()
			for _, p := range params {
				h.Write(binary.LittleEndian.AppendUint32(nil, math.Float32bits(p)))
			}
			if got := hex.EncodeToString(h.Sum(nil)); got != c.want {
				t.Errorf("model digest %s, want %s", got, c.want)
			}
		})
	}
}
