package model

import (
	"math"
	"math/rand/v2"
	"testing"

	"gonum.org/v1/gonum/mat"
)

type testHistories []Positives

func (h testHistories) Positives(u int) Positives { return h[u] }

// randomModel returns a model with non-trivial factors and biases.
func randomModel(t *testing.T, items, k int, seed uint64) *MF {
	t.Helper()
	m, err := NewMF(items, k, seed)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(seed, 99))
	for i := range m.Params {
		m.Params[i] = float32(rng.NormFloat64() * 0.3)
	}
	return m
}

var testCfg = Config{Factors: 4, Alpha: 3, NegWeight: 0.7, UserReg: 0.5, ItemReg: 2, RecencyHalfLife: 2, RecencyFloor: 0.25}

// personLoss is Σ_i c_i (y_i − b_i − q_i·u)² over all items, straight from
// the definition.
func personLoss(m *MF, cfg Config, pos Positives, u []float64) float64 {
	k := m.Factors
	conf := map[int32]float64{}
	for j, it := range pos.Items {
		conf[it] = cfg.confidence(pos.age(j))
	}
	var l float64
	for i := 0; i < m.Items; i++ {
		c, y := cfg.NegWeight, 0.0
		if cc, ok := conf[int32(i)]; ok {
			c, y = cc, 1
		}
		s := float64(m.Params[m.Items*k+i])
		for f := 0; f < k; f++ {
			s += float64(m.Params[i*k+f]) * u[f]
		}
		l += c * (y - s) * (y - s)
	}
	return l
}

func TestSolveUserMatchesDirectLeastSquares(t *testing.T) {
	m := randomModel(t, 30, 4, 1)
	pos := Positives{Items: []int32{2, 5, 17, 29}, Ages: []int32{0, 3, 1, 7}}
	got := make([]float32, 4)
	if !Prepare(m, testCfg).solveUser(newSolver(testCfg.Factors), pos, got) {
		t.Fatal("singular")
	}
	// Direct normal equations over every item, without the Gram shortcut.
	k := 4
	a := mat.NewSymDense(k, nil)
	rhs := mat.NewVecDense(k, nil)
	conf := map[int32]float64{}
	for j, it := range pos.Items {
		conf[it] = testCfg.confidence(pos.Ages[j])
	}
	for i := 0; i < m.Items; i++ {
		c, y := testCfg.NegWeight, 0.0
		if cc, ok := conf[int32(i)]; ok {
			c, y = cc, 1
		}
		b := float64(m.Biases()[i])
		for f := 0; f < k; f++ {
			qf := float64(m.Params[i*k+f])
			rhs.SetVec(f, rhs.AtVec(f)+c*(y-b)*qf)
			for h := f; h < k; h++ {
				a.SetSym(f, h, a.At(f, h)+c*qf*float64(m.Params[i*k+h]))
			}
		}
	}
	for f := 0; f < k; f++ {
		a.SetSym(f, f, a.At(f, f)+testCfg.UserReg)
	}
	var want mat.VecDense
	if err := want.SolveVec(a, rhs); err != nil {
		t.Fatal(err)
	}
	for f := range got {
		if math.Abs(float64(got[f])-want.AtVec(f)) > 1e-5 {
			t.Fatalf("factor %d: got %v, want %v", f, got[f], want.AtVec(f))
		}
	}
}

// TestUpdateIsGradientStep checks the update against central finite
// differences of the person's objective plus its share of the item
// regularisation, at the person's solved vector (by the envelope theorem this
// is also the gradient of the objective minimised over the person's vector).
func TestUpdateIsGradientStep(t *testing.T) {
	m := randomModel(t, 12, 4, 2)
	pos := Positives{Items: []int32{0, 3, 11}, Ages: []int32{2, 0, 5}}
	lc := LocalConfig{Epochs: 1, LR: 0.05, ItemRegShare: 0.3}
	tr := NewTrainer(4)
	delta := make([]float32, len(m.Params))
	loss, err := tr.Update(Prepare(m, testCfg), pos, lc, delta)
	if err != nil {
		t.Fatal(err)
	}
	u := make([]float64, 4)
	for f, v := range tr.User() {
		u[f] = float64(v)
	}
	if want := personLoss(m, testCfg, pos, u) / float64(m.Items); math.Abs(loss-want) > 1e-5*want {
		t.Fatalf("loss %v, want %v", loss, want)
	}
	objective := func(mm *MF) float64 {
		var reg float64
		for _, v := range mm.Params {
			reg += float64(v) * float64(v)
		}
		return personLoss(mm, testCfg, pos, u) + lc.ItemRegShare*reg
	}
	const h = 1e-2
	for i := range m.Params {
		plus, minus := cloneMF(m), cloneMF(m)
		plus.Params[i] += h
		minus.Params[i] -= h
		grad := (objective(plus) - objective(minus)) / (2 * h)
		want := -lc.LR / 2 * grad
		if math.Abs(float64(delta[i])-want) > 1e-4 {
			t.Fatalf("param %d: delta %v, want %v", i, delta[i], want)
		}
	}
}

