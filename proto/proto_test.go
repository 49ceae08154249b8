package proto

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"math/rand/v2"
	"runtime"
	"testing"

	"github.com/klauspost/compress/zstd"
	"google.golang.org/protobuf/proto"

	"github.com/tacitfl/tacit/model"
	"github.com/tacitfl/tacit/proto/tacitpb"
)

func sampleMessages(c *Codec) []proto.Message {
	update := c.Encode([]float32{0.5, -1, 2}, tacitpb.Compression_COMPRESSION_NONE)
	return []proto.Message{
		&tacitpb.Request{ProtocolVersion: ProtocolVersion, Token: "t0k3n", Body: &tacitpb.Request_CheckIn{CheckIn: &tacitpb.CheckIn{CachedModelVersion: -1}}},
		&tacitpb.Request{ProtocolVersion: ProtocolVersion, Token: "t", Body: &tacitpb.Request_Model{Model: &tacitpb.ModelRequest{Version: 3}}},
		&tacitpb.Request{ProtocolVersion: ProtocolVersion, Token: "t", Body: &tacitpb.Request_Report{Report: &tacitpb.Report{Round: 4, Update: update, Weight: 1, TrainLoss: 0.25,
			Evaluation: &tacitpb.Evaluation{HrAt_10: 1, NdcgAt_10: 0.5}}}},
		&tacitpb.Response{Body: &tacitpb.Response_CheckIn{CheckIn: &tacitpb.CheckInResult{Result: &tacitpb.CheckInResult_Plan{Plan: &tacitpb.Plan{
			Round: 4, ModelVersion: 3, DownloadModel: true, ReportDeadlineUnixMillis: 1_700_000_000_000,
			Local: &tacitpb.LocalTraining{Epochs: 1, LearningRate: 0.1, ItemRegShare: 0.01},
			Model: &tacitpb.ModelConfig{Items: 3, Factors: 2, Alpha: 10, NegWeight: 1, UserReg: 10, ItemReg: 10, RecencyHalfLife: 20, RecencyFloor: 0.1}}}}}},
		&tacitpb.Response{Body: &tacitpb.Response_CheckIn{CheckIn: &tacitpb.CheckInResult{Result: &tacitpb.CheckInResult_Retry{Retry: &tacitpb.RetryAfter{AfterMillis: 1500, Reason: "not selected"}}}}},
		&tacitpb.Response{Body: &tacitpb.Response_Model{Model: &tacitpb.Model{Version: 3, Params: c.Encode([]float32{1, 2, 3}, tacitpb.Compression_COMPRESSION_ZSTD)}}},
		&tacitpb.Response{Body: &tacitpb.Response_ReportAck{ReportAck: &tacitpb.ReportAck{}}},
		NewError(tacitpb.ErrorCode_ERROR_CODE_LATE, "round 3 has ended"),
	}
}

