package proto

import (
	"bytes"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/tacitfl/tacit/proto/tacitpb"
)

// fuzzFrame: no input panics, and what decodes re-encodes to a frame that
// decodes to the same message.
func fuzzFrame(f *testing.F, newMsg func() proto.Message) {
	f.Fuzz(func(t *testing.T, b []byte) {
		m := newMsg()
		if err := ReadFrame(bytes.NewReader(b), m, 1<<20); err != nil {
			return
		}
		again, err := AppendFrame(nil, m)
		if err != nil {
			t.Fatal(err)
		}
		m2 := newMsg()
		if err := ReadFrame(bytes.NewReader(again), m2, 1<<20); err != nil || !proto.Equal(m, m2) {
			t.Fatalf("re-encoded frame decodes to %v (%v), want %v", m2, err, m)
		}
	})
}

func FuzzReadFrameRequest(f *testing.F) {
	fuzzFrame(f, func() proto.Message { return &tacitpb.Request{} })
}

func FuzzReadFrameResponse(f *testing.F) {
	fuzzFrame(f, func() proto.Message { return &tacitpb.Response{} })
}

// FuzzDecodeTensor: (dtype, length, compression, data) never panic, never
// decode to the wrong length or a non-finite value.
func FuzzDecodeTensor(f *testing.F) {
	c, err := NewCodec()
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, dtype int32, length uint16, compression int32, data []byte) {
		tn := &tacitpb.Tensor{Dtype: tacitpb.DType(dtype), Length: uint64(length), Compression: tacitpb.Compression(compression), Data: data}
		v, err := c.Decode(tn, int(length), nil)
		if err != nil {
			return
		}
		if len(v) != int(length) {
			t.Fatalf("decoded %d values, want %d", len(v), length)
		}
		for i, x := range v {
			if x-x != 0 {
				t.Fatalf("value %d is %v", i, x)
			}
		}
	})
}
