package dataset

import (
	"bytes"
	"slices"
	"testing"
)

// checkLog asserts the invariants every loaded log must keep.
func checkLog(t *testing.T, l *Log) {
	t.Helper()
	if len(l.offsets) != l.NumUsers+1 || l.offsets[0] != 0 || l.offsets[l.NumUsers] != int64(l.Len()) {
		t.Fatalf("offsets inconsistent: %d people, offsets %v", l.NumUsers, l.offsets)
	}
	for u := 0; u < l.NumUsers; u++ {
		if l.offsets[u] > l.offsets[u+1] {
			t.Fatalf("offsets decrease at person %d", u)
		}
		for _, it := range l.Items(u) {
			if it < 0 || int(it) >= l.NumItems {
				t.Fatalf("item %d out of range", it)
			}
		}
		if ts := l.Times(u); ts != nil && !slices.IsSorted(ts) {
			t.Fatalf("person %d times not sorted: %v", u, ts)
		}
	}
	s := LeaveLastOut(l)
	for u := 0; u < s.NumUsers; u++ {
		if !slices.IsSorted(s.Train(u)) || len(s.Ages(u)) != len(s.Train(u)) {
			t.Fatalf("person %d split inconsistent", u)
		}
	}
}

func fuzzLoader(f *testing.F, load loader) {
	f.Fuzz(func(t *testing.T, data []byte) {
		l, err := load(bytes.NewReader(data), "fuzz.csv")
		if err != nil {
			return
		}
		checkLog(t, l)
	})
}

func FuzzLoadMovieLens(f *testing.F) { fuzzLoader(f, LoadMovieLens) }
func FuzzLoadUData(f *testing.F)     { fuzzLoader(f, LoadUData) }
func FuzzLoadCSV(f *testing.F)       { fuzzLoader(f, LoadCSV) }

func FuzzParseSynthetic(f *testing.F) {
	f.Fuzz(func(t *testing.T, spec string) {
		cfg, err := ParseSynthetic(spec)
		if err != nil {
			return
		}
		if cfg.Users > 300 || cfg.Items > 300 || cfg.Events > 50 {
			return // keep each run small; the parser is what is fuzzed
		}
		l, err := Synthetic(cfg)
		if err != nil {
			return
		}
		checkLog(t, l)
	})
}
