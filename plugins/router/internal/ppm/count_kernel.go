package ppm

import "math/bits"

// andPopcnt2x4Go is the portable form of the counts kernel and the
// reference the assembly one is tested against: out[i] =
// popcount(ma AND f_i) and out[4+i] = popcount(mb AND f_i) over the first
// len(ma) words, for the four feature rows f0..f3.
func andPopcnt2x4Go(ma, mb, f0, f1, f2, f3 []uint64, out *[8]uint64) {
	n := len(ma)
	mb, f0, f1, f2, f3 = mb[:n], f0[:n], f1[:n], f2[:n], f3[:n]
	var a0, a1, a2, a3, b0, b1, b2, b3 int
	for i, x := range ma {
		y := mb[i]
		g0, g1, g2, g3 := f0[i], f1[i], f2[i], f3[i]
		a0 += bits.OnesCount64(x & g0)
		a1 += bits.OnesCount64(x & g1)
		a2 += bits.OnesCount64(x & g2)
		a3 += bits.OnesCount64(x & g3)
		b0 += bits.OnesCount64(y & g0)
		b1 += bits.OnesCount64(y & g1)
		b2 += bits.OnesCount64(y & g2)
		b3 += bits.OnesCount64(y & g3)
	}
	*out = [8]uint64{uint64(a0), uint64(a1), uint64(a2), uint64(a3), uint64(b0), uint64(b1), uint64(b2), uint64(b3)}
}

// countPair counts two candidates at once through andPopcnt2x4 (the AVX-512
// kernel where the CPU has one): each feature row loaded feeds both
// candidates. Features go four at a time, a short last group padded by
// repeating its first feature (whose duplicate counts are discarded), so
// every call has the same shape. mb may be ma (ob then nil) for a single
// candidate.
func (s *Scorer) countPair(ma, mb []uint64, oa, ob []float32) {
	w := s.w
	ma, mb = ma[:w], mb[:w]
	clear(oa)
	clear(ob)
	row := func(j int) []uint64 { return s.featBits[j*w : (j+1)*w] }
	var acc [8]uint64
	for p := s.present; len(p) > 0; {
		g := [4]int{p[0], p[0], p[0], p[0]}
		n := copy(g[:], p)
		andPopcnt2x4(ma, mb, row(g[0]), row(g[1]), row(g[2]), row(g[3]), &acc)
		for i, j := range g[:n] {
			oa[j] = float32(acc[i])
			if ob != nil {
				ob[j] = float32(acc[4+i])
			}
		}
		p = p[n:]
	}
}
