package privacy

import (
	"math"
	"slices"
	"testing"
)

func TestClipL2(t *testing.T) {
	v := []float32{3, 4} // norm 5
	norm, clipped := ClipL2(v, 10)
	if norm != 5 || clipped || v[0] != 3 {
		t.Fatalf("under the bound: norm %v clipped %v v %v", norm, clipped, v)
	}
	norm, clipped = ClipL2(v, 1)
	if norm != 5 || !clipped || math.Abs(float64(v[0])-0.6) > 1e-7 || math.Abs(float64(v[1])-0.8) > 1e-7 {
		t.Fatalf("over the bound: norm %v clipped %v v %v, want [0.6 0.8]", norm, clipped, v)
	}
	bad := []float32{1, float32(math.Inf(1))}
	if _, clipped := ClipL2(bad, 1); !clipped || bad[0] != 0 || bad[1] != 0 {
		t.Fatalf("non-finite update: %v", bad)
	}
}

func TestNoiseIsSeeded(t *testing.T) {
	const n, std = 200000, 2.5
	draw := func(noise *Noise, n int) []float64 {
		ints := make([]int64, n)
		noise.AddDiscreteGaussianInt64(ints, std)
		v := make([]float64, n)
		for i, x := range ints {
			v[i] = float64(x)
		}
		return v
	}
	v := draw(NewSeededNoise([32]byte{1}), n)
	var sum, sq float64
	for _, x := range v {
		sum += x
		sq += x * x
	}
	mean, sd := sum/n, math.Sqrt(sq/n-(sum/n)*(sum/n))
	// Standard errors: mean 2.5/√n ≈ 0.0056, sd ≈ 0.004; allow 5 of them.
	if math.Abs(mean) > 0.03 || math.Abs(sd-std) > 0.02 {
		t.Fatalf("mean %v sd %v, want 0 and %v", mean, sd, std)
	}
	if w := draw(NewSeededNoise([32]byte{1}), 4); w[0] != v[0] || w[3] != v[3] {
		t.Fatal("the same seed gave different noise")
	}
	// 64 draws of two sources agree with probability below 0.12^64.
	if slices.Equal(draw(NewNoise(), 64), draw(NewNoise(), 64)) {
		t.Fatal("two system-seeded sources agree")
	}
}
