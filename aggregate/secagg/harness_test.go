package secagg

import (
	"crypto/ed25519"
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
)

// seeded returns a deterministic random source.
func seeded(seed ...uint64) *rand.ChaCha8 {
	var s [32]byte
	for i, v := range seed {
		for j := range 8 {
			s[8*(i%4)+j] ^= byte(v >> (8 * j))
		}
	}
	return rand.NewChaCha8(s)
}

// testRound drives a whole round in memory: the driver the package leaves
// to its users, with dropouts and a man in the middle scripted.
type testRound struct {
	tb      testing.TB
	cfg     Config
	server  *Server
	clients []*Client
	inputs  [][]uint32
	// drop[id] is the phase in which client id falls silent (it sends
	// nothing in that phase or after); PhaseDone for a client that stays.
	drop []Phase
	// intercept, if set, may change (or replace) each server message
	// before delivery.
	intercept func(ServerMessage) ServerMessage
	// clientErrs collects the errors clients return; any other than a
	// share error fails the test unless allowClientErrs is set.
	clientErrs      []error
	allowClientErrs bool
	// inject, if set, is called before each EndPhase with the phase.
	inject func(Phase)
	// beforeSend, if set, sees each client message before the server does.
	beforeSend func(ClientMessage)
	// trace records every message for tests that inspect the server's view.
	trace []any
	// abortedIn is the phase whose end aborted the round.
	abortedIn Phase
}

func newTestRound(tb testing.TB, cfg Config, seed uint64) *testRound {
	tb.Helper()
	return newTestRoundWith(tb, cfg, seed, nil)
}

// signingKeys are deterministic enrolment keys for n clients.
func signingKeys(n int, seed uint64) ([]ed25519.PublicKey, []ed25519.PrivateKey) {
	pubs, privs := make([]ed25519.PublicKey, n), make([]ed25519.PrivateKey, n)
	for id := range n {
		var s [ed25519.SeedSize]byte
		seeded(seed, 11, uint64(id)).Read(s[:])
		privs[id] = ed25519.NewKeyFromSeed(s[:])
		pubs[id] = privs[id].Public().(ed25519.PublicKey)
	}
	return pubs, privs
}

// newMaliciousRound is a round in malicious-server mode: cfg gets the
// clients' enrolment keys.
func newMaliciousRound(tb testing.TB, cfg Config, seed uint64) *testRound {
	tb.Helper()
	pubs, privs := signingKeys(cfg.NumClients, seed)
	cfg.Registry = &Registry{Keys: pubs}
	return newTestRoundWith(tb, cfg, seed, privs)
}

func newTestRoundWith(tb testing.TB, cfg Config, seed uint64, signers []ed25519.PrivateKey) *testRound {
	tb.Helper()
	r := &testRound{tb: tb, cfg: cfg, drop: make([]Phase, cfg.NumClients)}
	var err error
	if r.server, err = NewServer(cfg); err != nil {
		tb.Fatal(err)
	}
	inputRand := seeded(seed, 1)
	for id := range cfg.NumClients {
		in := make([]uint32, cfg.Length)
		for i := range in {
			in[i] = uint32(inputRand.Uint64()) & cfg.modMask()
		}
		// Tests of the semi-honest machinery may use minority thresholds.
		opts := ClientOptions{HonestServer: !cfg.MajorityThreshold()}
		if signers != nil {
			opts.SigningKey = signers[id]
		}
		c, err := NewClientWith(cfg, ClientID(id), seeded(seed, 2, uint64(id)), opts)
		if err == nil {
			err = c.SetInput(in)
		}
		if err != nil {
			tb.Fatal(err)
		}
		r.inputs = append(r.inputs, in)
		r.clients = append(r.clients, c)
		r.drop[id] = PhaseDone
	}
	return r
}

func testConfig(n, k, t, m, d int, round uint64) Config {
	cfg := Config{Round: round, NumClients: n, Degree: k, Threshold: t, Bits: m, Length: d}
	seeded(round, uint64(n), 3).Read(cfg.GraphSeed[:])
	return cfg
}

// run plays every phase and returns the server's final outcome.
func (r *testRound) run() (Outcome, error) {
	r.tb.Helper()
	r.start()
	return r.runUntil(PhaseDone)
}

// start has every client that does not drop at once advertise its keys.
func (r *testRound) start() {
	r.tb.Helper()
	for id, c := range r.clients {
		if r.drop[id] > PhaseAdvertiseKeys {
			m, err := c.Start()
			if err != nil {
				r.tb.Fatalf("client %d: Start: %v", id, err)
			}
			r.send(m)
		}
	}
}

