package secagg

import (
	"crypto/ecdh"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"slices"
)

// Client is one device's side of a round. It does no I/O: Start and Step
// return the messages to send. Not safe for concurrent use.
type Client struct {
	cfg     Config
	id      ClientID
	session [32]byte
	graph   *graph
	rand    io.Reader
	phase   Phase
	input   []uint32 // until masked

	maskKey, shareKey *ecdh.PrivateKey
	seed              [SecretSize]byte // the self-mask seed, until masked
	ownSeed, ownKey   Share            // the client's own shares (the self-edge)
	peers             map[ClientID]*clientPeer
	revealed          map[ClientID]revealed
	signer            ed25519.PrivateKey // malicious-server mode only
	view              []ClientID         // the survivor list it signed (malicious-server mode)
}

// clientPeer is what a client knows of a neighbour that advertised keys.
type clientPeer struct {
	maskKey     [32]byte // AES key of the pairwise mask
	shareSecret []byte   // share-key ECDH output
	delivered   bool     // its shares arrived: it completed ShareKeys
	opened      bool     // and authenticated
	seed, key   Share    // its shares, held for it
}

type revealed uint8

const (
	revealedSeed revealed = iota + 1
	revealedKey
)

// NewClient prepares client id for the round cfg with default options: it
// refuses a threshold that is not a strict majority of the neighbourhood
// (ErrMinorityThreshold) and a malicious-server round (it has no signing
// key). rand is the source of every secret: crypto/rand in production. The
// input is given later (SetInput), so a device can take part in the key
// phases before it trains.
func NewClient(cfg Config, id ClientID, rand io.Reader) (*Client, error) {
	return NewClientWith(cfg, id, rand, ClientOptions{})
}

// NewClientWith is NewClient with the device's own options: trusting the
// server with a minority threshold, or its signing key for a
// malicious-server round.
func NewClientWith(cfg Config, id ClientID, rand io.Reader, opts ClientOptions) (*Client, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if int(id) >= cfg.NumClients {
		return nil, fmt.Errorf("%w: client %d of %d", ErrInvalidConfig, id, cfg.NumClients)
	}
	if !cfg.MajorityThreshold() && !opts.HonestServer {
		return nil, fmt.Errorf("%w: threshold %d of %d shares; a server lying about dropouts could rebuild both secrets of a client",
			ErrMinorityThreshold, cfg.Threshold, cfg.neighbourhood())
	}
	if cfg.Malicious() {
		if len(opts.SigningKey) != ed25519.PrivateKeySize ||
			!opts.SigningKey.Public().(ed25519.PublicKey).Equal(cfg.Registry.Keys[id]) {
			return nil, fmt.Errorf("%w: the signing key is not client %d's registered key", ErrInvalidConfig, id)
		}
		if opts.Authority != nil && !cfg.Registry.EndorsedBy(opts.Authority) {
			return nil, fmt.Errorf("%w: the round's registry holds a key the enrolment authority did not endorse", ErrUnendorsedKey)
		}
	}
	g, err := newGraph(cfg.NumClients, cfg.Degree, cfg.GraphSeed)
	if err != nil {
		return nil, err
	}
	c := &Client{cfg: cfg, id: id, session: cfg.sessionID(), graph: g, rand: rand,
		phase: PhaseAdvertiseKeys, revealed: make(map[ClientID]revealed)}
	if cfg.Malicious() {
		c.signer = opts.SigningKey
	}
	return c, nil
}

// SetInput gives the client the vector to mask: cfg.Length values below
// 2^cfg.Bits. It must come before the *SharesDelivery is stepped, and input
// must not change until then (the client masks a copy).
func (c *Client) SetInput(input []uint32) error {
	switch {
	case c.phase > PhaseMaskedInput:
		return c.reject(ErrWrongPhase, "input after the masked input")
	case len(input) != c.cfg.Length:
		return fmt.Errorf("%w: %d values, want %d", ErrInvalidInput, len(input), c.cfg.Length)
	}
	if i := outOfRange(input, c.cfg.modMask()); i >= 0 {
		return fmt.Errorf("%w: value %d at %d needs more than %d bits", ErrInvalidInput, input[i], i, c.cfg.Bits)
	}
	c.input = input
	return nil
}

