package client

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tacitfl/tacit/aggregate/secagg"
	"github.com/tacitfl/tacit/model"
)

// TestAgentSignsOnlyWithItsKey: in a malicious-server plan a device with
// no signing key, or whose key the plan's registry does not hold at its
// id, declines with the reason in its ledger (without a ledger, the step
// fails); with its key it advertises.
func TestAgentSignsOnlyWithItsKey(t *testing.T) {
	keys, reg := testRegistry(3)
	m, _ := model.NewMF(30, 4, 1)
	plan := testPlan(1, 1)
	plan.SecAgg = &secagg.Config{NumClients: 3, Degree: 2, Threshold: 2, Bits: 16, Length: 150, Registry: reg}
	plan.SecAggID = 1
	pol := DefaultPolicy()
	pol.MinCohort = 2
	data := Data{Train: model.Positives{Items: []int32{1, 5}}, Test: -1}
	for _, c := range []struct {
		name string
		key  ed25519.PrivateKey
		want string
	}{
		{"no key", nil, "needs this device's signing key"},
		{"another device's key", keys[2], "does not hold this device's signing key at its id 1"},
	} {
		f := &fakeCoordinator{plan: plan, params: m.Params}
		l, err := OpenLedger(filepath.Join(t.TempDir(), "ledger.jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		a := NewAgent(data, f, NewWorkspace(), nil).KeepLedger(l, pol).WithSigningKey(c.key)
		if _, err := a.Step(context.Background()); err != nil || len(l.Entries) != 1 || l.Entries[0].Kind != EntryDeclined ||
			!strings.Contains(l.Entries[0].Reason, c.want) || len(f.downloads) != 0 {
			t.Errorf("%s: %v, ledger %+v, want a decline: %s", c.name, err, l.Entries, c.want)
		}
		bare := NewAgent(data, &fakeCoordinator{plan: plan, params: m.Params}, NewWorkspace(), nil).WithSigningKey(c.key)
		if _, err := bare.Step(context.Background()); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s, no ledger: %v", c.name, err)
		}
	}
	// With its key the device goes on to advertise, which this fake refuses.
	a := NewAgent(data, &fakeCoordinator{plan: plan, params: m.Params}, NewWorkspace(), nil).WithSigningKey(keys[1])
	if _, err := a.Step(context.Background()); err == nil || !strings.Contains(err.Error(), "advertising keys") {
		t.Fatalf("with its key: %v, want the advertisement sent", err)
	}
}

// TestSigningKeyFile: a key file reads back as the key it was written
// from; a garbled one is refused.
func TestSigningKeyFile(t *testing.T) {
	seed := sha256.Sum256([]byte("key file"))
	k := ed25519.NewKeyFromSeed(seed[:])
	dir := t.TempDir()
	path := filepath.Join(dir, "device.key")
	authority := ed25519.NewKeyFromSeed(seed[:]).Public().(ed25519.PublicKey)
	for _, pin := range []ed25519.PublicKey{nil, authority} {
		if err := os.WriteFile(path, MarshalSigningKey(k, pin), 0o600); err != nil {
			t.Fatal(err)
		}
		if got, auth, err := ReadSigningKey(path); err != nil || !got.Equal(k) || !bytes.Equal(auth, pin) {
			t.Fatalf("%x, authority %x, %v", got, auth, err)
		}
	}
	for _, bad := range []string{"", "ed25519-seed:0123\n", "ed25519:" + strings.Repeat("00", 32) + "\n",
		"ed25519-seed:" + strings.Repeat("00", 32) + "\nauthority:0123\n"} {
		if err := os.WriteFile(path, []byte(bad), 0o600); err != nil {
			t.Fatal(err)
		}
		if _, _, err := ReadSigningKey(path); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestAgentDemandsEndorsedKeys: a device that pinned its enrolment
// authority declines a malicious-server plan whose registry holds a key
// the authority did not endorse (a coordinator registering its own key for
// another device), and goes on when every key is endorsed.
func TestAgentDemandsEndorsedKeys(t *testing.T) {
	authSeed := sha256.Sum256([]byte("authority"))
	authority := ed25519.NewKeyFromSeed(authSeed[:])
	keys, reg := testRegistry(3)
	for _, k := range reg.Keys {
		reg.Endorsements = append(reg.Endorsements, secagg.Endorse(authority, k))
	}
	rogueSeed := sha256.Sum256([]byte("the coordinator's own"))
	rogue := &secagg.Registry{Keys: append([]ed25519.PublicKey(nil), reg.Keys...), Endorsements: reg.Endorsements}
	rogue.Keys[2] = ed25519.NewKeyFromSeed(rogueSeed[:]).Public().(ed25519.PublicKey)
	m, _ := model.NewMF(30, 4, 1)
	data := Data{Train: model.Positives{Items: []int32{1, 5}}, Test: -1}
	pol := DefaultPolicy()
	pol.MinCohort = 2
	for _, c := range []struct {
		reg     *secagg.Registry
		decline bool
	}{{rogue, true}, {reg, false}} {
		plan := testPlan(1, 1)
		plan.SecAgg = &secagg.Config{NumClients: 3, Degree: 2, Threshold: 2, Bits: 16, Length: 150, Registry: c.reg}
		plan.SecAggID = 1
		l, err := OpenLedger(filepath.Join(t.TempDir(), "ledger.jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		a := NewAgent(data, &fakeCoordinator{plan: plan, params: m.Params}, NewWorkspace(), nil).KeepLedger(l, pol).
			WithSigningKey(keys[1]).WithAuthority(authority.Public().(ed25519.PublicKey))
		_, err = a.Step(context.Background())
		declined := len(l.Entries) == 1 && l.Entries[0].Kind == EntryDeclined && strings.Contains(l.Entries[0].Reason, "did not endorse")
		if declined != c.decline || (!c.decline && (err == nil || !strings.Contains(err.Error(), "advertising keys"))) {
			t.Errorf("registry with a rogue key %v: err %v, ledger %+v", c.decline, err, l.Entries)
		}
	}
}

// testRegistry is n devices' seeded signing keys and their registry.
func testRegistry(n int) ([]ed25519.PrivateKey, *secagg.Registry) {
	var keys []ed25519.PrivateKey
	reg := &secagg.Registry{}
	for i := range n {
		seed := sha256.Sum256([]byte{byte(i)})
		keys = append(keys, ed25519.NewKeyFromSeed(seed[:]))
		reg.Keys = append(reg.Keys, keys[i].Public().(ed25519.PublicKey))
	}
	return keys, reg
}
