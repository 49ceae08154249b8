package coordinator

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"maps"
	"math"
	"os"
	"slices"

	"github.com/tacitfl/tacit/aggregate"
	"github.com/tacitfl/tacit/coordinator/round"
	"github.com/tacitfl/tacit/internal/atomicfile"
	"github.com/tacitfl/tacit/privacy"
)

// The checkpoint file format, version 5. It is on disk across upgrades, so
// it changes only with a new version number that old readers refuse (this
// reader still reads versions 1 to 4, which lack the later blocks):
//
//	"TACITCKP"            8-byte magic
//	uint32                format version (1)
//	int64  int64          last committed round, model version
//	floats                the model's shared parameters
//	uint16 + bytes        optimizer name
//	int64                 optimizer step count
//	floats  floats        optimizer moments M and V (length 0 when absent)
//	spends                the privacy spent: the rounds' mechanisms (v4; length 0 without DP)
//	float64               the next round's clip norm (v3; 0 without DP)
//	[32]byte              the selection key (v5)
//	participation         rounds each device's update was in (v5; length 0 without distributed DP)
//	ids                   devices excluded for revealing bad SecAgg shares (v5)
//	uint32                CRC-32C of everything before it
//
// floats is a uint64 count and that many little-endian float32s; spends a
// uint64 count and that many (float64 q, float64 noise multiplier, uint64
// rounds, uint8 kind), kind 1 (distributed discrete Gaussian) followed by
// float64 local noise, scale, clip, β and uint64 dimension, minimum
// survivors, kind 2 (the same with colluders, which readers before it
// refuse) by those and uint64 colluders; kind 0 is the Gaussian;
// participation a uint64 count and that many (uint16 + bytes device id,
// uint64 rounds), in device order; ids a uint64 count and that many uint16
// + bytes device ids, in order. All integers are little-endian.
//
// Version 5 adds the selection key: cohorts were a hash of the public seed
// before it, so a checkpoint of version 4 or older has none, and resuming
// one draws a new key (RunProcess). It adds the participation counts that
// ε against the coordinator is computed from; an older private run resumes
// with none, so that figure covers only the rounds after the upgrade.
//
// Versions 2 and 3 stored the privacy spent as accumulated RDP values at
// privacy.DefaultOrders in place of the spends. Version 4 stores the
// mechanisms instead because either accountant (RDP or PLD) can replay
// them, while RDP values cannot be turned into a PLD. A version 2 or 3
// checkpoint of a private run is refused with ErrOldCheckpoint.
const (
	checkpointMagic   = "TACITCKP"
	checkpointVersion = 5
)

// ErrCorruptCheckpoint is wrapped by every decoding failure.
var ErrCorruptCheckpoint = errors.New("corrupt checkpoint")

// ErrOldCheckpoint is returned for a well-formed checkpoint whose privacy
// state this build cannot resume.
var ErrOldCheckpoint = errors.New("checkpoint from an older version")

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// AppendSnapshot appends s in the checkpoint format to b.
func AppendSnapshot(b []byte, s round.Snapshot) []byte {
	b = append(b, checkpointMagic...)
	b = binary.LittleEndian.AppendUint32(b, checkpointVersion)
	b = binary.LittleEndian.AppendUint64(b, uint64(s.Round))
	b = binary.LittleEndian.AppendUint64(b, uint64(s.Version))
	b = appendFloats(b, s.Params)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(s.Optimizer.Name)))
	b = append(b, s.Optimizer.Name...)
	b = binary.LittleEndian.AppendUint64(b, uint64(s.Optimizer.Step))
	b = appendFloats(b, s.Optimizer.M)
	b = appendFloats(b, s.Optimizer.V)
	b = binary.LittleEndian.AppendUint64(b, uint64(len(s.Spends)))
	for _, x := range s.Spends {
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(x.Q))
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(x.Sigma))
		b = binary.LittleEndian.AppendUint64(b, uint64(x.Count))
		if d := x.Distributed; d != nil {
			kind := byte(1)
			if d.Colluders > 0 {
				kind = 2
			}
			b = append(b, kind)
			for _, f := range []float64{d.LocalStd, d.Scale, d.Clip, d.Beta} {
				b = binary.LittleEndian.AppendUint64(b, math.Float64bits(f))
			}
			b = binary.LittleEndian.AppendUint64(b, uint64(d.Dim))
			b = binary.LittleEndian.AppendUint64(b, uint64(d.MinSurvivors))
			if kind == 2 {
				b = binary.LittleEndian.AppendUint64(b, uint64(d.Colluders))
			}
		} else {
			b = append(b, 0)
		}
	}
	b = binary.LittleEndian.AppendUint64(b, math.Float64bits(s.ClipNorm))
	b = append(b, s.SelectionKey[:]...)
	b = binary.LittleEndian.AppendUint64(b, uint64(len(s.Participation)))
	for _, d := range slices.Sorted(maps.Keys(s.Participation)) {
		b = binary.LittleEndian.AppendUint16(b, uint16(len(d)))
		b = append(b, d...)
		b = binary.LittleEndian.AppendUint64(b, uint64(s.Participation[d]))
	}
	b = binary.LittleEndian.AppendUint64(b, uint64(len(s.Excluded)))
	for _, d := range s.Excluded {
		b = binary.LittleEndian.AppendUint16(b, uint16(len(d)))
		b = append(b, d...)
	}
	return binary.LittleEndian.AppendUint32(b, crc32.Checksum(b, castagnoli))
}

