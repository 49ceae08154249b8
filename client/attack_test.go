package client

import (
	"context"
	"math"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"

	"github.com/tacitfl/tacit/codec"
	"github.com/tacitfl/tacit/model"
	"github.com/tacitfl/tacit/privacy"
)

// recoverItems is the coordinator's attack on an update of model m (whose
// biases are zero, as a new model's are) after one local epoch: item i's
// bias entry is α·g_i and its factor row α·g_i·u − β·q_i (α the clipping's
// scale, β the weight decay's), so least squares over every row gives the
// person's vector u and β; an untouched item's g_i is then a fixed
// multiple of its score q_i·u, and the items that do not fit are the ones
// the person touched.
func recoverItems(m *model.MF, update []float32) []int32 {
	k := m.Factors
	q, dq, db := m.ItemFactors(), update[:m.Items*k], update[m.Items*k:]
	// Normal equations for x = (u, β) over the rows dq_i = db_i·u − β·q_i.
	a := make([][]float64, k+1)
	for r := range a {
		a[r] = make([]float64, k+2) // the last column is the right side
	}
	for i := range m.Items {
		b := float64(db[i])
		for f := range k {
			qf, y := float64(q[i*k+f]), float64(dq[i*k+f])
			a[f][f] += b * b
			a[f][k] -= b * qf
			a[k][f] -= b * qf
			a[k][k] += qf * qf
			a[f][k+1] += b * y
			a[k][k+1] -= qf * y
		}
	}
	for c := range k + 1 { // Gaussian elimination with partial pivoting
		p := c
		for r := c + 1; r <= k; r++ {
			if math.Abs(a[r][c]) > math.Abs(a[p][c]) {
				p = r
			}
		}
		a[c], a[p] = a[p], a[c]
		for r := range k + 1 {
			if r != c {
				f := a[r][c] / a[c][c]
				for j := c; j <= k+1; j++ {
					a[r][j] -= f * a[c][j]
				}
			}
		}
	}
	u := make([]float64, k)
	for f := range k {
		u[f] = a[f][k+1] / a[f][f]
	}
	// An untouched item's bias entry is ρ·(q_i·u) for one ρ: the median
	// ratio, as most items are untouched. A touched one is off by about
	// the largest entry.
	scores, ratios := make([]float64, m.Items), make([]float64, m.Items)
	largest := 0.0
	for i := range m.Items {
		for f := range k {
			scores[i] += float64(q[i*k+f]) * u[f]
		}
		ratios[i] = float64(db[i]) / scores[i]
		largest = max(largest, math.Abs(float64(db[i])))
	}
	sort.Float64s(ratios)
	rho := ratios[m.Items/2]
	var touched []int32
	for i := range m.Items {
		if math.Abs(float64(db[i])-rho*scores[i]) > 1e-3*largest {
			touched = append(touched, int32(i))
		}
	}
	return touched
}

// someItems is n distinct items of 0..items-1, ascending.
func someItems(rng *rand.Rand, n, items int) []int32 {
	s := make([]int32, 0, n)
	for _, i := range rng.Perm(items)[:n] {
		s = append(s, int32(i))
	}
	slices.Sort(s)
	return s
}

// TestPlainUpdateRevealsTheItems: a plain update, clipped, gives away which
// of 200 items the person touched: the attack recovers all 40 exactly.
// What the coordinator sees under SecAgg with distributed DP, the decoded
// noisy sum of ten devices, tells it no more about one device's items than
// chance.
func TestPlainUpdateRevealsTheItems(t *testing.T) {
	const items, touched, devices = 200, 40, 10 // chance: a flagged item is the device's with probability 0.2
	m, _ := model.NewMF(items, 8, 3)
	plan := testPlan(1, 1)
	plan.Items, plan.Model.Factors, plan.ClipNorm = items, 8, 0.05
	rng := rand.New(rand.NewPCG(1, 2))
	own := make([][]int32, devices)
	for d := range own {
		own[d] = someItems(rng, touched, items)
	}

	f := &fakeCoordinator{plan: plan, params: m.Params}
	if _, err := NewAgent(Data{Train: model.Positives{Items: own[0]}, Test: -1}, f, NewWorkspace(), nil).Step(context.Background()); err != nil {
		t.Fatal(err)
	}
	update := f.uploads[0].Update
	if n := privacy.L2Norm(update); math.Abs(n-plan.ClipNorm) > 1e-6 {
		t.Fatalf("the update's norm is %v, want it clipped to %v", n, plan.ClipNorm)
	}
	if got := recoverItems(m, update); !slices.Equal(got, own[0]) {
		t.Fatalf("from the plain update the attack recovered %v, the person touched %v", got, own[0])
	}

	// Under SecAgg the coordinator sees only the sum, each device's
	// vector carrying its share of the noise for z = 1 over the ten.
	u := codec.UpdateCodec{Bits: 16, ModBits: 24, Range: 0.05}
	qz, _ := u.Quantizer()
	d := model.ParamCount(items, 8)
	mech := (&privacy.DistributedDGauss{Scale: qz.Scale(), Clip: plan.ClipNorm, Dim: d, MinSurvivors: devices}).WithNoiseMultiplier(1)
	u.LocalNoise, u.MinSurvivors = mech.LocalStd, devices
	sum := make([]uint32, d)
	ws := NewWorkspace()
	for dev, items := range own {
		a := NewAgent(Data{Train: model.Positives{Items: items}, Test: -1}, f, ws, nil).WithSeed([32]byte{byte(dev)})
		if err := ws.ensureModel(context.Background(), f, plan); err != nil {
			t.Fatal(err)
		}
		if _, err := train(ws.trainer, ws.prepared, model.Positives{Items: items}, *plan, ws.update); err != nil {
			t.Fatal(err)
		}
		coins, _, noise := a.coins(1)
		enc, err := ws.encode(u, &mech, coins, noise)
		if err != nil {
			t.Fatal(err)
		}
		for i, v := range enc {
			sum[i] = (sum[i] + v) & codec.RingMask(u.ModBits)
		}
	}
	decoded, err := u.DecodeSum(nil, sum, d)
	if err != nil {
		t.Fatal(err)
	}
	got := recoverItems(m, decoded)
	hits := 0
	for _, i := range got {
		if _, ok := slices.BinarySearch(own[0], i); ok {
			hits++
		}
	}
	precision := float64(hits) / float64(max(len(got), 1))
	t.Logf("on the noisy sum: %d items flagged, %d of them the device's (precision %.2f, chance 0.20)", len(got), hits, precision)
	if precision > 0.3 {
		t.Fatalf("on the noisy sum the attack found %d of the device's %d items among %d flagged", hits, touched, len(got))
	}
}
