//go:build !purego

package secagg

import (
	"slices"
	"testing"

	"golang.org/x/sys/cpu"
)

// TestVectorKernelsMatchPortable checks each AVX2 kernel against the
// portable one of its width, on random slots and words, at every
// length around the block of eight and at a whole chunk.
func TestVectorKernelsMatchPortable(t *testing.T) {
	if !cpu.X86.HasAVX2 {
		t.Skip("no AVX2 on this CPU")
	}
	rng := seeded(29)
	lengths := []int{maskChunk - 1, maskChunk}
	for d := range 41 {
		lengths = append(lengths, d)
	}
	for w := 1; w <= 4; w++ {
		stride := w*maskChunk + maskPad
		for _, d := range lengths {
			ks := make([]byte, (maskGroup-1)*stride+w*d+maskPad)
			rng.Read(ks)
			want := make([]uint32, d)
			for i := range want {
				want[i] = uint32(rng.Uint64())
			}
			got := slices.Clone(want)
			portableKernels[w-1](want, ks)
			vectorKernels[w-1](got, ks)
			// The portable kernels' words carry the bytes above an
			// element; only its low 8w bits are defined.
			low := uint32(1<<(8*w) - 1)
			for i := range got {
				if got[i]&low != want[i]&low {
					t.Fatalf("w = %d, d = %d: element %d is %#x, want %#x (low %d bits)", w, d, i, got[i]&low, want[i]&low, 8*w)
				}
			}
		}
	}
}
