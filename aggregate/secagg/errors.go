package secagg

import (
	"errors"
	"fmt"
)

var (
	// ErrInvalidConfig reports a round configuration the protocol cannot run.
	ErrInvalidConfig = errors.New("secagg: invalid round configuration")
	// ErrInvalidInput reports a client input of the wrong length or with a
	// value outside Z_(2^m).
	ErrInvalidInput = errors.New("secagg: input is not a vector of Z_(2^m)")
	// ErrWrongPhase reports a message that the current phase does not take.
	ErrWrongPhase = errors.New("secagg: message not expected in this phase")
	// ErrDuplicate reports a second message from the same client in a phase.
	ErrDuplicate = errors.New("secagg: duplicate message")
	// ErrUnknownSender reports a sender that is not in the round, or that
	// dropped out in an earlier phase.
	ErrUnknownSender = errors.New("secagg: unknown sender")
	// ErrBadMessage reports a malformed message: wrong vector length, value
	// out of range, invalid public key, shares for the wrong peers, ….
	ErrBadMessage = errors.New("secagg: malformed message")
	// ErrBadShare reports an encrypted share that failed authentication:
	// tampered, replayed from another round, or meant for another client.
	ErrBadShare = errors.New("secagg: share failed authentication")
	// ErrInconsistentUnmask reports an unmask request that would make a
	// client reveal both secrets of one peer. The client stops for good.
	ErrInconsistentUnmask = errors.New("secagg: unmask request would reveal both secrets of a peer")
	// ErrTooFewSurvivors reports that some needed reconstruction would have
	// fewer than the threshold's shares. The round is over; no sum.
	ErrTooFewSurvivors = errors.New("secagg: too few survivors")
	// ErrMinorityThreshold reports a threshold that is not a strict majority
	// of the neighbourhood, which a client refuses unless it trusts the
	// server (ClientOptions.HonestServer): a server lying about dropouts
	// could otherwise collect both secrets of a client.
	ErrMinorityThreshold = errors.New("secagg: threshold is not a majority of the neighbourhood")
	// ErrUnendorsedKey reports a malicious-server round whose registry has
	// a key the device's enrolment authority did not endorse.
	ErrUnendorsedKey = errors.New("secagg: a registry key lacks the enrolment authority's endorsement")
	// ErrBadSignature reports a missing or invalid Ed25519 signature in
	// malicious-server mode.
	ErrBadSignature = errors.New("secagg: bad signature")
	// ErrInconsistentView reports, in malicious-server mode, that the
	// server showed a client a view of the survivors that contradicts the
	// one it signed, or a neighbour's signed view that contradicts it (the
	// server equivocated), or too few signed views. The client stops for
	// good without revealing anything.
	ErrInconsistentView = errors.New("secagg: inconsistent survivor views")
	// ErrReconstruction reports shares that do not reconstruct the secret
	// they claim to share (the commitment or public key does not match).
	ErrReconstruction = errors.New("secagg: shares do not reconstruct the committed secret")
)

// MessageError is a rejected message. The state machine that returned it is
// unchanged, so the rest of the round goes on without that message.
type MessageError struct {
	Phase  Phase
	Client ClientID // the sender (server side) or the recipient (client side)
	Err    error    // one of the Err* values above
	Detail string
}

func (e *MessageError) Error() string {
	msg := fmt.Sprintf("%v (phase %v, client %d)", e.Err, e.Phase, e.Client)
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	return msg
}

func (e *MessageError) Unwrap() error { return e.Err }

// ShareError is one encrypted share the recipient could not open; it wraps
// ErrBadShare. The share just counts as missing.
type ShareError struct {
	From, To ClientID
	Err      error // the AEAD's error
}

func (e *ShareError) Error() string {
	return fmt.Sprintf("%v: from client %d to client %d: %v", ErrBadShare, e.From, e.To, e.Err)
}

func (e *ShareError) Unwrap() []error { return []error{ErrBadShare, e.Err} }

// ReconstructionError is a secret whose revealed shares do not rebuild
// what the owner committed to (its seed commitment or advertised mask
// key), even after locating wrong shares; it wraps ErrReconstruction.
// Either more than ⌊(r−t)/2⌋ of the r holders that revealed lied, or the
// owner dealt shares that are not of one polynomial: the server cannot
// tell which, so it names the owner and the holders it could not clear.
type ReconstructionError struct {
	Owner   ClientID
	Seed    bool       // the self-mask seed; false: the mask private key
	Holders []ClientID // the holders that revealed a share of it
}

func (e *ReconstructionError) Error() string {
	kind := "mask key"
	if e.Seed {
		kind = "self-mask seed"
	}
	return fmt.Sprintf("%v: %s of client %d from the shares of %v", ErrReconstruction, kind, e.Owner, e.Holders)
}

func (e *ReconstructionError) Unwrap() error { return ErrReconstruction }
