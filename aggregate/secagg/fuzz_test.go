package secagg

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzDecodeSharePlaintext: any bytes either decode to two shares of
// canonical field elements that encode back to the same bytes, or are
// rejected; never a panic.
func FuzzDecodeSharePlaintext(f *testing.F) {
	f.Add(appendSharePlaintext(nil, &Share{1, 2, 3, 4, 5}, &Share{fieldPrime - 1, 0, 0, 0, 1 << 32}))
	f.Add(make([]byte, sharePlaintextSize-1))
	f.Fuzz(func(t *testing.T, b []byte) {
		seed, key, err := decodeSharePlaintext(b)
		if err != nil {
			return
		}
		for _, s := range []Share{seed, key} {
			for _, v := range s {
				if v >= fieldPrime {
					t.Fatalf("decoded %d, not a field element", v)
				}
			}
		}
		if again := appendSharePlaintext(nil, &seed, &key); !bytes.Equal(again, b) {
			t.Fatalf("decode then encode: %x, want %x", again, b)
		}
	})
}

// FuzzOpenShares: a recipient fed arbitrary ciphertext (tampered, forged,
// truncated) rejects it with a *ShareError unless it is the sealed share
// itself; never a panic.
func FuzzOpenShares(f *testing.F) {
	session := testConfig(4, 2, 2, 8, 1, 1).sessionID()
	secret := bytes.Repeat([]byte{7}, 32)
	seed, key := Share{1, 2, 3, 4, 5}, Share{6, 7, 8, 9, 10}
	sealed, err := sealShares(secret, &session, 0, 1, &seed, &key)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(sealed)
	f.Add(sealed[:sealedShareSize-1])
	f.Fuzz(func(t *testing.T, ct []byte) {
		gotSeed, gotKey, err := openShares(secret, &session, 0, 1, ct)
		if bytes.Equal(ct, sealed) {
			if err != nil || gotSeed != seed || gotKey != key {
				t.Fatalf("the sealed share did not open: %v", err)
			}
			return
		}
		var se *ShareError
		if !errors.As(err, &se) || !errors.Is(err, ErrBadShare) {
			t.Fatalf("forged ciphertext %x: %v", ct, err)
		}
	})
}