func TestUpdateWritesEveryElement(t *testing.T) {
	m := randomModel(t, 20, 4, 3)
	delta := make([]float32, len(m.Params))
	for i := range delta {
		delta[i] = float32(math.NaN())
	}
	if _, err := NewTrainer(4).Update(Prepare(m, testCfg), Positives{Items: []int32{4}}, LocalConfig{Epochs: 1, LR: 0.1}, delta); err != nil {
		t.Fatal(err)
	}
	for i, v := range delta {
		if math.IsNaN(float64(v)) || v == 0 {
			t.Fatalf("element %d = %v: every element must be written, none left zero", i, v)
		}
	}
}

func TestMoreLocalEpochsLowerTheLocalObjective(t *testing.T) {
	m := randomModel(t, 25, 4, 4)
	pos := Positives{Items: []int32{1, 7, 8, 20}}
	p := Prepare(m, testCfg)
	after := func(epochs int) float64 {
		d := make([]float32, len(m.Params))
		tr := NewTrainer(4)
		if _, err := tr.Update(p, pos, LocalConfig{Epochs: epochs, LR: 0.02}, d); err != nil {
			t.Fatal(err)
		}
		local := cloneMF(m)
		for i := range d {
			local.Params[i] += d[i]
		}
		u := make([]float32, 4)
		Prepare(local, testCfg).solveUser(newSolver(testCfg.Factors), pos, u)
		uu := make([]float64, 4)
		for f, v := range u {
			uu[f] = float64(v)
		}
		return personLoss(local, testCfg, pos, uu)
	}
	u0 := make([]float32, 4)
	p.solveUser(newSolver(testCfg.Factors), pos, u0)
	uu := make([]float64, 4)
	for f, v := range u0 {
		uu[f] = float64(v)
	}
	l0, l1, l3 := personLoss(m, testCfg, pos, uu), after(1), after(3)
	if !(l3 < l1 && l1 < l0) {
		t.Fatalf("loss after 0, 1, 3 epochs: %v %v %v, want decreasing", l0, l1, l3)
	}
}

func TestUpdateRejectsMismatches(t *testing.T) {
	m := randomModel(t, 10, 4, 5)
	p := Prepare(m, testCfg)
	if _, err := NewTrainer(3).Update(p, Positives{Items: []int32{1}}, LocalConfig{Epochs: 1, LR: 1}, make([]float32, len(m.Params))); err == nil {
		t.Fatal("trainer with the wrong factor count accepted")
	}
	if _, err := NewTrainer(4).Update(p, Positives{Items: []int32{1}}, LocalConfig{Epochs: 1, LR: 1}, make([]float32, 3)); err == nil {
		t.Fatal("short update buffer accepted")
	}
	if _, err := NewTrainer(4).Update(p, Positives{Items: []int32{1}}, LocalConfig{Epochs: 0, LR: 1}, make([]float32, len(m.Params))); err == nil {
		t.Fatal("zero epochs accepted")
	}
}

// alsObjective is the whole objective of the package doc with every person's
// vector at its optimum.
func alsObjective(m *MF, cfg Config, h testHistories) float64 {
	p := Prepare(m, cfg)
	var l float64
	for _, pos := range h {
		u := make([]float32, m.Factors)
		p.solveUser(newSolver(testCfg.Factors), pos, u)
		uu := make([]float64, m.Factors)
		var un float64
		for f, v := range u {
			uu[f] = float64(v)
			un += uu[f] * uu[f]
		}
		l += personLoss(m, cfg, pos, uu) + cfg.UserReg*un
	}
	var reg float64
	for _, v := range m.Params {
		reg += float64(v) * float64(v)
	}
	return l + cfg.ItemReg*reg
}

