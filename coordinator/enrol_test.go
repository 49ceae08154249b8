package coordinator

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/tacitfl/tacit/aggregate/secagg"
)

func TestTokensRoundTripAndErrors(t *testing.T) {
	var buf bytes.Buffer
	authority, authorityKey, _ := ed25519.GenerateKey(rand.Reader)
	keys, err := NewTokens(&buf, 3, "phone-", authorityKey)
	if err != nil {
		t.Fatal(err)
	}
	file := buf.String()
	tokens, err := ReadTokens(strings.NewReader(file), "tokens.txt")
	if err != nil {
		t.Fatal(err)
	}
	if ids := tokens.IDs(); len(ids) != 3 || ids[0] != "phone-0" {
		t.Fatalf("ids %q", ids)
	}
	// The same enrolment with the second token given by its hash.
	var plain, hashed []string
	for sc := bufio.NewScanner(strings.NewReader(file)); sc.Scan(); {
		if f := strings.Fields(sc.Text()); len(f) == 4 && f[0] != "#" {
			plain = append(plain, f[0])
			if len(hashed) == 1 {
				sum := sha256.Sum256([]byte(f[0]))
				f[0] = "sha256:" + hex.EncodeToString(sum[:])
			}
			hashed = append(hashed, f[0]+" "+f[1])
		}
	}
	mixed, err := ReadTokens(strings.NewReader(strings.Join(hashed, "\n")), "tokens.txt")
	if err != nil {
		t.Fatal(err)
	}
	for i, tok := range plain {
		for _, enrolled := range []*Tokens{tokens, mixed} {
			if len(tok) != 32 {
				t.Fatalf("token %q", tok)
			}
			if id, ok := enrolled.Device(tok); !ok || id != "phone-"+string(rune('0'+i)) {
				t.Fatalf("token %d: device %q, %v", i, id, ok)
			}
		}
	}
	if _, ok := tokens.Device(plain[0][1:]); ok {
		t.Fatal("a token's suffix is enrolled")
	}
	// The signing keys: the file's public keys are the returned private
	// keys' halves; the two-column lines enrol devices without keys.
	pub := tokens.SigningKeys()
	for id, k := range keys {
		if !pub[id].Equal(k.Public()) {
			t.Fatalf("%s: key %x in the file, want %x", id, pub[id], k.Public())
		}
	}
	if len(pub) != 3 || len(mixed.SigningKeys()) != 0 {
		t.Fatalf("%d keys, %d without the third column", len(pub), len(mixed.SigningKeys()))
	}
	// Each key carries the authority's endorsement.
	endorsed := tokens.Endorsements()
	for id, k := range pub {
		if !(&secagg.Registry{Keys: []ed25519.PublicKey{k}, Endorsements: [][]byte{endorsed[id]}}).EndorsedBy(authority) {
			t.Fatalf("%s: endorsement %x does not verify", id, endorsed[id])
		}
	}
	bad := map[string]string{
		"":               "no devices enrolled",
		"onlyonefield\n": "tokens.txt:1: want",
		"short a\n":      "shorter than 16",
		"0123456789abcdef a\n0123456789abcdef b\n":                                  "tokens.txt:2: token repeated",
		"0123456789abcdef a\nfedcba9876543210 a\n":                                  "device id \"a\" repeated",
		"sha256:0123 a\n":                                                           "64 hex digits",
		"0123456789abcdef a ed25519:0123\n":                                         "ed25519: followed by 64 hex digits",
		"0123456789abcdef a sha256:" + strings.Repeat("00", 32) + "\n":              "ed25519: followed by 64 hex digits",
		"0123456789abcdef a b c d\n":                                                "tokens.txt:1: want",
		"0123456789abcdef a ed25519:" + strings.Repeat("00", 32) + " endorsed:00\n": "endorsed: followed by 128 hex digits",
		"sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 a\n" +
			"sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08 b\n": "tokens.txt:2: token repeated",
	}
	for in, want := range bad {
		if _, err := ReadTokens(strings.NewReader(in), "tokens.txt"); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", in, err, want)
		}
	}
}
