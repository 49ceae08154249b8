package proto

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"reflect"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/tacitfl/tacit/aggregate/secagg"
	"github.com/tacitfl/tacit/codec"
	"github.com/tacitfl/tacit/coordinator/round"
	"github.com/tacitfl/tacit/proto/tacitpb"
)

var testSecAggConfig = secagg.Config{Round: 7, NumClients: 5, Degree: 4, Threshold: 3, Bits: 12, Length: 9, GraphSeed: [32]byte{1, 2, 3}}

// secAggClientMessages are one of each client message, as device 3 of
// testSecAggConfig sends them.
func secAggClientMessages() []secagg.ClientMessage {
	adv := &secagg.AdvertiseKeys{From: 3}
	adv.MaskKey[0], adv.ShareKey[31] = 9, 8
	sk := &secagg.ShareKeys{From: 3, SeedCommitment: [32]byte{4}, Shares: []secagg.EncryptedShare{
		{From: 3, To: 1, Ciphertext: []byte("sealed for 1")}, {From: 3, To: 4, Ciphertext: []byte("sealed for 4")}}}
	mi := &secagg.MaskedInput{From: 3, Vector: []uint32{0, 1, 4095, 7, 2048, 3, 9, 10, 11}}
	un := &secagg.UnmaskResponse{From: 3, Seeds: []secagg.RevealedShare{{Owner: 1, Share: secagg.Share{1, 2, 3, 4, 5}}},
		Keys: []secagg.RevealedShare{{Owner: 4, Share: secagg.Share{6, 7, 8, 9, 10}}}}
	return []secagg.ClientMessage{adv, sk, mi, un}
}

// secAggMaliciousClientMessages are device 3's messages that only the
// malicious-server mode has: a signed advert and a consistency signature.
func secAggMaliciousClientMessages() []secagg.ClientMessage {
	adv := &secagg.AdvertiseKeys{From: 3, Signature: bytes.Repeat([]byte{7}, secagg.SignatureSize)}
	adv.MaskKey[0], adv.ShareKey[31] = 9, 8
	return []secagg.ClientMessage{adv, &secagg.ConsistencySignature{From: 3, Signature: bytes.Repeat([]byte{5}, secagg.SignatureSize)}}
}

func secAggServerMessages() []secagg.ServerMessage {
	kf := &secagg.KeysForward{To: 3, Peers: []secagg.PeerKeys{{ID: 1, MaskKey: [32]byte{1}, ShareKey: [32]byte{2}}}}
	sd := &secagg.SharesDelivery{To: 3, Shares: []secagg.EncryptedShare{{From: 1, To: 3, Ciphertext: []byte("x")}}}
	ur := &secagg.UnmaskRequest{To: 3, Survived: []secagg.ClientID{1, 3}, Dropped: []secagg.ClientID{4}}
	return []secagg.ServerMessage{kf, sd, ur}
}

// secAggMaliciousServerMessages are the coordinator's messages to device 3
// in malicious-server mode: signed keys, a consistency request and an
// unmask request with its neighbours' signed views.
func secAggMaliciousServerMessages() []secagg.ServerMessage {
	kf := &secagg.KeysForward{To: 3, Peers: []secagg.PeerKeys{{ID: 1, MaskKey: [32]byte{1}, ShareKey: [32]byte{2}, Signature: []byte("signed by 1")}}}
	cr := &secagg.ConsistencyRequest{To: 3, Survived: []secagg.ClientID{1, 3}}
	ur := &secagg.UnmaskRequest{To: 3, Survived: []secagg.ClientID{1, 3}, Dropped: []secagg.ClientID{4},
		Views: []secagg.SignedView{{From: 1, Survived: []secagg.ClientID{0, 1, 3}, Signature: []byte("view of 1")}}}
	return []secagg.ServerMessage{kf, cr, ur}
}

