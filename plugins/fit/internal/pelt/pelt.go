// Package pelt finds change points in a 1-D signal by exact penalised
// segmentation with the l2 (squared-error) cost, reproducing ruptures'
// `Pelt(model="l2", min_size=1, jump=1).fit(y).predict(pen)`.
//
// The objective is the one ruptures minimises: the sum over segments of the
// segment's sum of squared deviations from its mean (ruptures' CostL2 is
// `var * length`, i.e. exactly that), plus pen for every segment. With
// min_size 1 and jump 1 every index is a candidate change point. Ties are
// broken as ruptures breaks them: among equally good last change points the
// smallest one wins (Python's min() keeps the first of the admissible list,
// which is kept in increasing order).
package pelt

import (
	"errors"
	"fmt"
	"math"
)

// Result is an optimal segmentation.
type Result struct {
	// Breakpoints are the segment ends, as ruptures' predict returns them:
	// strictly increasing, the last one is len(y).
	Breakpoints []int
	// ChangePoints are Breakpoints without the trailing len(y): the index of
	// the first sample of every segment but the first.
	ChangePoints []int
	// Cost is the sum of the segments' squared-error costs, without penalty.
	Cost float64
	// Penalised is Cost + pen × number of segments: the value minimised
	// (ruptures' sum of the partition's values).
	Penalised float64
}

// Segments returns [start, end) pairs of the segmentation.
func (r Result) Segments() [][2]int {
	out := make([][2]int, len(r.Breakpoints))
	start := 0
	for i, end := range r.Breakpoints {
		out[i] = [2]int{start, end}
		start = end
	}
	return out
}

// Signal holds prefix sums of a signal so that the l2 cost of any segment is
// O(1). The signal is centred on its mean first: prefix sums of squares lose
// precision when the values sit far from zero, and the l2 cost does not
// change under a shift.
type Signal struct {
	n  int
	s  []float64 // s[i] = sum of y[0:i] (centred)
	s2 []float64 // s2[i] = sum of y[0:i]^2 (centred)
}

// NewSignal validates y (non-empty, finite) and precomputes its prefix sums.
func NewSignal(y []float64) (*Signal, error) {
	if len(y) == 0 {
		return nil, errors.New("pelt: empty signal")
	}
	mean := 0.0
	for i, v := range y {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("pelt: value %d is %v; the signal must be finite", i, v)
		}
		mean += v
	}
	mean /= float64(len(y))
	sig := &Signal{n: len(y), s: make([]float64, len(y)+1), s2: make([]float64, len(y)+1)}
	for i, v := range y {
		c := v - mean
		sig.s[i+1] = sig.s[i] + c
		sig.s2[i+1] = sig.s2[i] + c*c
	}
	return sig, nil
}

// Len is the number of samples.
func (g *Signal) Len() int { return g.n }

// Cost is the sum of squared deviations of y[start:end] from its mean.
// Rounding can make it a hair negative for constant segments; it is clamped
// at zero because a squared error cannot be negative.
func (g *Signal) Cost(start, end int) float64 {
	d := g.s[end] - g.s[start]
	c := g.s2[end] - g.s2[start] - d*d/float64(end-start)
	if c < 0 {
		return 0
	}
	return c
}

// Pelt returns the exact optimal segmentation of y for penalty pen (> 0).
func Pelt(y []float64, pen float64) (Result, error) {
	sig, err := NewSignal(y)
	if err != nil {
		return Result{}, err
	}
	return sig.Pelt(pen)
}

// blockSize is how many candidates share one lower bound in Pelt.
const blockSize = 128

// candBlock is a run of admissible candidates (increasing t) with
// minF = min over its t of F[t] + C(t, b), b its last t: the part of the
// lower bound that does not depend on s.
type candBlock struct {
	t     []int32
	minF  float64
	crit  []float64 // criteria of the last evaluation, valid when evaluated
	evald bool
}

