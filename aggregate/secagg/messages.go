package secagg

import (
	"crypto/ed25519"
	"fmt"
)

// Phase is a step of the protocol. Each ends when the server's EndPhase is
// called: at the deadline, or once every expected message has arrived.
type Phase int

const (
	// PhaseAdvertiseKeys: each client sends its two public keys.
	PhaseAdvertiseKeys Phase = iota
	// PhaseShareKeys: each client sends its encrypted shares for its neighbours.
	PhaseShareKeys
	// PhaseMaskedInput: each client sends its masked vector.
	PhaseMaskedInput
	// PhaseConsistency: in malicious-server mode only (Config.Registry),
	// each survivor signs the survivors of its neighbourhood it was told
	// of. Semi-honest rounds go from PhaseMaskedInput to PhaseUnmask.
	PhaseConsistency
	// PhaseUnmask: each client reveals the shares the server asks for.
	PhaseUnmask
	// PhaseDone: the server has the sum.
	PhaseDone
	// PhaseAborted: the round ended without a sum.
	PhaseAborted
)

func (p Phase) String() string {
	switch p {
	case PhaseAdvertiseKeys:
		return "advertise-keys"
	case PhaseShareKeys:
		return "share-keys"
	case PhaseMaskedInput:
		return "masked-input"
	case PhaseConsistency:
		return "consistency"
	case PhaseUnmask:
		return "unmask"
	case PhaseDone:
		return "done"
	case PhaseAborted:
		return "aborted"
	}
	return fmt.Sprintf("Phase(%d)", int(p))
}

// ClientMessage is a message from a client to the server: *AdvertiseKeys,
// *ShareKeys, *MaskedInput, *ConsistencySignature (malicious-server mode)
// or *UnmaskResponse. The driver must check that
// Sender matches the authenticated connection it came on.
type ClientMessage interface {
	Sender() ClientID
	clientMessage()
}

// ServerMessage is a message from the server to one client: *KeysForward,
// *SharesDelivery, *ConsistencyRequest (malicious-server mode) or
// *UnmaskRequest.
type ServerMessage interface {
	Recipient() ClientID
	serverMessage()
}

// PublicKeySize is the size of an X25519 public key.
const PublicKeySize = 32

// SignatureSize is the size of an Ed25519 signature.
const SignatureSize = ed25519.SignatureSize

// AdvertiseKeys carries a client's two X25519 public keys for the round.
type AdvertiseKeys struct {
	From     ClientID
	MaskKey  [PublicKeySize]byte // agrees the pairwise masks
	ShareKey [PublicKeySize]byte // agrees the keys that encrypt shares
	// Signature, in malicious-server mode only (nil otherwise), is the
	// client's Ed25519 signature of the two keys, the round and its id,
	// under its enrolment key Config.Registry.Keys[From].
	Signature []byte
}

// PeerKeys are a neighbour's advertised keys (and, in malicious-server
// mode, its signature of them).
type PeerKeys struct {
	ID        ClientID
	MaskKey   [PublicKeySize]byte
	ShareKey  [PublicKeySize]byte
	Signature []byte
}

// KeysForward gives a client the keys of its neighbours that advertised.
type KeysForward struct {
	To    ClientID
	Peers []PeerKeys
}

// EncryptedShare is one client's shares (of its self-mask seed and of its
// mask private key) for one neighbour, sealed with AES-256-GCM.
type EncryptedShare struct {
	From, To   ClientID
	Ciphertext []byte
}

// ShareKeys carries a client's encrypted shares, one per neighbour that
// advertised, and a commitment to its self-mask seed that lets the server
// check the seed it reconstructs.
type ShareKeys struct {
	From           ClientID
	SeedCommitment [32]byte
	Shares         []EncryptedShare
}

// SharesDelivery gives a client the shares addressed to it by the
// neighbours that completed ShareKeys; exactly these neighbours' pairwise
// masks go into its masked input.
type SharesDelivery struct {
	To     ClientID
	Shares []EncryptedShare
}

// MaskedInput is input + self mask + Σ ± pairwise masks, mod 2^m.
type MaskedInput struct {
	From   ClientID
	Vector []uint32
}

// ConsistencyRequest (malicious-server mode) tells a survivor which
// members of its neighbourhood, itself included, sent a masked input, in
// increasing order. It signs exactly that list and will later reveal
// accordingly.
type ConsistencyRequest struct {
	To       ClientID
	Survived []ClientID
}

// ConsistencySignature is a survivor's Ed25519 signature of the survivor
// list it was sent (with the round and its id).
type ConsistencySignature struct {
	From      ClientID
	Signature []byte
}

// SignedView is one survivor's signed survivor list, forwarded to its
// neighbours.
type SignedView struct {
	From      ClientID
	Survived  []ClientID
	Signature []byte
}

// UnmaskRequest tells a client which of the neighbours it holds shares of
// survived (sent a masked input; the client itself among them) and which
// dropped. In malicious-server mode it also carries the signed views of
// the client's neighbours that signed theirs; the client reveals only if
// the lists are the ones it signed and at least t views (its own
// included) are validly signed and agree with its own.
type UnmaskRequest struct {
	To                ClientID
	Survived, Dropped []ClientID
	Views             []SignedView
}

// RevealedShare is a share of Owner's secret, revealed by the holder.
type RevealedShare struct {
	Owner ClientID
	Share Share
}

// UnmaskResponse reveals shares of the self-mask seeds of survivors and of
// the mask private keys of dropped clients, never both for one client.
type UnmaskResponse struct {
	From  ClientID
	Seeds []RevealedShare
	Keys  []RevealedShare
}

func (m *AdvertiseKeys) Sender() ClientID        { return m.From }
func (m *ShareKeys) Sender() ClientID            { return m.From }
func (m *MaskedInput) Sender() ClientID          { return m.From }
func (m *ConsistencySignature) Sender() ClientID { return m.From }
func (m *UnmaskResponse) Sender() ClientID       { return m.From }

func (*AdvertiseKeys) clientMessage()        {}
func (*ShareKeys) clientMessage()            {}
func (*MaskedInput) clientMessage()          {}
func (*ConsistencySignature) clientMessage() {}
func (*UnmaskResponse) clientMessage()       {}

func (m *KeysForward) Recipient() ClientID        { return m.To }
func (m *SharesDelivery) Recipient() ClientID     { return m.To }
func (m *ConsistencyRequest) Recipient() ClientID { return m.To }
func (m *UnmaskRequest) Recipient() ClientID      { return m.To }

func (*KeysForward) serverMessage()        {}
func (*SharesDelivery) serverMessage()     {}
func (*ConsistencyRequest) serverMessage() {}
func (*UnmaskRequest) serverMessage()      {}
