package colors

import "math/bits"

// PyRandom is CPython's random.Random (MT19937) for integer seeds, enough
// for random.seed(n), getrandbits(k ≤ 32) and random.choice: the Colors
// task's distractor is drawn with it, so the prompts match the paper's.
type PyRandom struct {
	mt  [624]uint32
	idx int
}

// NewPyRandom is random.Random(seed) for seed ≥ 0: CPython seeds MT19937
// with init_by_array over the seed's 32-bit words, least significant first.
func NewPyRandom(seed uint64) *PyRandom {
	key := []uint32{uint32(seed)}
	if hi := uint32(seed >> 32); hi != 0 {
		key = append(key, hi)
	}
	r := &PyRandom{}
	r.initGenrand(19650218)
	i, j := 1, 0
	k := max(624, len(key))
	for ; k > 0; k-- {
		r.mt[i] = (r.mt[i] ^ ((r.mt[i-1] ^ (r.mt[i-1] >> 30)) * 1664525)) + key[j] + uint32(j)
		i++
		j++
		if i >= 624 {
			r.mt[0] = r.mt[623]
			i = 1
		}
		if j >= len(key) {
			j = 0
		}
	}
	for k = 623; k > 0; k-- {
		r.mt[i] = (r.mt[i] ^ ((r.mt[i-1] ^ (r.mt[i-1] >> 30)) * 1566083941)) - uint32(i)
		i++
		if i >= 624 {
			r.mt[0] = r.mt[623]
			i = 1
		}
	}
	r.mt[0] = 0x80000000
	return r
}

func (r *PyRandom) initGenrand(s uint32) {
	r.mt[0] = s
	for i := 1; i < 624; i++ {
		r.mt[i] = 1812433253*(r.mt[i-1]^(r.mt[i-1]>>30)) + uint32(i)
	}
	r.idx = 624
}

// Uint32 is genrand_uint32.
func (r *PyRandom) Uint32() uint32 {
	if r.idx >= 624 {
		for i := range 624 {
			y := (r.mt[i] & 0x80000000) | (r.mt[(i+1)%624] & 0x7fffffff)
			v := r.mt[(i+397)%624] ^ (y >> 1)
			if y&1 != 0 {
				v ^= 0x9908b0df
			}
			r.mt[i] = v
		}
		r.idx = 0
	}
	y := r.mt[r.idx]
	r.idx++
	y ^= y >> 11
	y ^= (y << 7) & 0x9d2c5680
	y ^= (y << 15) & 0xefc60000
	y ^= y >> 18
	return y
}

// GetRandBits is random.getrandbits(k) for 1 ≤ k ≤ 32.
func (r *PyRandom) GetRandBits(k int) uint32 { return r.Uint32() >> (32 - k) }

// RandBelow is random._randbelow(n) (the getrandbits rejection sampler).
func (r *PyRandom) RandBelow(n int) int {
	k := bits.Len(uint(n))
	for {
		if v := int(r.GetRandBits(k)); v < n {
			return v
		}
	}
}

// Choice is random.choice's index into a sequence of length n.
func (r *PyRandom) Choice(n int) int { return r.RandBelow(n) }

// Shuffle is random.shuffle on a sequence of length n: it returns the
// permutation, out[i] = the index of the element that ends at position i.
func (r *PyRandom) Shuffle(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	for i := n - 1; i > 0; i-- {
		j := r.RandBelow(i + 1)
		out[i], out[j] = out[j], out[i]
	}
	return out
}