func appendFloats(b []byte, v []float32) []byte {
	b = binary.LittleEndian.AppendUint64(b, uint64(len(v)))
	for _, x := range v {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(x))
	}
	return b
}

// DecodeSnapshot parses a checkpoint. Every length is checked against the
// bytes present before anything is allocated, and the checksum before
// anything is parsed.
func DecodeSnapshot(b []byte) (round.Snapshot, error) {
	var s round.Snapshot
	if len(b) < len(checkpointMagic)+4+4 || string(b[:len(checkpointMagic)]) != checkpointMagic {
		return s, fmt.Errorf("%w: not a Tacit checkpoint", ErrCorruptCheckpoint)
	}
	body, sum := b[:len(b)-4], binary.LittleEndian.Uint32(b[len(b)-4:])
	if crc32.Checksum(body, castagnoli) != sum {
		return s, fmt.Errorf("%w: checksum mismatch", ErrCorruptCheckpoint)
	}
	r := reader{b: body[len(checkpointMagic):]}
	version := r.u32()
	if version < 1 || version > checkpointVersion {
		return s, fmt.Errorf("%w: format version %d, this build reads 1 to %d", ErrCorruptCheckpoint, version, checkpointVersion)
	}
	s.Round, s.Version = int64(r.u64()), int64(r.u64())
	s.Params = r.floats()
	name := r.bytes(int(r.u16()))
	s.Optimizer = aggregate.OptimizerState{Name: string(name), Step: int(r.u64())}
	s.Optimizer.M, s.Optimizer.V = r.floats(), r.floats()
	switch {
	case version >= 4:
		s.Spends = r.spends()
	case version >= 2:
		if n, _ := r.counted(8); n > 0 {
			return round.Snapshot{}, fmt.Errorf("%w: format version %d records the privacy of a private run as RDP values, which this build cannot resume (start the run afresh)", ErrOldCheckpoint, version)
		}
	}
	if version >= 3 {
		s.ClipNorm = math.Float64frombits(r.u64())
	}
	if version >= 5 {
		copy(s.SelectionKey[:], r.bytes(len(s.SelectionKey)))
		s.Participation = r.participation()
		s.Excluded = r.ids()
	}
	switch {
	case r.err != nil:
		return round.Snapshot{}, r.err
	case len(r.b) != 0:
		return round.Snapshot{}, fmt.Errorf("%w: %d trailing bytes", ErrCorruptCheckpoint, len(r.b))
	case s.Round < 0 || s.Version < 0 || len(s.Params) == 0:
		return round.Snapshot{}, fmt.Errorf("%w: round %d, version %d, %d parameters", ErrCorruptCheckpoint, s.Round, s.Version, len(s.Params))
	case !finite(s.Params) || !finite(s.Optimizer.M) || !finite(s.Optimizer.V):
		return round.Snapshot{}, fmt.Errorf("%w: non-finite model or optimizer values", ErrCorruptCheckpoint)
	}
	if !(s.ClipNorm >= 0) || math.IsInf(s.ClipNorm, 1) {
		return round.Snapshot{}, fmt.Errorf("%w: clip norm %v", ErrCorruptCheckpoint, s.ClipNorm)
	}
	for _, x := range s.Spends {
		if err := x.Check(); err != nil {
			return round.Snapshot{}, fmt.Errorf("%w: %v", ErrCorruptCheckpoint, err)
		}
	}
	if len(s.Optimizer.M) == 0 {
		s.Optimizer.M = nil
	}
	if len(s.Optimizer.V) == 0 {
		s.Optimizer.V = nil
	}
	if len(s.Spends) == 0 {
		s.Spends = nil
	}
	return s, nil
}

func finite(v []float32) bool {
	for _, x := range v {
		if x-x != 0 {
			return false
		}
	}
	return true
}

// reader consumes b, remembering the first shortfall.
type reader struct {
	b   []byte
	err error
}

func (r *reader) bytes(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b) {
		r.err = fmt.Errorf("%w: truncated", ErrCorruptCheckpoint)
		return nil
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}

func (r *reader) u16() uint16 {
	if b := r.bytes(2); b != nil {
		return binary.LittleEndian.Uint16(b)
	}
	return 0
}

func (r *reader) u32() uint32 {
	if b := r.bytes(4); b != nil {
		return binary.LittleEndian.Uint32(b)
	}
	return 0
}

func (r *reader) u64() uint64 {
	if b := r.bytes(8); b != nil {
		return binary.LittleEndian.Uint64(b)
	}
	return 0
}