// Pelt runs the pruned search. F[t] is the optimal penalised cost of y[0:t]
// (F[0] = 0) and last[t] the start of its last segment.
//
// Pruning is ruptures' rule: t stays admissible at s only if
// F[t] + C(t,s) <= F[s] (ruptures compares F[t]+C(t,s)+pen with F[s]+pen).
// Because the l2 cost satisfies C(t,s)+C(s,u) <= C(t,u), a t that fails it
// can never be optimal later, so the search is exact.
//
// That rule alone leaves PELT quadratic on long stretches without a change
// (nothing is pruned there), which is the usual shape of imitation scores.
// So candidates are also grouped in blocks of consecutive t with a lower
// bound valid for all of them: for t <= b (b the block's last t),
// C(t,s) >= C(t,b) + C(b,s), hence
// F[t]+C(t,s)+pen >= min_t(F[t]+C(t,b)) + C(b,s) + pen; the gap is the gain
// of splitting [t,s) at b, small wherever the signal does not change. A block
// whose bound cannot beat the best criterion found so far is not evaluated,
// and a block whose bound exceeds F[s]+pen is pruned whole. Candidates that
// are kept without being evaluated are a superset of PELT's admissible set,
// which changes nothing: extra candidates are never optimal. The bound is
// lowered by a relative slack so rounding cannot skip a candidate whose
// computed criterion would tie; evaluated criteria use exactly the
// arithmetic of OptimalPartition, and ties go to the smallest t.
func (g *Signal) Pelt(pen float64) (Result, error) {
	if !(pen > 0) || math.IsInf(pen, 0) {
		return Result{}, fmt.Errorf("pelt: penalty must be a positive finite number, got %v", pen)
	}
	n := g.n
	F := make([]float64, n+1)
	last := make([]int32, n+1)
	var blocks []*candBlock
	var free []*candBlock // recycled blocks
	newBlock := func() *candBlock {
		if k := len(free); k > 0 {
			b := free[k-1]
			free = free[:k-1]
			b.t, b.crit, b.evald = b.t[:0], b.crit[:0], false
			return b
		}
		return &candBlock{t: make([]int32, 0, blockSize), crit: make([]float64, 0, blockSize)}
	}
	// refresh recomputes a block's minF after its members changed.
	refresh := func(b *candBlock) {
		bt := int(b.t[len(b.t)-1])
		m := math.Inf(1)
		for _, tt := range b.t[:len(b.t)-1] {
			m = math.Min(m, F[tt]+g.Cost(int(tt), bt))
		}
		m = math.Min(m, F[bt]) // C(b,b) = 0; Cost would divide by zero
		b.minF = m
	}
	lbs := make([]float64, 0, 64)
	for s := 1; s <= n; s++ {
		// ruptures adds t = s-1 (min_size 1, jump 1) before evaluating s.
		t := int32(s - 1)
		if k := len(blocks); k == 0 || len(blocks[k-1].t) >= blockSize {
			blocks = append(blocks, newBlock())
			blocks[len(blocks)-1].minF = math.Inf(1)
		}
		lb := blocks[len(blocks)-1]
		lb.t = append(lb.t, t)
		refresh(lb)

		// Seed the search with the previous optimum's last change point,
		// which is usually optimal again, so that most blocks are skipped.
		best, bestT := math.Inf(1), int32(-1)
		if s > 1 {
			c := last[s-1]
			best, bestT = F[c]+g.Cost(int(c), s)+pen, c
		}
		lbs = lbs[:0]
		for _, b := range blocks {
			bt := int(b.t[len(b.t)-1])
			bound := b.minF + g.Cost(bt, s) + pen
			bound -= 1e-12 * (math.Abs(bound) + 1)
			lbs = append(lbs, bound)
			b.evald = false
			// Skip when nothing in the block can be strictly better, or
			// equal with a smaller t than the current best.
			if bound > best || (bound == best && int32(b.t[0]) > bestT) {
				continue
			}
			b.evald = true
			b.crit = b.crit[:len(b.t)]
			for i, tt := range b.t {
				v := F[tt] + g.Cost(int(tt), s) + pen
				b.crit[i] = v
				if v < best || (v == best && tt < bestT) {
					best, bestT = v, tt
				}
			}
		}
		F[s] = best
		last[s] = bestT

		// Prune, then merge neighbouring blocks that became small.
		limit := best + pen
		kept := blocks[:0]
		for i, b := range blocks {
			if lbs[i] > limit {
				free = append(free, b)
				continue
			}
			if b.evald {
				k := 0
				for j, tt := range b.t {
					if b.crit[j] <= limit {
						b.t[k] = tt
						k++
					}
				}
				if k == 0 {
					free = append(free, b)
					continue
				}
				if k < len(b.t) {
					b.t = b.t[:k]
					refresh(b)
				}
			}
			if m := len(kept); m > 0 && len(kept[m-1].t)+len(b.t) <= blockSize {
				p := kept[m-1]
				p.t = append(p.t, b.t...)
				refresh(p)
				free = append(free, b)
				continue
			}
			kept = append(kept, b)
		}
		blocks = kept
	}
	return g.backtrack(F, last), nil
}

// OptimalPartition is the O(n²) dynamic programme without pruning, with the
// same cost, association order and tie-breaking as Pelt. It exists to check
// Pelt: both must return the same segmentation and cost.
func (g *Signal) OptimalPartition(pen float64) (Result, error) {
	if !(pen > 0) || math.IsInf(pen, 0) {
		return Result{}, fmt.Errorf("pelt: penalty must be a positive finite number, got %v", pen)
	}
	n := g.n
	F := make([]float64, n+1)
	last := make([]int32, n+1)
	for s := 1; s <= n; s++ {
		best := math.Inf(1)
		bestT := int32(-1)
		for t := 0; t < s; t++ {
			v := F[t] + g.Cost(t, s) + pen
			if v < best {
				best, bestT = v, int32(t)
			}
		}
		F[s], last[s] = best, bestT
	}
	return g.backtrack(F, last), nil
}

func (g *Signal) backtrack(F []float64, last []int32) Result {
	var bk []int
	for s := g.n; s > 0; s = int(last[s]) {
		bk = append(bk, s)
	}
	for i, j := 0, len(bk)-1; i < j; i, j = i+1, j-1 {
		bk[i], bk[j] = bk[j], bk[i]
	}
	r := Result{Breakpoints: bk, ChangePoints: append([]int(nil), bk[:len(bk)-1]...), Penalised: F[g.n]}
	start := 0
	for _, end := range bk {
		r.Cost += g.Cost(start, end)
		start = end
	}
	return r
}
