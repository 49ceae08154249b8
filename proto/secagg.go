package proto

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"fmt"

	"github.com/tacitfl/tacit/aggregate/secagg"
	"github.com/tacitfl/tacit/proto/tacitpb"
)

// ErrBadSecAgg is wrapped by every refusal of a malformed SecAgg message.
// The secagg state machines check the rest (phase, membership, values).
var ErrBadSecAgg = errors.New("bad secure-aggregation message")

// SecAggPlan is the wire form of a round's SecAgg configuration and the
// device's id in it; in malicious-server mode it carries the registry.
func SecAggPlan(c secagg.Config, id secagg.ClientID) *tacitpb.SecAggPlan {
	p := &tacitpb.SecAggPlan{Session: c.Round, NumClients: uint32(c.NumClients), Degree: uint32(c.Degree),
		Threshold: uint32(c.Threshold), Bits: uint32(c.Bits), Length: uint64(c.Length),
		GraphSeed: append([]byte(nil), c.GraphSeed[:]...), ClientId: uint32(id)}
	if c.Registry != nil {
		for _, k := range c.Registry.Keys {
			p.SigningKeys = append(p.SigningKeys, append([]byte(nil), k...))
		}
		for _, e := range c.Registry.Endorsements {
			p.Endorsements = append(p.Endorsements, append([]byte(nil), e...))
		}
	}
	return p
}

// FromSecAggPlan reads a SecAggPlan; secagg.NewClient validates the rest.
func FromSecAggPlan(p *tacitpb.SecAggPlan) (secagg.Config, secagg.ClientID, error) {
	var c secagg.Config
	switch {
	case p == nil:
		return c, 0, fmt.Errorf("%w: no plan", ErrBadSecAgg)
	case len(p.GraphSeed) != len(c.GraphSeed):
		return c, 0, fmt.Errorf("%w: graph seed of %d bytes", ErrBadSecAgg, len(p.GraphSeed))
	case p.NumClients > secagg.MaxClients || p.Length > secagg.MaxLength || p.Degree > secagg.MaxClients || p.Threshold > secagg.MaxClients || p.Bits > 32:
		return c, 0, fmt.Errorf("%w: %d clients, degree %d, threshold %d, %d bits, length %d", ErrBadSecAgg,
			p.NumClients, p.Degree, p.Threshold, p.Bits, p.Length)
	case len(p.SigningKeys) != 0 && len(p.SigningKeys) != int(p.NumClients):
		return c, 0, fmt.Errorf("%w: %d signing keys for %d clients", ErrBadSecAgg, len(p.SigningKeys), p.NumClients)
	case len(p.Endorsements) != 0 && len(p.Endorsements) != len(p.SigningKeys):
		return c, 0, fmt.Errorf("%w: %d endorsements for %d signing keys", ErrBadSecAgg, len(p.Endorsements), len(p.SigningKeys))
	}
	c = secagg.Config{Round: p.Session, NumClients: int(p.NumClients), Degree: int(p.Degree), Threshold: int(p.Threshold),
		Bits: int(p.Bits), Length: int(p.Length)}
	copy(c.GraphSeed[:], p.GraphSeed)
	if len(p.SigningKeys) != 0 {
		c.Registry = &secagg.Registry{Keys: make([]ed25519.PublicKey, len(p.SigningKeys))}
		for i, k := range p.SigningKeys {
			if len(k) != ed25519.PublicKeySize {
				return c, 0, fmt.Errorf("%w: signing key of client %d has %d bytes", ErrBadSecAgg, i, len(k))
			}
			c.Registry.Keys[i] = ed25519.PublicKey(bytes.Clone(k))
		}
		for i, e := range p.Endorsements {
			if len(e) != ed25519.SignatureSize {
				return c, 0, fmt.Errorf("%w: endorsement of client %d has %d bytes", ErrBadSecAgg, i, len(e))
			}
			c.Registry.Endorsements = append(c.Registry.Endorsements, bytes.Clone(e))
		}
	}
	return c, secagg.ClientID(p.ClientId), nil
}

// wirePhases names, on the wire, each phase whose opening message a device
// fetches.
var wirePhases = map[secagg.Phase]tacitpb.SecAggPhase{
	secagg.PhaseShareKeys:   tacitpb.SecAggPhase_SECAGG_PHASE_SHARE_KEYS,
	secagg.PhaseMaskedInput: tacitpb.SecAggPhase_SECAGG_PHASE_MASKED_INPUT,
	secagg.PhaseConsistency: tacitpb.SecAggPhase_SECAGG_PHASE_CONSISTENCY,
	secagg.PhaseUnmask:      tacitpb.SecAggPhase_SECAGG_PHASE_UNMASK,
}

// SecAggPhase is the wire name of phase p, whose opening message a device
// fetches; SECAGG_PHASE_UNSPECIFIED for a phase no message opens.
func SecAggPhase(p secagg.Phase) tacitpb.SecAggPhase { return wirePhases[p] }