func TestFrameRoundTrip(t *testing.T) {
	c, _ := NewCodec()
	var stream []byte
	msgs := sampleMessages(c)
	for _, m := range msgs {
		var err error
		if stream, err = AppendFrame(stream, m); err != nil {
			t.Fatal(err)
		}
	}
	r := bytes.NewReader(stream)
	for _, want := range msgs {
		got := want.ProtoReflect().New().Interface()
		if err := ReadFrame(r, got, DefaultMaxFrame); err != nil {
			t.Fatal(err)
		}
		if !proto.Equal(got, want) {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
	if err := ReadFrame(r, &tacitpb.Request{}, DefaultMaxFrame); err != io.EOF {
		t.Fatalf("after the last frame: %v, want io.EOF", err)
	}
}

// countingReader records how much was read, to show a refused frame's body
// is never read (or allocated).
type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

func TestReadFrameRefusesBeforeAllocating(t *testing.T) {
	in := append(binary.BigEndian.AppendUint32(nil, 1<<30), make([]byte, 100)...) // claims 1 GiB
	cr := &countingReader{r: bytes.NewReader(in)}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	err := ReadFrame(cr, &tacitpb.Request{}, 1<<20)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("error %v, want ErrTooLarge", err)
	}
	if cr.n != 4 {
		t.Fatalf("read %d bytes, want only the 4-byte header", cr.n)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 64<<10 {
		t.Fatalf("allocated %d bytes refusing a frame", grew)
	}
}

func TestReadFrameErrors(t *testing.T) {
	c, _ := NewCodec()
	good, _ := AppendFrame(nil, sampleMessages(c)[0])
	cases := []struct {
		name string
		in   []byte
		want error
	}{
		{"truncated header", good[:2], ErrTruncated},
		{"truncated body", good[:len(good)-1], ErrTruncated},
		{"malformed body", append(binary.BigEndian.AppendUint32(nil, 3), 0xff, 0xff, 0xff), ErrMalformed},
		{"too large", good, ErrTooLarge},
	}
	for _, tc := range cases {
		max := DefaultMaxFrame
		if tc.name == "too large" {
			max = 3
		}
		err := ReadFrame(bytes.NewReader(tc.in), &tacitpb.Request{}, max)
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
		if ErrorCodeOf(err) == tacitpb.ErrorCode_ERROR_CODE_INTERNAL {
			t.Errorf("%s: maps to an internal error", tc.name)
		}
	}
	if err := WriteFrame(io.Discard, sampleMessages(c)[5], 10); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("WriteFrame over the limit: %v", err)
	}
	if CheckVersion(ProtocolVersion) != nil || !errors.Is(CheckVersion(1), ErrUnsupportedVersion) {
		t.Fatal("version check")
	}
}

func TestTensorCodec(t *testing.T) {
	c, _ := NewCodec()
	v := []float32{0, 1.5, -2.25, 1e-30, 3.4e38}
	for _, comp := range []tacitpb.Compression{tacitpb.Compression_COMPRESSION_NONE, tacitpb.Compression_COMPRESSION_ZSTD} {
		tn := c.Encode(v, comp)
		got, err := c.Decode(tn, len(v), nil)
		if err != nil {
			t.Fatal(err)
		}
		for i := range v {
			if got[i] != v[i] {
				t.Fatalf("%v: value %d is %v, want %v", comp, i, got[i], v[i])
			}
		}
	}
	nan := c.Encode([]float32{1, float32(math.NaN())}, tacitpb.Compression_COMPRESSION_NONE)
	inf := c.Encode([]float32{float32(math.Inf(-1))}, tacitpb.Compression_COMPRESSION_ZSTD)
	bad := []struct {
		name string
		t    *tacitpb.Tensor
		want int
	}{
		{"nil", nil, 1},
		{"wrong length", c.Encode(v, tacitpb.Compression_COMPRESSION_NONE), 4},
		{"wrong dtype", &tacitpb.Tensor{Dtype: tacitpb.DType_DTYPE_UNSPECIFIED, Length: 1, Data: make([]byte, 4)}, 1},
		{"short data", &tacitpb.Tensor{Dtype: tacitpb.DType_DTYPE_FLOAT32, Length: 2, Data: make([]byte, 7)}, 2},
		{"unknown compression", &tacitpb.Tensor{Dtype: tacitpb.DType_DTYPE_FLOAT32, Length: 1, Compression: 9, Data: make([]byte, 4)}, 1},
		{"garbage zstd", &tacitpb.Tensor{Dtype: tacitpb.DType_DTYPE_FLOAT32, Length: 1, Compression: tacitpb.Compression_COMPRESSION_ZSTD, Data: []byte("nope")}, 1},
		{"NaN", nan, 2},
		{"Inf", inf, 1},
	}
	for _, b := range bad {
		if _, err := c.Decode(b.t, b.want, nil); !errors.Is(err, ErrBadTensor) {
			t.Errorf("%s: %v, want ErrBadTensor", b.name, err)
		}
	}
}

// TestZstdBombIsRefused: 100 MB of zeros compress to a few kilobytes; a
// tensor claiming 10 values must not inflate them.
func TestZstdBombIsRefused(t *testing.T) {
	c, _ := NewCodec()
	bomb := c.enc.EncodeAll(make([]byte, 100<<20), nil)
	tn := &tacitpb.Tensor{Dtype: tacitpb.DType_DTYPE_FLOAT32, Length: 10, Compression: tacitpb.Compression_COMPRESSION_ZSTD, Data: bomb}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := c.Decode(tn, 10, nil)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrBadTensor) {
		t.Fatalf("bomb: %v, want ErrBadTensor", err)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<20 {
		t.Fatalf("allocated %d bytes refusing a %d-byte bomb", grew, len(bomb))
	}
}

// TestZstdStreamWithoutSizeIsBounded: a streamed zstd frame does not state
// its size up front; decoding still stops at the expected length.
func TestZstdStreamWithoutSizeIsBounded(t *testing.T) {
	c, _ := NewCodec()
	var buf bytes.Buffer
	w, _ := zstd.NewWriter(&buf)
	w.Write(make([]byte, 50<<20))
	w.Close()
	tn := &tacitpb.Tensor{Dtype: tacitpb.DType_DTYPE_FLOAT32, Length: 10, Compression: tacitpb.Compression_COMPRESSION_ZSTD, Data: buf.Bytes()}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := c.Decode(tn, 10, nil)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrBadTensor) {
		t.Fatalf("oversized stream: %v, want ErrBadTensor", err)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 16<<20 {
		t.Fatalf("allocated %d bytes refusing it", grew)
	}
}

func benchVector(zeroFraction float64) []float32 {
	rng := rand.New(rand.NewPCG(1, 1))
	v := make([]float32, 9724*32)
	for i := range v {
		if rng.Float64() >= zeroFraction {
			v[i] = float32(rng.NormFloat64() * 0.1)
		}
	}
	return v
}

func BenchmarkEncodeZstd(b *testing.B) {
	c, _ := NewCodec()
	for _, zf := range []float64{0, 0.9} {
		v := benchVector(zf)
		b.Run(map[float64]string{0: "dense", 0.9: "90%zero"}[zf], func(b *testing.B) {
			b.SetBytes(int64(4 * len(v)))
			var n int
			for b.Loop() {
				n = len(c.Encode(v, tacitpb.Compression_COMPRESSION_ZSTD).Data)
			}
			b.ReportMetric(float64(4*len(v))/float64(n), "ratio")
		})
	}
}

func BenchmarkDecodeZstd(b *testing.B) {
	c, _ := NewCodec()
	v := benchVector(0)
	tn := c.Encode(v, tacitpb.Compression_COMPRESSION_ZSTD)
	dst := make([]float32, len(v))
	b.SetBytes(int64(4 * len(v)))
	for b.Loop() {
		if _, err := c.Decode(tn, len(v), dst); err != nil {
			b.Fatal(err)
		}
	}
}

func TestModelConfigRoundTrip(t *testing.T) {
	c := model.DefaultConfig()
	items, got := FromModelConfig(ModelConfig(9724, c))
	if items != 9724 || got != c {
		t.Fatalf("got %d, %+v; want 9724, %+v", items, got, c)
	}
	l := model.LocalConfig{Epochs: 2, LR: 0.05, ItemRegShare: 1e-3}
	if FromLocalTraining(LocalTraining(l)) != l {
		t.Fatal("local training did not round-trip")
	}
}

// TestReadFrameGrowsWithTheBytesThatArrive: a header claiming the whole
// limit followed by a few bytes costs about those bytes, not the claim.
func TestReadFrameGrowsWithTheBytesThatArrive(t *testing.T) {
	in := append(binary.BigEndian.AppendUint32(nil, 60<<20), 1, 2, 3)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	err := ReadFrame(bytes.NewReader(in), &tacitpb.Request{}, DefaultMaxFrame)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrTruncated) {
		t.Fatalf("error %v, want ErrTruncated", err)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<20 {
		t.Fatalf("allocated %d bytes for a 3-byte body claiming 60 MiB", grew)
	}
}
