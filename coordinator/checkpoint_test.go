package coordinator

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/tacitfl/tacit/aggregate"
)

var testSnapshot = Snapshot{Round: 12, Version: 9, Params: []float32{1.5, -2, 0.25},
	Optimizer: aggregate.OptimizerState{Name: "fedadam", Step: 9, M: []float32{0.1, 0.2, 0.3}, V: []float32{1e-6, 2e-6, 3e-6}},
	Privacy:   []float64{0.001, 0.25, 3}, ClipNorm: 0.7}

func TestCheckpointRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ckpt")
	f := FileCheckpointer{Path: path}
	if _, err := f.Load(); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("load before any save: %v, want ErrNotExist", err)
	}
	for _, s := range []Snapshot{testSnapshot, {Round: 1, Version: 1, Params: []float32{3}, Optimizer: aggregate.OptimizerState{Name: "fedavg", Step: 1}}} {
		if err := f.Save(s); err != nil {
			t.Fatal(err)
		}
		got, err := f.Load()
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, s) {
			t.Fatalf("loaded %+v, saved %+v", got, s)
		}
	}
}

// TestCheckpointReadsVersion1: a version-1 file (no privacy block) from
// before differential privacy still loads.
func TestCheckpointReadsVersion1(t *testing.T) {
	// testdata/checkpoint-v1 is the version-1 encoding of a one-parameter
	// fedavg model at round 1.
	b, err := os.ReadFile("testdata/checkpoint-v1")
	if err != nil {
		t.Fatal(err)
	}
	s, err := DecodeSnapshot(b)
	if err != nil || s.Round != 1 || s.Privacy != nil || len(s.Params) != 1 {
		t.Fatalf("%+v, %v", s, err)
	}
}

func TestCheckpointRejectsDamage(t *testing.T) {
	good := AppendSnapshot(nil, testSnapshot)
	flip := append([]byte(nil), good...)
	flip[30] ^= 1
	cases := map[string][]byte{
		"empty":     nil,
		"not ours":  []byte("PNG\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"),
		"truncated": good[:len(good)-9],
		"bit flip":  flip,
	}
	for name, b := range cases {
		if _, err := DecodeSnapshot(b); !errors.Is(err, ErrCorruptCheckpoint) {
			t.Errorf("%s: %v, want ErrCorruptCheckpoint", name, err)
		}
	}
}

// FuzzDecodeSnapshot: no input panics or allocates beyond its size, and
// what decodes survives a re-encoding unchanged.
func FuzzDecodeSnapshot(f *testing.F) {
	f.Add(AppendSnapshot(nil, testSnapshot))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := DecodeSnapshot(b)
		if err != nil {
			return
		}
		again, err := DecodeSnapshot(AppendSnapshot(nil, s))
		if err != nil || !reflect.DeepEqual(again, s) {
			t.Fatalf("decoded %+v re-encodes to %+v (%v)", s, again, err)
		}
	})
}