// testMaliciousConfig is testSecAggConfig in malicious-server mode.
func testMaliciousConfig() secagg.Config {
	c := testSecAggConfig
	c.Registry = &secagg.Registry{}
	for i := range c.NumClients {
		c.Registry.Keys = append(c.Registry.Keys, bytes.Repeat([]byte{byte(i + 1)}, ed25519.PublicKeySize))
		c.Registry.Endorsements = append(c.Registry.Endorsements, bytes.Repeat([]byte{byte(i + 9)}, ed25519.SignatureSize))
	}
	return c
}

// TestSecAggWireRoundTrip: every message survives the wire, and the sender
// of a device's message is whoever the connection says, not the message.
func TestSecAggWireRoundTrip(t *testing.T) {
	c, _ := NewCodec()
	for _, m := range append(secAggClientMessages(), secAggMaliciousClientMessages()...) {
		pb, err := c.SecAggSend(7, m, testSecAggConfig.Bits)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := proto.Marshal(pb)
		var back tacitpb.SecAggSend
		if err := proto.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		got, err := c.FromSecAggSend(&back, 3, testSecAggConfig)
		if err != nil || !reflect.DeepEqual(got, m) {
			t.Fatalf("%T: got %+v (%v), want %+v", m, got, err, m)
		}
		if other, _ := c.FromSecAggSend(&back, 2, testSecAggConfig); other.Sender() != 2 {
			t.Fatalf("%T: sender %d, want the connection's 2", m, other.Sender())
		}
	}
	for _, m := range append(secAggServerMessages(), secAggMaliciousServerMessages()...) {
		pb, err := SecAggFetchResult(m)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := proto.Marshal(pb)
		var back tacitpb.SecAggFetchResult
		if err := proto.Unmarshal(b, &back); err != nil {
			t.Fatal(err)
		}
		got, err := FromSecAggFetchResult(&back, 3)
		if err != nil || !reflect.DeepEqual(got, m) {
			t.Fatalf("%T: got %+v (%v), want %+v", m, got, err, m)
		}
	}
	cfg, id, err := FromSecAggPlan(SecAggPlan(testSecAggConfig, 3))
	if err != nil || cfg != testSecAggConfig || id != 3 {
		t.Fatalf("plan: %+v, %d, %v", cfg, id, err)
	}
	mal := testMaliciousConfig()
	cfg, id, err = FromSecAggPlan(SecAggPlan(mal, 3))
	if err != nil || !reflect.DeepEqual(cfg, mal) || id != 3 {
		t.Fatalf("malicious plan: %+v, %d, %v", cfg, id, err)
	}
}

// TestSecAggPhaseWire: every phase a device fetches has its own wire name,
// the one fixed in the schema, and reads back; the others have none.
func TestSecAggPhaseWire(t *testing.T) {
	want := map[secagg.Phase]tacitpb.SecAggPhase{
		secagg.PhaseShareKeys: 1, secagg.PhaseMaskedInput: 2, secagg.PhaseConsistency: 3, secagg.PhaseUnmask: 4,
	}
	for p := secagg.PhaseAdvertiseKeys; p <= secagg.PhaseAborted; p++ {
		w := SecAggPhase(p)
		if w != want[p] {
			t.Errorf("%v travels as %v, want %v", p, w, want[p])
		}
		back, err := FromSecAggPhase(w)
		if _, fetched := want[p]; fetched != (err == nil) || fetched && back != p {
			t.Errorf("%v reads back as %v, %v", w, back, err)
		}
	}
	if _, err := FromSecAggPhase(99); !errors.Is(err, ErrBadSecAgg) {
		t.Errorf("phase 99: %v", err)
	}
}

