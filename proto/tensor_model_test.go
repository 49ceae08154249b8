package proto

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	gproto "google.golang.org/protobuf/proto"

	"github.com/tacitfl/tacit/codec"
	"github.com/tacitfl/tacit/proto/tacitpb"
)

// TestModelQuantization: a quantized model comes back within half a level
// of every value, the largest exactly, and compresses to about b/32 of its
// float32 size; hostile model tensors are refused.
func TestModelQuantization(t *testing.T) {
	c, _ := NewCodec()
	r := rand.New(rand.NewPCG(1, 2))
	params := make([]float32, 10000)
	for i := range params {
		params[i] = float32(r.NormFloat64() * 0.3)
	}
	params[17] = -2.5
	for _, bits := range []int{8, 12, 16} {
		tn, err := c.EncodeModel(params, bits, tacitpb.Compression_COMPRESSION_ZSTD)
		if err != nil {
			t.Fatal(err)
		}
		got, err := c.DecodeModel(tn, len(params), nil)
		if err != nil {
			t.Fatal(err)
		}
		half := 2.5 / float64(int(1)<<(bits-1)-1) / 2
		for i, x := range params {
			if d := math.Abs(float64(got[i] - x)); d > half*(1+1e-6) {
				t.Fatalf("%d bits: value %d is %v, was %v (half a level is %v)", bits, i, got[i], x, half)
			}
		}
		if got[17] != -2.5 {
			t.Fatalf("%d bits: the extreme value became %v", bits, got[17])
		}
		if size := len(tn.Data); size > len(params)*bits/8+64 {
			t.Fatalf("%d bits: %d bytes", bits, size)
		}
	}
	good, _ := c.EncodeModel(params, 8, tacitpb.Compression_COMPRESSION_NONE)
	for name, edit := range map[string]func(*tacitpb.Tensor){
		"no range":       func(t *tacitpb.Tensor) { t.Range = 0 },
		"infinite range": func(t *tacitpb.Tensor) { t.Range = math.Inf(1) },
		"float64 range":  func(t *tacitpb.Tensor) { t.Range = math.MaxFloat64 }, // finite, but not in float32
		"1 bit":          func(t *tacitpb.Tensor) { t.Bits = 1 },
		"wrong length":   func(t *tacitpb.Tensor) { t.Length++ },
		"short data":     func(t *tacitpb.Tensor) { t.Data = t.Data[:10] },
	} {
		bad := gproto.Clone(good).(*tacitpb.Tensor)
		edit(bad)
		if _, err := c.DecodeModel(bad, len(params), nil); !errors.Is(err, ErrBadTensor) && !errors.Is(err, codec.ErrQuantizer) {
			t.Errorf("%s: %v", name, err)
		}
	}
}
