// Package threshold places the imitation threshold: concepts sorted by
// image count, exact PELT on their scores, the threshold at the count of
// the first concept after the first change point (as MIMETIC²'s
// stats_from_similarity_data does), plus a bootstrap confidence interval
// that the reference does not compute.
package threshold

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"runtime"
	"sort"
	"sync"

	"github.com/shammie-ml/shammie/plugins/fit/internal/pelt"
)

// Point is one concept on the curve.
type Point struct {
	Count int64
	Score float64
}

// Segment is one constant piece of the fitted curve, over sorted concepts
// [Start, End).
type Segment struct {
	Start, End            int
	FirstCount, LastCount int64
	Mean                  float64
}

// Estimate is the change-point analysis of one curve.
type Estimate struct {
	// Sorted are the points by count ascending (ties in input order).
	Sorted []Point
	// Order[i] is the input index of Sorted[i].
	Order []int
	// ChangePoints are indices into Sorted where a new segment starts.
	ChangePoints []int
	// ChangeCounts are the counts at ChangePoints.
	ChangeCounts []int64
	Segments     []Segment
	// Found is false when PELT finds a single segment: no threshold.
	Found bool
	// Threshold is Sorted[ChangePoints[0]].Count when Found.
	Threshold int64
	// Cost and Penalised are PELT's objective values.
	Cost, Penalised float64
}

// Sort returns points sorted by count (stable) and the permutation.
func Sort(points []Point) ([]Point, []int) {
	order := make([]int, len(points))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return points[order[a]].Count < points[order[b]].Count })
	sorted := make([]Point, len(points))
	for i, o := range order {
		sorted[i] = points[o]
	}
	return sorted, order
}

// Find sorts the points and runs PELT with penalty pen.
func Find(points []Point, pen float64) (Estimate, error) {
	if len(points) == 0 {
		return Estimate{}, errors.New("no concepts")
	}
	sorted, order := Sort(points)
	e, err := findSorted(sorted, pen)
	e.Order = order
	return e, err
}

func findSorted(sorted []Point, pen float64) (Estimate, error) {
	y := make([]float64, len(sorted))
	for i, p := range sorted {
		y[i] = p.Score
	}
	r, err := pelt.Pelt(y, pen)
	if err != nil {
		return Estimate{}, err
	}
	e := Estimate{Sorted: sorted, ChangePoints: r.ChangePoints, Cost: r.Cost, Penalised: r.Penalised}
	for _, cp := range r.ChangePoints {
		e.ChangeCounts = append(e.ChangeCounts, sorted[cp].Count)
	}
	for _, s := range r.Segments() {
		m := 0.0
		for _, v := range y[s[0]:s[1]] {
			m += v
		}
		e.Segments = append(e.Segments, Segment{Start: s[0], End: s[1],
			FirstCount: sorted[s[0]].Count, LastCount: sorted[s[1]-1].Count, Mean: m / float64(s[1]-s[0])})
	}
	if len(r.ChangePoints) > 0 {
		e.Found = true
		e.Threshold = sorted[r.ChangePoints[0]].Count
	}
	return e, nil
}

// Interval is a bootstrap confidence interval of the threshold.
type Interval struct {
	Level      float64 // e.g. 0.95
	Lo, Hi     int64   // percentile bounds, both observed counts
	Median     int64
	B          int     // resamples drawn
	NoChange   int     // resamples in which PELT found no change point
	Thresholds []int64 // the thresholds of the resamples that had one, sorted
}

// Bootstrap resamples concepts with replacement B times and re-estimates
// the threshold on each resample. Resample b draws from its own PCG stream
// (seed, b), so the result does not depend on how work is split across
// goroutines. The bounds are the empirical (1-level)/2 and (1+level)/2
// quantiles (inverse of the empirical CDF, so each is an observed count) of
// the resamples that have a threshold.
//
// ctx cancels the resampling; progress, if set, is called after each
// resample with the number done (from several goroutines, serialised).
func Bootstrap(ctx context.Context, points []Point, pen float64, b int, seed uint64, level float64, progress func(done int)) (Interval, error) {
	if b < 1 {
		return Interval{}, fmt.Errorf("bootstrap needs at least one resample, got %d", b)
	}
	if !(level > 0 && level < 1) {
		return Interval{}, fmt.Errorf("confidence level must be in (0, 1), got %v", level)
	}
	n := len(points)
	if n == 0 {
		return Interval{}, errors.New("no concepts")
	}
	thr := make([]int64, b)
	found := make([]bool, b)
	errs := make([]error, b)
	var next, done int
	var mu sync.Mutex
	workers := min(runtime.GOMAXPROCS(0), b)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sample := make([]Point, n)
			for {
				mu.Lock()
				i := next
				next++
				mu.Unlock()
				if i >= b {
					return
				}
				if err := ctx.Err(); err != nil {
					errs[i] = err
					return
				}
				rng := rand.New(rand.NewPCG(seed, uint64(i)))
				for j := range sample {
					sample[j] = points[rng.IntN(n)]
				}
				sorted, _ := Sort(sample)
				e, err := findSorted(sorted, pen)
				thr[i], found[i], errs[i] = e.Threshold, e.Found, err
				if progress != nil {
					mu.Lock()
					done++
					progress(done)
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return Interval{}, err
	}
	if err := errors.Join(errs...); err != nil {
		return Interval{}, err
	}
	iv := Interval{Level: level, B: b}
	for i := range thr {
		if found[i] {
			iv.Thresholds = append(iv.Thresholds, thr[i])
		} else {
			iv.NoChange++
		}
	}
	if len(iv.Thresholds) == 0 {
		return iv, fmt.Errorf("no change point in any of %d bootstrap resamples: no interval", b)
	}
	sort.Slice(iv.Thresholds, func(i, j int) bool { return iv.Thresholds[i] < iv.Thresholds[j] })
	iv.Lo = quantile(iv.Thresholds, (1-level)/2)
	iv.Hi = quantile(iv.Thresholds, (1+level)/2)
	iv.Median = quantile(iv.Thresholds, 0.5)
	return iv, nil
}

// quantile is the inverse empirical CDF: the smallest x with F(x) >= q.
func quantile(sorted []int64, q float64) int64 {
	k := int(math.Ceil(q*float64(len(sorted)))) - 1
	k = max(0, min(len(sorted)-1, k))
	return sorted[k]
}