// outOfRange is the index of the first value above modMask, or −1.
func outOfRange(v []uint32, modMask uint32) int {
	if modMask == ^uint32(0) {
		return -1
	}
	var or uint32
	for _, x := range v {
		or |= x
	}
	if or&^modMask == 0 {
		return -1
	}
	return slices.IndexFunc(v, func(x uint32) bool { return x&^modMask != 0 })
}

// Phase is the phase the client is in: the one whose message it sends next.
func (c *Client) Phase() Phase { return c.phase }

// Start draws the client's two key pairs and returns their advertisement.
func (c *Client) Start() (*AdvertiseKeys, error) {
	if c.phase != PhaseAdvertiseKeys {
		return nil, c.reject(ErrWrongPhase, "already started")
	}
	maskKey, err := newPrivateKey(c.rand)
	if err != nil {
		return nil, err
	}
	shareKey, err := newPrivateKey(c.rand)
	if err != nil {
		return nil, err
	}
	c.maskKey, c.shareKey = maskKey, shareKey
	c.phase = PhaseShareKeys
	m := &AdvertiseKeys{From: c.id}
	copy(m.MaskKey[:], maskKey.PublicKey().Bytes())
	copy(m.ShareKey[:], shareKey.PublicKey().Bytes())
	if c.signer != nil {
		m.Signature = ed25519.Sign(c.signer, advertStatement(&c.session, c.id, &m.MaskKey, &m.ShareKey))
	}
	return m, nil
}

// Step handles a message from the server and returns the client's answer:
// *ShareKeys for *KeysForward, *MaskedInput for *SharesDelivery,
// *ConsistencySignature for *ConsistencyRequest (malicious-server mode) and
// *UnmaskResponse for *UnmaskRequest. A rejected message (a *MessageError)
// leaves the client as it was, except that ErrInconsistentUnmask,
// ErrInconsistentView and ErrTooFewSurvivors abort it for good.
//
// When some shares in a *SharesDelivery fail authentication, Step returns
// the masked input AND an error joining a *ShareError (wrapping
// ErrBadShare) for each: send the message anyway, the round goes on
// without those shares. A non-nil message is always meant to be sent.
func (c *Client) Step(m ServerMessage) (ClientMessage, error) {
	phase, ok := serverMessagePhase(m)
	switch {
	case !ok:
		return nil, c.reject(ErrBadMessage, fmt.Sprintf("unknown or nil message %T", m))
	case c.phase == PhaseAborted:
		return nil, c.reject(ErrWrongPhase, "client aborted")
	case phase != c.phase:
		return nil, c.reject(ErrWrongPhase, fmt.Sprintf("%T", m))
	case m.Recipient() != c.id:
		return nil, c.reject(ErrBadMessage, fmt.Sprintf("addressed to client %d", m.Recipient()))
	}
	switch m := m.(type) {
	case *KeysForward:
		return c.shareKeys(m)
	case *SharesDelivery:
		return c.maskInput(m)
	case *ConsistencyRequest:
		return c.signView(m)
	default:
		return c.unmask(m.(*UnmaskRequest))
	}
}

// serverMessagePhase is the client phase that answers m; false for a nil or
// foreign message.
func serverMessagePhase(m ServerMessage) (Phase, bool) {
	switch m := m.(type) {
	case *KeysForward:
		return PhaseShareKeys, m != nil
	case *SharesDelivery:
		return PhaseMaskedInput, m != nil
	case *ConsistencyRequest:
		return PhaseConsistency, m != nil
	case *UnmaskRequest:
		return PhaseUnmask, m != nil
	}
	return 0, false
}

func (c *Client) reject(err error, detail string) error {
	return &MessageError{Phase: c.phase, Client: c.id, Err: err, Detail: detail}
}

func (c *Client) abort(err error, detail string) error {
	e := c.reject(err, detail)
	c.phase = PhaseAborted
	c.input, c.seed, c.peers = nil, [SecretSize]byte{}, nil
	return e
}

