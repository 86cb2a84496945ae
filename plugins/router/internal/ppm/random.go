package ppm

import (
	"fmt"
	"time"

	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// RandomResult is what ScoreRandom found and where the time went (the
// split is only measured on the bitset path; the dense path runs as one
// graph).
type RandomResult struct {
	Best    float32
	BestIdx int
	// Masks, Counts, PPM: wall time drawing the random bitsets, counting
	// features by popcount, and evaluating the PPM graph.
	Masks, Counts, PPM time.Duration
}

// fracBits is the resolution of the random routing fractions on the
// bitset path: p is rounded to a multiple of 2^-fracBits.
const fracBits = 8

// ScoreRandom draws total random candidate routings (candidate k routes
// each instance to humans with probability fracs[k%len(fracs)]) and scores
// them in chunks of chunk, returning the best. It is the scale benchmark's
// core. On the dense path masks are drawn on the backend; on the bitset path
// on host goroutines, 64 instances per word: a Bernoulli(p) word is built
// from the binary digits of p (AND for a 0 digit, OR for a 1, from the
// least significant up), so p=1/4 costs 2 random words, not 64 draws.
func (s *Scorer) ScoreRandom(total, chunk int, fracs []float32, seed int64) (RandomResult, error) {
	res := RandomResult{Best: -1e30, BestIdx: -1}
	if chunk <= 0 || total <= 0 || len(fracs) == 0 {
		return res, fmt.Errorf("ppm scorer: total, chunk and fracs must be positive")
	}
	if s.path == PathBits {
		return s.scoreRandomBits(total, chunk, fracs, seed)
	}
	rng, err := RNGStateFromSeed(seed)
	if err != nil {
		return res, err
	}
	fr := make([]float32, chunk)
	for done := 0; done < total; done += chunk {
		for i := range fr {
			fr[i] = fracs[(done+i)%len(fracs)]
		}
		outs, err := s.random.Exec(rng, tensors.FromFlatDataAndDimensions(fr, chunk), s.b, s.l, s.q)
		if err != nil {
			return res, fmt.Errorf("ppm scorer: %w", err)
		}
		rng = outs[0]
		sc := tensors.MustCopyFlatData[float32](outs[1])
		for i, v := range sc {
			if done+i < total && v > res.Best {
				res.Best, res.BestIdx = v, done+i
			}
		}
	}
	return res, nil
}

func (s *Scorer) scoreRandomBits(total, chunk int, fracs []float32, seed int64) (RandomResult, error) {
	res := RandomResult{Best: -1e30, BestIdx: -1}
	digits := make([]uint32, len(fracs))
	for i, p := range fracs {
		digits[i] = uint32(min(max(p, 0), 1)*(1<<fracBits) + 0.5)
	}
	masks := NewMasks(chunk, s.n)
	counts := make([]float32, chunk*s.f)
	tail := uint(s.n % 64) // bits valid in the last word (0: all)
	for done := 0; done < total; done += chunk {
		k := min(chunk, total-done)
		t0 := time.Now()
		s.parallel(k, func(lo, hi int) {
			g := splitmix{uint64(seed)*0x9e3779b97f4a7c15 ^ uint64(done+lo)*0xbf58476d1ce4e5b9}
			for r := lo; r < hi; r++ {
				d := digits[(done+r)%len(digits)]
				row := masks.Row(r)
				for i := range row {
					row[i] = g.bernoulli(d)
				}
				if tail != 0 {
					row[len(row)-1] &= 1<<tail - 1
				}
			}
		})
		t1 := time.Now()
		s.Counts(Masks{K: k, W: s.w, Bits: masks.Bits[:k*s.w]}, counts)
		t2 := time.Now()
		sc, err := s.ScoreCounts(counts[:k*s.f])
		if err != nil {
			return res, err
		}
		res.Masks += t1.Sub(t0)
		res.Counts += t2.Sub(t1)
		res.PPM += time.Since(t2)
		for i, v := range sc {
			if v > res.Best {
				res.Best, res.BestIdx = v, done+i
			}
		}
	}
	return res, nil
}

// splitmix is SplitMix64: a tiny, fast generator for the benchmark's bits.
type splitmix struct{ x uint64 }

func (g *splitmix) next() uint64 {
	g.x += 0x9e3779b97f4a7c15
	z := g.x
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// bernoulli returns 64 independent bits each set with probability
// d/2^fracBits.
func (g *splitmix) bernoulli(d uint32) uint64 {
	if d == 0 {
		return 0
	}
	if d >= 1<<fracBits {
		return ^uint64(0)
	}
	var x uint64
	// From the least significant 1 digit up: x starts as 0, so the
	// trailing zeros would only AND into 0.
	lsb := 0
	for d>>lsb&1 == 0 {
		lsb++
	}
	for j := lsb; j < fracBits; j++ {
		if d>>j&1 == 1 {
			x |= g.next()
		} else {
			x &= g.next()
		}
	}
	return x
}
