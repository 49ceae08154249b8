package secagg

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// protocolLabel starts every key-derivation info string, associated data
// and digest of this protocol, so nothing here collides with another use of
// the same keys.
const protocolLabel = "tacit/secagg/v1/"

// Key-derivation purposes.
const (
	purposePairwiseMask = "pairwise-mask"
	purposeSelfMask     = "self-mask"
	purposeShareKey     = "share-encryption"
)

// newPrivateKey draws an X25519 private key from rand. (GenerateKey ignores
// its reader since Go 1.26; reading the scalar here keeps the injected
// source, and so tests, deterministic.)
func newPrivateKey(rand io.Reader) (*ecdh.PrivateKey, error) {
	var b [32]byte
	if _, err := io.ReadFull(rand, b[:]); err != nil {
		return nil, fmt.Errorf("secagg: reading randomness: %w", err)
	}
	return ecdh.X25519().NewPrivateKey(b[:])
}

// binding is the info string of a derivation or the associated data of a
// share: the protocol, the purpose, the round's session id and two clients.
func binding(purpose string, session *[32]byte, a, b ClientID) []byte {
	c := make([]byte, 0, len(protocolLabel)+len(purpose)+1+len(session)+8)
	c = append(c, protocolLabel...)
	c = append(c, purpose...)
	c = append(c, 0)
	c = append(c, session[:]...)
	c = binary.BigEndian.AppendUint32(c, uint32(a))
	return binary.BigEndian.AppendUint32(c, uint32(b))
}

// deriveKey is HKDF-SHA256 of secret into a 32-byte key bound to the
// purpose, the round and the two clients.
func deriveKey(secret []byte, purpose string, session *[32]byte, a, b ClientID) ([32]byte, error) {
	var key [32]byte
	k, err := hkdf.Key(sha256.New, secret, nil, string(binding(purpose, session, a, b)), len(key))
	if err != nil {
		return key, fmt.Errorf("secagg: key derivation: %w", err)
	}
	copy(key[:], k)
	return key, nil
}

// pairwiseMaskKey is the AES-256 key of the mask u and v share. It is
// symmetric: the smaller id comes first.
func pairwiseMaskKey(ecdhSecret []byte, session *[32]byte, u, v ClientID) ([32]byte, error) {
	return deriveKey(ecdhSecret, purposePairwiseMask, session, min(u, v), max(u, v))
}

func selfMaskKey(seed *[SecretSize]byte, session *[32]byte, owner ClientID) ([32]byte, error) {
	return deriveKey(seed[:], purposeSelfMask, session, owner, owner)
}

// seedCommitment binds a client to its self-mask seed without revealing
// it (the seed has 256 bits of entropy), so the server can tell a seed
// rebuilt from bad shares from the real one.
func seedCommitment(seed *[SecretSize]byte, session *[32]byte, owner ClientID) [32]byte {
	h := sha256.New()
	h.Write(binding("seed-commitment", session, owner, owner))
	h.Write(seed[:])
	var c [32]byte
	h.Sum(c[:0])
	return c
}

// Shares are sealed with AES-256-GCM under a key derived from the sender's
// and recipient's share-key ECDH, directional (sender first), with the same
// binding as associated data. Share keys are fresh for every Client and a
// Client seals once for each recipient, so every AEAD key seals exactly one
// message and the nonce can be fixed at zero.
const (
	sharePlaintextSize = 2 * shareChunks * 8
	sealedShareSize    = sharePlaintextSize + 16
)

func shareAEAD(ecdhSecret []byte, session *[32]byte, from, to ClientID) (cipher.AEAD, error) {
	key, err := deriveKey(ecdhSecret, purposeShareKey, session, from, to)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key[:])
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

func sealShares(ecdhSecret []byte, session *[32]byte, from, to ClientID, seed, key *Share) ([]byte, error) {
	aead, err := shareAEAD(ecdhSecret, session, from, to)
	if err != nil {
		return nil, err
	}
	var nonce [12]byte
	plain := appendSharePlaintext(make([]byte, 0, sealedShareSize), seed, key)
	return aead.Seal(plain[:0], nonce[:], plain, binding(purposeShareKey, session, from, to)), nil
}

// openShares authenticates and decodes what from sealed for to; any
// failure is a *ShareError.
func openShares(ecdhSecret []byte, session *[32]byte, from, to ClientID, ciphertext []byte) (seed, key Share, err error) {
	aead, err := shareAEAD(ecdhSecret, session, from, to)
	if err != nil {
		return seed, key, err
	}
	var nonce [12]byte
	plain, err := aead.Open(nil, nonce[:], ciphertext, binding(purposeShareKey, session, from, to))
	if err == nil {
		seed, key, err = decodeSharePlaintext(plain)
	}
	if err != nil {
		return seed, key, &ShareError{From: from, To: to, Err: err}
	}
	return seed, key, nil
}

var errSharePlaintext = errors.New("share plaintext is not two shares of canonical field elements")

// appendSharePlaintext encodes the two shares as 2·5 big-endian uint64.
func appendSharePlaintext(b []byte, seed, key *Share) []byte {
	for _, s := range []*Share{seed, key} {
		for _, v := range s {
			b = binary.BigEndian.AppendUint64(b, v)
		}
	}
	return b
}

func decodeSharePlaintext(b []byte) (seed, key Share, err error) {
	if len(b) != sharePlaintextSize {
		return seed, key, errSharePlaintext
	}
	for i, s := range []*Share{&seed, &key} {
		for c := range s {
			s[c] = binary.BigEndian.Uint64(b[8*(i*shareChunks+c):])
			if s[c] >= fieldPrime {
				return Share{}, Share{}, errSharePlaintext
			}
		}
	}
	return seed, key, nil
}

// advertStatement is what a client signs in malicious-server mode when it
// advertises its keys.
func advertStatement(session *[32]byte, id ClientID, maskKey, shareKey *[PublicKeySize]byte) []byte {
	b := binding("advertise-keys", session, id, id)
	b = append(b, maskKey[:]...)
	return append(b, shareKey[:]...)
}

// viewStatement is what a survivor signs in the consistency phase: the
// survivors of its neighbourhood as it was told them.
func viewStatement(session *[32]byte, id ClientID, survived []ClientID) []byte {
	b := binding("survivor-view", session, id, id)
	b = binary.BigEndian.AppendUint32(b, uint32(len(survived)))
	for _, v := range survived {
		b = binary.BigEndian.AppendUint32(b, uint32(v))
	}
	return b
}

// verify checks an Ed25519 signature; a wrong-sized one is just invalid.
func verify(pub ed25519.PublicKey, msg, sig []byte) bool {
	return len(sig) == ed25519.SignatureSize && ed25519.Verify(pub, msg, sig)
}
