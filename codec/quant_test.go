package codec

import (
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// constSource returns the same word every time: 0 rounds every fraction up,
// the maximum rounds none up.
type constSource uint64

func (c constSource) Read(b []byte) (int, error) {
	for i := range b {
		b[i] = byte(c >> (8 * (i % 8)))
	}
	return len(b), nil
}

func mustQuantizer(t testing.TB, b int, c float64, m int) *Quantizer {
	t.Helper()
	q, err := NewQuantizer(b, c, m)
	if err != nil {
		t.Fatal(err)
	}
	return q
}

// sumMod adds vectors in Z_(2^m), as secure aggregation does.
func sumMod(m int, vs ...[]uint32) []uint32 {
	out := make([]uint32, len(vs[0]))
	for _, v := range vs {
		for i, x := range v {
			out[i] = (out[i] + x) & RingMask(m)
		}
	}
	return out
}

// Three devices, 4 bits, range 3.5, so the scale is 2 and values on the
// half-integer grid round deterministically: worked by hand.
func TestQuantizeSumByHand(t *testing.T) {
	q := mustQuantizer(t, 4, 3.5, 6)
	if q.Scale() != 2 {
		t.Fatalf("scale %v, want 2", q.Scale())
	}
	if err := q.Check(3); err != nil {
		t.Fatal(err)
	}
	devices := [][]float32{
		{0.5, -3.5, 3.5}, // 1, −7, 7
		{3.5, -3.5, 3.5}, // 7, −7, 7
		{-1, 10, -3.5},   // −2, 7 (clipped), −7
	}
	wantEnc := [][]uint32{{1, 57, 7}, {7, 57, 7}, {62, 7, 57}} // mod 64
	var encs [][]uint32
	for i, x := range devices {
		e, err := q.AppendEncode(nil, x, constSource(0))
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(e, wantEnc[i]) {
			t.Fatalf("device %d encodes to %v, want %v", i, e, wantEnc[i])
		}
		encs = append(encs, e)
	}
	sum := sumMod(6, encs...)
	if want := []uint32{6, 57, 7}; !slices.Equal(sum, want) { // 70, 121, 71 mod 64
		t.Fatalf("sum mod 64 %v, want %v", sum, want)
	}
	got, err := q.AppendDecodeSum(nil, sum)
	if err != nil {
		t.Fatal(err)
	}
	if want := []float32{3, -3.5, 3.5}; !slices.Equal(got, want) {
		t.Fatalf("decoded sum %v, want %v", got, want)
	}
}

func TestQuantizeRoundingDirection(t *testing.T) {
	q := mustQuantizer(t, 4, 7, 8) // scale 1
	x := []float32{0.25, -0.25, 2, -2, 6.5, -6.5, float32(math.Inf(1)), float32(math.Inf(-1))}
	up, _ := q.AppendEncode(nil, x, constSource(0))
	down, _ := q.AppendEncode(nil, x, constSource(math.MaxUint64))
	gotUp, _ := q.AppendDecodeSum(nil, up)
	gotDown, _ := q.AppendDecodeSum(nil, down)
	if want := []float32{1, 0, 2, -2, 7, -6, 7, -7}; !slices.Equal(gotUp, want) {
		t.Errorf("rounding up: %v, want %v", gotUp, want)
	}
	if want := []float32{0, -1, 2, -2, 6, -7, 7, -7}; !slices.Equal(gotDown, want) {
		t.Errorf("rounding down: %v, want %v", gotDown, want)
	}
}

// E[decode(encode(x))] = clamp(x, −c, c): the mean of many seeded encodings
// is within five standard errors of it, per value.
func TestQuantizeUnbiased(t *testing.T) {
	const reps = 20_000
	q := mustQuantizer(t, 4, 1, 32) // scale 7: steps of 1/7
	vals := []float32{0.3, -0.77, 0.01, -0.01, 0.999, -1, 1.7, 0, 0.5, 0.0714}
	x := make([]float32, 0, reps*len(vals))
	for range reps {
		x = append(x, vals...)
	}
	enc, err := q.AppendEncode(nil, x, rand.NewChaCha8([32]byte{42}))
	if err != nil {
		t.Fatal(err)
	}
	dec, _ := q.AppendDecodeSum(nil, enc)
	for j, v := range vals {
		want := math.Max(-1, math.Min(1, float64(v)))
		var sum float64
		for i := j; i < len(dec); i += len(vals) {
			sum += float64(dec[i])
		}
		mean := sum / reps
		f := want*7 - math.Floor(want*7)
		se := math.Sqrt(f*(1-f)/reps) / 7
		if math.Abs(mean-want) > 5*se+1e-9 {
			t.Errorf("x = %v: mean %v, want %v ± %.2g", v, mean, want, 5*se)
		}
	}
}

func TestQuantizeRefusesNaN(t *testing.T) {
	q := mustQuantizer(t, 8, 1, 16)
	dst := []uint32{9}
	got, err := q.AppendEncode(dst, []float32{0, float32(math.NaN())}, constSource(0))
	if err == nil || !slices.Equal(got, []uint32{9}) {
		t.Fatalf("NaN: %v, %v", got, err)
	}
}

func TestDecodeSumRefusesOutOfRing(t *testing.T) {
	q := mustQuantizer(t, 8, 1, 12)
	got, err := q.AppendDecodeSum([]float32{5}, []uint32{1, 1 << 12})
	if !errors.Is(err, ErrBadEncoding) || !slices.Equal(got, []float32{5}) {
		t.Fatalf("value 2^12 in Z_(2^12): %v, %v", got, err)
	}
}

func TestNewQuantizerRefuses(t *testing.T) {
	for _, c := range []struct {
		b int
		c float64
		m int
	}{{1, 1, 8}, {25, 1, 32}, {8, 0, 16}, {8, -1, 16}, {8, math.NaN(), 16}, {8, math.Inf(1), 16}, {8, 1, 7}, {8, 1, 33}} {
		if _, err := NewQuantizer(c.b, c.c, c.m); !errors.Is(err, ErrQuantizer) {
			t.Errorf("NewQuantizer(%d, %v, %d): %v", c.b, c.c, c.m, err)
		}
	}
}

func TestRequiredModBits(t *testing.T) {
	for _, c := range []struct{ b, n, want int }{
		{8, 1, 8}, {8, 2, 9}, {8, 100, 15}, {8, 128, 15},
		{8, 129, 15}, // 129·127 = 16383 < 2^14: the symmetric grid saves a bit
		{8, 130, 16}, {12, 100, 19}, {16, 100, 23}, {2, 3, 3}, {24, 256, 32}, {24, 257, 33},
		{1, 5, math.MaxInt}, {25, 5, math.MaxInt},
	} {
		if got := RequiredModBits(c.b, c.n); got != c.want {
			t.Errorf("RequiredModBits(%d, %d) = %d, want %d", c.b, c.n, got, c.want)
		}
	}
	for b := MinQuantBits; b <= MaxQuantBits; b++ {
		for n := 1; n <= 1<<12; n++ {
			m, ceil := RequiredModBits(b, n), b
			for 1<<(ceil-b) < n {
				ceil++
			}
			if m > ceil || (n <= 1<<(b-1) && m != ceil) {
				t.Fatalf("RequiredModBits(%d, %d) = %d, b + ⌈log2 n⌉ = %d", b, n, m, ceil)
			}
		}
	}
}

// At the widest n a ring holds, n devices at the extremes decode exactly and
// Check passes; one more device fails Check, and its sum does wrap.
func TestOverflowBoundary(t *testing.T) {
	for _, c := range []struct{ b, n int }{{2, 3}, {4, 5}, {8, 100}, {8, 129}, {12, 100}, {16, 100}, {16, 2}} {
		m := RequiredModBits(c.b, c.n)
		q := mustQuantizer(t, c.b, 1, m)
		level := int(maxLevel(c.b))
		widest := (1<<(m-1) - 1) / level // the most devices m bits hold
		if widest < c.n {
			t.Fatalf("b %d, m %d: %d devices fit, want at least %d", c.b, m, widest, c.n)
		}
		extremes := func(devices int) []float32 {
			enc, _ := q.AppendEncode(nil, []float32{1, -1}, constSource(0))
			sum := make([]uint32, 2)
			for range devices {
				sum = sumMod(m, sum, enc)
			}
			got, err := q.AppendDecodeSum(nil, sum)
			if err != nil {
				t.Fatal(err)
			}
			return got
		}
		if err := q.Check(widest); err != nil {
			t.Errorf("b %d, m %d: Check(%d): %v", c.b, m, widest, err)
		}
		if got := extremes(widest); got[0] != float32(widest) || got[1] != -float32(widest) {
			t.Errorf("b %d, m %d: %d devices at ±1 sum to %v", c.b, m, widest, got)
		}
		if err := q.Check(widest + 1); !errors.Is(err, ErrOverflow) {
			t.Errorf("b %d, m %d: Check(%d): %v, want ErrOverflow", c.b, m, widest+1, err)
		}
		if got := extremes(widest + 1); got[0] == float32(widest+1) {
			t.Errorf("b %d, m %d: %d devices at +1 did not wrap", c.b, m, widest+1)
		}
		if m > c.b {
			if err := mustQuantizer(t, c.b, 1, m-1).Check(c.n); !errors.Is(err, ErrOverflow) {
				t.Errorf("b %d, m %d: Check(%d): %v, want ErrOverflow", c.b, m-1, c.n, err)
			}
		}
	}
}

func TestCheckNoise(t *testing.T) {
	const k = 3.8905918864130946
	if got := TailBound(1e-4); math.Abs(got-k) > 1e-12*k {
		t.Fatalf("TailBound(1e-4) = %v, want %v", got, k)
	}
	q := mustQuantizer(t, 8, 1, 16)
	// 100 devices use 12700 of 32767; the noise may take the other 20067.
	sigma := 20067 / (k * 10)
	if err := q.CheckNoise(100, sigma*0.999, k); err != nil {
		t.Errorf("just under: %v", err)
	}
	if err := q.CheckNoise(100, sigma*1.001, k); !errors.Is(err, ErrOverflow) {
		t.Errorf("just over: %v, want ErrOverflow", err)
	}
	if err := q.CheckNoise(300, 0, k); !errors.Is(err, ErrOverflow) {
		t.Errorf("300 devices without noise: %v, want ErrOverflow", err)
	}
	for _, c := range [][2]float64{{-1, k}, {1, -1}, {math.NaN(), k}, {1, math.Inf(1)}} {
		if err := q.CheckNoise(100, c[0], c[1]); !errors.Is(err, ErrQuantizer) {
			t.Errorf("CheckNoise(100, %v, %v): %v", c[0], c[1], err)
		}
	}
	if err := q.Check(0); !errors.Is(err, ErrQuantizer) {
		t.Errorf("Check(0): %v", err)
	}
}

// With c = RotatedClip(C, d, TailBound(p)) about a fraction p of the
// coordinates of a rotated spread-out update are clipped, and none of a
// spike's.
func TestRotatedClipFraction(t *testing.T) {
	const d, p = 311_000, 1e-3
	r, _ := NewRotation(c2spSeed, d)
	c := RotatedClip(1, d, TailBound(p))
	if want := TailBound(p) / math.Sqrt(20<<14); math.Abs(c-want) > 1e-15 {
		t.Fatalf("RotatedClip = %v, want %v", c, want)
	}
	clipped := func(x []float32) int {
		y, _ := r.Forward(nil, x)
		k := 0
		for _, v := range y {
			if math.Abs(float64(v)) > c {
				k++
			}
		}
		return k
	}
	// Binomial(d', p), d' = 327,680: mean 327.7, standard deviation 18.1.
	n := clipped(randUpdate(rand.New(rand.NewPCG(11, 12)), d, 1))
	t.Logf("%d of %d rotated coordinates clipped at p = %g", n, r.PaddedLen(), p)
	if n < 328-5*18 || n > 328+5*18 {
		t.Errorf("%d coordinates clipped, want about 328", n)
	}
	spike := make([]float32, d)
	spike[12345] = 1
	if n := clipped(spike); n != 0 {
		t.Errorf("%d coordinates of a rotated spike clipped", n)
	}
}

// The point of rotating: an update with one large coordinate, quantized
// with a range every update of norm C fits (c = C), or with the rotated
// range applied without rotating (the spike is clipped), has a far larger
// error than rotated and quantized with RotatedClip.
func TestRotationHelpsSpikes(t *testing.T) {
	const d, b = 4000, 8
	rng := rand.New(rand.NewPCG(13, 14))
	x := randUpdate(rng, d, math.Sqrt(0.5))
	x[7] += float32(math.Sqrt(0.5))
	r, _ := NewRotation(c2spSeed, d)
	k := TailBound(1e-4)
	src := rand.NewChaCha8([32]byte{7})

	mse := func(q *Quantizer, rotate bool) float64 {
		v := x
		if rotate {
			v, _ = r.Forward(nil, x)
		}
		enc, _ := q.AppendEncode(nil, v, src)
		dec, _ := q.AppendDecodeSum(nil, enc)
		if rotate {
			dec, _ = r.Inverse(nil, dec)
		}
		e := l2Dist(dec, x)
		return e * e
	}
	m := RequiredModBits(b, 1)
	rotated := mse(mustQuantizer(t, b, RotatedClip(1, d, k), m), true)
	wide := mse(mustQuantizer(t, b, 1, m), false)
	narrow := mse(mustQuantizer(t, b, k/math.Sqrt(d), m), false)
	t.Logf("MSE at %d bits: rotated %.3g, unrotated with c = C %.3g (×%.0f), with c = k·C/√d %.3g (×%.0f)",
		b, rotated, wide, wide/rotated, narrow, narrow/rotated)
	if wide < 100*rotated || narrow < 100*rotated {
		t.Errorf("rotation gains only ×%.1f and ×%.1f", wide/rotated, narrow/rotated)
	}
}

// ClipK beats a fixed tail bound at 16 bits, where clipping dominates the
// error, and a range wider than needed.
func TestClipK(t *testing.T) {
	const d, b = 1 << 16, 16
	for _, c := range []struct {
		b, n int
		want float64
	}{{8, 100, 4.71}, {12, 100, 5.68}, {16, 100, 6.52}, {8, 1, 3.77}} {
		if got := ClipK(c.b, c.n); math.Abs(got-c.want) > 0.005 {
			t.Errorf("ClipK(%d, %d) = %.4f, want %.2f", c.b, c.n, got, c.want)
		}
	}
	r, _ := NewRotation([32]byte{4}, d)
	y, _ := r.Forward(nil, randUpdate(rand.New(rand.NewPCG(23, 24)), d, 1))
	mse := func(k float64) float64 {
		q := mustQuantizer(t, b, RotatedClip(1, d, k), b)
		enc, _ := q.AppendEncode(nil, y, rand.NewChaCha8([32]byte{5}))
		dec, _ := q.AppendDecodeSum(nil, enc)
		e := l2Dist(dec, y)
		return e * e
	}
	best, tail, wide := mse(ClipK(b, 1)), mse(TailBound(1e-4)), mse(9)
	t.Logf("MSE at %d bits: k = ClipK %.3g, k = TailBound(1e-4) %.3g, k = 9 %.3g", b, best, tail, wide)
	if best > tail/10 || best > wide/1.5 {
		t.Errorf("ClipK's MSE %g, against %g and %g", best, tail, wide)
	}
}

// The whole path on a small round: rotate, quantize, add in the ring, decode
// the sum, unrotate, divide; the error of the mean is within the bound of
// the rounding variance, d'·(step/2)²/n.
func TestQuantizedMean(t *testing.T) {
	const d, n, b = 5000, 10, 10
	rng := rand.New(rand.NewPCG(15, 16))
	r, _ := NewRotation([32]byte{3}, d)
	m := RequiredModBits(b, n)
	q := mustQuantizer(t, b, RotatedClip(1, d, TailBound(1e-6)), m)
	if err := q.Check(n); err != nil {
		t.Fatal(err)
	}
	want := make([]float64, d)
	var sum []uint32
	for i := range n {
		x := randUpdate(rng, d, 1)
		for j, v := range x {
			want[j] += float64(v) / n
		}
		y, _ := r.Forward(nil, x)
		enc, err := q.AppendEncode(nil, y, rand.NewChaCha8([32]byte{byte(i)}))
		if err != nil {
			t.Fatal(err)
		}
		if sum == nil {
			sum = enc
		} else {
			sum = sumMod(m, sum, enc)
		}
	}
	dec, _ := q.AppendDecodeSum(nil, sum)
	mean, _ := r.Inverse(nil, dec)
	var se float64
	for j, v := range mean {
		e := float64(v)/n - want[j]
		se += e * e
	}
	step := 1 / q.Scale()
	bound := float64(PaddedLen(d)) * step * step / 4 / n
	t.Logf("‖mean error‖² %.3g, bound %.3g", se, bound)
	if se > bound {
		t.Fatalf("‖mean error‖² %g over the bound %g", se, bound)
	}
}

func BenchmarkQuantize(b *testing.B) {
	const d = 1 << 19
	x := randUpdate(rand.New(rand.NewPCG(17, 18)), d, 1)
	q := mustQuantizer(b, 8, RotatedClip(1, d, TailBound(1e-4)), 15)
	src := rand.NewChaCha8([32]byte{})
	enc := make([]uint32, 0, d)
	dec := make([]float32, 0, d)
	b.Run("encode", func(b *testing.B) {
		b.SetBytes(4 * d)
		for b.Loop() {
			enc, _ = q.AppendEncode(enc[:0], x, src)
		}
	})
	b.Run("decode", func(b *testing.B) {
		b.SetBytes(4 * d)
		for b.Loop() {
			dec, _ = q.AppendDecodeSum(dec[:0], enc)
		}
	})
}
