package client

import (
	"crypto/ed25519"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
)

// A key file's first line is the device's Ed25519 key as its 32-byte seed
// in hex after signingKeyPrefix; an optional second line, after
// authorityPrefix, the enrolment authority's public key in hex, which the
// device pins.
const (
	signingKeyPrefix = "ed25519-seed:"
	authorityPrefix  = "authority:"
)

// MarshalSigningKey is the key file of a device's Ed25519 enrolment key k
// and, if not nil, the enrolment authority's public key, which
// ReadSigningKey reads. It is a secret: keep it readable by the device's
// owner only.
func MarshalSigningKey(k ed25519.PrivateKey, authority ed25519.PublicKey) []byte {
	b := []byte(signingKeyPrefix + hex.EncodeToString(k.Seed()) + "\n")
	if authority != nil {
		b = append(b, authorityPrefix+hex.EncodeToString(authority)+"\n"...)
	}
	return b
}

// ReadSigningKey reads a device's Ed25519 enrolment key, and the authority's
// public key if the file has one (nil otherwise), from a key file
// (MarshalSigningKey's form, as `tacit coordinator --enroll` writes it).
func ReadSigningKey(path string) (ed25519.PrivateKey, ed25519.PublicKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	first, rest, _ := strings.Cut(string(b), "\n")
	hexed, ok := strings.CutPrefix(strings.TrimSpace(first), signingKeyPrefix)
	seed, err := hex.DecodeString(hexed)
	if !ok || err != nil || len(seed) != ed25519.SeedSize {
		return nil, nil, fmt.Errorf("%s: want %s followed by 64 hex digits on the first line", path, signingKeyPrefix)
	}
	var authority ed25519.PublicKey
	if second, _, _ := strings.Cut(rest, "\n"); strings.TrimSpace(second) != "" {
		hexed, ok := strings.CutPrefix(strings.TrimSpace(second), authorityPrefix)
		pub, err := hex.DecodeString(hexed)
		if !ok || err != nil || len(pub) != ed25519.PublicKeySize {
			return nil, nil, fmt.Errorf("%s: want %s followed by 64 hex digits on the second line", path, authorityPrefix)
		}
		authority = pub
	}
	return ed25519.NewKeyFromSeed(seed), authority, nil
}
