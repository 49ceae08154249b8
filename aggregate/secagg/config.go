package secagg

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
)

// ClientID numbers the clients of a round 0..NumClients−1.
type ClientID uint32

const (
	// MaxClients bounds Config.NumClients.
	MaxClients = 1_000_000
	// MaxLength bounds Config.Length (512 MiB of uint32).
	MaxLength = 1 << 27
)

// Config is everything the server and every client of a round must agree
// on; the server chooses it and sends it with the plan.
type Config struct {
	Round      uint64   // unique per round: binds keys and shares to it
	NumClients int      // n, the clients selected for the round
	Degree     int      // k neighbours per client (even), or >= n−1 for all (plain SecAgg)
	Threshold  int      // t shares out of a client's k+1 (its own included) reconstruct
	Bits       int      // m: inputs, masks and the sum are in Z_(2^m), 1 <= m <= 32
	Length     int      // d, the vector length
	GraphSeed  [32]byte // relabels the Harary graph; the server draws it at random
	// Registry, when set, runs the round against a malicious server
	// (Bonawitz et al. 2017's active variant, Bell et al. 2020):
	// Registry.Keys[id] is the Ed25519 public key client id registered at
	// enrolment. (A pointer keeps Config comparable.) Advertised keys are signed with it and a consistency
	// phase, in which survivors sign the survivor list they were told,
	// comes before the unmask. The registry must reach each device from
	// the enrolment authority (or be checked against it), not merely from
	// the server this mode defends against. nil: semi-honest mode,
	// unchanged on the wire.
	Registry *Registry
}

// Registry is the enrolment signing keys of a round's clients, by ClientID,
// and, when the enrolment authority endorsed them, Endorsements[id]: its
// signature of Keys[id] (Endorse). A device that pins the authority's key
// (ClientOptions.Authority) accepts only a registry whose every key the
// authority endorsed, so a server cannot slip in keys of its own.
type Registry struct {
	Keys         []ed25519.PublicKey
	Endorsements [][]byte
}

// endorsementContext binds an endorsement to its purpose.
const endorsementContext = "tacit enrolment signing key\x00"

// Endorse is the enrolment authority's endorsement of a device's signing
// key: its Ed25519 signature of the key, in the context of enrolment.
func Endorse(authority ed25519.PrivateKey, key ed25519.PublicKey) []byte {
	return ed25519.Sign(authority, append([]byte(endorsementContext), key...))
}

// EndorsedBy reports whether every key of r carries authority's
// endorsement.
func (r *Registry) EndorsedBy(authority ed25519.PublicKey) bool {
	if len(r.Endorsements) != len(r.Keys) {
		return false
	}
	for i, k := range r.Keys {
		if !ed25519.Verify(authority, append([]byte(endorsementContext), k...), r.Endorsements[i]) {
			return false
		}
	}
	return true
}

// ClientOptions are a device's own choices, which the server's Config
// cannot override.
type ClientOptions struct {
	// HonestServer accepts a threshold that is not a strict majority of the
	// neighbourhood (2t <= k+1): safe only if the server never lies about
	// which clients dropped (FindParams' HonestServer model).
	HonestServer bool
	// SigningKey is the device's enrolment key, whose public half must be
	// Config.Registry.Keys[id]; needed in malicious-server mode only.
	SigningKey ed25519.PrivateKey
	// Authority, if set, is the enrolment authority's public key, pinned on
	// the device at enrolment: a malicious-server round's registry must
	// carry its endorsement of every key (ErrUnendorsedKey otherwise).
	Authority ed25519.PublicKey
}

// Malicious reports whether the round runs in malicious-server mode
// (Registry set).
func (c Config) Malicious() bool { return c.Registry != nil }

// MajorityThreshold reports whether the threshold is a strict majority of
// each neighbourhood (its k+1 shares), which clients require by default.
func (c Config) MajorityThreshold() bool { return 2*c.Threshold > c.neighbourhood() }

func (c Config) validate() error {
	switch {
	case c.NumClients < 2 || c.NumClients > MaxClients:
		return fmt.Errorf("%w: %d clients, want 2..%d", ErrInvalidConfig, c.NumClients, MaxClients)
	case c.Degree < c.NumClients-1 && (c.Degree < 2 || c.Degree%2 != 0):
		return fmt.Errorf("%w: degree %d must be even and >= 2 (or >= n−1 = %d for the full graph)", ErrInvalidConfig, c.Degree, c.NumClients-1)
	case c.Threshold < 2 || c.Threshold > c.neighbourhood():
		return fmt.Errorf("%w: threshold %d not in 2..%d (the neighbourhood with the client itself)", ErrInvalidConfig, c.Threshold, c.neighbourhood())
	case c.Bits < 1 || c.Bits > 32:
		return fmt.Errorf("%w: %d bits, want 1..32", ErrInvalidConfig, c.Bits)
	case c.Length < 1 || c.Length > MaxLength:
		return fmt.Errorf("%w: length %d, want 1..%d", ErrInvalidConfig, c.Length, MaxLength)
	case c.Registry != nil && len(c.Registry.Keys) != c.NumClients:
		return fmt.Errorf("%w: %d signing keys for %d clients", ErrInvalidConfig, len(c.Registry.Keys), c.NumClients)
	}
	for id, k := range c.signingKeys() {
		if len(k) != ed25519.PublicKeySize {
			return fmt.Errorf("%w: signing key of client %d has %d bytes", ErrInvalidConfig, id, len(k))
		}
	}
	return nil
}

// ExchangeBytes bounds what a client sends in a round besides its masked
// input, wire framing aside: its two public keys and seed commitment, a
// sealed share for each neighbour and, in the unmask phase, one revealed
// share for each member of its neighbourhood, itself included (with a
// 4-byte client id apiece).
func (c Config) ExchangeBytes() int {
	const id = 4
	k := c.neighbourhood()
	return 2*PublicKeySize + len(ShareKeys{}.SeedCommitment) + (k-1)*(id+sealedShareSize) + k*(id+len(Share{})*8)
}

// neighbourhood is the number of shares each client makes: its neighbours
// and itself.
func (c Config) neighbourhood() int { return min(c.Degree, c.NumClients-1) + 1 }

func (c Config) modMask() uint32 { return uint32(1<<c.Bits - 1) }

// sessionID digests the whole configuration. It goes into every key
// derivation and associated data, so nothing from one round (or from a
// round with other parameters) is accepted in another.
func (c Config) sessionID() [32]byte {
	b := []byte(protocolLabel + "session")
	b = binary.BigEndian.AppendUint64(b, c.Round)
	for _, v := range []int{c.NumClients, c.Degree, c.Threshold, c.Bits, c.Length} {
		b = binary.BigEndian.AppendUint64(b, uint64(v))
	}
	b = append(b, c.GraphSeed[:]...)
	if c.Registry != nil { // semi-honest rounds keep their session id
		b = append(b, "signing-keys"...)
		for _, k := range c.Registry.Keys {
			b = append(b, k...)
		}
	}
	return sha256.Sum256(b)
}

// signingKeys is the registry's keys, nil in semi-honest mode.
func (c Config) signingKeys() []ed25519.PublicKey {
	if c.Registry == nil {
		return nil
	}
	return c.Registry.Keys
}