func TestSecAggWireRefusals(t *testing.T) {
	c, _ := NewCodec()
	bad := []*tacitpb.SecAggSend{
		{},
		{Body: &tacitpb.SecAggSend_Advertise{Advertise: &tacitpb.SecAggAdvertise{MaskKey: make([]byte, 31), ShareKey: make([]byte, 32)}}},
		{Body: &tacitpb.SecAggSend_ShareKeys{ShareKeys: &tacitpb.SecAggShareKeys{SeedCommitment: make([]byte, 33)}}},
		{Body: &tacitpb.SecAggSend_MaskedInput{MaskedInput: c.EncodeUint(make([]uint32, 8), 12, tacitpb.Compression_COMPRESSION_NONE)}},
		{Body: &tacitpb.SecAggSend_MaskedInput{MaskedInput: c.EncodeUint(make([]uint32, 9), 11, tacitpb.Compression_COMPRESSION_NONE)}},
		{Body: &tacitpb.SecAggSend_Unmask{Unmask: &tacitpb.SecAggUnmask{Seeds: []*tacitpb.SecAggRevealedShare{{Owner: 1, Y: []uint64{1, 2}}}}}},
	}
	for i, m := range bad {
		if _, err := c.FromSecAggSend(m, 3, testSecAggConfig); !errors.Is(err, ErrBadSecAgg) && !errors.Is(err, ErrBadTensor) {
			t.Errorf("case %d: %v, want a typed refusal", i, err)
		}
	}
	for i, p := range []*tacitpb.SecAggPlan{nil, {GraphSeed: make([]byte, 31)}, {GraphSeed: make([]byte, 32), Bits: 33}, {GraphSeed: make([]byte, 32), NumClients: 2e6},
		{GraphSeed: make([]byte, 32), NumClients: 2, SigningKeys: [][]byte{make([]byte, 32)}},
		{GraphSeed: make([]byte, 32), NumClients: 2, SigningKeys: [][]byte{make([]byte, 32), make([]byte, 31)}}} {
		if _, _, err := FromSecAggPlan(p); !errors.Is(err, ErrBadSecAgg) {
			t.Errorf("plan %d: %v", i, err)
		}
	}
}

// TestUpdateCodecWire: a codec survives the wire, and a plan with a codec
// that makes no quantizer, local noise without the survivors it counts on
// (or the reverse), colluders without noise, or as many colluders as
// survivors, is refused.
func TestUpdateCodecWire(t *testing.T) {
	u := &codec.UpdateCodec{Bits: 12, ModBits: 20, Range: 0.01, Rotate: true, RotationSeed: [32]byte{5}, LocalNoise: 3.5, MinSurvivors: 90,
		Colluders: 5}
	got, err := FromUpdateCodecPB(UpdateCodecPB(u))
	if err != nil || *got != *u {
		t.Fatalf("%+v, %v", got, err)
	}
	for i, pb := range []*tacitpb.UpdateCodec{
		{Bits: 1, Range: 1, ModBits: 8}, {Bits: 8, Range: 0, ModBits: 8}, {Bits: 8, Range: 1, ModBits: 40},
		{Bits: 8, Range: 1, ModBits: 8, RotationSeed: []byte{1}}, {Bits: 8, Range: 1, ModBits: 8, LocalNoise: -1},
		{Bits: 8, Range: 1, ModBits: 8, LocalNoise: 2}, {Bits: 8, Range: 1, ModBits: 8, MinSurvivors: 5},
		{Bits: 8, Range: 1, ModBits: 8, LocalNoise: 2, MinSurvivors: 2e6},
		{Bits: 8, Range: 1, ModBits: 8, Colluders: 1}, {Bits: 8, Range: 1, ModBits: 8, LocalNoise: 2, MinSurvivors: 5, Colluders: 5},
		{Bits: 8, Range: 1, ModBits: 8, LocalNoise: 2, MinSurvivors: 5, Colluders: 1 << 31},
	} {
		if _, err := FromUpdateCodecPB(pb); err == nil {
			t.Errorf("codec %d accepted", i)
		}
	}
}

