package secagg

import (
	"errors"
	"fmt"
	"testing"
)

// goldenParams is the golden table of /work/shared/reference/privacy-vectors.md
// §1.2 (federated-compute graph_parameter_finder_test.cc); the last rows
// (marked upstream) are in the upstream test file but not in the reference's
// table.
var goldenParams = []struct {
	n                  int
	adversary, dropout float64
	model              ThreatModel
	degree, threshold  int
}{
	{100, 0.45, 0.45, HonestServer, 92, 46},
	{1000, 0.45, 0.45, HonestServer, 822, 417},
	{10000, 0.45, 0.45, HonestServer, 3494, 1771},
	{100000, 0.45, 0.45, HonestServer, 5508, 2788},
	{1000000, 0.45, 0.45, HonestServer, 6240, 3156},

	{10, 0.33, 0.33, HonestServer, 8, 4},
	{100, 0.33, 0.33, HonestServer, 68, 34},
	{1000, 0.33, 0.33, HonestServer, 286, 150},
	{10000, 0.33, 0.33, HonestServer, 422, 221},
	{100000, 0.33, 0.33, HonestServer, 480, 251},
	{1000000, 0.33, 0.33, HonestServer, 518, 270},

	{100, 0.3, 0.3, SemiMalicious, 92, 62},
	{1000, 0.3, 0.3, SemiMalicious, 872, 584},
	{10000, 0.3, 0.3, SemiMalicious, 4822, 3230},
	{100000, 0.3, 0.3, SemiMalicious, 9388, 6286},
	{1000000, 0.3, 0.3, SemiMalicious, 11136, 7454},

	{10, 0.05, 0.33, HonestServer, 4, 2},
	{100, 0.05, 0.33, HonestServer, 28, 6},
	{1000, 0.05, 0.33, HonestServer, 72, 24},
	{10000, 0.05, 0.33, HonestServer, 86, 29},
	{100000, 0.05, 0.33, HonestServer, 96, 32},
	{1000000, 0.05, 0.33, HonestServer, 102, 34},

	{10, 0.05, 0.33, SemiMalicious, 8, 5},
	{100, 0.05, 0.33, SemiMalicious, 72, 39},
	{1000, 0.05, 0.33, SemiMalicious, 398, 223},
	{10000, 0.05, 0.33, SemiMalicious, 746, 420},
	{100000, 0.05, 0.33, SemiMalicious, 882, 496},
	{1000000, 0.05, 0.33, SemiMalicious, 970, 545},

	{10, 0.33, 0.05, HonestServer, 4, 4},
	{100, 0.33, 0.05, HonestServer, 34, 29},
	{1000, 0.33, 0.05, HonestServer, 78, 60},
	{10000, 0.33, 0.05, HonestServer, 92, 70},
	{100000, 0.33, 0.05, HonestServer, 102, 77},
	{1000000, 0.33, 0.05, HonestServer, 110, 83},

	{10, 0.33, 0.05, SemiMalicious, 4, 4},
	{100, 0.33, 0.05, SemiMalicious, 42, 37},
	{1000, 0.33, 0.05, SemiMalicious, 132, 109},
	{10000, 0.33, 0.05, SemiMalicious, 178, 146},
	{100000, 0.33, 0.05, SemiMalicious, 196, 160},
	{1000000, 0.33, 0.05, SemiMalicious, 212, 173},

	{10, 0.05, 0.05, HonestServer, 2, 2},
	{100, 0.05, 0.05, HonestServer, 12, 6},
	{1000, 0.05, 0.05, HonestServer, 30, 17},
	{10000, 0.05, 0.05, HonestServer, 34, 20},
	{100000, 0.05, 0.05, HonestServer, 36, 21},
	{1000000, 0.05, 0.05, HonestServer, 38, 22},

	{10, 0.05, 0.05, SemiMalicious, 2, 2},
	{100, 0.05, 0.05, SemiMalicious, 16, 11},
	{1000, 0.05, 0.05, SemiMalicious, 52, 37},
	{10000, 0.05, 0.05, SemiMalicious, 62, 44},
	{100000, 0.05, 0.05, SemiMalicious, 68, 48},
	{1000000, 0.05, 0.05, SemiMalicious, 74, 52},

	{10, 0.33, 0.0, HonestServer, 4, 4},
	{100, 0.33, 0.0, HonestServer, 26, 25},
	{1000, 0.33, 0.0, HonestServer, 38, 36},
	{10000, 0.33, 0.0, HonestServer, 42, 40},
	{100000, 0.33, 0.0, HonestServer, 46, 44},
	{1000000, 0.33, 0.0, HonestServer, 50, 47},

	{10, 0.33, 0.0, SemiMalicious, 4, 4},
	{100, 0.33, 0.0, SemiMalicious, 26, 26},
	{1000, 0.33, 0.0, SemiMalicious, 38, 37},
	{10000, 0.33, 0.0, SemiMalicious, 42, 41},
	{100000, 0.33, 0.0, SemiMalicious, 46, 45},
	{1000000, 0.33, 0.0, SemiMalicious, 50, 49},

	{10, 0.0, 0.33, HonestServer, 4, 2},
	{100, 0.0, 0.33, HonestServer, 26, 2},
	{1000, 0.0, 0.33, HonestServer, 38, 2},
	{10000, 0.0, 0.33, HonestServer, 42, 2},
	{100000, 0.0, 0.33, HonestServer, 46, 2},
	{1000000, 0.0, 0.33, HonestServer, 50, 2},

	{10, 0.0, 0.33, HonestServer, 4, 2},
	{100, 0.0, 0.33, HonestServer, 26, 2},
	{1000, 0.0, 0.33, HonestServer, 38, 2},
	{10000, 0.0, 0.33, HonestServer, 42, 2},
	{100000, 0.0, 0.33, HonestServer, 46, 2},
	{1000000, 0.0, 0.33, HonestServer, 50, 2},

	{10, 0.0, 0.33, SemiMalicious, 8, 5},
	{100, 0.0, 0.33, SemiMalicious, 68, 35},
	{1000, 0.0, 0.33, SemiMalicious, 228, 115},

	// upstream
	{10000, 0.0, 0.33, SemiMalicious, 326, 164},
	{100000, 0.0, 0.33, SemiMalicious, 372, 187},
	{1000000, 0.0, 0.33, SemiMalicious, 410, 206},
	{10, 0.0, 0.0, HonestServer, 2, 2},
	{1000000, 0.0, 0.0, HonestServer, 2, 2},
	{1000, 0.0, 0.0, HonestServer, 2, 2},
	{1000000, 0.0, 0.0, HonestServer, 2, 2},
	{10, 0.0, 0.0, SemiMalicious, 2, 2},
	{1000000, 0.0, 0.0, SemiMalicious, 2, 2},
}