func randomHistories(users, items int, seed uint64) testHistories {
	rng := rand.New(rand.NewPCG(seed, 7))
	h := make(testHistories, users)
	for u := range h {
		for i := 0; i < items; i++ {
			if rng.Float64() < 0.2 {
				h[u].Items = append(h[u].Items, int32(i))
				h[u].Ages = append(h[u].Ages, int32(rng.IntN(10)))
			}
		}
	}
	return h
}

func TestALSDecreasesTheObjective(t *testing.T) {
	h := randomHistories(40, 30, 1)
	prev := math.Inf(1)
	_, err := TrainALS(testCfg, 30, len(h), h, ALSOptions{Iterations: 6, Seed: 1, AfterIteration: func(it int, m *MF) error {
		obj := alsObjective(m, testCfg, h)
		if obj > prev*(1+1e-6) {
			t.Errorf("iteration %d: objective rose from %v to %v", it, prev, obj)
		}
		prev = obj
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
}

func TestALSIsDeterministicAcrossWorkers(t *testing.T) {
	h := randomHistories(50, 40, 2)
	a, err := TrainALS(testCfg, 40, len(h), h, ALSOptions{Iterations: 3, Seed: 5, Workers: 1})
	if err != nil {
		t.Fatal(err)
	}
	b, err := TrainALS(testCfg, 40, len(h), h, ALSOptions{Iterations: 3, Seed: 5, Workers: 3})
	if err != nil {
		t.Fatal(err)
	}
	for i := range a.Params {
		if a.Params[i] != b.Params[i] {
			t.Fatalf("param %d differs: %v vs %v", i, a.Params[i], b.Params[i])
		}
	}
}

func TestALSRejectsBadInput(t *testing.T) {
	h := testHistories{{Items: []int32{0, 9}}}
	if _, err := TrainALS(testCfg, 5, 1, h, ALSOptions{Iterations: 1}); err == nil {
		t.Fatal("item out of range accepted")
	}
	if _, err := TrainALS(testCfg, 10, 1, h, ALSOptions{Iterations: 0}); err == nil {
		t.Fatal("zero iterations accepted")
	}
	bad := testCfg
	bad.Factors = 0
	if _, err := TrainALS(bad, 10, 1, h, ALSOptions{Iterations: 1}); err == nil {
		t.Fatal("zero factors accepted")
	}
}

func TestEvaluateLearnsStructure(t *testing.T) {
	// Two groups of people, each interacting only within its own half of the
	// items; a trained model must rank a held-out item of the own half high.
	const users, items = 60, 40
	rng := rand.New(rand.NewPCG(3, 3))
	h := make(testHistories, users)
	test := make([]int32, users)
	for u := range h {
		base := (u % 2) * (items / 2)
		perm := rng.Perm(items / 2)
		for _, j := range perm[:6] {
			h[u].Items = append(h[u].Items, int32(base+j))
		}
		test[u] = int32(base + perm[6])
		sortInt32(h[u].Items)
	}
	cfg := Config{Factors: 4, Alpha: 5, NegWeight: 1, UserReg: 0.1, ItemReg: 0.1}
	m, err := TrainALS(cfg, items, users, h, ALSOptions{Iterations: 5, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	met := Evaluate(Prepare(m, cfg), h, test, nil, DefaultEvalOptions())
	// Within the own half 14 items remain, 10 of them are in the top 10 at
	// best, so HR is about 10/14 if the model only learnt the halves.
	if met.Users != users || met.HR < 0.6 {
		t.Fatalf("metrics %+v: want all %d people and HR ≥ 0.6", met, users)
	}
	one := Evaluate(Prepare(m, cfg), h, test, nil, EvalOptions{K: 10, Negatives: 99, Seed: 1, Workers: 1})
	if one != met {
		t.Fatalf("metrics depend on the number of workers: %+v vs %+v", one, met)
	}
}

func sortInt32(xs []int32) {
	for i := 1; i < len(xs); i++ {
		for j := i; j > 0 && xs[j] < xs[j-1]; j-- {
			xs[j], xs[j-1] = xs[j-1], xs[j]
		}
	}
}

// cloneMF is a deep copy of m.
func cloneMF(m *MF) *MF {
	c := *m
	c.Params = append([]float32(nil), m.Params...)
	return &c
}