// FuzzSecAggSend: no device message panics the decoder, and what decodes
// survives a re-encoding.
func FuzzSecAggSend(f *testing.F) {
	c, _ := NewCodec()
	for _, m := range append(secAggClientMessages(), secAggMaliciousClientMessages()...) {
		pb, _ := c.SecAggSend(7, m, testSecAggConfig.Bits)
		b, _ := proto.Marshal(pb)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var pb tacitpb.SecAggSend
		if proto.Unmarshal(b, &pb) != nil {
			return
		}
		m, err := c.FromSecAggSend(&pb, 3, testSecAggConfig)
		if err != nil {
			return
		}
		again, err := c.SecAggSend(pb.Round, m, testSecAggConfig.Bits)
		if err != nil {
			t.Fatal(err)
		}
		m2, err := c.FromSecAggSend(again, 3, testSecAggConfig)
		if err != nil || !reflect.DeepEqual(m, m2) {
			t.Fatalf("%+v re-decodes to %+v (%v)", m, m2, err)
		}
	})
}

// FuzzSecAggFetchResult: likewise for the coordinator's messages, which a
// device decodes.
func FuzzSecAggFetchResult(f *testing.F) {
	for _, m := range append(secAggServerMessages(), secAggMaliciousServerMessages()...) {
		pb, _ := SecAggFetchResult(m)
		b, _ := proto.Marshal(pb)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var pb tacitpb.SecAggFetchResult
		if proto.Unmarshal(b, &pb) != nil {
			return
		}
		m, err := FromSecAggFetchResult(&pb, 3)
		if err != nil {
			return
		}
		again, err := SecAggFetchResult(m)
		if err != nil {
			t.Fatal(err)
		}
		m2, err := FromSecAggFetchResult(again, 3)
		if err != nil || !reflect.DeepEqual(m, m2) {
			t.Fatalf("%+v re-decodes to %+v (%v)", m, m2, err)
		}
	})
}

// FuzzDecodeUint: integer tensors never panic and decode to the length and
// bits asked for.
func FuzzDecodeUint(f *testing.F) {
	c, _ := NewCodec()
	for _, comp := range []tacitpb.Compression{tacitpb.Compression_COMPRESSION_NONE, tacitpb.Compression_COMPRESSION_ZSTD} {
		tn := c.EncodeUint([]uint32{1, 2, 3, 4095, 0, 17}, 12, comp)
		f.Add(int32(tn.Dtype), uint16(tn.Length), uint8(tn.Bits), int32(tn.Compression), tn.Data)
	}
	f.Fuzz(func(t *testing.T, dtype int32, length uint16, bits uint8, compression int32, data []byte) {
		tn := &tacitpb.Tensor{Dtype: tacitpb.DType(dtype), Length: uint64(length), Bits: uint32(bits), Compression: tacitpb.Compression(compression), Data: data}
		b := int(bits%32) + 1
		v, err := c.DecodeUint(tn, int(length), b, nil)
		if err != nil {
			return
		}
		if len(v) != int(length) {
			t.Fatalf("decoded %d values, want %d", len(v), length)
		}
		for i, x := range v {
			if b < 32 && x>>b != 0 {
				t.Fatalf("value %d is %d, over %d bits", i, x, b)
			}
		}
	})
}

// TestEveryRejectionHasAWireCode: each code of the round machine's table
// names an ErrorCode of the schema, a specific one, and no two the same.
func TestEveryRejectionHasAWireCode(t *testing.T) {
	seen := map[tacitpb.ErrorCode]round.RejectCode{}
	for _, c := range round.RejectCodes() {
		w := RejectionCode(c)
		if _, ok := tacitpb.ErrorCode_value[c.WireName()]; !ok || w == tacitpb.ErrorCode_ERROR_CODE_INTERNAL || w == tacitpb.ErrorCode_ERROR_CODE_UNSPECIFIED {
			t.Errorf("%v: wire name %q is %v", c, c.WireName(), w)
		}
		if other, dup := seen[w]; dup {
			t.Errorf("%v and %v both travel as %v", other, c, w)
		}
		seen[w] = c
	}
	if w := RejectionCode(99); w != tacitpb.ErrorCode_ERROR_CODE_INTERNAL {
		t.Errorf("an unknown code travels as %v", w)
	}
}
