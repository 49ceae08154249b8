package secagg

import (
	"slices"
	"testing"
)

func TestGraphHarary(t *testing.T) {
	for _, c := range []struct{ n, k int }{{3, 2}, {10, 4}, {11, 4}, {25, 8}, {100, 12}, {8, 7}, {9, 100}} {
		var seed [32]byte
		seed[0] = byte(c.n)
		g, err := newGraph(c.n, c.k, seed)
		if err != nil {
			t.Fatal(err)
		}
		degree := min(c.k, c.n-1)
		if g.full != (c.k >= c.n-1) {
			t.Errorf("n=%d k=%d: Full = %v", c.n, c.k, g.full)
		}
		for p := range c.n {
			id := g.at[p]
			nb := g.Neighbors(id)
			if len(nb) != degree || !slices.IsSorted(nb) || slices.Contains(nb, id) {
				t.Fatalf("n=%d k=%d: neighbours of %d: %v", c.n, c.k, id, nb)
			}
			for _, u := range nb {
				if !g.Adjacent(u, id) || !g.Adjacent(id, u) {
					t.Fatalf("n=%d k=%d: %d–%d not symmetric", c.n, c.k, id, u)
				}
			}
			if !g.full {
				// The neighbours are the k/2 clients on either side.
				var want []ClientID
				for o := 1; o <= c.k/2; o++ {
					want = append(want, g.at[(p+o)%c.n], g.at[(p-o+c.n)%c.n])
				}
				slices.Sort(want)
				if !slices.Equal(nb, want) {
					t.Fatalf("n=%d k=%d: neighbours of position %d: %v, want %v", c.n, c.k, p, nb, want)
				}
			}
		}
		if g.Neighbors(ClientID(c.n)) != nil || g.Adjacent(0, ClientID(c.n)) {
			t.Errorf("n=%d: ids outside the graph have neighbours", c.n)
		}
	}
}

func TestGraphReproducibleAndUniform(t *testing.T) {
	const n, trials = 6, 24000
	var seed [32]byte
	a, _ := newGraph(50, 6, seed)
	b, _ := newGraph(50, 6, seed)
	if !slices.Equal(a.at, b.at) {
		t.Fatal("the same seed gave two graphs")
	}
	seed[31] = 1
	if c, _ := newGraph(50, 6, seed); slices.Equal(a.at, c.at) {
		t.Fatal("two seeds gave the same graph")
	}
	// Each client lands at each position equally often.
	var counts [n][n]int
	rng := seeded(91)
	for range trials {
		rng.Read(seed[:])
		g, _ := newGraph(n, 2, seed)
		for p, id := range g.at {
			counts[id][p]++
		}
	}
	flat := make([]int, 0, n*n)
	for _, row := range counts {
		flat = append(flat, row[:]...)
	}
	if x := chiSquare(flat, trials*n); x > chiSquareBound((n-1)*(n-1)) {
		t.Errorf("positions not uniform: χ² = %.1f", x)
	}
}

func TestNewGraphRejects(t *testing.T) {
	for _, c := range []struct{ n, k int }{{0, 2}, {MaxClients + 1, 2}, {10, 3}, {10, 0}, {10, -2}} {
		if _, err := newGraph(c.n, c.k, [32]byte{}); err == nil {
			t.Errorf("NewGraph(%d, %d) accepted", c.n, c.k)
		}
	}
}