// FromSecAggPhase reads a fetched phase's wire name; an unknown or
// unspecified one is an error.
func FromSecAggPhase(w tacitpb.SecAggPhase) (secagg.Phase, error) {
	for p, v := range wirePhases {
		if v == w {
			return p, nil
		}
	}
	return 0, fmt.Errorf("%w: no SecAgg phase %v", ErrBadSecAgg, w)
}

// SecAggSend is the wire form of a device's message; a masked input goes
// as a DTYPE_UINT tensor of the round's bits.
func (c *Codec) SecAggSend(round int64, m secagg.ClientMessage, bits int) (*tacitpb.SecAggSend, error) {
	s := &tacitpb.SecAggSend{Round: round}
	switch m := m.(type) {
	case *secagg.AdvertiseKeys:
		s.Body = &tacitpb.SecAggSend_Advertise{Advertise: &tacitpb.SecAggAdvertise{
			MaskKey: append([]byte(nil), m.MaskKey[:]...), ShareKey: append([]byte(nil), m.ShareKey[:]...), Signature: m.Signature}}
	case *secagg.ShareKeys:
		sk := &tacitpb.SecAggShareKeys{SeedCommitment: append([]byte(nil), m.SeedCommitment[:]...)}
		for _, e := range m.Shares {
			sk.Shares = append(sk.Shares, &tacitpb.SecAggEncryptedShare{Peer: uint32(e.To), Ciphertext: e.Ciphertext})
		}
		s.Body = &tacitpb.SecAggSend_ShareKeys{ShareKeys: sk}
	case *secagg.MaskedInput:
		// Masked vectors look uniformly random: compressing them is futile.
		s.Body = &tacitpb.SecAggSend_MaskedInput{MaskedInput: c.EncodeUint(m.Vector, bits, tacitpb.Compression_COMPRESSION_NONE)}
	case *secagg.ConsistencySignature:
		s.Body = &tacitpb.SecAggSend_Consistency{Consistency: &tacitpb.SecAggConsistencySignature{Signature: m.Signature}}
	case *secagg.UnmaskResponse:
		s.Body = &tacitpb.SecAggSend_Unmask{Unmask: &tacitpb.SecAggUnmask{Seeds: revealedShares(m.Seeds), Keys: revealedShares(m.Keys)}}
	default:
		return nil, fmt.Errorf("proto: no wire form for %T", m)
	}
	return s, nil
}

func revealedShares(rs []secagg.RevealedShare) []*tacitpb.SecAggRevealedShare {
	out := make([]*tacitpb.SecAggRevealedShare, len(rs))
	for i, r := range rs {
		out[i] = &tacitpb.SecAggRevealedShare{Owner: uint32(r.Owner), Y: append([]uint64(nil), r.Share[:]...)}
	}
	return out
}

// FromSecAggSend reads a device's message. from is the device's id in the
// round, known from its authenticated connection, never from the message;
// cfg gives the masked input's length and bits.
func (c *Codec) FromSecAggSend(s *tacitpb.SecAggSend, from secagg.ClientID, cfg secagg.Config) (secagg.ClientMessage, error) {
	switch b := s.GetBody().(type) {
	case *tacitpb.SecAggSend_Advertise:
		m := &secagg.AdvertiseKeys{From: from, Signature: b.Advertise.GetSignature()}
		if err := key(m.MaskKey[:], b.Advertise.GetMaskKey()); err != nil {
			return nil, err
		}
		return m, key(m.ShareKey[:], b.Advertise.GetShareKey())
	case *tacitpb.SecAggSend_ShareKeys:
		m := &secagg.ShareKeys{From: from}
		if err := key(m.SeedCommitment[:], b.ShareKeys.GetSeedCommitment()); err != nil {
			return nil, err
		}
		for _, e := range b.ShareKeys.GetShares() {
			m.Shares = append(m.Shares, secagg.EncryptedShare{From: from, To: secagg.ClientID(e.GetPeer()), Ciphertext: e.GetCiphertext()})
		}
		return m, nil
	case *tacitpb.SecAggSend_MaskedInput:
		v, err := c.DecodeUint(b.MaskedInput, cfg.Length, cfg.Bits, nil)
		if err != nil {
			return nil, err
		}
		return &secagg.MaskedInput{From: from, Vector: v}, nil
	case *tacitpb.SecAggSend_Consistency:
		return &secagg.ConsistencySignature{From: from, Signature: b.Consistency.GetSignature()}, nil
	case *tacitpb.SecAggSend_Unmask:
		seeds, err := fromRevealed(b.Unmask.GetSeeds())
		if err != nil {
			return nil, err
		}
		keys, err := fromRevealed(b.Unmask.GetKeys())
		if err != nil {
			return nil, err
		}
		return &secagg.UnmaskResponse{From: from, Seeds: seeds, Keys: keys}, nil
	}
	return nil, fmt.Errorf("%w: empty message", ErrBadSecAgg)
}

func key(dst, src []byte) error {
	if len(src) != len(dst) {
		return fmt.Errorf("%w: %d bytes where %d belong", ErrBadSecAgg, len(src), len(dst))
	}
	copy(dst, src)
	return nil
}

