package secagg

import (
	"cmp"
	"crypto/ecdh"
	"fmt"
	"slices"
)

// Server is the coordinator's side of a round. It does no I/O: Step takes
// each client message as it arrives, and EndPhase, called by the driver at
// the phase's deadline (or once every expected message is in), closes the
// phase and returns the messages to send. Not safe for concurrent use.
type Server struct {
	cfg     Config
	session [32]byte
	graph   *graph
	probe   *ecdh.PrivateKey // any fixed scalar: it finds low-order public keys
	phase   Phase
	err     error // why the round aborted
	clients []serverClient
	sum     []uint32 // Σ masked inputs, mod 2^32
	coeffs  lagrange
}

// serverClient is what the server holds of one client. progress is the
// phase the client takes part in: it completed every phase before it.
type serverClient struct {
	progress   Phase
	maskKey    [PublicKeySize]byte
	shareKey   [PublicKeySize]byte
	commitment [32]byte
	shares     []EncryptedShare // its shares for its neighbours, by recipient
	seedShares []heldShare      // revealed shares of its self-mask seed
	keyShares  []heldShare      // revealed shares of its mask private key
	advertSig  []byte           // malicious-server mode: its signature of its keys
	view       []ClientID       // malicious-server mode: the survivor list it was sent
	viewSig    []byte           // and its signature of it
}

// Outcome is what EndPhase returns.
type Outcome struct {
	Phase    Phase           // the phase the round is in now
	Messages []ServerMessage // for the clients still in the round, by id
	// Once Phase is PhaseDone: the sum mod 2^m of the inputs of Survivors,
	// the clients whose masked input was counted.
	Sum       []uint32
	Survivors []ClientID
	// BadShares, once Phase is PhaseDone, lists the clients that revealed
	// a share off its owner's sharing polynomial, in increasing order. The
	// server located them (Berlekamp–Welch over all revealed shares,
	// checked against the owner's commitment) and the sum is still exact;
	// the driver should exclude them from later rounds.
	BadShares []ClientID
}

// NewServer starts the round cfg in PhaseAdvertiseKeys.
func NewServer(cfg Config) (*Server, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	g, err := newGraph(cfg.NumClients, cfg.Degree, cfg.GraphSeed)
	if err != nil {
		return nil, err
	}
	probe, err := ecdh.X25519().NewPrivateKey(make([]byte, 32))
	if err != nil {
		return nil, err
	}
	return &Server{cfg: cfg, session: cfg.sessionID(), graph: g, probe: probe,
		clients: make([]serverClient, cfg.NumClients), coeffs: make(lagrange)}, nil
}

// Phase is the current phase.
func (s *Server) Phase() Phase { return s.phase }

// Step takes one client message. A rejected message (a *MessageError)
// changes nothing: the round goes on as if it had not been sent, and its
// sender may still send a valid one before the phase ends. Step keeps no
// reference to the message.
func (s *Server) Step(m ClientMessage) error {
	phase, ok := messagePhase(m)
	if !ok {
		return &MessageError{Phase: s.phase, Err: ErrBadMessage, Detail: fmt.Sprintf("unknown or nil message %T", m)}
	}
	from := m.Sender()
	reject := func(err error, detail string) error {
		return &MessageError{Phase: s.phase, Client: from, Err: err, Detail: detail}
	}
	switch {
	case s.phase == PhaseAborted:
		return reject(ErrWrongPhase, "round aborted")
	case phase != s.phase:
		return reject(ErrWrongPhase, fmt.Sprintf("%T", m))
	case int(from) >= s.cfg.NumClients:
		return reject(ErrUnknownSender, "not in the round")
	}
	c := &s.clients[from]
	switch {
	case c.progress > phase:
		return reject(ErrDuplicate, "")
	case c.progress < phase:
		return reject(ErrUnknownSender, fmt.Sprintf("dropped out in %v", c.progress))
	}
	var detail string
	switch m := m.(type) {
	case *AdvertiseKeys:
		if s.cfg.Malicious() && !verify(s.cfg.Registry.Keys[from], advertStatement(&s.session, from, &m.MaskKey, &m.ShareKey), m.Signature) {
			return reject(ErrBadSignature, "advertised keys")
		}
		detail = s.advertised(c, m)
	case *ShareKeys:
		detail = s.shared(c, m)
	case *MaskedInput:
		detail = s.masked(m)
	case *ConsistencySignature:
		if !verify(s.cfg.Registry.Keys[from], viewStatement(&s.session, from, c.view), m.Signature) {
			return reject(ErrBadSignature, "survivor list")
		}
		c.viewSig = slices.Clone(m.Signature)
	case *UnmaskResponse:
		detail = s.unmasked(m)
	}
	if detail != "" {
		return reject(ErrBadMessage, detail)
	}
	c.progress++
	if c.progress == PhaseConsistency && !s.cfg.Malicious() {
		c.progress = PhaseUnmask
	}
	return nil
}

