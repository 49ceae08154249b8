package proto

import (
	"fmt"
	"io"

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
}

// EncodedLen is the number of values an update of d parameters encodes to:
// the rotation pads to a power of two.
func (u UpdateCodec) EncodedLen(d int) int {
	if u.Rotate {
		return PaddedLen(d)
	}
	return d
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
	rot, err := NewRotation(u.RotationSeed, d)
	if err != nil {
		return dst, err
	}
	out, err := rot.Inverse(rotated, rotated) // in place: it needs the padded length
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
	pb := &tacitpb.UpdateCodec{Bits: uint32(u.Bits), Range: u.Range, ModBits: uint32(u.ModBits), LocalNoise: u.LocalNoise}
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
	u := &UpdateCodec{Bits: int(min(pb.Bits, 64)), Range: pb.Range, ModBits: int(min(pb.ModBits, 64)), LocalNoise: pb.LocalNoise}
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
	return u, nil
}
