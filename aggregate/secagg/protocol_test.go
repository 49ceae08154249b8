package secagg

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"
)

func TestRoundExactWithoutDropouts(t *testing.T) {
	for _, c := range []struct{ n, k, t, m, d int }{
		{3, 2, 2, 32, 17}, // full graph, smallest
		{5, 4, 3, 8, 64},  // full graph
		{10, 4, 3, 32, 100},
		{10, 4, 5, 1, 33}, // t = k+1: no dropout tolerated
		{30, 8, 5, 16, 257},
		{60, 12, 7, 32, 1000},
		{12, 50, 7, 20, 9}, // degree above n−1: the full graph
	} {
		t.Run(fmt.Sprintf("n=%d/k=%d/t=%d/m=%d", c.n, c.k, c.t, c.m), func(t *testing.T) {
			r := newTestRound(t, testConfig(c.n, c.k, c.t, c.m, c.d, 1), 7)
			r.checkExact(r.run())
		})
	}
}

// dropRun drops j clients that are consecutive on the Harary circle (so
// every neighbourhood loses at most j) in one phase.
func dropRun(r *testRound, g *graph, start, j int, phase Phase) {
	for p := range j {
		r.drop[g.at[(start+p)%g.n]] = phase
	}
}

func TestRoundDropoutsUpToThreshold(t *testing.T) {
	// k = 8, t = 6: a neighbourhood of 9 survives 3 dropouts, not 4.
	const n, k, th = 24, 8, 6
	for phase := PhaseAdvertiseKeys; phase <= PhaseUnmask; phase++ {
		if phase == PhaseConsistency { // malicious-server mode only
			continue
		}
		for _, m := range []int{8, 32} {
			for j := 1; j <= k+2-th; j++ {
				ok := j <= k+1-th
				t.Run(fmt.Sprintf("%v/m=%d/drop=%d", phase, m, j), func(t *testing.T) {
					cfg := testConfig(n, k, th, m, 50, uint64(phase)*100+uint64(j))
					r := newTestRound(t, cfg, uint64(j))
					g, _ := newGraph(n, k, cfg.GraphSeed)
					dropRun(r, g, 5, j, phase)
					abortIn := mustAbortIn(g, th, r.drop)
					if (abortIn == PhaseDone) != ok {
						t.Fatalf("oracle says abort in %v, want completion = %v", abortIn, ok)
					}
					out, err := r.run()
					if ok {
						r.checkExact(out, err)
						return
					}
					checkAborted(t, out, err)
					if r.abortedIn != abortIn {
						t.Fatalf("aborted at the end of %v, want %v", r.abortedIn, abortIn)
					}
				})
			}
		}
	}
}

func checkAborted(t *testing.T, out Outcome, err error) {
	t.Helper()
	if !errors.Is(err, ErrTooFewSurvivors) {
		t.Fatalf("round ended with %v, want ErrTooFewSurvivors", err)
	}
	if out.Sum != nil || out.Phase != PhaseAborted {
		t.Fatalf("aborted round returned phase %v and a sum of %d values", out.Phase, len(out.Sum))
	}
}

func TestRoundFullGraphDropouts(t *testing.T) {
	// Plain SecAgg, n = 10, t = 6: four dropouts in all are recovered.
	const n, th = 10, 6
	drops := [][]Phase{
		{PhaseAdvertiseKeys, PhaseShareKeys, PhaseMaskedInput, PhaseUnmask},
		{PhaseMaskedInput, PhaseMaskedInput, PhaseMaskedInput, PhaseMaskedInput},
		{PhaseUnmask, PhaseUnmask, PhaseUnmask, PhaseUnmask},
		{PhaseShareKeys, PhaseShareKeys, PhaseUnmask, PhaseUnmask},
		{PhaseAdvertiseKeys, PhaseShareKeys, PhaseMaskedInput, PhaseUnmask, PhaseUnmask},
		{PhaseMaskedInput, PhaseMaskedInput, PhaseMaskedInput, PhaseMaskedInput, PhaseMaskedInput},
	}
	for i, d := range drops {
		t.Run(fmt.Sprint(d), func(t *testing.T) {
			r := newTestRound(t, testConfig(n, n-1, th, 32, 40, uint64(i)), uint64(i))
			copy(r.drop[3:], d)
			out, err := r.run()
			if len(d) <= n-th {
				r.checkExact(out, err)
			} else {
				checkAborted(t, out, err)
			}
		})
	}
}