// messagePhase is the phase m belongs to; false for a nil or foreign message.
func messagePhase(m ClientMessage) (Phase, bool) {
	switch m := m.(type) {
	case *AdvertiseKeys:
		return PhaseAdvertiseKeys, m != nil
	case *ShareKeys:
		return PhaseShareKeys, m != nil
	case *MaskedInput:
		return PhaseMaskedInput, m != nil
	case *ConsistencySignature:
		return PhaseConsistency, m != nil
	case *UnmaskResponse:
		return PhaseUnmask, m != nil
	}
	return 0, false
}

// Each handler below returns why a message is malformed, or "", and leaves
// the server unchanged when it is.

func (s *Server) advertised(c *serverClient, m *AdvertiseKeys) string {
	for _, k := range [][PublicKeySize]byte{m.MaskKey, m.ShareKey} {
		pub, err := ecdh.X25519().NewPublicKey(k[:])
		if err == nil {
			_, err = s.probe.ECDH(pub)
		}
		if err != nil {
			return fmt.Sprintf("public key: %v", err)
		}
	}
	if s.cfg.Malicious() {
		c.advertSig = slices.Clone(m.Signature)
	}
	c.maskKey, c.shareKey = m.MaskKey, m.ShareKey
	return ""
}

func (s *Server) shared(c *serverClient, m *ShareKeys) string {
	want := s.neighbours(m.From, PhaseShareKeys)
	if len(m.Shares) != len(want) {
		return fmt.Sprintf("%d shares, want one for each of %d neighbours that advertised", len(m.Shares), len(want))
	}
	shares := slices.Clone(m.Shares)
	slices.SortFunc(shares, func(a, b EncryptedShare) int { return cmp.Compare(a.To, b.To) })
	for i := range shares {
		sh := &shares[i]
		switch {
		case sh.From != m.From:
			return fmt.Sprintf("share from client %d", sh.From)
		case sh.To != want[i]:
			return fmt.Sprintf("shares not addressed to exactly the neighbours that advertised (%d)", sh.To)
		case len(sh.Ciphertext) != sealedShareSize:
			return fmt.Sprintf("share for client %d has %d bytes, want %d", sh.To, len(sh.Ciphertext), sealedShareSize)
		}
		sh.Ciphertext = slices.Clone(sh.Ciphertext)
	}
	c.shares, c.commitment = shares, m.SeedCommitment
	return ""
}

func (s *Server) masked(m *MaskedInput) string {
	if len(m.Vector) != s.cfg.Length {
		return fmt.Sprintf("%d values, want %d", len(m.Vector), s.cfg.Length)
	}
	// Add and check the range in one pass; undo the addition (exactly, mod
	// 2^32) if a value is out of range.
	sum, v := s.sum, m.Vector[:len(s.sum)]
	var or uint32
	for i := range sum {
		sum[i] += v[i]
		or |= v[i]
	}
	if or&^s.cfg.modMask() != 0 {
		for i := range sum {
			sum[i] -= v[i]
		}
		i := outOfRange(v, s.cfg.modMask())
		return fmt.Sprintf("value %d at %d is not below 2^%d", v[i], i, s.cfg.Bits)
	}
	return ""
}

