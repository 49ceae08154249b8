package secagg

import (
	"errors"
	"fmt"
	"slices"
	"testing"
)

// deliveryTo returns the shares delivery for id among a phase's messages.
func deliveryTo(t *testing.T, msgs []ServerMessage, id ClientID) *SharesDelivery {
	t.Helper()
	for _, m := range msgs {
		if d, ok := m.(*SharesDelivery); ok && d.To == id {
			return d
		}
	}
	t.Fatalf("no delivery to client %d", id)
	return nil
}

// sharesReady runs a round up to the delivery of the shares.
func sharesReady(t *testing.T, cfg Config, seed uint64) (*testRound, Outcome) {
	t.Helper()
	r := newTestRound(t, cfg, seed)
	r.start()
	out, err := r.runUntil(PhaseMaskedInput)
	if err != nil || out.Phase != PhaseMaskedInput {
		t.Fatalf("round reached %v: %v", out.Phase, err)
	}
	return r, out
}

// wantShareError checks that the victim rejected exactly the share from
// `from` with a *ShareError.
func wantShareError(t *testing.T, r *testRound, victim, from ClientID) {
	t.Helper()
	if len(r.clientErrs) != 1 {
		t.Fatalf("client errors %v, want one share error", r.clientErrs)
	}
	err := r.clientErrs[0]
	var se *ShareError
	if !errors.Is(err, ErrBadShare) || !errors.As(err, &se) {
		t.Fatalf("error %v is not a *ShareError wrapping ErrBadShare", err)
	}
	if se.From != from || se.To != victim {
		t.Fatalf("share error for %d → %d, want %d → %d", se.From, se.To, from, victim)
	}
}

func TestTamperedShareRejected(t *testing.T) {
	// t = 3 of 5: the missing share is tolerated and the sum is exact, also
	// when its sender then drops and its mask key must be rebuilt.
	for _, senderDrops := range []bool{false, true} {
		t.Run(fmt.Sprintf("sender drops=%v", senderDrops), func(t *testing.T) {
			cfg := testConfig(10, 4, 3, 32, 64, 41)
			r, out := sharesReady(t, cfg, 41)
			const victim = 4
			d := deliveryTo(t, out.Messages, victim)
			from := d.Shares[1].From
			d.Shares[1].Ciphertext = slices.Clone(d.Shares[1].Ciphertext)
			d.Shares[1].Ciphertext[7] ^= 0x10
			if senderDrops {
				r.drop[from] = PhaseMaskedInput
			}
			r.deliver(out)
			wantShareError(t, r, victim, from)
			r.checkExact(r.runUntil(PhaseDone))
		})
	}
}

func TestTamperedShareAbortsWithoutSlack(t *testing.T) {
	// t = k+1: every share is needed, so the round aborts cleanly at the
	// end, without a sum.
	cfg := testConfig(10, 4, 5, 32, 64, 42)
	r, out := sharesReady(t, cfg, 42)
	d := deliveryTo(t, out.Messages, 0)
	from := d.Shares[0].From
	d.Shares[0].Ciphertext = slices.Clone(d.Shares[0].Ciphertext)
	d.Shares[0].Ciphertext[len(d.Shares[0].Ciphertext)-1] ^= 1 // the tag
	r.deliver(out)
	wantShareError(t, r, 0, from)
	res, err := r.runUntil(PhaseDone)
	checkAborted(t, res, err)
}

func TestReplayedShareRejected(t *testing.T) {
	// Two rounds over the same graph; a share from round 1 is replayed
	// into round 2 in place of the same sender's share to the same client.
	cfg1 := testConfig(10, 4, 3, 32, 64, 43)
	cfg2 := cfg1
	cfg2.Round++
	_, old := sharesReady(t, cfg1, 43)
	r, out := sharesReady(t, cfg2, 44)
	const victim = 6
	stale := deliveryTo(t, old.Messages, victim).Shares[0]
	d := deliveryTo(t, out.Messages, victim)
	i := slices.IndexFunc(d.Shares, func(s EncryptedShare) bool { return s.From == stale.From })
	d.Shares[i] = stale
	r.deliver(out)
	wantShareError(t, r, victim, stale.From)
	r.checkExact(r.runUntil(PhaseDone))
}

func TestMisaddressedShareRejected(t *testing.T) {
	// The server hands the victim a share that a common neighbour sealed
	// for someone else, relabelled as the victim's.
	cfg := testConfig(10, 4, 3, 32, 64, 45)
	r, out := sharesReady(t, cfg, 45)
	const victim = 2
	d := deliveryTo(t, out.Messages, victim)
	var stolen EncryptedShare
	for _, m := range out.Messages {
		other := m.(*SharesDelivery)
		if other.To == victim {
			continue
		}
		for _, s := range other.Shares {
			if slices.ContainsFunc(d.Shares, func(v EncryptedShare) bool { return v.From == s.From }) {
				stolen = s
			}
		}
	}
	if stolen.Ciphertext == nil {
		t.Fatal("no common neighbour")
	}
	i := slices.IndexFunc(d.Shares, func(s EncryptedShare) bool { return s.From == stolen.From })
	d.Shares[i] = EncryptedShare{From: stolen.From, To: victim, Ciphertext: stolen.Ciphertext}
	r.deliver(out)
	wantShareError(t, r, victim, stolen.From)
	r.checkExact(r.runUntil(PhaseDone))
}

func TestSealOpenBinding(t *testing.T) {
	session := testConfig(4, 2, 2, 8, 1, 1).sessionID()
	other := testConfig(4, 2, 2, 8, 1, 2).sessionID()
	secret := make([]byte, 32)
	secret[3] = 9
	seed, key := Share{1, 2, 3, 4, 5}, Share{fieldPrime - 1, 0, 7, 8, 9}
	ct, err := sealShares(secret, &session, 1, 2, &seed, &key)
	if err != nil {
		t.Fatal(err)
	}
	if len(ct) != sealedShareSize {
		t.Fatalf("sealed %d bytes, want %d", len(ct), sealedShareSize)
	}
	gotSeed, gotKey, err := openShares(secret, &session, 1, 2, ct)
	if err != nil || gotSeed != seed || gotKey != key {
		t.Fatalf("round trip: %v %v %v", gotSeed, gotKey, err)
	}
	for name, open := range map[string]func() error{
		"other round":     func() error { _, _, err := openShares(secret, &other, 1, 2, ct); return err },
		"other recipient": func() error { _, _, err := openShares(secret, &session, 1, 3, ct); return err },
		"swapped ends":    func() error { _, _, err := openShares(secret, &session, 2, 1, ct); return err },
		"truncated":       func() error { _, _, err := openShares(secret, &session, 1, 2, ct[:40]); return err },
	} {
		var se *ShareError
		if err := open(); !errors.Is(err, ErrBadShare) || !errors.As(err, &se) {
			t.Errorf("%s: %v, want a *ShareError", name, err)
		}
	}
}
