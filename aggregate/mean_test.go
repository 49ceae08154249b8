package aggregate

import (
	"errors"
	"math"
	"slices"
	"testing"
)

func TestMeanWeighted(t *testing.T) {
	m := NewMean(3)
	if err := m.Mean(make([]float32, 3)); !errors.Is(err, ErrEmpty) {
		t.Fatalf("empty mean: %v, want ErrEmpty", err)
	}
	// (1·(1, 2, 3) + 3·(5, −2, 0.5)) / 4 = (4, −1, 1.125)
	if err := m.Add([]float32{1, 2, 3}, 1); err != nil {
		t.Fatal(err)
	}
	if err := m.Add([]float32{5, -2, 0.5}, 3); err != nil {
		t.Fatal(err)
	}
	got := make([]float32, 3)
	if err := m.Mean(got); err != nil {
		t.Fatal(err)
	}
	if got[0] != 4 || got[1] != -1 || got[2] != 1.125 {
		t.Fatalf("mean %v, want [4 -1 1.125]", got)
	}
	sum := make([]float32, 3)
	if err := m.Sum(sum); err != nil || sum[0] != 16 || sum[1] != -4 || sum[2] != 4.5 {
		t.Fatalf("sum %v (%v), want [16 -4 4.5]", sum, err)
	}
	if m.Count() != 2 {
		t.Fatalf("count %d", m.Count())
	}
	m.Reset()
	if m.Count() != 0 {
		t.Fatal("reset left state")
	}
	m.Add([]float32{2, 2, 2}, 1)
	m.Mean(got)
	if got[0] != 2 {
		t.Fatalf("after reset: %v", got)
	}
}

func TestMeanRejectsWholeUpdate(t *testing.T) {
	m := NewMean(5)
	m.Add([]float32{1, 1, 1, 1, 1}, 1)
	nan := float32(math.NaN())
	inf := float32(math.Inf(1))
	bad := []struct {
		v []float32
		w float64
	}{
		{[]float32{1, 2}, 1},
		{[]float32{9, 9, 9, 9, nan}, 1},
		{[]float32{9, 9, 9, 9, inf}, 1},
		{[]float32{9, 9, 9, 9, 9}, 0},
		{[]float32{9, 9, 9, 9, 9}, -1},
		{[]float32{9, 9, 9, 9, 9}, math.NaN()},
		{[]float32{9, 9, 9, 9, 9}, math.Inf(1)},
		{[]float32{9, 9, 9, 9, MaxAbsValue}, 1},
		{[]float32{9, 9, 9, 9, 1e6}, MaxAbsValue / 1e5},
	}
	for _, b := range bad {
		var ue *UpdateError
		if err := m.Add(b.v, b.w); !errors.As(err, &ue) {
			t.Errorf("Add(%v, %v) = %v, want an *UpdateError", b.v, b.w, err)
		}
	}
	got := make([]float32, 5)
	m.Mean(got)
	for _, g := range got {
		if g != 1 {
			t.Fatalf("a rejected update changed the sum: %v", got)
		}
	}
	if err := m.Mean(make([]float32, 4)); err == nil {
		t.Fatal("short destination accepted")
	}
}

func TestMeanDoesNotDependOnOrder(t *testing.T) {
	vecs := make([][]float32, 50)
	for i := range vecs {
		vecs[i] = make([]float32, 101)
		for j := range vecs[i] {
			vecs[i][j] = float32(math.Sin(float64(i*101+j))) * 1e3
		}
	}
	run := func(order []int) []float32 {
		m := NewMean(101)
		for _, i := range order {
			if err := m.Add(vecs[i], 0.5+float64(i%3)); err != nil {
				t.Fatal(err)
			}
		}
		out := make([]float32, 101)
		m.Mean(out)
		return out
	}
	forward, backward := make([]int, len(vecs)), make([]int, len(vecs))
	for i := range vecs {
		forward[i], backward[i] = i, len(vecs)-1-i
	}
	a, b := run(forward), run(backward)
	for j := range a {
		if math.Float32bits(a[j]) != math.Float32bits(b[j]) {
			t.Fatalf("element %d differs between orders: %v vs %v", j, a[j], b[j])
		}
	}
	// And it is the mean: compare with a float64 sum.
	var sum, wsum float64
	for i, v := range vecs {
		w := 0.5 + float64(i%3)
		sum += w * float64(v[7])
		wsum += w
	}
	if got, want := float64(a[7]), sum/wsum; math.Abs(got-want) > 1e-6*math.Abs(want) {
		t.Fatalf("mean %v, want %v", got, want)
	}
}

// TestMeanSmallNegativeSum: a small negative sum reads back exactly (the
// two-word split used to lose about 1e-10 here).
func TestMeanSmallNegativeSum(t *testing.T) {
	m := NewMean(2)
	m.Add([]float32{-2e-9, -1e-6}, 1)
	got := make([]float32, 2)
	m.Sum(got)
	if math.Abs(float64(got[0])+2e-9) > 1e-12*2 || math.Abs(float64(got[1])+1e-6) > 1e-12 {
		t.Fatalf("sum %v, want [-2e-9 -1e-6]", got)
	}
}

// TestSumRoundedIsTheExactSumOnAGrid: the fixed-point sum rounded to a grid
// of 2^e, checked against exact rational arithmetic, including negative
// sums, halves (rounded up) and sums beyond 64 bits before the shift.
func TestSumRoundedIsTheExactSumOnAGrid(t *testing.T) {
	m := NewMean(5)
	for _, v := range [][]float32{{1.25, -1.25, 0.75, 2e6, -0.5}, {0.5, -0.5, -0.25, 2e6, 0}, {0, 0, 0, 2e6, 0}} {
		if err := m.Add(v, 1); err != nil {
			t.Fatal(err)
		}
	}
	// Sums: 1.75, −1.75, 0.5, 6e6, −0.5.
	for _, c := range []struct {
		e    int
		want []int64
	}{
		{-40, []int64{7 << 38, -7 << 38, 1 << 39, 6e6 * (1 << 40), -1 << 39}},
		{-1, []int64{4, -3, 1, 12e6, -1}}, // 3.5 → 4, −3.5 → −3, 1, −1
		{0, []int64{2, -2, 1, 6e6, 0}},    // 1.75 → 2, −1.75 → −2, 0.5 → 1, −0.5 → 0
		{1, []int64{1, -1, 0, 3e6, 0}},    // 0.875 → 1, 0.25 → 0
		{30, []int64{0, 0, 0, 0, 0}},
	} {
		got := make([]int64, 5)
		if err := m.SumRounded(got, c.e); err != nil || !slices.Equal(got, c.want) {
			t.Errorf("grid 2^%d: %v (%v), want %v", c.e, got, err, c.want)
		}
	}
	if err := m.SumRounded(make([]int64, 5), -41); err == nil {
		t.Error("a grid finer than the sum's resolution accepted")
	}
	big := NewMean(1)
	for range 4096 {
		big.Add([]float32{4e6}, 1) // 1.6e10·2^40 overflows an int64
	}
	if err := big.SumRounded(make([]int64, 1), -40); err == nil {
		t.Error("an overflowing sum accepted")
	}
	got := make([]int64, 1)
	if err := big.SumRounded(got, 0); err != nil || got[0] != 4096*4e6 {
		t.Errorf("the same sum on a grid of 1: %v, %v", got, err)
	}
}