// shareKeys agrees keys with the neighbours that advertised, and splits the
// self-mask seed and the mask private key among them and the client itself.
func (c *Client) shareKeys(m *KeysForward) (ClientMessage, error) {
	peers := make(map[ClientID]*clientPeer, len(m.Peers))
	x25519 := ecdh.X25519()
	for _, pk := range m.Peers {
		if !c.graph.Adjacent(c.id, pk.ID) {
			return nil, c.reject(ErrBadMessage, fmt.Sprintf("client %d is not a neighbour", pk.ID))
		}
		if c.signer != nil && !verify(c.cfg.Registry.Keys[pk.ID], advertStatement(&c.session, pk.ID, &pk.MaskKey, &pk.ShareKey), pk.Signature) {
			return nil, c.reject(ErrBadSignature, fmt.Sprintf("keys of client %d", pk.ID))
		}
		if peers[pk.ID] != nil {
			return nil, c.reject(ErrBadMessage, fmt.Sprintf("client %d listed twice", pk.ID))
		}
		p, err := c.agree(x25519, &pk)
		if err != nil {
			return nil, c.reject(ErrBadMessage, fmt.Sprintf("keys of client %d: %v", pk.ID, err))
		}
		peers[pk.ID] = p
	}
	if len(peers)+1 < c.cfg.Threshold {
		return nil, c.abort(ErrTooFewSurvivors, fmt.Sprintf("%d neighbours advertised, threshold %d", len(peers), c.cfg.Threshold))
	}
	var seed [SecretSize]byte
	if _, err := io.ReadFull(c.rand, seed[:]); err != nil {
		return nil, fmt.Errorf("secagg: reading randomness: %w", err)
	}
	holders := make([]ClientID, 0, len(peers)+1)
	for id := range peers {
		holders = append(holders, id)
	}
	holders = append(holders, c.id)
	slices.Sort(holders)
	seedShares, err := splitSecret(&seed, holders, c.cfg.Threshold, c.rand)
	if err != nil {
		return nil, err
	}
	maskKey := [SecretSize]byte(c.maskKey.Bytes())
	keyShares, err := splitSecret(&maskKey, holders, c.cfg.Threshold, c.rand)
	if err != nil {
		return nil, err
	}
	out := &ShareKeys{From: c.id, SeedCommitment: seedCommitment(&seed, &c.session, c.id),
		Shares: make([]EncryptedShare, 0, len(peers))}
	for i, h := range holders {
		if h == c.id {
			c.ownSeed, c.ownKey = seedShares[i], keyShares[i]
			continue
		}
		ct, err := sealShares(peers[h].shareSecret, &c.session, c.id, h, &seedShares[i], &keyShares[i])
		if err != nil {
			return nil, err
		}
		out.Shares = append(out.Shares, EncryptedShare{From: c.id, To: h, Ciphertext: ct})
	}
	c.seed, c.peers = seed, peers
	c.phase = PhaseMaskedInput
	return out, nil
}

// agree runs both key agreements with a neighbour. The pairwise mask key is
// derived now, while the client waits for the other neighbours' shares, so
// that masking costs only the keystreams.
func (c *Client) agree(x25519 ecdh.Curve, pk *PeerKeys) (*clientPeer, error) {
	maskPub, err := x25519.NewPublicKey(pk.MaskKey[:])
	if err != nil {
		return nil, err
	}
	sharePub, err := x25519.NewPublicKey(pk.ShareKey[:])
	if err != nil {
		return nil, err
	}
	maskSecret, err := c.maskKey.ECDH(maskPub)
	if err != nil {
		return nil, err
	}
	shareSecret, err := c.shareKey.ECDH(sharePub)
	if err != nil {
		return nil, err
	}
	maskKey, err := pairwiseMaskKey(maskSecret, &c.session, c.id, pk.ID)
	if err != nil {
		return nil, err
	}
	return &clientPeer{maskKey: maskKey, shareSecret: shareSecret}, nil
}

