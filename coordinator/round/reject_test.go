package round

import "testing"

// TestEveryRejectCodeHasItsTable: each code has a text, a metric label and
// a wire code name, and no two codes share a label.
func TestEveryRejectCodeHasItsTable(t *testing.T) {
	codes := RejectCodes()
	if len(codes) != int(SecAggRefused) {
		t.Fatalf("%d codes listed, want %d", len(codes), SecAggRefused)
	}
	labels := map[string]RejectCode{}
	for _, c := range codes {
		if c.String() == "" || c.Label() == "" || c.WireName() == "" {
			t.Errorf("code %d: text %q, label %q, wire %q", int(c), c.String(), c.Label(), c.WireName())
		}
		if other, dup := labels[c.Label()]; dup {
			t.Errorf("codes %d and %d share the label %q", int(other), int(c), c.Label())
		}
		labels[c.Label()] = c
	}
	if bad := RejectCode(99); bad.WireName() != "" || bad.Label() != "unknown" {
		t.Errorf("an unknown code: label %q, wire %q", bad.Label(), bad.WireName())
	}
}
