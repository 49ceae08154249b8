package codec

import (
	"errors"
	"math"
	"math/bits"
	"math/rand/v2"
	"testing"
)

// c2spSeed is the seed of the chacha8rand specification's test vector.
var c2spSeed = [32]byte([]byte("ABCDEFGHIJKLMNOPQRSTUVWXYZ123456"))

func randUpdate(r *rand.Rand, d int, norm float64) []float32 {
	x := make([]float64, d)
	var ss float64
	for i := range x {
		x[i] = r.NormFloat64()
		ss += x[i] * x[i]
	}
	out := make([]float32, d)
	for i, v := range x {
		out[i] = float32(v * norm / math.Sqrt(ss))
	}
	return out
}

func l2Norm(x []float32) float64 {
	var s float64
	for _, v := range x {
		s += float64(v) * float64(v)
	}
	return math.Sqrt(s)
}

func l2Dist(x, y []float32) float64 {
	var s float64
	for i := range x {
		e := float64(x[i]) - float64(y[i])
		s += e * e
	}
	return math.Sqrt(s)
}

func TestPaddedLen(t *testing.T) {
	for _, c := range []struct{ d, want int }{
		{1, 1}, {2, 2}, {3, 4}, {4, 4}, {5, 8}, {9, 12}, {12, 12}, {13, 16}, {17, 20}, {21, 24}, {25, 32},
		{33, 40}, {41, 48}, {49, 64}, {311_000, 20 << 14}, {327_681, 12 << 15}, {632_060, 20 << 15},
		{1 << 20, 1 << 20}, {1<<20 + 1, 20 << 16}, {MaxRotateLen, MaxRotateLen},
	} {
		if got := PaddedLen(c.d); got != c.want {
			t.Errorf("PaddedLen(%d) = %d, want %d", c.d, got, c.want)
		}
	}
}

// The signs are the published chacha8rand stream, bit by bit: the first
// output word of the specification's test vector is 0xb773b6063d4616a5.
func TestRotationSignsFollowSpec(t *testing.T) {
	const word uint64 = 0xb773b6063d4616a5
	r, err := NewRotation(c2spSeed, 64)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 64 {
		x := make([]float32, 64)
		x[i] = 1
		// H·D·e_i/8 has every coordinate ±1/8 with the sign of D_ii at
		// coordinate 0 (row 0 of H is all ones).
		y, _ := r.Forward(nil, x)
		wantNeg := word>>i&1 == 1
		if got := y[0] < 0; got != wantNeg || math.Abs(float64(y[0])) != 0.125 {
			t.Fatalf("coordinate %d: y[0] = %v, want negated %v", i, y[0], wantNeg)
		}
	}
}

// hadamard is the definition: H[i][j] = H_r[i/n][j/n]·(−1)^popcount((i mod
// n) AND (j mod n)) for d' = r·n.
func hadamard(x []float32) []float32 {
	r, n := paddedShape(len(x))
	small := func(i, j int) bool { return false }
	for _, h := range smallHadamards {
		if h.order == r {
			small = func(i, j int) bool { return h.neg[i][j] }
		}
	}
	y := make([]float32, len(x))
	for i := range y {
		var s float64
		for j := range x {
			if (bits.OnesCount(uint(i%n&(j%n)))%2 == 1) != small(i/n, j/n) {
				s -= float64(x[j])
			} else {
				s += float64(x[j])
			}
		}
		y[i] = float32(s)
	}
	return y
}

// H_12 and H_20 are Hadamard matrices (H·Hᵀ = r·I) of Paley's form: a
// first row of ones, −1 below it in the first column, +1 on the diagonal,
// and off it S[i][j] = −S[j][i] with S[i][j] depending only on i − j mod q.
func TestSmallHadamards(t *testing.T) {
	for _, h := range smallHadamards {
		r, q := h.order, h.order-1
		entry := func(i, j int) int {
			if h.neg[i][j] {
				return -1
			}
			return 1
		}
		for i := range r {
			for j := range r {
				dot := 0
				for k := range r {
					dot += entry(i, k) * entry(j, k)
				}
				if want := map[bool]int{true: r, false: 0}[i == j]; dot != want {
					t.Fatalf("H_%d: row %d · row %d = %d, want %d", r, i, j, dot, want)
				}
				switch {
				case i == j || i == 0:
					if entry(i, j) != 1 {
						t.Fatalf("H_%d[%d][%d] = −1", r, i, j)
					}
				case j == 0:
					if entry(i, j) != -1 {
						t.Fatalf("H_%d[%d][0] = 1", r, i)
					}
				default:
					if entry(i, j) != -entry(j, i) || entry(i, j) != entry((i%q)+1, (j%q)+1) {
						t.Fatalf("H_%d: entry (%d, %d) breaks the skew circulant form", r, i, j)
					}
				}
			}
		}
	}
}