// maskInput opens the delivered shares and masks the input with the self
// mask and the pairwise masks of exactly the neighbours that delivered.
func (c *Client) maskInput(m *SharesDelivery) (ClientMessage, error) {
	if c.input == nil {
		return nil, c.reject(ErrInvalidInput, "no input: SetInput first")
	}
	seen := make(map[ClientID]bool, len(m.Shares))
	for _, s := range m.Shares {
		switch {
		case s.To != c.id:
			return nil, c.reject(ErrBadMessage, fmt.Sprintf("share for client %d", s.To))
		case c.peers[s.From] == nil:
			return nil, c.reject(ErrBadMessage, fmt.Sprintf("share from client %d, not a neighbour that advertised", s.From))
		case seen[s.From]:
			return nil, c.reject(ErrBadMessage, fmt.Sprintf("two shares from client %d", s.From))
		}
		seen[s.From] = true
	}
	if len(seen)+1 < c.cfg.Threshold {
		return nil, c.abort(ErrTooFewSurvivors, fmt.Sprintf("%d neighbours shared keys, threshold %d", len(seen), c.cfg.Threshold))
	}
	selfKey, err := selfMaskKey(&c.seed, &c.session, c.id)
	if err != nil {
		return nil, err
	}
	masks := make([]mask, 0, len(m.Shares)+1)
	masks = append(masks, mask{key: selfKey})
	var shareErrs []error
	type opened struct {
		from      ClientID
		seed, key Share
	}
	var good []opened
	for _, s := range m.Shares {
		p := c.peers[s.From]
		// Add the pairwise masks of smaller ids, subtract those of larger.
		masks = append(masks, mask{key: p.maskKey, subtract: s.From > c.id})
		seed, key, err := openShares(p.shareSecret, &c.session, s.From, c.id, s.Ciphertext)
		if err != nil {
			shareErrs = append(shareErrs, err)
			continue
		}
		good = append(good, opened{s.From, seed, key})
	}
	v := slices.Clone(c.input)
	if err := applyMasks(v, masks, c.cfg.Bits, 1); err != nil { // reduces mod 2^m
		return nil, err
	}
	for id := range seen {
		c.peers[id].delivered = true
	}
	for _, o := range good {
		p := c.peers[o.from]
		p.opened, p.seed, p.key = true, o.seed, o.key
	}
	// Only the shares are needed from here on; forget the rest.
	for _, p := range c.peers {
		p.maskKey, p.shareSecret = [32]byte{}, nil
	}
	c.input, c.seed, c.maskKey, c.shareKey = nil, [SecretSize]byte{}, nil, nil
	c.phase = PhaseUnmask
	if c.signer != nil {
		c.phase = PhaseConsistency
	}
	return &MaskedInput{From: c.id, Vector: v}, errors.Join(shareErrs...)
}

// signView checks and signs the survivor list of the consistency phase:
// increasing, the client itself in it, every other member a neighbour
// whose shares it holds, and at least t of them.
func (c *Client) signView(m *ConsistencyRequest) (ClientMessage, error) {
	self := false
	for i, id := range m.Survived {
		switch {
		case i > 0 && id <= m.Survived[i-1]:
			return nil, c.reject(ErrBadMessage, "survivors not in increasing order")
		case id == c.id:
			self = true
		case c.peers[id] == nil || !c.peers[id].delivered:
			return nil, c.reject(ErrBadMessage, fmt.Sprintf("client %d: no shares held for it", id))
		}
	}
	if !self {
		return nil, c.reject(ErrBadMessage, "the client itself not listed as survived")
	}
	if len(m.Survived) < c.cfg.Threshold {
		return nil, c.abort(ErrTooFewSurvivors, fmt.Sprintf("%d survivors listed, threshold %d", len(m.Survived), c.cfg.Threshold))
	}
	c.view = slices.Clone(m.Survived)
	c.phase = PhaseUnmask
	return &ConsistencySignature{From: c.id, Signature: ed25519.Sign(c.signer, viewStatement(&c.session, c.id, c.view))}, nil
}

