//go:build amd64 && !purego

package ppm

import "golang.org/x/sys/cpu"

// haveVecPopcnt: the AVX-512 kernel needs VPOPCNTQ (AVX512_VPOPCNTDQ) on
// top of AVX-512F; x/sys/cpu also checks the OS saves the ZMM state.
var haveVecPopcnt = cpu.X86.HasAVX512F && cpu.X86.HasAVX512VPOPCNTDQ

// andPopcnt2x4AVX512 is andPopcnt2x4Go over n words in 8-word ZMM blocks,
// the n%8 tail by masked loads (count_amd64.s). n must be ≥ 1.
//
//go:noescape
func andPopcnt2x4AVX512(ma, mb, f0, f1, f2, f3 *uint64, n int, out *[8]uint64)

// andPopcnt2x4 is the counts kernel: AVX-512 when the CPU has it.
func andPopcnt2x4(ma, mb, f0, f1, f2, f3 []uint64, out *[8]uint64) {
	n := len(ma)
	if !haveVecPopcnt || n == 0 {
		andPopcnt2x4Go(ma, mb, f0, f1, f2, f3, out)
		return
	}
	// Bounds checks once here: the assembly reads n words of each.
	_, _, _, _, _ = mb[n-1], f0[n-1], f1[n-1], f2[n-1], f3[n-1]
	andPopcnt2x4AVX512(&ma[0], &mb[0], &f0[0], &f1[0], &f2[0], &f3[0], n, out)
}