func TestFindParamsGoldenTable(t *testing.T) {
	for _, g := range goldenParams {
		name := fmt.Sprintf("n=%d/a=%v/d=%v/%v", g.n, g.adversary, g.dropout, g.model)
		t.Run(name, func(t *testing.T) {
			k, th, err := FindParams(g.n, g.adversary, g.dropout, g.model)
			if err != nil {
				t.Fatal(err)
			}
			if k != g.degree || th != g.threshold {
				t.Errorf("FindParams = (k %d, t %d), want (%d, %d)", k, th, g.degree, g.threshold)
			}
		})
	}
}

func TestFindParamsRejects(t *testing.T) {
	for _, c := range []struct {
		n                  int
		adversary, dropout float64
		model              ThreatModel
		want               error
	}{
		{0, 0.1, 0.1, SemiHonest, ErrInvalidParams},
		{MaxParamClients + 1, 0.1, 0.1, SemiHonest, ErrInvalidParams},
		{1000, 0.1, 1, SemiHonest, ErrInvalidParams},
		{1000, 0.1, -1, SemiHonest, ErrInvalidParams},
		{1000, -0.1, 0.1, SemiHonest, ErrInvalidParams},
		{1000, 0.05, 0.05, NoAdversary, ErrInvalidParams},
		{1000, 0.05, 0.05, ThreatModel(7), ErrInvalidParams},
		{1000, 0.5, 0.5, SemiHonest, ErrInfeasible},
		{1000, 0.5, 0.5, SemiMalicious, ErrInfeasible},
		{1000, 0.33, 0.33, SemiMalicious, ErrInfeasible},
		{1000, 0.5, 0.5, NoAdversary, ErrInvalidParams},
		// Feasible rates but too few clients for any degree below n−1.
		{5, 0.45, 0.45, SemiHonest, ErrInfeasible},
	} {
		_, _, err := FindParams(c.n, c.adversary, c.dropout, c.model)
		if !errors.Is(err, c.want) {
			t.Errorf("FindParams(%d, %v, %v, %v) error %v, want %v", c.n, c.adversary, c.dropout, c.model, err, c.want)
		}
	}
}

