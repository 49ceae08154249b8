package client

import (
	"crypto/ed25519"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
)

// signingKeyPrefix starts a key file: the device's Ed25519 key as its
// 32-byte seed in hex follows.
const signingKeyPrefix = "ed25519-seed:"

// MarshalSigningKey is the key file of a device's Ed25519 enrolment key k,
// one line, which ReadSigningKey reads. It is a secret: keep it readable
// by the device's owner only.
func MarshalSigningKey(k ed25519.PrivateKey) []byte {
	return []byte(signingKeyPrefix + hex.EncodeToString(k.Seed()) + "\n")
}

// ReadSigningKey reads a device's Ed25519 enrolment key from a key file
// (MarshalSigningKey's form, as `tacit coordinator --enroll` writes it).
func ReadSigningKey(path string) (ed25519.PrivateKey, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	line, _, _ := strings.Cut(string(b), "\n")
	hexed, ok := strings.CutPrefix(strings.TrimSpace(line), signingKeyPrefix)
	seed, err := hex.DecodeString(hexed)
	if !ok || err != nil || len(seed) != ed25519.SeedSize {
		return nil, fmt.Errorf("%s: want %s followed by 64 hex digits on the first line", path, signingKeyPrefix)
	}
	return ed25519.NewKeyFromSeed(seed), nil
}
