package coordinator

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/tacitfl/tacit/aggregate"
	"github.com/tacitfl/tacit/coordinator/round"
	"github.com/tacitfl/tacit/privacy"
)

var testSnapshot = round.Snapshot{Round: 12, Version: 9, Params: []float32{1.5, -2, 0.25},
	Optimizer: aggregate.OptimizerState{Name: "fedadam", Step: 9, M: []float32{0.1, 0.2, 0.3}, V: []float32{1e-6, 2e-6, 3e-6}},
	Spends: []privacy.Spend{{Q: 0.01, Sigma: 1.1, Count: 10}, {Q: 0.02, Sigma: 0.9, Count: 2},
		{Q: 0.01, Sigma: 1, Count: 3, Distributed: &privacy.DistributedDGauss{LocalStd: 40, Scale: 1e3, Clip: 1, Dim: 1 << 20, MinSurvivors: 80}},
		{Q: 0.01, Sigma: 1, Count: 2, Distributed: &privacy.DistributedDGauss{LocalStd: 45, Scale: 1e3, Clip: 1, Dim: 1 << 20, MinSurvivors: 80, Colluders: 4}}},
	ClipNorm: 0.7, SelectionKey: [32]byte{0xde, 0xad, 31: 0xbe}, Participation: map[string]int{"a": 3, "b": 1, "device-7": 12},
	Excluded: []string{"device-3", "device-9"}}

func TestCheckpointRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ckpt")
	f := FileCheckpointer{Path: path}
	if _, err := f.Load(); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("load before any save: %v, want ErrNotExist", err)
	}
	for _, s := range []round.Snapshot{testSnapshot, {Round: 1, Version: 1, Params: []float32{3}, Optimizer: aggregate.OptimizerState{Name: "fedavg", Step: 1}}} {
		if err := f.Save(s); err != nil {
			t.Fatal(err)
		}
		// It holds the secret selection key: the owner's only.
		if info, err := os.Stat(path); err != nil || info.Mode().Perm() != 0o600 {
			t.Fatalf("checkpoint mode %v (%v), want 0600", info.Mode().Perm(), err)
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
	if err != nil || s.Round != 1 || s.Spends != nil || len(s.Params) != 1 {
		t.Fatalf("%+v, %v", s, err)
	}
}

// version3 is a version-3 checkpoint of a one-parameter fedavg model, with
// the given accumulated RDP values (none for a run without DP).
func version3(rdp []float64) []byte {
	b := append([]byte(checkpointMagic), 3, 0, 0, 0)
	b = binary.LittleEndian.AppendUint64(b, 1)        // round
	b = binary.LittleEndian.AppendUint64(b, 1)        // model version
	b = appendFloats(b, []float32{0.5})               // params
	b = append(b, 6, 0, 'f', 'e', 'd', 'a', 'v', 'g') // optimizer name
	b = binary.LittleEndian.AppendUint64(b, 1)        // optimizer step
	b = appendFloats(appendFloats(b, nil), nil)       // moments
	b = binary.LittleEndian.AppendUint64(b, uint64(len(rdp)))
	for _, x := range rdp {
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(x))
	}
	b = binary.LittleEndian.AppendUint64(b, 0) // clip norm
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

// TestCheckpointVersion3: a version-3 checkpoint without DP still loads; one
// of a private run (RDP values, which cannot become a PLD) is refused with
// ErrOldCheckpoint rather than resumed with a forgotten ε.
func TestCheckpointVersion3(t *testing.T) {
	// Nor a selection key: the driver draws one (RunProcess).
	if s, err := DecodeSnapshot(version3(nil)); err != nil || s.Round != 1 || s.Spends != nil || s.Params[0] != 0.5 || s.SelectionKey != [32]byte{} {
		t.Fatalf("%+v, %v", s, err)
	}
	if _, err := DecodeSnapshot(version3([]float64{0.1, 0.2})); !errors.Is(err, ErrOldCheckpoint) {
		t.Fatalf("v3 with RDP values: %v, want ErrOldCheckpoint", err)
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
		"bad spend": AppendSnapshot(nil, round.Snapshot{Round: 1, Version: 1, Params: []float32{1}, Spends: []privacy.Spend{{Q: 2, Sigma: 1, Count: 1}}}),
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
