package secagg

import (
	"crypto/ecdh"
	"errors"
	"fmt"
	"slices"
	"testing"
)

// The "lie about who dropped" attack (issue 13, finding 5): a server tells
// some of a victim's neighbours that it survived, so they reveal shares of
// its self-mask seed, and the others that it dropped, so they reveal shares
// of its mask private key. With t shares of both it unmasks the victim's
// input. The harness below is that server, driving the real Client state
// machines; it never tells one client both stories (clients refuse that on
// their own, TestMaliciousServerNeverGetsBoth).

// lieResult is what the lying server collected about the victim.
type lieResult struct {
	seeds, keys []heldShare
	refused     []error // the clients' refusals
}

// attackRound plays a round honestly up to the phase in which the server
// states who survived, then lies to the victim's neighbours in toldDropped.
// In malicious-server mode it lies in the consistency phase and forwards,
// to each holder, either every signed view of its neighbours (allViews) or
// only those that agree with the lie it was told.
func attackRound(t *testing.T, r *testRound, victim ClientID, toldDropped []ClientID, allViews bool) lieResult {
	t.Helper()
	r.start()
	stop := PhaseUnmask
	if r.cfg.Malicious() {
		stop = PhaseConsistency
	}
	out, err := r.runUntil(stop)
	if err != nil || out.Phase != stop {
		t.Fatalf("round did not reach %v: %v", stop, err)
	}
	lie := func(ids []ClientID, to ClientID) []ClientID {
		if slices.Contains(toldDropped, to) {
			return slices.DeleteFunc(slices.Clone(ids), func(id ClientID) bool { return id == victim })
		}
		return ids
	}
	var res lieResult
	var reqs []*UnmaskRequest
	if !r.cfg.Malicious() {
		for _, m := range out.Messages {
			req := m.(*UnmaskRequest)
			if slices.Contains(toldDropped, req.To) {
				req.Survived, req.Dropped = lie(req.Survived, req.To), append(req.Dropped, victim)
			}
			reqs = append(reqs, req)
		}
	} else {
		views := map[ClientID]SignedView{}
		for _, m := range out.Messages {
			req := m.(*ConsistencyRequest)
			survived := lie(req.Survived, req.To)
			reply, err := r.clients[req.To].Step(&ConsistencyRequest{To: req.To, Survived: survived})
			if err != nil {
				t.Fatalf("client %d refused to sign: %v", req.To, err)
			}
			views[req.To] = SignedView{From: req.To, Survived: survived, Signature: reply.(*ConsistencySignature).Signature}
		}
		g := r.clients[0].graph
		closed := func(w, x ClientID) bool { return w == x || g.Adjacent(w, x) }
		agrees := func(a, b SignedView) bool {
			for _, x := range a.Survived {
				if closed(b.From, x) && !slices.Contains(b.Survived, x) {
					return false
				}
			}
			for _, x := range b.Survived {
				if closed(a.From, x) && !slices.Contains(a.Survived, x) {
					return false
				}
			}
			return true
		}
		for _, m := range out.Messages {
			h := m.Recipient()
			req := &UnmaskRequest{To: h, Survived: views[h].Survived}
			if slices.Contains(toldDropped, h) {
				req.Dropped = []ClientID{victim}
			}
			for _, w := range g.Neighbors(h) {
				if v, ok := views[w]; ok && (allViews || agrees(v, views[h])) {
					req.Views = append(req.Views, v)
				}
			}
			reqs = append(reqs, req)
		}
	}
	for _, req := range reqs {
		reply, err := r.clients[req.To].Step(req)
		if err != nil {
			res.refused = append(res.refused, err)
			continue
		}
		resp := reply.(*UnmaskResponse)
		for _, s := range resp.Seeds {
			if s.Owner == victim {
				res.seeds = append(res.seeds, heldShare{req.To, s.Share})
			}
		}
		for _, s := range resp.Keys {
			if s.Owner == victim {
				res.keys = append(res.keys, heldShare{req.To, s.Share})
			}
		}
	}
	return res
}

