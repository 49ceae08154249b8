package coordinator

import (
	"bufio"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"

	"github.com/tacitfl/tacit/aggregate/secagg"
)

// Enrolment: a tokens file has one device a line, "TOKEN DEVICE-ID",
// blank lines and #-comments allowed. The token is the device's secret; the
// id is how the coordinator knows it (in logs, selection, its ledger). A
// line may instead hold the token's SHA-256, "sha256:HEX DEVICE-ID", so the
// coordinator's host need not keep the secrets at all; `tacit coordinator
// --enroll` writes plain tokens for the operator to hand out, and both
// forms may be mixed. A third field, "ed25519:HEX" (64 hex digits), is the
// device's Ed25519 public signing key, which malicious-server secure
// aggregation needs; a line without it enrols a device with no key. A
// fourth, "endorsed:HEX" (128 hex digits), is the enrolment authority's
// endorsement of that key (secagg.Endorse), which devices that pinned the
// authority at enrolment demand of every key in a round.

// maxTokensLine bounds one line of a tokens file.
const maxTokensLine = 4096

// hashPrefix marks a token given by its SHA-256.
const hashPrefix = "sha256:"

// keyPrefix marks a device's Ed25519 public signing key, and
// endorsementPrefix the authority's endorsement of it.
const (
	keyPrefix         = "ed25519:"
	endorsementPrefix = "endorsed:"
)

// Tokens is an enrolment held as the SHA-256 of each token, never the
// token itself: a copy of the process's memory does not enrol anyone.
//
// A presented token is hashed and its digest looked up. The lookup's time
// can depend only on the digest, which an attacker can choose only by
// trying tokens: it tells nothing about the enrolled tokens' bytes, so the
// comparison is constant-time in what matters (the secret), as a
// byte-by-byte compare of the plain tokens would not be.
type Tokens struct {
	ids      map[[sha256.Size]byte]string // digest → device id
	enrolled map[string]bool              // device ids
	keys     map[string]ed25519.PublicKey // device id → signing key, for the devices with one
	endorsed map[string][]byte            // device id → the authority's endorsement of its key
}

// HashTokens enrols plain tokens (token → device id).
func HashTokens(plain map[string]string) *Tokens {
	t := &Tokens{ids: make(map[[sha256.Size]byte]string, len(plain)), enrolled: make(map[string]bool, len(plain))}
	for tok, id := range plain {
		t.ids[sha256.Sum256([]byte(tok))], t.enrolled[id] = id, true
	}
	return t
}

// Device returns the id the token enrols.
func (t *Tokens) Device(token string) (id string, ok bool) {
	id, ok = t.ids[sha256.Sum256([]byte(token))]
	return id, ok
}

// Enrolled says whether a device id is enrolled.
func (t *Tokens) Enrolled(id string) bool { return t.enrolled[id] }

// SigningKeys returns the Ed25519 public keys of the enrolled devices that
// have one, by device id.
func (t *Tokens) SigningKeys() map[string]ed25519.PublicKey { return maps.Clone(t.keys) }

// Endorsements returns the enrolment authority's endorsements of the
// signing keys, by device id, for the devices whose line has one.
func (t *Tokens) Endorsements() map[string][]byte { return maps.Clone(t.endorsed) }

// IDs returns the enrolled device ids, sorted.
func (t *Tokens) IDs() []string {
	ids := make([]string, 0, len(t.enrolled))
	for id := range t.enrolled {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// ReadTokens parses a tokens file. Duplicate tokens or ids, and malformed
// lines, are errors naming the line.
func ReadTokens(r io.Reader, name string) (*Tokens, error) {
	t := &Tokens{ids: map[[sha256.Size]byte]string{}, enrolled: map[string]bool{}, keys: map[string]ed25519.PublicKey{}, endorsed: map[string][]byte{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 256), maxTokensLine)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		f := strings.Fields(text)
		if len(f) < 2 || len(f) > 4 {
			return nil, fmt.Errorf("%s:%d: want \"TOKEN DEVICE-ID [ed25519:KEY [endorsed:SIGNATURE]]\", got %d fields", name, line, len(f))
		}
		var digest [sha256.Size]byte
		if hexed, ok := strings.CutPrefix(f[0], hashPrefix); ok {
			if n, err := hex.Decode(digest[:], []byte(hexed)); err != nil || n != sha256.Size || len(hexed) != 2*sha256.Size {
				return nil, fmt.Errorf("%s:%d: %s must be followed by 64 hex digits", name, line, hashPrefix)
			}
		} else {
			if len(f[0]) < 16 {
				return nil, fmt.Errorf("%s:%d: token shorter than 16 characters", name, line)
			}
			digest = sha256.Sum256([]byte(f[0]))
		}
		if _, dup := t.ids[digest]; dup {
			return nil, fmt.Errorf("%s:%d: token repeated", name, line)
		}
		if t.enrolled[f[1]] {
			return nil, fmt.Errorf("%s:%d: device id %q repeated", name, line, f[1])
		}
		if len(f) >= 3 {
			hexed, ok := strings.CutPrefix(f[2], keyPrefix)
			key, err := hex.DecodeString(hexed)
			if !ok || err != nil || len(key) != ed25519.PublicKeySize {
				return nil, fmt.Errorf("%s:%d: the third field must be %s followed by 64 hex digits", name, line, keyPrefix)
			}
			t.keys[f[1]] = key
		}
		if len(f) == 4 {
			hexed, ok := strings.CutPrefix(f[3], endorsementPrefix)
			sig, err := hex.DecodeString(hexed)
			if !ok || err != nil || len(sig) != ed25519.SignatureSize {
				return nil, fmt.Errorf("%s:%d: the fourth field must be %s followed by 128 hex digits", name, line, endorsementPrefix)
			}
			t.endorsed[f[1]] = sig
		}
		t.ids[digest], t.enrolled[f[1]] = f[1], true
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("%s:%d: %w", name, line+1, err)
	}
	if len(t.ids) == 0 {
		return nil, fmt.Errorf("%s: no devices enrolled", name)
	}
	return t, nil
}

// NewTokens writes a tokens file enrolling devices with ids prefix0 ..
// prefix(n-1), random 128-bit tokens and fresh Ed25519 signing keys, each
// endorsed by authority (the enrolment authority's key, which the running
// coordinator never needs), and returns the devices' private keys by id,
// for the operator to hand out with the tokens.
func NewTokens(w io.Writer, n int, prefix string, authority ed25519.PrivateKey) (map[string]ed25519.PrivateKey, error) {
	fmt.Fprintf(w, "# Tacit enrolment tokens: TOKEN DEVICE-ID ed25519:SIGNING-KEY endorsed:AUTHORITY-SIGNATURE. Keep this file secret.\n")
	keys := make(map[string]ed25519.PrivateKey, n)
	for i := range n {
		var b [16]byte
		rand.Read(b[:])
		pub, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, err
		}
		id := fmt.Sprintf("%s%d", prefix, i)
		if _, err := fmt.Fprintf(w, "%s %s %s%s %s%s\n", hex.EncodeToString(b[:]), id, keyPrefix, hex.EncodeToString(pub),
			endorsementPrefix, hex.EncodeToString(secagg.Endorse(authority, pub))); err != nil {
			return nil, err
		}
		keys[id] = priv
	}
	return keys, nil
}
