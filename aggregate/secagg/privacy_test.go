package secagg

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"slices"
	"testing"
)

// chiSquare is Pearson's statistic of counts against a uniform law.
func chiSquare(counts []int, total int) float64 {
	want := float64(total) / float64(len(counts))
	x := 0.0
	for _, c := range counts {
		x += (float64(c) - want) * (float64(c) - want) / want
	}
	return x
}

// chiSquareBound is far in the upper tail (about 7 standard deviations)
// for dof degrees of freedom.
func chiSquareBound(dof int) float64 { return float64(dof) + 7*math.Sqrt(2*float64(dof)) }

func maskedInputOf(t *testing.T, r *testRound, id ClientID) []uint32 {
	t.Helper()
	for _, m := range r.trace {
		if mi, ok := m.(*MaskedInput); ok && mi.From == id {
			return mi.Vector
		}
	}
	t.Fatalf("no masked input from client %d", id)
	return nil
}

// TestMaskedInputLooksUniform feeds a client a maximally structured input
// (all zeros) and checks that what the server receives passes uniformity
// tests: byte values for m = 8, each bit and the top byte for m = 32.
func TestMaskedInputLooksUniform(t *testing.T) {
	const d = 1 << 16
	for _, m := range []int{8, 32} {
		t.Run(fmt.Sprintf("m=%d", m), func(t *testing.T) {
			r := newTestRound(t, testConfig(8, 4, 3, m, d, 5), 5)
			clear(r.inputs[2])
			r.checkExact(r.run())
			y := maskedInputOf(t, r, 2)
			buckets := make([]int, 256)
			var ones [32]int
			for _, v := range y {
				buckets[v>>(m-8)]++
				for b := range m {
					ones[b] += int(v >> b & 1)
				}
			}
			if x := chiSquare(buckets, d); x > chiSquareBound(255) {
				t.Errorf("top byte: χ² = %.1f over 255 dof, not uniform", x)
			}
			for b := range m {
				if z := math.Abs(float64(ones[b])-d/2) / math.Sqrt(d/4); z > 6 {
					t.Errorf("bit %d set %d times of %d (z = %.1f)", b, ones[b], d, z)
				}
			}
			// Serial correlation: consecutive values should not agree more
			// than chance.
			same := 0
			for i := 1; i < d; i++ {
				if y[i]>>(m-8) == y[i-1]>>(m-8) {
					same++
				}
			}
			if z := math.Abs(float64(same)-float64(d)/256) / math.Sqrt(float64(d)/256); z > 6 {
				t.Errorf("consecutive top bytes equal %d times (z = %.1f)", same, z)
			}
		})
	}
}

// TestServerViewHidesInput rebuilds, from everything the server sees in a
// round without dropouts, all it can: the self-mask seeds of every client.
// Removing a client's self mask still leaves its input hidden behind the
// pairwise masks with its neighbours, and those keys are never revealed.
func TestServerViewHidesInput(t *testing.T) {
	const n, k, th, d = 12, 4, 3, 4096
	r := newTestRound(t, testConfig(n, k, th, 32, d, 11), 11)
	r.checkExact(r.run())
	seedShares := make(map[ClientID][]heldShare)
	for _, m := range r.trace {
		resp, ok := m.(*UnmaskResponse)
		if !ok {
			continue
		}
		if len(resp.Keys) > 0 {
			t.Fatalf("client %d revealed mask-key shares with nobody dropped", resp.From)
		}
		for _, s := range resp.Seeds {
			seedShares[s.Owner] = append(seedShares[s.Owner], heldShare{resp.From, s.Share})
		}
	}
	session := r.cfg.sessionID()
	for id := range ClientID(n) {
		seed, err := make(lagrange).combine(seedShares[id][:th])
		if err != nil {
			t.Fatal(err)
		}
		key, err := selfMaskKey(&seed, &session, id)
		if err != nil {
			t.Fatal(err)
		}
		view := slices.Clone(maskedInputOf(t, r, id))
		if err := applyMasks(view, []mask{{key: key, subtract: true}}, r.cfg.Bits, 1); err != nil {
			t.Fatal(err)
		}
		// view is now input + Σ ± pairwise masks: still far from the input.
		equal, zeroBits := 0, 0
		for i, v := range view {
			diff := v - r.inputs[id][i]
			if diff == 0 {
				equal++
			}
			zeroBits += 32 - bits.OnesCount32(diff)
		}
		if equal > 2 {
			t.Errorf("client %d: %d of %d values readable once the self mask is removed", id, equal, d)
		}
		if z := math.Abs(float64(zeroBits)-16*d) / math.Sqrt(8*d); z > 6 {
			t.Errorf("client %d: the remaining mask has %d zero bits of %d (z = %.1f)", id, zeroBits, 32*d, z)
		}
	}
}