func fromRevealed(rs []*tacitpb.SecAggRevealedShare) ([]secagg.RevealedShare, error) {
	out := make([]secagg.RevealedShare, len(rs))
	for i, r := range rs {
		if len(r.GetY()) != len(out[i].Share) {
			return nil, fmt.Errorf("%w: a share of %d field elements, want %d", ErrBadSecAgg, len(r.GetY()), len(out[i].Share))
		}
		out[i].Owner = secagg.ClientID(r.GetOwner())
		copy(out[i].Share[:], r.GetY())
	}
	return out, nil
}

// SecAggFetchResult is the wire form of the coordinator's message to a
// device.
func SecAggFetchResult(m secagg.ServerMessage) (*tacitpb.SecAggFetchResult, error) {
	r := &tacitpb.SecAggFetchResult{}
	switch m := m.(type) {
	case *secagg.KeysForward:
		k := &tacitpb.SecAggKeys{}
		for _, p := range m.Peers {
			k.Peers = append(k.Peers, &tacitpb.SecAggPeerKeys{Id: uint32(p.ID),
				MaskKey: append([]byte(nil), p.MaskKey[:]...), ShareKey: append([]byte(nil), p.ShareKey[:]...), Signature: p.Signature})
		}
		r.Result = &tacitpb.SecAggFetchResult_Keys{Keys: k}
	case *secagg.SharesDelivery:
		sh := &tacitpb.SecAggShares{}
		for _, e := range m.Shares {
			sh.Shares = append(sh.Shares, &tacitpb.SecAggEncryptedShare{Peer: uint32(e.From), Ciphertext: e.Ciphertext})
		}
		r.Result = &tacitpb.SecAggFetchResult_Shares{Shares: sh}
	case *secagg.ConsistencyRequest:
		r.Result = &tacitpb.SecAggFetchResult_Consistency{Consistency: &tacitpb.SecAggConsistencyRequest{Survived: ids(m.Survived)}}
	case *secagg.UnmaskRequest:
		u := &tacitpb.SecAggUnmaskRequest{Survived: ids(m.Survived), Dropped: ids(m.Dropped)}
		for _, v := range m.Views {
			u.Views = append(u.Views, &tacitpb.SecAggSignedView{From: uint32(v.From), Survived: ids(v.Survived), Signature: v.Signature})
		}
		r.Result = &tacitpb.SecAggFetchResult_Unmask{Unmask: u}
	default:
		return nil, fmt.Errorf("proto: no wire form for %T", m)
	}
	return r, nil
}

func ids(v []secagg.ClientID) []uint32 {
	out := make([]uint32, len(v))
	for i, x := range v {
		out[i] = uint32(x)
	}
	return out
}

func fromIDs(v []uint32) []secagg.ClientID {
	var out []secagg.ClientID
	for _, x := range v {
		out = append(out, secagg.ClientID(x))
	}
	return out
}

// FromSecAggFetchResult reads the coordinator's message to device to.
// A retry is not a message: the caller handles it first.
func FromSecAggFetchResult(r *tacitpb.SecAggFetchResult, to secagg.ClientID) (secagg.ServerMessage, error) {
	switch b := r.GetResult().(type) {
	case *tacitpb.SecAggFetchResult_Keys:
		m := &secagg.KeysForward{To: to}
		for _, p := range b.Keys.GetPeers() {
			pk := secagg.PeerKeys{ID: secagg.ClientID(p.GetId()), Signature: p.GetSignature()}
			if err := key(pk.MaskKey[:], p.GetMaskKey()); err != nil {
				return nil, err
			}
			if err := key(pk.ShareKey[:], p.GetShareKey()); err != nil {
				return nil, err
			}
			m.Peers = append(m.Peers, pk)
		}
		return m, nil
	case *tacitpb.SecAggFetchResult_Shares:
		m := &secagg.SharesDelivery{To: to}
		for _, e := range b.Shares.GetShares() {
			m.Shares = append(m.Shares, secagg.EncryptedShare{From: secagg.ClientID(e.GetPeer()), To: to, Ciphertext: e.GetCiphertext()})
		}
		return m, nil
	case *tacitpb.SecAggFetchResult_Unmask:
		m := &secagg.UnmaskRequest{To: to, Survived: fromIDs(b.Unmask.GetSurvived()), Dropped: fromIDs(b.Unmask.GetDropped())}
		for _, v := range b.Unmask.GetViews() {
			m.Views = append(m.Views, secagg.SignedView{From: secagg.ClientID(v.GetFrom()), Survived: fromIDs(v.GetSurvived()), Signature: v.GetSignature()})
		}
		return m, nil
	case *tacitpb.SecAggFetchResult_Consistency:
		return &secagg.ConsistencyRequest{To: to, Survived: fromIDs(b.Consistency.GetSurvived())}, nil
	}
	return nil, fmt.Errorf("%w: empty result", ErrBadSecAgg)
}
