package secagg

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"slices"
	"testing"
)

// TestMaliciousModeRoundExact: with enrolment keys the round has a
// consistency phase and still returns the exact sum, on sparse and full
// graphs.
func TestMaliciousModeRoundExact(t *testing.T) {
	for _, c := range []struct{ n, k, t int }{{24, 8, 6}, {9, 8, 5}, {40, 10, 7}} {
		t.Run(fmt.Sprintf("n=%d/k=%d/t=%d", c.n, c.k, c.t), func(t *testing.T) {
			r := newMaliciousRound(t, testConfig(c.n, c.k, c.t, 16, 30, 7), 7)
			r.checkExact(r.run())
			sawConsistency := false
			for _, m := range r.trace {
				if _, ok := m.(*ConsistencyRequest); ok {
					sawConsistency = true
				}
			}
			if !sawConsistency {
				t.Fatal("no consistency phase")
			}
		})
	}
}

// TestMaliciousModeDropouts drops a run of clients in every phase,
// consistency included, and checks the outcome against the oracle.
func TestMaliciousModeDropouts(t *testing.T) {
	const n, k, th = 24, 8, 6
	for phase := PhaseAdvertiseKeys; phase <= PhaseUnmask; phase++ {
		for j := 1; j <= k+2-th; j++ {
			t.Run(fmt.Sprintf("%v/drop=%d", phase, j), func(t *testing.T) {
				cfg := testConfig(n, k, th, 8, 20, uint64(phase)*100+uint64(j))
				r := newMaliciousRound(t, cfg, uint64(j))
				g, _ := newGraph(n, k, cfg.GraphSeed)
				dropRun(r, g, 5, j, phase)
				abortIn := mustAbortIn(g, th, r.drop)
				out, err := r.run()
				if abortIn == PhaseDone {
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

// TestMaliciousModeSignedKeys: an advertisement without its enrolment
// signature is refused by the server, and a key substituted by a man in
// the middle is refused by the client.
func TestMaliciousModeSignedKeys(t *testing.T) {
	cfg := testConfig(10, 4, 3, 8, 4, 2)
	r := newMaliciousRound(t, cfg, 2)
	adv, err := r.clients[0].Start()
	if err != nil {
		t.Fatal(err)
	}
	forged := *adv
	forged.MaskKey[0] ^= 1
	if err := r.server.Step(&forged); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("server took a re-keyed advertisement: %v", err)
	}
	unsigned := *adv
	unsigned.Signature = nil
	if err := r.server.Step(&unsigned); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("server took an unsigned advertisement: %v", err)
	}
	if err := r.server.Step(adv); err != nil {
		t.Fatal(err)
	}
	for _, c := range r.clients[1:] {
		m, err := c.Start()
		if err != nil {
			t.Fatal(err)
		}
		r.send(m)
	}
	out, err := r.server.EndPhase()
	if err != nil {
		t.Fatal(err)
	}
	kf := out.Messages[0].(*KeysForward)
	kf.Peers[0].ShareKey = kf.Peers[1].ShareKey // a man in the middle's key
	if _, err := r.clients[kf.To].Step(kf); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("client took a substituted key: %v", err)
	}
	if _, err := NewClient(r.cfg, 0, seeded(1)); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("a client without its signing key joined a malicious-server round: %v", err)
	}
}

// TestRegistryMustBeEndorsed: a device that pins its enrolment authority
// refuses a registry with a key the authority did not endorse, the attack
// a lying server could otherwise mount by registering keys of its own for
// the other clients; an endorsed registry is accepted.
func TestRegistryMustBeEndorsed(t *testing.T) {
	cfg := testConfig(6, 5, 4, 8, 4, 2)
	pubs, privs := signingKeys(cfg.NumClients, 5)
	authPub, authPriv, _ := ed25519.GenerateKey(seeded(5, 99))
	reg := &Registry{Keys: pubs}
	for _, k := range pubs {
		reg.Endorsements = append(reg.Endorsements, Endorse(authPriv, k))
	}
	cfg.Registry = reg
	opts := ClientOptions{SigningKey: privs[0], Authority: authPub}
	if _, err := NewClientWith(cfg, 0, seeded(1), opts); err != nil {
		t.Fatalf("an endorsed registry: %v", err)
	}
	// The server swaps in a key of its own for client 3, endorsed by nobody
	// the device trusts.
	rogue, rogueAuth, _ := ed25519.GenerateKey(seeded(5, 100))
	swapped := &Registry{Keys: slices.Clone(pubs), Endorsements: slices.Clone(reg.Endorsements)}
	swapped.Keys[3] = rogue
	for _, e := range []struct {
		name string
		reg  *Registry
	}{
		{"a swapped key", swapped},
		{"a swapped key with its own endorsement", &Registry{Keys: swapped.Keys, Endorsements: append(slices.Clone(reg.Endorsements[:3]), append([][]byte{Endorse(rogueAuth, rogue)}, reg.Endorsements[4:]...)...)}},
		{"no endorsements", &Registry{Keys: pubs}},
	} {
		bad := cfg
		bad.Registry = e.reg
		if _, err := NewClientWith(bad, 0, seeded(1), opts); !errors.Is(err, ErrUnendorsedKey) {
			t.Errorf("%s: %v, want ErrUnendorsedKey", e.name, err)
		}
	}
}
