package proto

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"sync"

	"github.com/klauspost/compress/zstd"

	"github.com/tacitfl/tacit/codec"
	"github.com/tacitfl/tacit/proto/tacitpb"
)

// ErrBadTensor is wrapped by every tensor decoding failure.
var ErrBadTensor = errors.New("bad tensor")

// Codec encodes and decodes tensors, reusing zstd encoders and decoders. It
// is safe for concurrent use.
type Codec struct {
	enc  *zstd.Encoder
	decs sync.Pool // of *zstd.Decoder in streaming mode, one per concurrent Decode
}

// NewCodec returns a codec.
func NewCodec() (*Codec, error) {
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedDefault), zstd.WithEncoderConcurrency(1))
	if err != nil {
		return nil, err
	}
	c := &Codec{enc: enc}
	c.decs.New = func() any {
		d, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(DefaultMaxFrame))
		if err != nil {
			return err
		}
		return d
	}
	return c, nil
}

// Encode turns v into a float32 tensor, zstd-compressed if c says so.
func (c *Codec) Encode(v []float32, comp tacitpb.Compression) *tacitpb.Tensor {
	raw := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(x))
	}
	t := &tacitpb.Tensor{Dtype: tacitpb.DType_DTYPE_FLOAT32, Length: uint64(len(v)), Compression: comp, Data: raw}
	if comp == tacitpb.Compression_COMPRESSION_ZSTD {
		t.Data = c.enc.EncodeAll(raw, make([]byte, 0, len(raw)/2))
	}
	return t
}

// Decode checks t against the length the caller expects and decodes it into
// dst (reused when large enough). Non-finite values are refused: no update
// or model may carry them.
func (c *Codec) Decode(t *tacitpb.Tensor, want int, dst []float32) ([]float32, error) {
	switch {
	case t == nil:
		return nil, fmt.Errorf("%w: missing", ErrBadTensor)
	case t.Dtype != tacitpb.DType_DTYPE_FLOAT32:
		return nil, fmt.Errorf("%w: dtype %v, want float32", ErrBadTensor, t.Dtype)
	case t.Length != uint64(want):
		return nil, fmt.Errorf("%w: %d values, want %d", ErrBadTensor, t.Length, want)
	}
	raw, err := c.payload(t, 4*want)
	if err != nil {
		return nil, err
	}
	if len(raw) != 4*want {
		return nil, fmt.Errorf("%w: %d bytes for %d float32 values", ErrBadTensor, len(raw), want)
	}
	if cap(dst) < want {
		dst = make([]float32, want)
	}
	dst = dst[:want]
	for i := range dst {
		x := math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		if x-x != 0 {
			return nil, fmt.Errorf("%w: value %d is %v", ErrBadTensor, i, x)
		}
		dst[i] = x
	}
	return dst, nil
}

// payload is t's data, inflated to size bytes if compressed (the caller
// checks the size of uncompressed data).
func (c *Codec) payload(t *tacitpb.Tensor, size int) ([]byte, error) {
	switch t.Compression {
	case tacitpb.Compression_COMPRESSION_NONE:
		return t.Data, nil
	case tacitpb.Compression_COMPRESSION_ZSTD:
		return c.decompress(t.Data, size)
	}
	return nil, fmt.Errorf("%w: compression %v", ErrBadTensor, t.Compression)
}

// decompress inflates a zstd stream into exactly limit bytes, reading it as
// a stream so that whatever the input claims or hides, no more than limit
// bytes are ever allocated: more content than that is refused.
func (c *Codec) decompress(src []byte, limit int) ([]byte, error) {
	var hdr zstd.Header
	if err := hdr.Decode(src); err != nil {
		return nil, fmt.Errorf("%w: zstd: %v", ErrBadTensor, err)
	}
	if hdr.HasFCS && hdr.FrameContentSize != uint64(limit) {
		return nil, fmt.Errorf("%w: zstd content of %d bytes, want %d", ErrBadTensor, hdr.FrameContentSize, limit)
	}
	got := c.decs.Get()
	d, ok := got.(*zstd.Decoder)
	if !ok {
		return nil, fmt.Errorf("zstd decoder: %v", got)
	}
	defer c.decs.Put(d)
	if err := d.Reset(bytes.NewReader(src)); err != nil {
		return nil, fmt.Errorf("%w: zstd: %v", ErrBadTensor, err)
	}
	out := make([]byte, limit)
	if n, err := io.ReadFull(d, out); err != nil {
		return nil, fmt.Errorf("%w: zstd content of %d bytes, want %d: %v", ErrBadTensor, n, limit, err)
	}
	var extra [1]byte
	if n, err := d.Read(extra[:]); n > 0 || (err != nil && err != io.EOF) {
		return nil, fmt.Errorf("%w: zstd content over %d bytes or corrupt", ErrBadTensor, limit)
	}
	return out, nil
}

