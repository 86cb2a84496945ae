// Package noise estimates how much of a held-out reward-model score is
// noise. A score is the accuracy of a reward model on a finite set of
// held-out pairs, and the model is one draw of a training run: both vary.
// The bootstrap here resamples both — the eval instances (one multinomial
// resample shared by every routing, so that comparisons stay paired) and the
// reward-model replicates (seeds) of each routing — and turns the
// resampled scores into intervals.
package noise

import (
	"fmt"
	"math"
	"math/rand/v2"
	"sort"
)

// Replicates are R reward models' per-pair correctness on the N eval pairs
// (R × N, row-major, 1 = correct, 0 = wrong or unlabelled) for one routing.
type Replicates struct {
	R, N    int
	Correct []float32
}

// Accuracy of replicate r under eval weights w (nil = each pair once) over
// the labelled pairs (used).
func (rp Replicates) Accuracy(r int, w []float32, used []float32) float64 {
	row := rp.Correct[r*rp.N : (r+1)*rp.N]
	var num, den float64
	for i, c := range row {
		wi := float32(1)
		if w != nil {
			wi = w[i]
		}
		num += float64(wi * c)
		den += float64(wi * used[i])
	}
	if den == 0 {
		return 0
	}
	return num / den
}

// Mean is the mean over the replicates of their accuracy (the point
// estimate of a routing's score).
func (rp Replicates) Mean(used []float32) float64 {
	s := 0.0
	for r := range rp.R {
		s += rp.Accuracy(r, nil, used)
	}
	return s / float64(max(rp.R, 1))
}

// Plan is a set of bootstrap resamples of the eval instances and of the R
// replicates, shared by every routing resampled with it so that
// differences between routings are paired.
type Plan struct {
	B, N, R int
	Weight  [][]float32 // B × N multinomial counts of the eval instances
	Pick    [][]int     // B × R replicate indices drawn with replacement
}

// NewPlan draws b resamples of n eval instances and of r replicates.
func NewPlan(b, n, r int, seed uint64) Plan {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	p := Plan{B: b, N: n, R: r, Weight: make([][]float32, b), Pick: make([][]int, b)}
	for k := range p.Weight {
		w := make([]float32, n)
		for range n {
			w[rng.IntN(n)]++
		}
		p.Weight[k] = w
		pick := make([]int, r)
		for i := range pick {
			pick[i] = rng.IntN(r)
		}
		p.Pick[k] = pick
	}
	return p
}

// Draws are the bootstrap draws of one routing's score: Mean[b] is the mean
// over R resampled replicates on eval resample b (what the reported score
// would have been), Single[b] one resampled replicate's score (what a single
// reward model would have reported).
type Draws struct {
	Mean, Single []float64
}

// Resample draws the routing's score under every resample of the plan.
func (p Plan) Resample(rp Replicates, used []float32) (Draws, error) {
	if rp.N != p.N || rp.R != p.R || len(used) != p.N || len(rp.Correct) != rp.R*rp.N || rp.R < 1 {
		return Draws{}, fmt.Errorf("noise: %d replicates × %d pairs (%d values) against a plan of %d × %d", rp.R, rp.N, len(rp.Correct), p.R, p.N)
	}
	d := Draws{Mean: make([]float64, p.B), Single: make([]float64, p.B)}
	acc := make([]float64, rp.R)
	for b, w := range p.Weight {
		for r := range rp.R {
			acc[r] = rp.Accuracy(r, w, used)
		}
		s := 0.0
		for _, r := range p.Pick[b] {
			s += acc[r]
		}
		d.Mean[b] = s / float64(rp.R)
		d.Single[b] = acc[p.Pick[b][0]]
	}
	return d, nil
}

// Interval is a two-sided confidence interval.
type Interval struct {
	Low  float64 `json:"low"`
	High float64 `json:"high"`
}

// Excludes reports whether x lies outside the interval.
func (iv Interval) Excludes(x float64) bool { return x < iv.Low || x > iv.High }

// Percentile is the percentile interval of draws at level (e.g. 0.95).
func Percentile(draws []float64, level float64) Interval {
	s := append([]float64(nil), draws...)
	sort.Float64s(s)
	a := (1 - level) / 2
	return Interval{Low: quantile(s, a), High: quantile(s, 1-a)}
}

// Quantile is the q-quantile of x (linear interpolation, type 7).
func Quantile(x []float64, q float64) float64 {
	s := append([]float64(nil), x...)
	sort.Float64s(s)
	return quantile(s, q)
}

// quantile of sorted s by linear interpolation (type 7).
func quantile(s []float64, q float64) float64 {
	if len(s) == 0 {
		return math.NaN()
	}
	h := q * float64(len(s)-1)
	lo := int(math.Floor(h))
	hi := min(lo+1, len(s)-1)
	return s[lo] + (h-float64(lo))*(s[hi]-s[lo])
}

// Diff returns a's draws minus b's (paired: same plan).
func Diff(a, b []float64) []float64 {
	out := make([]float64, len(a))
	for i := range a {
		out[i] = a[i] - b[i]
	}
	return out
}

// SD is the sample standard deviation.
func SD(x []float64) float64 {
	if len(x) < 2 {
		return 0
	}
	m := 0.0
	for _, v := range x {
		m += v
	}
	m /= float64(len(x))
	s := 0.0
	for _, v := range x {
		s += (v - m) * (v - m)
	}
	return math.Sqrt(s / float64(len(x)-1))
}

// Z is the standard normal quantile Φ⁻¹(p).
func Z(p float64) float64 { return math.Sqrt2 * math.Erfinv(2*p-1) }

// Simultaneous is the normal interval est ± z·se at level for one of m
// quantities judged together (Bonferroni: each at 1 − (1−level)/m), so that
// "some feature's gain excludes zero" keeps the stated error rate however
// many features are looked at.
func Simultaneous(est, se, level float64, m int) Interval {
	z := Z(1 - (1-level)/(2*float64(max(m, 1))))
	return Interval{Low: est - z*se, High: est + z*se}
}

// Median of x (NaN when empty).
func Median(x []float64) float64 { return Quantile(x, 0.5) }