// TestRoundRandomScenarios runs many seeded rounds with random sizes,
// parameters and dropouts in every phase, and checks each against the
// oracle: an exact sum when it must complete, a clean abort otherwise.
func TestRoundRandomScenarios(t *testing.T) {
	scenarios := 160
	if testing.Short() {
		scenarios = 40
	}
	completed, aborted := 0, map[Phase]int{}
	for s := range scenarios {
		rng := seeded(uint64(s), 99)
		n := 3 + int(rng.Uint64()%58)
		k := 2 * (1 + int(rng.Uint64()%uint64(min(6, (n-1)/2))))
		if (n <= 20 && rng.Uint64()%6 == 0) || k >= n-1 {
			k = n - 1 + int(rng.Uint64()%3)
		}
		size := min(k, n-1) + 1
		th := 2 + int(rng.Uint64()%uint64(size-1))
		m := []int{1, 7, 8, 16, 31, 32}[rng.Uint64()%6]
		d := 1 + int(rng.Uint64()%200)
		cfg := testConfig(n, k, th, m, d, uint64(s))
		r := newTestRound(t, cfg, uint64(s))
		rate := rng.Uint64() % 30
		for id := range r.drop {
			if rng.Uint64()%100 < rate {
				r.drop[id] = []Phase{PhaseAdvertiseKeys, PhaseShareKeys, PhaseMaskedInput, PhaseUnmask}[rng.Uint64()%4]
			}
		}
		g, _ := newGraph(n, k, cfg.GraphSeed)
		abortIn := mustAbortIn(g, th, r.drop)
		out, err := r.run()
		name := fmt.Sprintf("scenario %d (n=%d k=%d t=%d m=%d d=%d drops=%v)", s, n, k, th, m, d, r.drop)
		if abortIn == PhaseDone {
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			r.checkExact(out, err)
			completed++
		} else {
			if !errors.Is(err, ErrTooFewSurvivors) || out.Sum != nil {
				t.Fatalf("%s: want abort, got %v, sum of %d", name, err, len(out.Sum))
			}
			if r.abortedIn != abortIn {
				t.Fatalf("%s: aborted at the end of %v, want %v", name, r.abortedIn, abortIn)
			}
			aborted[abortIn]++
		}
	}
	if completed < scenarios/4 || len(aborted) < 4 {
		t.Errorf("%d completed, aborted %v: the scenarios miss a case", completed, aborted)
	}
	t.Logf("%d completed exactly, aborted at the end of each phase: %v", completed, aborted)
}

// TestRoundDeterministic: the same seeds give the same round, message for
// message, so a simulation can be replayed exactly.
func TestRoundDeterministic(t *testing.T) {
	play := func() *testRound {
		r := newTestRound(t, testConfig(15, 6, 4, 12, 100, 3), 3)
		r.drop[2], r.drop[9] = PhaseShareKeys, PhaseUnmask
		r.checkExact(r.run())
		return r
	}
	a, b := play(), play()
	if !reflect.DeepEqual(a.trace, b.trace) {
		t.Fatal("two runs from the same seeds exchanged different messages")
	}
}

// TestRoundAbortsBeforeRevealing: three neighbours on the circle drop
// before their masked inputs. Every survivor's seed keeps t = 3 holders,
// but the middle one's mask key keeps only 2, so the server must abort at
// the end of the masked-input phase, before asking anyone for a share.
func TestRoundAbortsBeforeRevealing(t *testing.T) {
	for j, ok := range map[int]bool{2: true, 3: false} {
		t.Run(fmt.Sprintf("drop=%d", j), func(t *testing.T) {
			cfg := testConfig(12, 4, 3, 16, 20, 8)
			r := newTestRound(t, cfg, 8)
			g, _ := newGraph(12, 4, cfg.GraphSeed)
			dropRun(r, g, 0, j, PhaseMaskedInput)
			out, err := r.run()
			if ok {
				r.checkExact(out, err)
				return
			}
			checkAborted(t, out, err)
			if r.abortedIn != PhaseMaskedInput {
				t.Fatalf("aborted at the end of %v", r.abortedIn)
			}
			for _, m := range r.trace {
				if _, ok := m.(*UnmaskRequest); ok {
					t.Fatal("an unmask request went out")
				}
			}
		})
	}
}