func TestRotationMatchesDefinition(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, d := range []int{1, 2, 3, 5, 8, 11, 13, 20, 40, 64, 90, 100, 1000, 1500, 5000} {
		var seed [32]byte
		seed[0] = byte(d)
		r, err := NewRotation(seed, d)
		if err != nil {
			t.Fatal(err)
		}
		x := randUpdate(rng, d, 1)
		n := PaddedLen(d)
		dx := make([]float32, n)
		for i, v := range x {
			if r.signs[i/64]>>(i%64)&1 == 1 {
				v = -v
			}
			dx[i] = v / float32(math.Sqrt(float64(n)))
		}
		want := hadamard(dx)
		got, err := r.Forward(nil, x)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != n {
			t.Fatalf("d %d: %d values, want %d", d, len(got), n)
		}
		if e := l2Dist(got, want); e > 1e-6 {
			t.Errorf("d %d: ‖fast − definition‖ = %g", d, e)
		}
	}
}

// The round trip and the norm hold to float32 rounding; the numbers are the
// ones rotate.go documents.
func TestRotationRoundTrip(t *testing.T) {
	const d = 311_000
	r, err := NewRotation(c2spSeed, d)
	if err != nil {
		t.Fatal(err)
	}
	x := randUpdate(rand.New(rand.NewPCG(3, 4)), d, 1)
	y, err := r.Forward(nil, x)
	if err != nil {
		t.Fatal(err)
	}
	normErr := math.Abs(l2Norm(y)-l2Norm(x)) / l2Norm(x)
	back, err := r.Inverse(nil, y)
	if err != nil {
		t.Fatal(err)
	}
	if len(back) != d {
		t.Fatalf("inverse has %d values, want %d", len(back), d)
	}
	rel := l2Dist(back, x) / l2Norm(x)
	t.Logf("d %d: round trip relative L2 error %.3g, norm error %.3g", d, rel, normErr)
	if rel > 1e-6 || normErr > 1e-6 {
		t.Fatalf("round trip error %g, norm error %g", rel, normErr)
	}
}

// Linearity is what lets the coordinator invert the rotation on the sum.
func TestRotationLinear(t *testing.T) {
	const d = 3000
	r, _ := NewRotation(c2spSeed, d)
	rng := rand.New(rand.NewPCG(5, 6))
	x, z := randUpdate(rng, d, 1), randUpdate(rng, d, 2)
	sum := make([]float32, d)
	for i := range sum {
		sum[i] = x[i] + z[i]
	}
	rx, _ := r.Forward(nil, x)
	rz, _ := r.Forward(nil, z)
	for i := range rx {
		rx[i] += rz[i]
	}
	got, _ := r.Inverse(nil, rx)
	if e := l2Dist(got, sum) / l2Norm(sum); e > 1e-6 {
		t.Fatalf("R⁻¹(Rx + Rz) is %g away from x + z", e)
	}
}

func TestRotationSeedsDiffer(t *testing.T) {
	a, _ := NewRotation([32]byte{1}, 1024)
	b, _ := NewRotation([32]byte{2}, 1024)
	c, _ := NewRotation([32]byte{1}, 1024)
	same := 0
	for i := range a.signs {
		if a.signs[i] != c.signs[i] {
			t.Fatal("same seed, different signs")
		}
		if a.signs[i] == b.signs[i] {
			same++
		}
	}
	if same == len(a.signs) {
		t.Fatal("different seeds, same signs")
	}
}

func TestRotationInPlaceNoAlloc(t *testing.T) {
	const d = 1000
	r, _ := NewRotation(c2spSeed, d)
	x := randUpdate(rand.New(rand.NewPCG(7, 8)), d, 1)
	buf := make([]float32, d, r.PaddedLen())
	allocs := testing.AllocsPerRun(10, func() {
		copy(buf, x)
		y, err := r.Forward(buf, buf)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.Inverse(y, y); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Fatalf("%v allocations per round trip in place", allocs)
	}
	back, _ := r.Inverse(nil, mustRotate(r.Forward(nil, x)))
	if e := l2Dist(back, buf[:d]); e != 0 {
		t.Fatalf("in place and out of place differ by %g", e)
	}
}

func mustRotate[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestRotationRefuses(t *testing.T) {
	for _, d := range []int{0, -1, MaxRotateLen + 1} {
		if _, err := NewRotation(c2spSeed, d); err == nil {
			t.Errorf("NewRotation(d = %d) accepted", d)
		}
	}
	r, _ := NewRotation(c2spSeed, 5)
	if _, err := r.Forward(nil, make([]float32, 8)); !errors.Is(err, ErrBadEncoding) {
		t.Errorf("Forward of 8 values for d 5: %v", err)
	}
	if _, err := r.Inverse(nil, make([]float32, 5)); !errors.Is(err, ErrBadEncoding) {
		t.Errorf("Inverse of 5 values for d' 8: %v", err)
	}
}

func BenchmarkRotation(b *testing.B) {
	const d = 311_000
	r, _ := NewRotation(c2spSeed, d)
	x := randUpdate(rand.New(rand.NewPCG(9, 10)), d, 1)
	buf := make([]float32, r.PaddedLen())
	b.Run("copy", func(b *testing.B) {
		b.SetBytes(4 * d)
		for b.Loop() {
			copy(buf, x)
		}
	})
	b.Run("forward", func(b *testing.B) {
		b.SetBytes(4 * d)
		for b.Loop() {
			_, _ = r.Forward(buf, x)
		}
	})
	b.Run("inverse", func(b *testing.B) {
		b.SetBytes(4 * d)
		y := mustRotate(r.Forward(nil, x))
		for b.Loop() {
			_, _ = r.Inverse(buf, y)
		}
	})
}
