package aggregate

import (
	"math"
	"strings"
	"testing"
)

// Three steps from x = (1, −2) with deltas (0.5, −1), (0.1, 0.2), (−0.3, 0.4).
var deltas = [][]float32{{0.5, -1}, {0.1, 0.2}, {-0.3, 0.4}}

// The expected values follow Reddi et al. 2021, Algorithm 2, in float64.
// Worked through for the first step of fedadam (η 0.1, β1 0.9, β2 0.99,
// τ 1e-3, v₀ = τ² = 1e-6), first coordinate:
//
//	m₁ = 0.1·0.5 = 0.05
//	v₁ = 0.99·1e-6 + 0.01·0.25 = 0.00250099
//	x₁ = 1 + 0.1·0.05/(√0.00250099 + 0.001) = 1 + 0.005/0.0510099 = 1.09802019…
//
// and fedavgm (η 1, β 0.9), second step, first coordinate:
// m₂ = 0.9·0.5 + 0.1 = 0.55, x₂ = 1.5 + 0.55 = 2.05.
var optimizerCases = []struct {
	name string
	lr   float64
	want [][2]float64
}{
	{"fedavg", 1, [][2]float64{{1.5, -3}, {1.6, -2.8}, {1.3, -2.4}}},
	{"fedavgm", 1, [][2]float64{{1.5, -3}, {2.05, -3.7}, {2.245, -3.93}}},
	{"fedadagrad", 0.1, [][2]float64{{1.00998001999998, -2.009990004999999}, {1.0207452743294592, -2.016847342260635}, {1.0240358092030422, -2.0189450296059057}}},
	{"fedyogi", 0.1, [][2]float64{{1.0980199980004, -2.099004999875006}, {1.2037892287696306, -2.16697587020209}, {1.2361978102271731, -2.18778110972287}}},
	{"fedadam", 0.1, [][2]float64{{1.0980201901209485, -2.0990050488825425}, {1.204291934766376, -2.167301900154645}, {1.2369341591675327, -2.1882837672316042}}},
}

func TestOptimizersHandComputed(t *testing.T) {
	for _, c := range optimizerCases {
		opt, err := NewOptimizer(OptimizerConfig{Name: c.name, LR: c.lr})
		if err != nil {
			t.Fatal(err)
		}
		x := []float32{1, -2}
		for s, d := range deltas {
			if err := opt.Step(x, d); err != nil {
				t.Fatal(err)
			}
			for i := range x {
				if math.Abs(float64(x[i])-c.want[s][i]) > 1e-6 {
					t.Errorf("%s step %d coordinate %d: %v, want %v", c.name, s+1, i, x[i], c.want[s][i])
				}
			}
		}
	}
}

func TestOptimizerStateRoundTrip(t *testing.T) {
	for _, name := range OptimizerNames() {
		a, _ := NewOptimizer(OptimizerConfig{Name: name, LR: 0.1})
		xa := []float32{1, -2}
		if err := a.Step(xa, deltas[0]); err != nil {
			t.Fatal(err)
		}
		b, _ := NewOptimizer(OptimizerConfig{Name: name, LR: 0.1})
		if err := b.Restore(a.State()); err != nil {
			t.Fatal(err)
		}
		xb := append([]float32(nil), xa...)
		for _, d := range deltas[1:] {
			a.Step(xa, d)
			b.Step(xb, d)
		}
		if xa[0] != xb[0] || xa[1] != xb[1] {
			t.Errorf("%s: resumed optimizer diverged: %v vs %v", name, xb, xa)
		}
		if st := b.State(); st.Step != 3 {
			t.Errorf("%s: step count %d, want 3", name, st.Step)
		}
	}
	other, _ := NewOptimizer(OptimizerConfig{Name: "fedyogi"})
	adam, _ := NewOptimizer(OptimizerConfig{Name: "fedadam"})
	if err := other.Restore(adam.State()); err == nil {
		t.Fatal("restored fedadam state into fedyogi")
	}
}

func TestOptimizerRejects(t *testing.T) {
	bad := []struct {
		cfg  OptimizerConfig
		want string
	}{
		{OptimizerConfig{Name: "sgd"}, "valid: fedavg, fedavgm, fedadagrad, fedyogi, fedadam"},
		{OptimizerConfig{Name: "fedadam", LR: -1}, "learning rate"},
		{OptimizerConfig{Name: "fedadam", Beta1: 1}, "beta1"},
		{OptimizerConfig{Name: "fedadam", Beta2: 1.5}, "beta2"},
		{OptimizerConfig{Name: "fedavgm", Momentum: -0.1}, "momentum"},
		{OptimizerConfig{Name: "fedadam", Tau: -1}, "tau"},
	}
	for _, b := range bad {
		if _, err := NewOptimizer(b.cfg); err == nil || !strings.Contains(err.Error(), b.want) {
			t.Errorf("%+v: error %v, want one mentioning %q", b.cfg, err, b.want)
		}
	}
	opt, _ := NewOptimizer(OptimizerConfig{Name: "fedadam"})
	if err := opt.Step([]float32{1, 2}, []float32{1}); err == nil {
		t.Fatal("mismatched delta accepted")
	}
	opt.Step([]float32{1, 2}, []float32{1, 1})
	if err := opt.Step([]float32{1, 2, 3}, []float32{1, 1, 1}); err == nil {
		t.Fatal("dimension change accepted")
	}
}