// TestServerDetectsBadReconstruction: a holder reveals a share altered so
// that the reconstructed secret is still well formed but wrong. The server
// must notice (seed commitment, advertised public key) and never return a
// wrong sum: with room to correct (r shares, ⌊(r−t)/2⌋ >= 1) it locates the
// liar, names it in Outcome.BadShares and returns the exact sum; without,
// it aborts with a *ReconstructionError naming the owner and the holders.
func TestServerDetectsBadReconstruction(t *testing.T) {
	for _, c := range []struct {
		secret  string
		k       int
		correct bool
	}{{"seed", 2, false}, {"seed", 4, true}, {"key", 4, false}, {"key", 6, true}} {
		secret, k := c.secret, c.k
		t.Run(fmt.Sprintf("%s/k=%d", secret, k), func(t *testing.T) {
			const n, th = 12, 3
			cfg := testConfig(n, k, th, 32, 20, 9)
			r := newTestRound(t, cfg, 9)
			g, _ := newGraph(n, k, cfg.GraphSeed)
			owner := ClientID(5)
			if secret == "key" {
				r.drop[owner] = PhaseMaskedInput
			}
			// The holders whose shares the server combines: the t smallest
			// ids among those that answer.
			holders := g.Neighbors(owner)
			if secret == "seed" {
				holders = append(holders, owner)
				slices.Sort(holders)
			}
			used := make([]heldShare, th)
			for i := range used {
				used[i].holder = holders[i]
			}
			delta := fieldInv(make(lagrange).coefficients(used)[0]) // moves chunk 0 by 1
			r.beforeSend = func(m ClientMessage) {
				resp, ok := m.(*UnmaskResponse)
				if !ok || resp.From != holders[0] {
					return
				}
				list := resp.Seeds
				if secret == "key" {
					list = resp.Keys
				}
				for i := range list {
					if list[i].Owner == owner {
						list[i].Share[0] = fieldAdd(list[i].Share[0], delta)
					}
				}
			}
			out, err := r.run()
			if c.correct {
				r.checkExact(out, err)
				if !slices.Equal(out.BadShares, []ClientID{holders[0]}) {
					t.Fatalf("bad shares %v, want [%d]", out.BadShares, holders[0])
				}
				return
			}
			var re *ReconstructionError
			if !errors.As(err, &re) || !errors.Is(err, ErrReconstruction) || out.Sum != nil {
				t.Fatalf("round ended with %v and %d values, want a *ReconstructionError and no sum", err, len(out.Sum))
			}
			if re.Owner != owner || re.Seed != (secret == "seed") || !slices.Contains(re.Holders, holders[0]) {
				t.Fatalf("error %+v, want owner %d", re, owner)
			}
		})
	}
}

// TestExchangeBytes: without dropouts a client's keys, commitment, sealed
// shares and revealed shares add up to ExchangeBytes, counting 4 bytes for
// each client id on the wire.
func TestExchangeBytes(t *testing.T) {
	cfg := testConfig(12, 6, 4, 16, 8, 1)
	r := newTestRound(t, cfg, 3)
	r.checkExact(r.run())
	sent := map[ClientID]int{}
	for _, m := range r.trace {
		switch m := m.(type) {
		case *AdvertiseKeys:
			sent[m.From] += len(m.MaskKey) + len(m.ShareKey)
		case *ShareKeys:
			sent[m.From] += len(m.SeedCommitment)
			for _, s := range m.Shares {
				sent[m.From] += 4 + len(s.Ciphertext)
			}
		case *UnmaskResponse:
			sent[m.From] += len(m.Seeds)*(4+len(Share{})*8) + len(m.Keys)*(4+len(Share{})*8)
		}
	}
	for id := range cfg.NumClients {
		if got := sent[ClientID(id)]; got != cfg.ExchangeBytes() {
			t.Errorf("client %d sent %d bytes besides its masked input, ExchangeBytes says %d", id, got, cfg.ExchangeBytes())
		}
	}
}
