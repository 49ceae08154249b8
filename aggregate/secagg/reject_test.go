package secagg

import (
	"errors"
	"fmt"
	"slices"
	"testing"
)

// stranger is some client that is neither id nor one of its neighbours.
func stranger(t *testing.T, g *graph, id ClientID) ClientID {
	t.Helper()
	for v := range ClientID(g.n) {
		if v != id && !g.Adjacent(id, v) {
			return v
		}
	}
	t.Fatal("full graph")
	return 0
}

// TestServerRejectsBadMessages injects hostile messages in every phase of a
// round and checks that each is rejected with its typed error and that the
// round still ends with the exact sum.
func TestServerRejectsBadMessages(t *testing.T) {
	const n, k, th, m, d = 12, 4, 3, 8, 32
	r := newTestRound(t, testConfig(n, k, th, m, d, 51), 51)
	r.drop[11] = PhaseAdvertiseKeys // never heard of
	r.drop[10] = PhaseMaskedInput   // shares keys, then drops
	g := r.server.graph
	checked := 0
	expect := func(name string, msg ClientMessage, want error) {
		t.Helper()
		checked++
		err := r.server.Step(msg)
		var me *MessageError
		if !errors.Is(err, want) || !errors.As(err, &me) {
			t.Errorf("%v: %s: error %v, want %v", r.server.Phase(), name, err, want)
		}
	}
	// Before each phase ends: messages from the wrong phase, duplicates and
	// unknown senders.
	r.inject = func(p Phase) {
		expect("nil", nil, ErrBadMessage)
		expect("typed nil", (*MaskedInput)(nil), ErrBadMessage)
		switch p {
		case PhaseAdvertiseKeys:
			expect("masked input too early", &MaskedInput{From: 0, Vector: make([]uint32, d)}, ErrWrongPhase)
			expect("duplicate", &AdvertiseKeys{From: 0, MaskKey: [32]byte{9}, ShareKey: [32]byte{9}}, ErrDuplicate)
			expect("sender out of range", &AdvertiseKeys{From: n}, ErrUnknownSender)
			expect("zero keys", &AdvertiseKeys{From: 11}, ErrBadMessage)
			lowOrder := [32]byte{1} // u = 1 has order 4
			expect("low-order mask key", &AdvertiseKeys{From: 11, MaskKey: lowOrder, ShareKey: [32]byte{9}}, ErrBadMessage)
		case PhaseShareKeys:
			expect("late advertisement", &AdvertiseKeys{From: 11, MaskKey: [32]byte{9}, ShareKey: [32]byte{9}}, ErrWrongPhase)
			expect("duplicate", lastOf[*ShareKeys](r.trace, 0), ErrDuplicate)
			expect("did not advertise", &ShareKeys{From: 11}, ErrUnknownSender)
			expect("sender out of range", &ShareKeys{From: n + 3}, ErrUnknownSender)
		case PhaseMaskedInput:
			expect("duplicate", lastOf[*MaskedInput](r.trace, 0), ErrDuplicate)
			expect("dropped earlier", &MaskedInput{From: 11, Vector: make([]uint32, d)}, ErrUnknownSender)
		case PhaseUnmask:
			expect("duplicate", lastOf[*UnmaskResponse](r.trace, 0), ErrDuplicate)
			expect("dropped before masking", &UnmaskResponse{From: 10}, ErrUnknownSender)
		}
	}
	// Malformed variants of each client's message, sent before the real one.
	r.beforeSend = func(msg ClientMessage) {
		switch msg := msg.(type) {
		case *ShareKeys:
			edited := func(edit func([]EncryptedShare) []EncryptedShare) *ShareKeys {
				e := *msg
				e.Shares = edit(slices.Clone(msg.Shares))
				return &e
			}
			expect("no shares", &ShareKeys{From: msg.From}, ErrBadMessage)
			expect("a neighbour missing", edited(func(s []EncryptedShare) []EncryptedShare { return s[1:] }), ErrBadMessage)
			expect("share for a non-neighbour", edited(func(s []EncryptedShare) []EncryptedShare {
				s[0].To = stranger(t, g, msg.From)
				return s
			}), ErrBadMessage)
			expect("two shares for one neighbour", edited(func(s []EncryptedShare) []EncryptedShare {
				s[1] = s[0]
				return s
			}), ErrBadMessage)
			expect("share from someone else", edited(func(s []EncryptedShare) []EncryptedShare {
				s[0].From = (msg.From + 1) % n
				return s
			}), ErrBadMessage)
			expect("short ciphertext", edited(func(s []EncryptedShare) []EncryptedShare {
				s[0].Ciphertext = s[0].Ciphertext[:10]
				return s
			}), ErrBadMessage)
		case *MaskedInput:
			expect("short vector", &MaskedInput{From: msg.From, Vector: make([]uint32, d-1)}, ErrBadMessage)
			wide := slices.Clone(msg.Vector)
			wide[d/2] = 1 << m
			expect("value out of Z_(2^m)", &MaskedInput{From: msg.From, Vector: wide}, ErrBadMessage)
		case *UnmaskResponse:
			edited := func(seeds, keys []RevealedShare) *UnmaskResponse {
				return &UnmaskResponse{From: msg.From, Seeds: seeds, Keys: keys}
			}
			first := msg.Seeds[0]
			expect("two shares of one client", edited([]RevealedShare{first, first}, nil), ErrBadMessage)
			expect("key share of a survivor", edited(nil, []RevealedShare{first}), ErrBadMessage)
			outside := first
			outside.Share[2] = fieldPrime
			expect("share outside the field", edited([]RevealedShare{outside}, nil), ErrBadMessage)
			expect("share of a non-neighbour", edited([]RevealedShare{{Owner: stranger(t, g, msg.From)}}, nil), ErrBadMessage)
			expect("owner out of range", edited([]RevealedShare{{Owner: n + 1}}, nil), ErrBadMessage)
		}
	}
	r.checkExact(r.run())
	r.inject, r.beforeSend = nil, nil
	if _, err := r.server.EndPhase(); !errors.Is(err, ErrWrongPhase) {
		t.Errorf("EndPhase after the end: %v", err)
	}
	expect("after the end", &MaskedInput{From: 0}, ErrWrongPhase)
	// 21 per round, and 6, 2 and 5 per client message.
	if checked != 158 {
		t.Errorf("only %d hostile messages checked", checked)
	}
	t.Logf("%d hostile messages rejected", checked)
}