// counted reads a uint64 count and that many values of size bytes each,
// checking the count against the bytes left before anything is allocated.
func (r *reader) counted(size int) (n int, raw []byte) {
	c := r.u64()
	if r.err != nil {
		return 0, nil
	}
	if c > uint64(len(r.b)/size) {
		r.err = fmt.Errorf("%w: %d values claimed, %d bytes left", ErrCorruptCheckpoint, c, len(r.b))
		return 0, nil
	}
	return int(c), r.bytes(int(c) * size)
}

func (r *reader) floats() []float32 {
	n, raw := r.counted(4)
	out := make([]float32, n)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
	}
	return out
}

func (r *reader) spends() []privacy.Spend {
	const minEntry = 25 // a Gaussian spend
	c := r.u64()
	if r.err == nil && c > uint64(len(r.b)/minEntry) {
		r.err = fmt.Errorf("%w: %d spends claimed, %d bytes left", ErrCorruptCheckpoint, c, len(r.b))
	}
	if r.err != nil {
		return nil
	}
	out := make([]privacy.Spend, c)
	for i := range out {
		s := &out[i]
		s.Q, s.Sigma = r.f64(), r.f64()
		s.Count = r.int32()
		switch kind := r.bytes(1); {
		case kind == nil:
		case kind[0] == 1 || kind[0] == 2:
			d := &privacy.DistributedDGauss{LocalStd: r.f64(), Scale: r.f64(), Clip: r.f64(), Beta: r.f64()}
			d.Dim, d.MinSurvivors = r.int32(), r.int32()
			if kind[0] == 2 {
				d.Colluders = r.int32()
			}
			s.Distributed = d
		case kind[0] != 0:
			r.err = fmt.Errorf("%w: spend of kind %d", ErrCorruptCheckpoint, kind[0])
		}
		if r.err != nil {
			return nil
		}
	}
	return out
}

func (r *reader) participation() map[string]int {
	const minEntry = 2 + 8 // an empty id
	c := r.u64()
	if r.err == nil && c > uint64(len(r.b)/minEntry) {
		r.err = fmt.Errorf("%w: %d participants claimed, %d bytes left", ErrCorruptCheckpoint, c, len(r.b))
	}
	if r.err != nil || c == 0 {
		return nil
	}
	out := make(map[string]int, c)
	for range c {
		d := string(r.bytes(int(r.u16())))
		if _, dup := out[d]; dup && r.err == nil {
			r.err = fmt.Errorf("%w: device %q counted twice", ErrCorruptCheckpoint, d)
		}
		out[d] = r.int32()
		if r.err != nil {
			return nil
		}
	}
	return out
}

// ids reads a count and that many distinct device ids; nil for none.
func (r *reader) ids() []string {
	const minEntry = 2 // an empty id
	c := r.u64()
	if r.err == nil && c > uint64(len(r.b)/minEntry) {
		r.err = fmt.Errorf("%w: %d device ids claimed, %d bytes left", ErrCorruptCheckpoint, c, len(r.b))
	}
	if r.err != nil || c == 0 {
		return nil
	}
	out := make([]string, 0, c)
	for range c {
		out = append(out, string(r.bytes(int(r.u16()))))
		if r.err != nil {
			return nil
		}
	}
	return out
}

func (r *reader) f64() float64 { return math.Float64frombits(r.u64()) }

// int32 reads a uint64 that must fit an int32.
func (r *reader) int32() int {
	v := r.u64()
	if v > math.MaxInt32 && r.err == nil {
		r.err = fmt.Errorf("%w: count %d", ErrCorruptCheckpoint, v)
	}
	return int(min(v, math.MaxInt32))
}

// FileCheckpointer keeps the latest snapshot in one file, replaced
// atomically, so a crash leaves the previous checkpoint or the new one.
type FileCheckpointer struct {
	Path string
}

// Save writes s durably.
func (f FileCheckpointer) Save(s round.Snapshot) error {
	return atomicfile.WriteSecret(f.Path, func(w io.Writer) error { // it holds the selection key
		_, err := w.Write(AppendSnapshot(nil, s))
		return err
	})
}

// maxCheckpointBytes bounds what Load reads: a billion parameters.
const maxCheckpointBytes = 8 << 30

// Load reads the snapshot; os.ErrNotExist (wrapped) when there is none yet.
func (f FileCheckpointer) Load() (round.Snapshot, error) {
	file, err := os.Open(f.Path)
	if err != nil {
		return round.Snapshot{}, err
	}
	defer file.Close()
	var buf bytes.Buffer
	if _, err := io.Copy(&buf, io.LimitReader(file, maxCheckpointBytes+1)); err != nil {
		return round.Snapshot{}, err
	}
	if buf.Len() > maxCheckpointBytes {
		return round.Snapshot{}, fmt.Errorf("%s: %w: larger than %d bytes", f.Path, ErrCorruptCheckpoint, maxCheckpointBytes)
	}
	s, err := DecodeSnapshot(buf.Bytes())
	if err != nil {
		return round.Snapshot{}, fmt.Errorf("%s: %w", f.Path, err)
	}
	return s, nil
}