// runUntil ends phases and delivers their messages until the round reaches
// phase stop (whose messages it returns undelivered), ends or aborts.
func (r *testRound) runUntil(stop Phase) (Outcome, error) {
	r.tb.Helper()
	for {
		if r.inject != nil {
			r.inject(r.server.Phase())
		}
		ending := r.server.Phase()
		out, err := r.server.EndPhase()
		if err != nil {
			r.abortedIn = ending
		}
		if err != nil || out.Phase >= stop {
			return out, err
		}
		r.deliver(out)
	}
}

// deliver hands the phase's messages to the clients still there and sends
// their replies.
func (r *testRound) deliver(out Outcome) {
	r.tb.Helper()
	for _, m := range out.Messages {
		if r.drop[m.Recipient()] <= out.Phase {
			continue
		}
		if r.intercept != nil {
			m = r.intercept(m)
		}
		r.trace = append(r.trace, m)
		reply, err := r.clients[m.Recipient()].Step(m)
		if err != nil {
			r.clientErrs = append(r.clientErrs, err)
			var se *ShareError
			if !r.allowClientErrs && !errors.As(err, &se) {
				r.tb.Fatalf("client %d: %v", m.Recipient(), err)
			}
		}
		if reply != nil {
			r.send(reply)
		}
	}
}

func (r *testRound) send(m ClientMessage) {
	r.tb.Helper()
	if r.beforeSend != nil {
		r.beforeSend(m)
	}
	r.trace = append(r.trace, m)
	if err := r.server.Step(m); err != nil {
		r.tb.Fatalf("server: Step(%T from %d): %v", m, m.Sender(), err)
	}
}

// wantSum is the plain sum mod 2^m of the inputs of the clients that sent
// a masked input, and those clients.
func (r *testRound) wantSum() ([]uint32, []ClientID) {
	sum := make([]uint32, r.cfg.Length)
	var ids []ClientID
	for id, in := range r.inputs {
		if r.drop[id] > PhaseMaskedInput {
			ids = append(ids, ClientID(id))
			for i, v := range in {
				sum[i] += v
			}
		}
	}
	reduce(sum, r.cfg.modMask())
	return sum, ids
}

// checkExact fails unless the round produced exactly the plain sum.
func (r *testRound) checkExact(out Outcome, err error) {
	r.tb.Helper()
	if err != nil {
		r.tb.Fatalf("round failed: %v", err)
	}
	sum, ids := r.wantSum()
	if !slices.Equal(out.Survivors, ids) {
		r.tb.Fatalf("survivors %v, want %v", out.Survivors, ids)
	}
	if len(out.Sum) != len(sum) {
		r.tb.Fatalf("sum has %d values, want %d", len(out.Sum), len(sum))
	}
	for i := range sum {
		if out.Sum[i] != sum[i] {
			r.tb.Fatalf("sum[%d] = %#x, want %#x", i, out.Sum[i], sum[i])
		}
	}
}

// mustAbortIn says, from the graph and the dropout schedule alone, at the
// end of which phase the round must abort because some secret that will be
// needed has fewer than t holders left; PhaseDone if it must complete.
func mustAbortIn(g *graph, t int, drop []Phase) Phase {
	sent := func(v ClientID, p Phase) bool { return drop[v] > p }
	holders := func(v ClientID, p Phase, self bool) int {
		n := 0
		if self && sent(v, p) {
			n++
		}
		for _, u := range g.Neighbors(v) {
			if sent(u, p) {
				n++
			}
		}
		return n
	}
	all := make([]ClientID, len(drop))
	for i := range all {
		all[i] = ClientID(i)
	}
	for p := PhaseAdvertiseKeys; p <= PhaseUnmask; p++ {
		if !slices.ContainsFunc(all, func(v ClientID) bool { return sent(v, min(p, PhaseMaskedInput)) }) {
			return p
		}
		for _, v := range all {
			switch {
			case p < PhaseMaskedInput && sent(v, p) && holders(v, p, true) < t:
				return p
			case p < PhaseMaskedInput:
			case sent(v, PhaseMaskedInput) && holders(v, p, true) < t:
				// A survivor's seed.
				return p
			case sent(v, PhaseShareKeys) && !sent(v, PhaseMaskedInput) &&
				holders(v, PhaseMaskedInput, false) > 0 && holders(v, p, false) < t:
				// The mask key of a client that dropped after sharing it.
				return p
			}
		}
	}
	return PhaseDone
}