func (s *Server) unmasked(m *UnmaskResponse) string {
	seen := make(map[ClientID]bool, len(m.Seeds)+len(m.Keys))
	check := func(r RevealedShare, want func(ClientID) bool) string {
		switch {
		case int(r.Owner) >= s.cfg.NumClients || !want(r.Owner):
			return fmt.Sprintf("share of client %d was not asked for", r.Owner)
		case seen[r.Owner]:
			return fmt.Sprintf("two shares of client %d", r.Owner)
		case slices.ContainsFunc(r.Share[:], func(v uint64) bool { return v >= fieldPrime }):
			return fmt.Sprintf("share of client %d is not in the field", r.Owner)
		}
		seen[r.Owner] = true
		return ""
	}
	survived := func(id ClientID) bool {
		return (id == m.From || s.graph.Adjacent(m.From, id)) && s.clients[id].progress >= PhaseConsistency
	}
	dropped := func(id ClientID) bool {
		return s.graph.Adjacent(m.From, id) && s.clients[id].progress == PhaseMaskedInput
	}
	for _, r := range m.Seeds {
		if d := check(r, survived); d != "" {
			return d
		}
	}
	for _, r := range m.Keys {
		if d := check(r, dropped); d != "" {
			return d
		}
	}
	for _, r := range m.Seeds {
		o := &s.clients[r.Owner]
		o.seedShares = append(o.seedShares, heldShare{m.From, r.Share})
	}
	for _, r := range m.Keys {
		o := &s.clients[r.Owner]
		o.keyShares = append(o.keyShares, heldShare{m.From, r.Share})
	}
	return ""
}

// neighbours lists id's neighbours that take part in phase p or later.
func (s *Server) neighbours(id ClientID, p Phase) []ClientID {
	return slices.DeleteFunc(s.graph.Neighbors(id), func(v ClientID) bool { return s.clients[v].progress < p })
}

// members lists the clients that take part in phase p or later.
func (s *Server) members(p Phase) []ClientID {
	var out []ClientID
	for id := range s.clients {
		if s.clients[id].progress >= p {
			out = append(out, ClientID(id))
		}
	}
	return out
}

// EndPhase closes the current phase. It aborts the round with
// ErrTooFewSurvivors, before anything more is revealed, as soon as some
// secret that will be needed has fewer than the threshold's holders left;
// then and after, it returns that error and no sum.
func (s *Server) EndPhase() (Outcome, error) {
	switch s.phase {
	case PhaseAdvertiseKeys:
		return s.endAdvertiseKeys()
	case PhaseShareKeys:
		return s.endShareKeys()
	case PhaseMaskedInput:
		return s.endMaskedInput()
	case PhaseConsistency:
		return s.endConsistency()
	case PhaseUnmask:
		return s.endUnmask()
	case PhaseAborted:
		return Outcome{Phase: PhaseAborted}, s.err
	}
	return Outcome{Phase: s.phase}, &MessageError{Phase: s.phase, Err: ErrWrongPhase, Detail: "round already done"}
}

func (s *Server) abort(err error, format string, args ...any) (Outcome, error) {
	s.err = fmt.Errorf("%w: "+format, append([]any{err}, args...)...)
	s.phase, s.sum, s.clients, s.coeffs = PhaseAborted, nil, nil, nil
	return Outcome{Phase: PhaseAborted}, s.err
}

func (s *Server) endAdvertiseKeys() (Outcome, error) {
	next := PhaseShareKeys
	var msgs []ServerMessage
	for _, v := range s.members(next) {
		peers := s.neighbours(v, next)
		if len(peers)+1 < s.cfg.Threshold {
			return s.abort(ErrTooFewSurvivors, "after %v client %d has %d neighbours, threshold %d", s.phase, v, len(peers), s.cfg.Threshold)
		}
		m := &KeysForward{To: v, Peers: make([]PeerKeys, len(peers))}
		for i, u := range peers {
			m.Peers[i] = PeerKeys{ID: u, MaskKey: s.clients[u].maskKey, ShareKey: s.clients[u].shareKey, Signature: s.clients[u].advertSig}
		}
		msgs = append(msgs, m)
	}
	return s.advance(next, msgs)
}