// lastOf is the last message of type M from client id in a trace.
func lastOf[M ClientMessage](trace []any, id ClientID) M {
	var found M
	for _, m := range trace {
		if msg, ok := m.(M); ok && msg.Sender() == id {
			found = msg
		}
	}
	return found
}

func TestClientRejectsBadMessages(t *testing.T) {
	cfg := testConfig(12, 4, 3, 8, 16, 61)
	r := newTestRound(t, cfg, 61)
	c := r.clients[3]
	expect := func(name string, msg ServerMessage, want error) {
		t.Helper()
		phase := c.Phase()
		reply, err := c.Step(msg)
		var me *MessageError
		if !errors.Is(err, want) || !errors.As(err, &me) || reply != nil {
			t.Errorf("%v: %s: %v, %v; want %v", phase, name, reply, err, want)
		}
		if c.Phase() != phase {
			t.Errorf("%s moved the client from %v to %v", name, phase, c.Phase())
		}
	}
	expect("nil", nil, ErrBadMessage)
	expect("typed nil", (*KeysForward)(nil), ErrBadMessage)
	expect("before start", &KeysForward{To: 3}, ErrWrongPhase)
	r.start()
	if _, err := c.Start(); !errors.Is(err, ErrWrongPhase) {
		t.Errorf("second Start: %v", err)
	}
	out, err := r.server.EndPhase()
	if err != nil {
		t.Fatal(err)
	}
	fwd := out.Messages[3].(*KeysForward)
	far := stranger(t, r.server.graph, 3)
	with := func(edit func(*KeysForward)) *KeysForward {
		m := *fwd
		m.Peers = slices.Clone(fwd.Peers)
		edit(&m)
		return &m
	}
	expect("misaddressed", with(func(m *KeysForward) { m.To = 4 }), ErrBadMessage)
	expect("wrong phase", &SharesDelivery{To: 3}, ErrWrongPhase)
	expect("non-neighbour", with(func(m *KeysForward) { m.Peers[0].ID = far }), ErrBadMessage)
	expect("listed twice", with(func(m *KeysForward) { m.Peers[1] = m.Peers[0] }), ErrBadMessage)
	expect("low-order key", with(func(m *KeysForward) { m.Peers[0].MaskKey = [32]byte{} }), ErrBadMessage)
	r.deliver(out)
	out, err = r.server.EndPhase()
	if err != nil {
		t.Fatal(err)
	}
	del := deliveryTo(t, out.Messages, 3)
	withShares := func(edit func(*SharesDelivery)) *SharesDelivery {
		m := *del
		m.Shares = slices.Clone(del.Shares)
		edit(&m)
		return &m
	}
	expect("share for another client", withShares(func(m *SharesDelivery) { m.Shares[0].To = 5 }), ErrBadMessage)
	expect("share from a stranger", withShares(func(m *SharesDelivery) { m.Shares[0].From = far }), ErrBadMessage)
	expect("two shares from one", withShares(func(m *SharesDelivery) { m.Shares[1] = m.Shares[0] }), ErrBadMessage)
	r.deliver(out)
	out, err = r.server.EndPhase()
	if err != nil {
		t.Fatal(err)
	}
	var req *UnmaskRequest
	for _, m := range out.Messages {
		if m.Recipient() == 3 {
			req = m.(*UnmaskRequest)
		}
	}
	expect("unknown peer", &UnmaskRequest{To: 3, Survived: append(slices.Clone(req.Survived), far)}, ErrBadMessage)
	expect("itself missing", &UnmaskRequest{To: 3, Survived: slices.DeleteFunc(slices.Clone(req.Survived), func(id ClientID) bool { return id == 3 })}, ErrBadMessage)
	expect("listed twice", &UnmaskRequest{To: 3, Survived: append(slices.Clone(req.Survived), 3)}, ErrBadMessage)
	r.deliver(out)
	r.checkExact(r.runUntil(PhaseDone))
}

