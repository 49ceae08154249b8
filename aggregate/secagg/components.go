package secagg

import "slices"

// Components splits members (clients of the round c) into the connected
// components of the neighbour graph restricted to them, each sorted, in
// order of their smallest id. Unmasking the inputs of a set of survivors
// reveals the sum of each component on its own (the pairwise masks cancel
// within a component), so a coordinator checks them before it unmasks.
func (c Config) Components(members []ClientID) ([][]ClientID, error) {
	g, err := newGraph(c.NumClients, c.Degree, c.GraphSeed)
	if err != nil {
		return nil, err
	}
	in := make(map[ClientID]bool, len(members))
	for _, v := range members {
		in[v] = true
	}
	ids := slices.Sorted(func(yield func(ClientID) bool) {
		for v := range in {
			if !yield(v) {
				return
			}
		}
	})
	seen := make(map[ClientID]bool, len(ids))
	var out [][]ClientID
	for _, root := range ids {
		if seen[root] {
			continue
		}
		seen[root] = true
		comp, stack := []ClientID{}, []ClientID{root}
		for len(stack) > 0 {
			v := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			comp = append(comp, v)
			for _, u := range g.Neighbors(v) {
				if in[u] && !seen[u] {
					seen[u] = true
					stack = append(stack, u)
				}
			}
		}
		slices.Sort(comp)
		out = append(out, comp)
	}
	return out, nil
}
