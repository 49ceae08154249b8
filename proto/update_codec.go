package proto

import (
	"fmt"
	"io"
	"math"

	"github.com/tacitfl/tacit/aggregate/secagg"
	"github.com/tacitfl/tacit/proto/tacitpb"
)

// UpdateCodec is how every device of a round encodes its update, and how
// the coordinator decodes one update or the sum of many: an optional
// randomized Hadamard rotation, then a shared-range Quantizer. It is linear,
// so it composes with secure aggregation.
type UpdateCodec struct {
	Bits, ModBits int     // b, and m: values are in Z_(2^m)
	Range         float64 // c: values are clipped to [−c, c] before rounding
	Rotate        bool
	RotationSeed  [32]byte
	// LocalNoise is the standard deviation, in integer units, of the
	// discrete Gaussian noise each device adds (distributed DP); 0 for none.
	LocalNoise float64
	// MinSurvivors is, with LocalNoise, the fewest devices whose noise a
	// sum the round accepts holds: what the guarantee counts on.
	MinSurvivors int
}

// EncodedLen is the number of values an update of d parameters encodes to:
// the rotation pads to PaddedLen(d).
func (u UpdateCodec) EncodedLen(d int) int {
	if u.Rotate {
		return PaddedLen(d)
	}
	return d
}

// Alone is the codec for one device's update sent by itself, not summed
// under secure aggregation: its values need only b bits, not the ring's m.
func (u UpdateCodec) Alone() UpdateCodec {
	u.ModBits = u.Bits
	return u
}

// Quantizer is the codec's quantizer.
func (u UpdateCodec) Quantizer() (*Quantizer, error) { return NewQuantizer(u.Bits, u.Range, u.ModBits) }

// Encode appends to dst the integer vector of update (d values), drawing
// the stochastic rounding from r. scratch, if large enough, holds the
// rotated copy.
func (u UpdateCodec) Encode(dst []uint32, update, scratch []float32, r io.Reader) ([]uint32, []float32, error) {
	q, err := u.Quantizer()
	if err != nil {
		return dst, scratch, err
	}
	x := update
	if u.Rotate {
		rot, err := NewRotation(u.RotationSeed, len(update))
		if err != nil {
			return dst, scratch, err
		}
		if scratch, err = rot.Forward(scratch, update); err != nil {
			return dst, scratch, err
		}
		x = scratch
	}
	dst, err = q.AppendEncode(dst, x, r)
	return dst, scratch, err
}

// DecodeSum turns the modular sum of encoded updates (EncodedLen(d)
// values) back into the sum of the updates, d values, into dst.
func (u UpdateCodec) DecodeSum(dst []float32, sum []uint32, d int) ([]float32, error) {
	if len(sum) != u.EncodedLen(d) {
		return dst, fmt.Errorf("%w: %d values for an update of %d parameters, want %d", ErrBadTensor, len(sum), d, u.EncodedLen(d))
	}
	q, err := u.Quantizer()
	if err != nil {
		return dst, err
	}
	if !u.Rotate {
		return q.AppendDecodeSum(dst[:0], sum)
	}
	rotated, err := q.AppendDecodeSum(nil, sum)
	if err != nil {
		return dst, err
	}
	return u.Unrotate(dst, rotated, d)
}

// Unrotate writes into dst the d values of the rotated vector (EncodedLen(d)
// values) rotated back. It inverts in place, so rotated is overwritten.
func (u UpdateCodec) Unrotate(dst, rotated []float32, d int) ([]float32, error) {
	rot, err := NewRotation(u.RotationSeed, d)
	if err != nil {
		return dst, err
	}
	out, err := rot.Inverse(rotated, rotated) // the inverse needs the padded length
	if err != nil {
		return dst, err
	}
	return append(dst[:0], out...), nil
}

// UpdateCodecPB is the codec's wire form.
func UpdateCodecPB(u *UpdateCodec) *tacitpb.UpdateCodec {
	if u == nil {
		return nil
	}
	pb := &tacitpb.UpdateCodec{Bits: uint32(u.Bits), Range: u.Range, ModBits: uint32(u.ModBits), LocalNoise: u.LocalNoise,
		MinSurvivors: uint32(u.MinSurvivors)}
	if u.Rotate {
		pb.RotationSeed = append([]byte(nil), u.RotationSeed[:]...)
	}
	return pb
}

// FromUpdateCodecPB reads a codec and checks it makes a quantizer.
func FromUpdateCodecPB(pb *tacitpb.UpdateCodec) (*UpdateCodec, error) {
	if pb == nil {
		return nil, nil
	}
	u := &UpdateCodec{Bits: int(min(pb.Bits, 64)), Range: pb.Range, ModBits: int(min(pb.ModBits, 64)), LocalNoise: pb.LocalNoise,
		MinSurvivors: int(min(pb.MinSurvivors, secagg.MaxClients+1))}
	switch len(pb.RotationSeed) {
	case 0:
	case len(u.RotationSeed):
		u.Rotate = true
		copy(u.RotationSeed[:], pb.RotationSeed)
	default:
		return nil, fmt.Errorf("%w: rotation seed of %d bytes", ErrQuantizer, len(pb.RotationSeed))
	}
	if _, err := u.Quantizer(); err != nil {
		return nil, err
	}
	if !(u.LocalNoise >= 0 && u.LocalNoise < 1<<28) {
		return nil, fmt.Errorf("%w: local noise %v", ErrQuantizer, u.LocalNoise)
	}
	if u.MinSurvivors > secagg.MaxClients || (u.LocalNoise > 0) != (u.MinSurvivors > 0) {
		return nil, fmt.Errorf("%w: local noise %v for a sum of at least %d devices", ErrQuantizer, u.LocalNoise, pb.MinSurvivors)
	}
	return u, nil
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
	q, err := NewQuantizer(bits, top, bits)
	if err != nil {
		return nil, err
	}
	enc := make([]uint32, len(params))
	mask := RingMask(bits)
	for i, x := range params {
		enc[i] = uint32(int64(math.RoundToEven(float64(x)*q.Scale()))) & mask
	}
	t := c.EncodeUint(enc, bits, comp)
	t.Range = top
	return t, nil
}

// DecodeModel reads a model tensor, float32 or quantized, of want values.
func (c *Codec) DecodeModel(t *tacitpb.Tensor, want int, dst []float32) ([]float32, error) {
	if t.GetDtype() != tacitpb.DType_DTYPE_UINT {
		return c.Decode(t, want, dst)
	}
	q, err := NewQuantizer(int(min(t.Bits, 64)), t.Range, int(min(t.Bits, 64)))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadTensor, err)
	}
	enc, err := c.DecodeUint(t, want, q.Bits(), nil)
	if err != nil {
		return nil, err
	}
	return q.AppendDecodeSum(dst[:0], enc)
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