func TestClientAbortsWithTooFewPeers(t *testing.T) {
	for _, phase := range []Phase{PhaseShareKeys, PhaseMaskedInput, PhaseUnmask} {
		t.Run(fmt.Sprint(phase), func(t *testing.T) {
			cfg := testConfig(12, 4, 4, 8, 16, 71)
			r := newTestRound(t, cfg, 71)
			r.start()
			out, err := r.runUntil(phase)
			if err != nil {
				t.Fatal(err)
			}
			// A lying server claims that most neighbours are gone.
			var msg ServerMessage
			switch m := out.Messages[0].(type) {
			case *KeysForward:
				msg = &KeysForward{To: m.To, Peers: m.Peers[:2]}
			case *SharesDelivery:
				msg = &SharesDelivery{To: m.To, Shares: m.Shares[:2]}
			case *UnmaskRequest:
				msg = &UnmaskRequest{To: m.To, Survived: []ClientID{m.To, m.Survived[0]}, Dropped: nil}
				if m.Survived[0] == m.To {
					msg.(*UnmaskRequest).Survived[1] = m.Survived[1]
				}
			}
			c := r.clients[out.Messages[0].Recipient()]
			reply, err := c.Step(msg)
			if !errors.Is(err, ErrTooFewSurvivors) || reply != nil || c.Phase() != PhaseAborted {
				t.Fatalf("Step = %v, %v (phase %v); want ErrTooFewSurvivors and an aborted client", reply, err, c.Phase())
			}
		})
	}
}

func TestNewClientAndServerValidate(t *testing.T) {
	good := testConfig(10, 4, 3, 8, 16, 1)
	for name, edit := range map[string]func(*Config){
		"one client":      func(c *Config) { c.NumClients = 1 },
		"odd degree":      func(c *Config) { c.Degree = 3 },
		"degree zero":     func(c *Config) { c.Degree = 0 },
		"threshold one":   func(c *Config) { c.Threshold = 1 },
		"threshold above": func(c *Config) { c.Threshold = 6 },
		"zero bits":       func(c *Config) { c.Bits = 0 },
		"33 bits":         func(c *Config) { c.Bits = 33 },
		"empty":           func(c *Config) { c.Length = 0 },
		"huge":            func(c *Config) { c.Length = MaxLength + 1 },
	} {
		cfg := good
		edit(&cfg)
		if _, err := NewServer(cfg); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: NewServer: %v", name, err)
		}
		if _, err := NewClient(cfg, 0, seeded(1)); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%s: NewClient: %v", name, err)
		}
	}
	if _, err := NewClient(good, 10, seeded(1)); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("client id out of range: %v", err)
	}
	c, err := NewClient(good, 0, seeded(1))
	if err != nil {
		t.Fatal(err)
	}
	if err := c.SetInput(make([]uint32, 15)); !errors.Is(err, ErrInvalidInput) {
		t.Errorf("short input: %v", err)
	}
	in := make([]uint32, 16)
	in[9] = 256
	if err := c.SetInput(in); !errors.Is(err, ErrInvalidInput) {
		t.Errorf("input out of range: %v", err)
	}
}

// TestClientMasksOnlyAfterSetInput: a device takes part in the key phases
// before it has trained; asked for its masked input without one it refuses,
// unchanged, and masks once the input is set.
func TestClientMasksOnlyAfterSetInput(t *testing.T) {
	cfg := testConfig(6, 4, 3, 8, 16, 1)
	r := newTestRound(t, cfg, 7)
	late := r.clients[2]
	late.input = nil // as if SetInput had not been called yet
	r.allowClientErrs = true
	r.intercept = func(m ServerMessage) ServerMessage {
		if d, ok := m.(*SharesDelivery); ok && d.To == 2 {
			if _, err := late.Step(d); !errors.Is(err, ErrInvalidInput) || late.Phase() != PhaseMaskedInput {
				t.Fatalf("masked without input: %v (phase %v)", err, late.Phase())
			}
			if err := late.SetInput(r.inputs[2]); err != nil {
				t.Fatal(err)
			}
		}
		return m
	}
	r.checkExact(r.run())
	if len(r.clientErrs) != 0 {
		t.Fatalf("client errors: %v", r.clientErrs)
	}
	if err := late.SetInput(r.inputs[2]); !errors.Is(err, ErrWrongPhase) {
		t.Fatalf("input after masking: %v", err)
	}
}
