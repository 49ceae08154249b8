package device

import (
	"bytes"
	"testing"
)

// FuzzDecodeEvent: a stored event that decodes re-encodes to the same
// bytes, and no value, however damaged, panics the decoder.
func FuzzDecodeEvent(f *testing.F) {
	f.Add(eventKey(1700000000000, 1), encodeEvent(Event{Kind: "view", Item: "item-1", Weight: 1}))
	f.Add(eventKey(-5, 7), []byte{200, 'v'})
	f.Fuzz(func(t *testing.T, k, v []byte) {
		e, err := decodeEvent(k, v)
		if err != nil {
			return
		}
		if !bytes.Equal(encodeEvent(e), v) || !bytes.Equal(eventKey(e.UnixMillis, 0)[:8], k[:8]) {
			t.Fatalf("%q %q decodes to %+v, which encodes otherwise", k, v, e)
		}
	})
}
