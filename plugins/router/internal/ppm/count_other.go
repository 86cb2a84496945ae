//go:build !amd64 || purego

package ppm

// haveVecPopcnt is false off amd64 (or with the purego tag): the counts
// use the pure-Go kernel.
const haveVecPopcnt = false

func andPopcnt2x4(ma, mb, f0, f1, f2, f3 []uint64, out *[8]uint64) {
	andPopcnt2x4Go(ma, mb, f0, f1, f2, f3, out)
}