// TestFullGraphParams: a cohort too small for a sparse graph gets the full
// graph with the largest threshold the dropouts allow, if that threshold
// still beats the colluders.
func TestFullGraphParams(t *testing.T) {
	for _, c := range []struct {
		n            int
		adv, drop    float64
		model        ThreatModel
		wantK, wantT int
	}{
		{2, 0.05, 0.1, HonestServer, 1, 2},
		{3, 0.05, 0.1, HonestServer, 2, 3},
		{10, 0, 0.3, HonestServer, 9, 7},
		{10, 0.45, 0.45, HonestServer, 9, 6},
	} {
		k, th, err := FullGraphParams(c.n, c.adv, c.drop, c.model)
		if err != nil || k != c.wantK || th != c.wantT {
			t.Errorf("%+v: k %d t %d (%v), want k %d t %d", c, k, th, err, c.wantK, c.wantT)
		}
	}
	if _, _, err := FindParams(3, 0.05, 0.1, SemiHonest); !errors.Is(err, ErrInfeasible) {
		t.Fatalf("n = 3 has a sparse graph after all (%v): the fallback is untested", err)
	}
	// Semi-malicious with 3 of 10 colluding needs t ≥ 8, dropouts allow 7.
	if _, _, err := FullGraphParams(10, 0.3, 0.3, SemiMalicious); !errors.Is(err, ErrInfeasible) {
		t.Errorf("infeasible full graph accepted: %v", err)
	}
	if _, _, err := FullGraphParams(1, 0, 0, NoAdversary); !errors.Is(err, ErrInvalidParams) {
		t.Errorf("one client accepted: %v", err)
	}
}

// TestFindParamsMajorityByDefault: without HonestServer the finder's
// threshold is a strict majority of every neighbourhood (2t > k+1), at the
// default rates (5% colluders, 10% dropouts) and at the golden table's, and
// the published values stay available as HonestServer. The pinned rows are
// the default rates' parameters before (HonestServer) and after.
func TestFindParamsMajorityByDefault(t *testing.T) {
	for _, c := range []struct {
		n                  int
		honestK, honestT   int
		defaultK, defaultT int
	}{
		{20, 4, 2, 6, 4},
		{50, 8, 3, 12, 7},
		{100, 16, 6, 22, 12},
		{300, 28, 14, 30, 16},
		{100000, 46, 23, 46, 24},
	} {
		k, th, err := FindParams(c.n, 0.05, 0.1, HonestServer)
		if err != nil || k != c.honestK || th != c.honestT {
			t.Errorf("n = %d honest server: k %d t %d (%v), want %d %d", c.n, k, th, err, c.honestK, c.honestT)
		}
		k, th, err = FindParams(c.n, 0.05, 0.1, SemiHonest)
		if err != nil || k != c.defaultK || th != c.defaultT {
			t.Errorf("n = %d semi-honest: k %d t %d (%v), want %d %d", c.n, k, th, err, c.defaultK, c.defaultT)
		}
	}
	for _, g := range goldenParams {
		for _, model := range []ThreatModel{SemiHonest, NoAdversary, SemiMalicious} {
			if model == SemiMalicious && g.model != SemiMalicious || model == NoAdversary && g.adversary > 0 {
				continue
			}
			k, th, err := FindParams(g.n, g.adversary, g.dropout, model)
			if errors.Is(err, ErrInfeasible) {
				continue
			}
			if err != nil || 2*th <= k+1 {
				t.Errorf("FindParams(%d, %v, %v, %v) = (k %d, t %d, %v): not a majority of %d", g.n, g.adversary, g.dropout, model, k, th, err, k+1)
			}
		}
	}
	for _, n := range []int{4, 5, 10} {
		k, th, err := FullGraphParams(n, 0.05, 0.6, SemiHonest)
		if err == nil {
			t.Errorf("FullGraphParams(%d, 0.05, 0.6) = (%d, %d): a minority threshold", n, k, th)
		}
		if _, _, err := FullGraphParams(n, 0.05, 0.6, HonestServer); err != nil {
			t.Errorf("FullGraphParams(%d, 0.05, 0.6, HonestServer): %v", n, err)
		}
	}
}