func (s *Server) endShareKeys() (Outcome, error) {
	next := PhaseMaskedInput
	var msgs []ServerMessage
	for _, v := range s.members(next) {
		peers := s.neighbours(v, next)
		if len(peers)+1 < s.cfg.Threshold {
			return s.abort(ErrTooFewSurvivors, "after %v client %d has %d neighbours, threshold %d", s.phase, v, len(peers), s.cfg.Threshold)
		}
		m := &SharesDelivery{To: v, Shares: make([]EncryptedShare, len(peers))}
		for i, u := range peers {
			shares := s.clients[u].shares
			j, _ := slices.BinarySearchFunc(shares, v, func(e EncryptedShare, to ClientID) int { return cmp.Compare(e.To, to) })
			m.Shares[i] = shares[j]
		}
		msgs = append(msgs, m)
	}
	for i := range s.clients {
		s.clients[i].shares = nil
	}
	s.sum = make([]uint32, s.cfg.Length)
	return s.advance(next, msgs)
}

func (s *Server) endMaskedInput() (Outcome, error) {
	next := PhaseUnmask
	if s.cfg.Malicious() {
		next = PhaseConsistency
	}
	seeds, keys := s.neededSecrets()
	if out, err, stop := s.checkHolders(seeds, keys, next); stop {
		return out, err
	}
	var msgs []ServerMessage
	for _, v := range seeds {
		req := s.unmaskRequest(v)
		if next == PhaseConsistency {
			s.clients[v].view = req.Survived
			msgs = append(msgs, &ConsistencyRequest{To: v, Survived: req.Survived})
		} else {
			msgs = append(msgs, req)
		}
	}
	return s.advance(next, msgs)
}

// endConsistency sends the unmask requests to the survivors that signed
// their view, each with the signed views of its neighbours that did.
func (s *Server) endConsistency() (Outcome, error) {
	next := PhaseUnmask
	seeds, keys := s.neededSecrets()
	if out, err, stop := s.checkHolders(seeds, keys, next); stop {
		return out, err
	}
	var msgs []ServerMessage
	for _, v := range s.members(next) {
		req := s.unmaskRequest(v)
		for _, w := range s.neighbours(v, next) {
			c := &s.clients[w]
			req.Views = append(req.Views, SignedView{From: w, Survived: c.view, Signature: c.viewSig})
		}
		msgs = append(msgs, req)
	}
	return s.advance(next, msgs)
}

// checkHolders aborts the round (stop) when a needed secret has fewer than
// t holders taking part in phase next: a survivor's seed is held by the
// members of its neighbourhood, itself included, a dropped client's mask
// key by its neighbours.
func (s *Server) checkHolders(seeds, keys []ClientID, next Phase) (Outcome, error, bool) {
	for _, v := range seeds {
		n := len(s.neighbours(v, next))
		if s.clients[v].progress >= next {
			n++
		}
		if n < s.cfg.Threshold {
			out, err := s.abort(ErrTooFewSurvivors, "after %v %d holders of client %d's self-mask seed survive, threshold %d", s.phase, n, v, s.cfg.Threshold)
			return out, err, true
		}
	}
	for _, u := range keys {
		if n := len(s.neighbours(u, next)); n < s.cfg.Threshold {
			out, err := s.abort(ErrTooFewSurvivors, "after %v %d holders of dropped client %d's mask key survive, threshold %d", s.phase, n, u, s.cfg.Threshold)
			return out, err, true
		}
	}
	return Outcome{}, nil, false
}

// unmaskRequest lists survivor v's neighbours (and itself) that survived
// and those that dropped after their shares reached it.
func (s *Server) unmaskRequest(v ClientID) *UnmaskRequest {
	m := &UnmaskRequest{To: v}
	for _, u := range s.neighbours(v, PhaseMaskedInput) {
		if s.clients[u].progress >= PhaseConsistency {
			m.Survived = append(m.Survived, u)
		} else {
			m.Dropped = append(m.Dropped, u)
		}
	}
	m.Survived = append(m.Survived, v)
	slices.Sort(m.Survived)
	return m
}

func (s *Server) advance(next Phase, msgs []ServerMessage) (Outcome, error) {
	if len(msgs) == 0 {
		return s.abort(ErrTooFewSurvivors, "no client completed %v", s.phase)
	}
	s.phase = next
	return Outcome{Phase: next, Messages: msgs}, nil
}