// unmaskReady runs a round without dropouts up to the unmask requests.
func unmaskReady(t *testing.T, n, k, th int, seed uint64) (*testRound, []ServerMessage) {
	t.Helper()
	r := newTestRound(t, testConfig(n, k, th, 16, 8, seed), seed)
	r.start()
	out, err := r.runUntil(PhaseUnmask)
	if err != nil || out.Phase != PhaseUnmask {
		t.Fatalf("round reached %v: %v", out.Phase, err)
	}
	return r, out.Messages
}

func TestClientRefusesToRevealBoth(t *testing.T) {
	r, msgs := unmaskReady(t, 10, 4, 3, 21)
	req := msgs[0].(*UnmaskRequest)
	c := r.clients[req.To]
	peer := slices.DeleteFunc(slices.Clone(req.Survived), func(id ClientID) bool { return id == req.To })[0]
	others := slices.DeleteFunc(slices.Clone(req.Survived), func(id ClientID) bool { return id == peer })
	for _, bad := range []struct {
		name string
		req  *UnmaskRequest
	}{
		{"peer in both lists", &UnmaskRequest{To: req.To, Survived: req.Survived, Dropped: []ClientID{peer}}},
		{"itself dropped", &UnmaskRequest{To: req.To, Survived: others, Dropped: []ClientID{req.To}}},
	} {
		t.Run(bad.name, func(t *testing.T) {
			r, _ := unmaskReady(t, 10, 4, 3, 21) // the same round again
			c := r.clients[req.To]
			resp, err := c.Step(bad.req)
			if !errors.Is(err, ErrInconsistentUnmask) || resp != nil {
				t.Fatalf("Step = %v, %v; want ErrInconsistentUnmask and nothing", resp, err)
			}
			if c.Phase() != PhaseAborted {
				t.Fatalf("client in %v after an inconsistent request", c.Phase())
			}
		})
	}
	t.Run("across requests", func(t *testing.T) {
		// First the server says peer survived, then that it dropped.
		resp, err := c.Step(&UnmaskRequest{To: req.To, Survived: req.Survived})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.ContainsFunc(resp.(*UnmaskResponse).Seeds, func(s RevealedShare) bool { return s.Owner == peer }) {
			t.Fatal("no seed share for the survivor")
		}
		again, err := c.Step(&UnmaskRequest{To: req.To, Survived: req.Survived})
		if err != nil || !slices.EqualFunc(again.(*UnmaskResponse).Seeds, resp.(*UnmaskResponse).Seeds, func(a, b RevealedShare) bool { return a == b }) {
			t.Fatalf("repeating the same request: %v", err)
		}
		resp, err = c.Step(&UnmaskRequest{To: req.To, Survived: others, Dropped: []ClientID{peer}})
		if !errors.Is(err, ErrInconsistentUnmask) || resp != nil {
			t.Fatalf("Step = %v, %v; want ErrInconsistentUnmask and nothing", resp, err)
		}
		if _, err := c.Step(req); !errors.Is(err, ErrWrongPhase) {
			t.Fatalf("aborted client answered: %v", err)
		}
	})
}

// TestMaliciousServerNeverGetsBoth sends every client a long stream of
// random unmask requests, each naming random peers as survived or dropped,
// and checks that no client ever releases both shares of one peer.
func TestMaliciousServerNeverGetsBoth(t *testing.T) {
	r, msgs := unmaskReady(t, 16, 6, 3, 31)
	rng := seeded(31, 7)
	type pair struct{ holder, owner ClientID }
	seeds, keys := map[pair]bool{}, map[pair]bool{}
	refused := 0
	for range 2000 {
		req := msgs[rng.Uint64()%uint64(len(msgs))].(*UnmaskRequest)
		c := r.clients[req.To]
		all := append(slices.Clone(req.Survived), req.Dropped...)
		bad := &UnmaskRequest{To: req.To}
		for _, id := range all {
			switch rng.Uint64() % 3 {
			case 0:
				bad.Survived = append(bad.Survived, id)
			case 1:
				bad.Dropped = append(bad.Dropped, id)
			}
		}
		resp, err := c.Step(bad)
		if err != nil {
			refused++
			if resp != nil {
				t.Fatalf("client %d returned shares with error %v", req.To, err)
			}
			continue
		}
		for _, s := range resp.(*UnmaskResponse).Seeds {
			seeds[pair{req.To, s.Owner}] = true
		}
		for _, s := range resp.(*UnmaskResponse).Keys {
			keys[pair{req.To, s.Owner}] = true
		}
	}
	for p := range seeds {
		if keys[p] {
			t.Fatalf("client %d revealed both shares of client %d", p.holder, p.owner)
		}
	}
	if len(seeds) == 0 || len(keys) == 0 || refused == 0 {
		t.Fatalf("weak test: %d seed shares, %d key shares, %d refusals", len(seeds), len(keys), refused)
	}
}
