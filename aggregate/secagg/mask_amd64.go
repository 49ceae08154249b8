//go:build !purego

package secagg

import "golang.org/x/sys/cpu"

// On amd64 with AVX2 the group kernels add eight elements an instruction
// (mask_amd64.s); without it they are the portable ones. Masking is most
// of a client's work in a round, and the portable kernels cost about a
// third of the keystream's time on top of it at m > 24.
func init() {
	if !cpu.X86.HasAVX2 {
		return
	}
	groupKernels = vectorKernels
}

// vectorKernels are the AVX2 kernels, indexed as groupKernels.
var vectorKernels = [4]func(dst []uint32, ks []byte){
	withTail(addGroup1AVX2, 1), withTail(addGroup2AVX2, 2), withTail(addGroup3AVX2, 3), withTail(addGroup4AVX2, 4),
}

// withTail runs an AVX2 kernel on the whole blocks of eight elements whose
// loads stay inside ks (a block's loads read up to 8 bytes past its last
// element in the fourth slot) and the portable tail on the rest.
func withTail(kernel func(dst []uint32, ks []byte), w int) func(dst []uint32, ks []byte) {
	stride := w*maskChunk + maskPad
	return func(dst []uint32, ks []byte) {
		n := len(dst) &^ 7
		for n > 0 && (maskGroup-1)*stride+w*n+8 > len(ks) {
			n -= 8
		}
		kernel(dst[:n], ks)
		addGroupTail(dst[n:], ks[w*n:], w, stride)
	}
}

//go:noescape
func addGroup1AVX2(dst []uint32, ks []byte)

//go:noescape
func addGroup2AVX2(dst []uint32, ks []byte)

//go:noescape
func addGroup3AVX2(dst []uint32, ks []byte)

//go:noescape
func addGroup4AVX2(dst []uint32, ks []byte)
