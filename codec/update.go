package codec

import (
	"fmt"
	"io"
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
	// Colluders is, with LocalNoise, the most of those survivors that may
	// collude with the coordinator and subtract their noise: the noise is
	// sized for the other MinSurvivors − Colluders.
	Colluders int
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
		return dst, fmt.Errorf("%w: %d values for an update of %d parameters, want %d", ErrBadEncoding, len(sum), d, u.EncodedLen(d))
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

// Check refuses a codec no device could follow: a bad quantizer, local
// noise that is negative, not finite or beyond 2^28 integer units, noise
// without the survivors it is sized for (or survivors or colluders without
// noise), or colluders that leave no honest survivor.
func (u UpdateCodec) Check() error {
	if _, err := u.Quantizer(); err != nil {
		return err
	}
	if !(u.LocalNoise >= 0 && u.LocalNoise < 1<<28) {
		return fmt.Errorf("%w: local noise %v", ErrQuantizer, u.LocalNoise)
	}
	if u.MinSurvivors < 0 || (u.LocalNoise > 0) != (u.MinSurvivors > 0) {
		return fmt.Errorf("%w: local noise %v for a sum of at least %d devices", ErrQuantizer, u.LocalNoise, u.MinSurvivors)
	}
	if u.Colluders < 0 || (u.Colluders > 0 && u.Colluders >= u.MinSurvivors) {
		return fmt.Errorf("%w: %d colluders among at least %d devices", ErrQuantizer, u.Colluders, u.MinSurvivors)
	}
	return nil
}
