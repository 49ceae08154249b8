package coordinator

import (
	"bytes"
	"strings"
	"testing"
)

func TestTokensRoundTripAndErrors(t *testing.T) {
	var buf bytes.Buffer
	if err := NewTokens(&buf, 3, "phone-"); err != nil {
		t.Fatal(err)
	}
	tokens, err := ReadTokens(&buf, "tokens.txt")
	if err != nil {
		t.Fatal(err)
	}
	if len(tokens) != 3 {
		t.Fatalf("%d tokens", len(tokens))
	}
	for tok, id := range tokens {
		if len(tok) != 32 || !strings.HasPrefix(id, "phone-") {
			t.Fatalf("token %q id %q", tok, id)
		}
	}
	bad := map[string]string{
		"":               "no devices enrolled",
		"onlyonefield\n": "tokens.txt:1: want",
		"short a\n":      "shorter than 16",
		"0123456789abcdef a\n0123456789abcdef b\n": "tokens.txt:2: token repeated",
		"0123456789abcdef a\nfedcba9876543210 a\n": "device id \"a\" repeated",
	}
	for in, want := range bad {
		if _, err := ReadTokens(strings.NewReader(in), "tokens.txt"); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: %v, want %q", in, err, want)
		}
	}
}
