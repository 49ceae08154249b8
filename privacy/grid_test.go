package privacy

import (
	"encoding/csv"
	"fmt"
	"math"
	"os"
	"strconv"
	"strings"
	"testing"
)

// gridCase is one row of testdata/accountant-grid.csv: ε from Opacus'
// RDP, dp_accounting's RDP and dp_accounting's PLD for the same mechanism.
type gridCase struct {
	q, z                        float64
	rounds                      int
	delta                       float64
	opacusRDP, opacusOrder      float64
	dpaccRDP, dpaccPLD, dpOrder float64
}

func readGrid(t *testing.T) []gridCase {
	t.Helper()
	f, err := os.Open("testdata/accountant-grid.csv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.Comment = '#'
	rows, err := r.ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(rows[0], ",") != "q,z,rounds,delta,eps_opacus_rdp,order_opacus_rdp,eps_dpacc_rdp,order_dpacc_rdp,eps_dpacc_pld" {
		t.Fatalf("unexpected header %v", rows[0])
	}
	var cases []gridCase
	for _, row := range rows[1:] {
		v := make([]float64, len(row))
		for i, s := range row {
			if v[i], err = strconv.ParseFloat(s, 64); err != nil {
				t.Fatalf("row %v: %v", row, err)
			}
		}
		cases = append(cases, gridCase{q: v[0], z: v[1], rounds: int(v[2]), delta: v[3],
			opacusRDP: v[4], opacusOrder: v[5], dpaccRDP: v[6], dpOrder: v[7], dpaccPLD: v[8]})
	}
	if len(cases) != 60 {
		t.Fatalf("%d cases, want the 60 of the grid", len(cases))
	}
	return cases
}

// TestRDPAgreesWithReferenceGrid: across q from 0.001 to 0.1, z from 0.8 to
// 1.5 and 100 to 1,000 rounds, the RDP ε equals Opacus' (the same signed
// fractional-order series) to 1e-6 relative with the same optimal order, and
// never exceeds dp_accounting's looser unsigned bound.
func TestRDPAgreesWithReferenceGrid(t *testing.T) {
	for _, c := range readGrid(t) {
		a := NewRDP(nil)
		if err := a.ComposePoissonGaussian(c.q, c.z, c.rounds); err != nil {
			t.Fatal(err)
		}
		eps, order, err := a.Epsilon(c.delta)
		if err != nil {
			t.Fatal(err)
		}
		if rel := math.Abs(eps-c.opacusRDP) / c.opacusRDP; rel > 1e-6 || order != c.opacusOrder {
			t.Errorf("q %v z %v rounds %d: ε %.12g at order %v, Opacus %.12g at %v (relative gap %.2g)",
				c.q, c.z, c.rounds, eps, order, c.opacusRDP, c.opacusOrder, rel)
		}
		if eps > c.dpaccRDP*(1+1e-12) {
			t.Errorf("q %v z %v rounds %d: ε %.12g above dp_accounting's upper bound %.12g", c.q, c.z, c.rounds, eps, c.dpaccRDP)
		}
	}
}

// TestPLDAgreesWithReferenceGrid: the PLD ε is within 1e-8 relative of
// dp_accounting's PLD accountant on the same grid (the bar is 2%; the gap
// measured is below 1e-9), and below the RDP ε. Long: it composes 60
// mechanisms up to 1,000 times, in parallel.
func TestPLDAgreesWithReferenceGrid(t *testing.T) {
	if testing.Short() {
		t.Skip("composes 60 PLDs")
	}
	for _, c := range readGrid(t) {
		t.Run(fmt.Sprintf("q=%v/z=%v/rounds=%d", c.q, c.z, c.rounds), func(t *testing.T) {
			t.Parallel()
			eps, err := PLDEpsilon(c.q, c.z, c.rounds, c.delta)
			if err != nil {
				t.Fatal(err)
			}
			if rel := math.Abs(eps-c.dpaccPLD) / c.dpaccPLD; rel > 1e-8 {
				t.Errorf("PLD ε %.6g, dp_accounting %.6g (relative gap %.2g)", eps, c.dpaccPLD, rel)
			}
			if eps > c.opacusRDP {
				t.Errorf("PLD ε %.6g above RDP's %.6g", eps, c.opacusRDP)
			}
		})
	}
}
