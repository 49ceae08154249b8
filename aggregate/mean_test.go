package aggregate

import (
	"errors"
	"math"
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
	if m.Count() != 2 || m.Weight() != 4 {
		t.Fatalf("count %d weight %v", m.Count(), m.Weight())
	}
	m.Reset()
	if m.Count() != 0 || m.Weight() != 0 {
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

func TestMeanIsDeterministicInOrder(t *testing.T) {
	vecs := make([][]float32, 50)
	for i := range vecs {
		vecs[i] = make([]float32, 101)
		for j := range vecs[i] {
			vecs[i][j] = float32(math.Sin(float64(i*101+j))) * 1e3
		}
	}
	run := func() []float32 {
		m := NewMean(101)
		for _, v := range vecs {
			m.Add(v, 1)
		}
		out := make([]float32, 101)
		m.Mean(out)
		return out
	}
	a, b := run(), run()
	for j := range a {
		if math.Float32bits(a[j]) != math.Float32bits(b[j]) {
			t.Fatalf("element %d differs between identical runs", j)
		}
	}
}