// checkViews, in malicious-server mode, makes sure the unmask request is
// the view the client signed and that at least t members of its
// neighbourhood (itself included) signed views that agree with it on every
// client both neighbourhoods contain. A validly signed view that disagrees
// proves the server equivocated: the client stops for good.
func (c *Client) checkViews(m *UnmaskRequest) error {
	var dropped []ClientID
	for id, p := range c.peers {
		if p.delivered && !slices.Contains(c.view, id) {
			dropped = append(dropped, id)
		}
	}
	slices.Sort(dropped)
	if !slices.Equal(m.Survived, c.view) || !slices.Equal(slices.Sorted(slices.Values(m.Dropped)), dropped) {
		return c.abort(ErrInconsistentView, "the unmask request is not the survivor list the client signed")
	}
	closed := func(w, x ClientID) bool { return w == x || c.graph.Adjacent(w, x) }
	signed := map[ClientID]bool{c.id: true}
	for _, v := range m.Views {
		if signed[v.From] || !c.graph.Adjacent(c.id, v.From) ||
			!verify(c.cfg.Registry.Keys[v.From], viewStatement(&c.session, v.From, v.Survived), v.Signature) {
			continue // not a neighbour's valid view: it does not count
		}
		if !slices.Contains(c.view, v.From) {
			// Only a client that sent its masked input signs a view.
			return c.abort(ErrInconsistentView, fmt.Sprintf("client %d, said to have dropped, signed a view", v.From))
		}
		for _, x := range c.view {
			if closed(v.From, x) && !slices.Contains(v.Survived, x) {
				return c.abort(ErrInconsistentView, fmt.Sprintf("client %d signed that client %d did not survive", v.From, x))
			}
		}
		for _, x := range v.Survived {
			if closed(c.id, x) && !slices.Contains(c.view, x) {
				return c.abort(ErrInconsistentView, fmt.Sprintf("client %d signed that client %d survived", v.From, x))
			}
		}
		signed[v.From] = true
	}
	if len(signed) < c.cfg.Threshold {
		return c.abort(ErrInconsistentView, fmt.Sprintf("%d signed views agree, threshold %d", len(signed), c.cfg.Threshold))
	}
	return nil
}

// unmask reveals, for each neighbour the server names, the share of its
// self-mask seed if it survived or of its mask key if it dropped. It
// refuses any request that, with the ones before, would reveal both for
// one client: with both, the server could unmask that client's input.
func (c *Client) unmask(m *UnmaskRequest) (ClientMessage, error) {
	if c.signer != nil {
		if err := c.checkViews(m); err != nil {
			return nil, err
		}
	}
	listed := make(map[ClientID]revealed, len(m.Survived)+len(m.Dropped))
	for _, list := range []struct {
		ids  []ClientID
		kind revealed
	}{{m.Survived, revealedSeed}, {m.Dropped, revealedKey}} {
		for _, id := range list.ids {
			if id != c.id && (c.peers[id] == nil || !c.peers[id].delivered) {
				return nil, c.reject(ErrBadMessage, fmt.Sprintf("client %d: no shares held for it", id))
			}
			if prev, ok := listed[id]; ok {
				if prev != list.kind {
					return nil, c.abort(ErrInconsistentUnmask, fmt.Sprintf("client %d listed as survived and dropped", id))
				}
				return nil, c.reject(ErrBadMessage, fmt.Sprintf("client %d listed twice", id))
			}
			if prev, ok := c.revealed[id]; ok && prev != list.kind {
				return nil, c.abort(ErrInconsistentUnmask, fmt.Sprintf("client %d: the other share was revealed before", id))
			}
			listed[id] = list.kind
		}
	}
	switch self, ok := listed[c.id]; {
	case self == revealedKey:
		return nil, c.abort(ErrInconsistentUnmask, "the client itself listed as dropped")
	case !ok:
		return nil, c.reject(ErrBadMessage, "the client itself not listed as survived")
	}
	if len(m.Survived) < c.cfg.Threshold {
		return nil, c.abort(ErrTooFewSurvivors, fmt.Sprintf("%d survivors listed, threshold %d", len(m.Survived), c.cfg.Threshold))
	}
	out := &UnmaskResponse{From: c.id}
	for _, id := range m.Survived {
		switch p := c.peers[id]; {
		case id == c.id:
			out.Seeds = append(out.Seeds, RevealedShare{Owner: id, Share: c.ownSeed})
		case p.opened:
			out.Seeds = append(out.Seeds, RevealedShare{Owner: id, Share: p.seed})
		}
	}
	for _, id := range m.Dropped {
		if p := c.peers[id]; p.opened {
			out.Keys = append(out.Keys, RevealedShare{Owner: id, Share: p.key})
		}
	}
	for id, kind := range listed {
		c.revealed[id] = kind
	}
	return out, nil
}
