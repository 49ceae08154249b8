package secagg

import (
	"fmt"
	"math/bits"
	"math/rand/v2"
	"slices"
)

// graph is the neighbour graph of a round: a (k, n) Harary graph, n clients
// on a circle each linked to its k/2 predecessors and k/2 successors, with
// the clients placed on the circle by a uniformly random permutation drawn
// from a seed (Bell et al. 2020; FCP's SecretSharingHararyGraph). With
// k >= n−1 it is the complete graph of plain SecAgg. Clients mask with and
// share their secrets among their neighbours only.
type graph struct {
	n, half int        // half = k/2
	full    bool       // k >= n−1
	at      []ClientID // at[p] is the client at position p on the circle
	pos     []uint32   // pos[id] is the position of client id
}

// newGraph builds the graph of n clients and degree k from the server's
// seed. The permutation is a Fisher–Yates shuffle driven by ChaCha8 (C2SP
// chacha8rand, stable across Go releases) with unbiased bounded draws, so
// every party computes the same graph.
func newGraph(n, k int, seed [32]byte) (*graph, error) {
	if n < 1 || n > MaxClients {
		return nil, fmt.Errorf("%w: %d clients, want 1..%d", ErrInvalidConfig, n, MaxClients)
	}
	if k < n-1 && (k < 2 || k%2 != 0) {
		return nil, fmt.Errorf("%w: degree %d must be even and >= 2 (or >= n−1)", ErrInvalidConfig, k)
	}
	g := &graph{n: n, half: k / 2, full: k >= n-1, at: make([]ClientID, n), pos: make([]uint32, n)}
	for i := range g.at {
		g.at[i] = ClientID(i)
	}
	r := rand.NewChaCha8(seed)
	for i := n - 1; i > 0; i-- {
		j := uniform(r, uint64(i)+1)
		g.at[i], g.at[j] = g.at[j], g.at[i]
	}
	for p, id := range g.at {
		g.pos[id] = uint32(p)
	}
	return g, nil
}

// uniform is a uniform integer in [0, bound) (Lemire's multiply-and-reject).
func uniform(r *rand.ChaCha8, bound uint64) uint64 {
	hi, lo := bits.Mul64(r.Uint64(), bound)
	if lo < bound {
		for threshold := -bound % bound; lo < threshold; {
			hi, lo = bits.Mul64(r.Uint64(), bound)
		}
	}
	return hi
}

// Adjacent reports whether u and v (distinct) are neighbours.
func (g *graph) Adjacent(u, v ClientID) bool {
	if u == v || int(u) >= g.n || int(v) >= g.n {
		return false
	}
	if g.full {
		return true
	}
	d := int(g.pos[u]) - int(g.pos[v])
	if d < 0 {
		d = -d
	}
	return min(d, g.n-d) <= g.half
}

// Neighbors returns the neighbours of id (not id itself) in increasing
// order, or nil for an id outside the graph.
func (g *graph) Neighbors(id ClientID) []ClientID {
	if int(id) >= g.n {
		return nil
	}
	if g.full {
		out := make([]ClientID, 0, g.n-1)
		for v := range ClientID(g.n) {
			if v != id {
				out = append(out, v)
			}
		}
		return out
	}
	out := make([]ClientID, 0, 2*g.half)
	p := int(g.pos[id])
	for o := 1; o <= g.half; o++ {
		out = append(out, g.at[(p+o)%g.n], g.at[(p-o+g.n)%g.n])
	}
	slices.Sort(out)
	return out
}