// unmaskVictim is the rest of the attack: rebuild both secrets and remove
// the victim's masks from its masked input.
func unmaskVictim(t *testing.T, r *testRound, victim ClientID, res lieResult) []uint32 {
	t.Helper()
	th := r.cfg.Threshold
	l := make(lagrange)
	seed, err := l.combine(res.seeds[:th])
	if err != nil {
		t.Fatal(err)
	}
	secret, err := l.combine(res.keys[:th])
	if err != nil {
		t.Fatal(err)
	}
	priv, err := ecdh.X25519().NewPrivateKey(secret[:])
	if err != nil {
		t.Fatal(err)
	}
	session := r.cfg.sessionID()
	selfKey, err := selfMaskKey(&seed, &session, victim)
	if err != nil {
		t.Fatal(err)
	}
	masks := []mask{{key: selfKey, subtract: true}}
	for _, m := range r.trace {
		adv, ok := m.(*AdvertiseKeys)
		if !ok || !r.clients[0].graph.Adjacent(victim, adv.From) {
			continue
		}
		pub, err := ecdh.X25519().NewPublicKey(adv.MaskKey[:])
		if err != nil {
			t.Fatal(err)
		}
		shared, err := priv.ECDH(pub)
		if err != nil {
			t.Fatal(err)
		}
		key, err := pairwiseMaskKey(shared, &session, victim, adv.From)
		if err != nil {
			t.Fatal(err)
		}
		// The victim added the masks of smaller ids and subtracted those of larger ones: undo it.
		masks = append(masks, mask{key: key, subtract: adv.From < victim})
	}
	v := slices.Clone(maskedInputOf(t, r, victim))
	if err := applyMasks(v, masks, r.cfg.Bits, 1); err != nil {
		t.Fatal(err)
	}
	return v
}

// halves splits the victim's neighbours: the first half is told it
// survived, the rest that it dropped.
func halves(r *testRound, victim ClientID, told int) []ClientID {
	return r.clients[0].graph.Neighbors(victim)[told:]
}

// TestLyingServerWeakModel: with a minority threshold, which a client
// accepts only under ClientOptions.HonestServer (and which FindParams'
// HonestServer model, federated-compute's published semi-honest values,
// returns at the default rates), the lie rebuilds both secrets and the
// server reads the victim's input. This is the exposure that option
// accepts; by default NewClient refuses the configuration.
func TestLyingServerWeakModel(t *testing.T) {
	const victim = 5
	cfg := testConfig(16, 6, 3, 16, 40, 21) // 3 of 7 shares: a minority
	if _, err := NewClient(cfg, victim, seeded(1)); !errors.Is(err, ErrMinorityThreshold) {
		t.Fatalf("a client accepted a minority threshold by default: %v", err)
	}
	r := newTestRound(t, cfg, 21)
	res := attackRound(t, r, victim, halves(r, victim, 3), false)
	if len(res.refused) > 0 || len(res.seeds) < cfg.Threshold || len(res.keys) < cfg.Threshold {
		t.Fatalf("attack collected %d seed and %d key shares (%v)", len(res.seeds), len(res.keys), res.refused)
	}
	if got := unmaskVictim(t, r, victim, res); !slices.Equal(got, r.inputs[victim]) {
		t.Fatalf("the lie did not unmask the victim: got %v, want %v", got[:4], r.inputs[victim][:4])
	}
}

// TestLyingServerMajorityThreshold: with the default, a strict majority
// of the neighbourhood, no split of the neighbours yields t shares of both
// secrets, in semi-honest mode and in malicious-server mode whatever views
// the server forwards; in malicious-server mode a holder that is shown the
// victim's own signed view refuses outright.
func TestLyingServerMajorityThreshold(t *testing.T) {
	const victim = 5
	cfg := testConfig(16, 6, 4, 16, 40, 22) // 4 of 7 shares
	for _, mode := range []string{"semi-honest", "malicious/all-views", "malicious/agreeing-views"} {
		for told := 0; told <= cfg.Degree; told++ {
			t.Run(fmt.Sprintf("%s/told-survived=%d", mode, told), func(t *testing.T) {
				var r *testRound
				if mode == "semi-honest" {
					r = newTestRound(t, cfg, 22)
				} else {
					r = newMaliciousRound(t, cfg, 22)
				}
				res := attackRound(t, r, victim, halves(r, victim, told), mode == "malicious/all-views")
				if len(res.seeds) >= cfg.Threshold && len(res.keys) >= cfg.Threshold {
					t.Fatalf("the lie collected %d seed and %d key shares, threshold %d", len(res.seeds), len(res.keys), cfg.Threshold)
				}
				if mode == "malicious/all-views" && told < cfg.Degree {
					if len(res.keys) > 0 || len(res.refused) == 0 {
						t.Fatalf("holders told the victim dropped revealed %d key shares", len(res.keys))
					}
					for _, err := range res.refused {
						if !errors.Is(err, ErrInconsistentView) {
							t.Fatalf("refusal %v, want ErrInconsistentView", err)
						}
					}
				}
			})
		}
	}
}
