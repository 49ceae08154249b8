package codec

import (
	"bytes"
	"errors"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestPackByHand(t *testing.T) {
	for _, c := range []struct {
		v    []uint32
		bits int
		want []byte
	}{
		{[]uint32{1, 0, 1, 1, 0, 0, 0, 0, 1}, 1, []byte{0b00001101, 0b1}},
		{[]uint32{5, 2, 7}, 3, []byte{0b11_010_101, 0b1}},
		{[]uint32{0xabc, 0x123}, 12, []byte{0xbc, 0x3a, 0x12}},
		{[]uint32{0x12345678, 0xffffffff}, 32, []byte{0x78, 0x56, 0x34, 0x12, 0xff, 0xff, 0xff, 0xff}},
		{[]uint32{0x1ff, 3}, 8, []byte{0xff, 3}}, // written modulo 2^8
		{nil, 7, nil},
	} {
		got := AppendPacked([]byte{0xee}, c.v, c.bits)
		if !bytes.Equal(got, append([]byte{0xee}, c.want...)) {
			t.Errorf("AppendPacked(%x, %d) = %x, want ee%x", c.v, c.bits, got, c.want)
		}
	}
}

// Every width, counts that end anywhere in a byte, values at the edges.
func TestPackRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewPCG(19, 20))
	for bits := 1; bits <= 32; bits++ {
		mask := uint32(uint64(1)<<bits - 1)
		for _, n := range []int{0, 1, 2, 3, 7, 9, 31, 33, 1001} {
			v := make([]uint32, n)
			for i := range v {
				switch i % 4 {
				case 0:
					v[i] = mask
				case 1:
					v[i] = 0
				default:
					v[i] = rng.Uint32() & mask
				}
			}
			b := AppendPacked(nil, v, bits)
			if len(b) != PackedLen(n, bits) || len(b) != (n*bits+7)/8 {
				t.Fatalf("bits %d, n %d: %d bytes", bits, n, len(b))
			}
			got := make([]uint32, n+1)
			got[n] = 77
			if err := UnpackInto(got, b, n, bits); err != nil {
				t.Fatalf("bits %d, n %d: %v", bits, n, err)
			}
			if !slices.Equal(got[:n], v) || got[n] != 77 {
				t.Fatalf("bits %d, n %d: round trip differs", bits, n)
			}
		}
	}
}

func TestUnpackRefuses(t *testing.T) {
	good := AppendPacked(nil, []uint32{5, 2, 7}, 3) // 9 bits: 7 of padding
	dst := make([]uint32, 3)
	for _, c := range []struct {
		name    string
		b       []byte
		n, bits int
	}{
		{"short", good[:1], 3, 3},
		{"long", append(slices.Clone(good), 0), 3, 3},
		{"padding", []byte{good[0], good[1] | 0x80}, 3, 3},
		{"lowest padding bit", []byte{good[0], good[1] | 0x02}, 3, 3},
		{"bits 0", good, 3, 0},
		{"bits 33", good, 3, 33},
		{"negative n", good, -1, 3},
		{"n·bits overflows", good, math.MaxInt / 2, 8},
		{"empty, n > 0", nil, 1, 1},
	} {
		dst[0] = 99
		if err := UnpackInto(dst, c.b, c.n, c.bits); !errors.Is(err, ErrBadEncoding) {
			t.Errorf("%s: %v, want ErrBadEncoding", c.name, err)
		}
		if dst[0] != 99 {
			t.Errorf("%s: dst written", c.name)
		}
	}
	if err := UnpackInto(make([]uint32, 2), good, 3, 3); err == nil {
		t.Error("3 values into 2 accepted")
	}
	if err := UnpackInto(nil, nil, 0, 5); err != nil {
		t.Errorf("no values: %v", err)
	}
}

func TestAppendPackedPanicsOnBits(t *testing.T) {
	for _, bits := range []int{0, 33, -1} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("bits %d: no panic", bits)
				}
			}()
			AppendPacked(nil, []uint32{1}, bits)
		}()
	}
}

// FuzzUnpack: no input panics, and what unpacks packs back to the same
// bytes: the encoding is canonical, so a vector has exactly one.
func FuzzUnpack(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte, n uint16, bits uint8) {
		dst := make([]uint32, n)
		if err := UnpackInto(dst, b, int(n), int(bits)); err != nil {
			return
		}
		for i, v := range dst {
			if bits < 32 && v>>bits != 0 {
				t.Fatalf("value %d is %d, over %d bits", i, v, bits)
			}
		}
		if again := AppendPacked(nil, dst, int(bits)); !bytes.Equal(again, b) {
			t.Fatalf("repacked to %x, was %x", again, b)
		}
	})
}

func BenchmarkPack(b *testing.B) {
	const d, bits = 1 << 19, 15
	rng := rand.New(rand.NewPCG(21, 22))
	v := make([]uint32, d)
	for i := range v {
		v[i] = rng.Uint32() & (1<<bits - 1)
	}
	buf := make([]byte, 0, PackedLen(d, bits))
	b.Run("pack", func(b *testing.B) {
		b.SetBytes(4 * d)
		for b.Loop() {
			buf = AppendPacked(buf[:0], v, bits)
		}
	})
	b.Run("unpack", func(b *testing.B) {
		b.SetBytes(4 * d)
		for b.Loop() {
			if err := UnpackInto(v, buf, d, bits); err != nil {
				b.Fatal(err)
			}
		}
	})
}