// EncodeUint packs v, bits (1..32) bits each, into a DTYPE_UINT tensor,
// zstd-compressed if comp says so.
func (c *Codec) EncodeUint(v []uint32, bits int, comp tacitpb.Compression) *tacitpb.Tensor {
	raw := codec.AppendPacked(nil, v, bits)
	t := &tacitpb.Tensor{Dtype: tacitpb.DType_DTYPE_UINT, Length: uint64(len(v)), Bits: uint32(bits), Compression: comp, Data: raw}
	if comp == tacitpb.Compression_COMPRESSION_ZSTD {
		t.Data = c.enc.EncodeAll(raw, make([]byte, 0, len(raw)/2))
	}
	return t
}

// DecodeUint checks t against the length and bits the caller expects and
// unpacks it into dst (reused when large enough).
func (c *Codec) DecodeUint(t *tacitpb.Tensor, want, bits int, dst []uint32) ([]uint32, error) {
	size := codec.PackedLen(want, bits)
	switch {
	case t == nil:
		return nil, fmt.Errorf("%w: missing", ErrBadTensor)
	case t.Dtype != tacitpb.DType_DTYPE_UINT || t.Bits != uint32(bits):
		return nil, fmt.Errorf("%w: dtype %v of %d bits, want uint of %d", ErrBadTensor, t.Dtype, t.Bits, bits)
	case t.Length != uint64(want) || size < 0:
		return nil, fmt.Errorf("%w: %d values, want %d", ErrBadTensor, t.Length, want)
	}
	raw, err := c.payload(t, size)
	if err != nil {
		return nil, err
	}
	if cap(dst) < want {
		dst = make([]uint32, want)
	}
	dst = dst[:want]
	if err := codec.UnpackInto(dst, raw, want, bits); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadTensor, err)
	}
	return dst, nil
}

// EncodeModel quantizes a model for the downlink: b bits a value, rounded
// to the nearest level of the range [−max|x|, max|x|], zstd-compressed if
// comp says so. Unlike updates, models need no shared range: each version
// carries its own.
func (c *Codec) EncodeModel(params []float32, bits int, comp tacitpb.Compression) (*tacitpb.Tensor, error) {
	var top float64
	for _, x := range params {
		top = max(top, math.Abs(float64(x)))
	}
	if top == 0 {
		top = 1
	}
	q, err := codec.NewQuantizer(bits, top, bits)
	if err != nil {
		return nil, err
	}
	enc := make([]uint32, len(params))
	mask := codec.RingMask(bits)
	for i, x := range params {
		enc[i] = uint32(int64(math.RoundToEven(float64(x)*q.Scale()))) & mask
	}
	t := c.EncodeUint(enc, bits, comp)
	t.Range = top
	return t, nil
}

// DecodeModel reads a model tensor, float32 or quantized, of want values.
// Like Decode, it refuses non-finite values: a quantized tensor's range may
// be finite as a float64 and still put a value beyond float32.
func (c *Codec) DecodeModel(t *tacitpb.Tensor, want int, dst []float32) ([]float32, error) {
	if t.GetDtype() != tacitpb.DType_DTYPE_UINT {
		return c.Decode(t, want, dst)
	}
	q, err := codec.NewQuantizer(int(min(t.Bits, 64)), t.Range, int(min(t.Bits, 64)))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadTensor, err)
	}
	enc, err := c.DecodeUint(t, want, q.Bits(), nil)
	if err != nil {
		return nil, err
	}
	out, err := q.AppendDecodeSum(dst[:0], enc)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadTensor, err)
	}
	for i, x := range out {
		if x-x != 0 {
			return nil, fmt.Errorf("%w: value %d is %v", ErrBadTensor, i, x)
		}
	}
	return out, nil
}

// RoundTripModel is what a device holds after a quantized download of
// params: for simulations, which skip the wire.
func (c *Codec) RoundTripModel(params []float32, bits int, dst []float32) ([]float32, error) {
	t, err := c.EncodeModel(params, bits, tacitpb.Compression_COMPRESSION_NONE)
	if err != nil {
		return nil, err
	}
	return c.DecodeModel(t, len(params), dst)
}
