package protocol

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
)

// BootstrapSamples is the reference's num_bootstrap.
const BootstrapSamples = 1000

// Interval is bootstrap_confidence_interval_accuracy's result plus the
// plain accuracy.
type Interval struct {
	Accuracy float64 `json:"accuracy"` // share correct on the items themselves
	Mean     float64 `json:"mean"`     // mean of the bootstrap accuracies (what the reference logs)
	Lower    float64 `json:"lower"`    // 2.5th percentile
	Upper    float64 `json:"upper"`    // 97.5th percentile
	Margin   float64 `json:"margin"`   // Mean − Lower, the reference's "±"
	Samples  int     `json:"samples"`
	N        int     `json:"n"`
}

// Bootstrap resamples the items with replacement samples times (n draws
// each), takes each resample's accuracy and returns their mean and the
// 2.5/97.5 percentiles with numpy's default (linear) interpolation.
//
// Deviation: the reference draws from numpy's global, unseeded generator
// (np.random.choice), so its interval changes from run to run; here the
// draws come from PCG seeded with seed, so a run is reproducible (the
// stream is not numpy's).
func Bootstrap(correct []bool, samples int, seed uint64) (Interval, error) {
	n := len(correct)
	if n == 0 {
		return Interval{}, fmt.Errorf("bootstrap of no items")
	}
	if samples <= 0 {
		return Interval{}, fmt.Errorf("bootstrap samples must be positive, got %d", samples)
	}
	hits := 0
	for _, c := range correct {
		if c {
			hits++
		}
	}
	r := rand.New(rand.NewPCG(seed, 0x626f6f74))
	accs := make([]float64, samples)
	sum := 0.0
	for i := range accs {
		k := 0
		for range n {
			if correct[r.IntN(n)] {
				k++
			}
		}
		accs[i] = float64(k) / float64(n)
		sum += accs[i]
	}
	slices.Sort(accs)
	iv := Interval{Accuracy: float64(hits) / float64(n), Mean: sum / float64(samples),
		Lower: Percentile(accs, 2.5), Upper: Percentile(accs, 97.5), Samples: samples, N: n}
	iv.Margin = iv.Mean - iv.Lower
	return iv, nil
}

// Percentile is np.percentile(sorted, q) with linear interpolation:
// position q/100·(n−1) between the neighbouring order statistics.
func Percentile(sorted []float64, q float64) float64 {
	if len(sorted) == 0 {
		return math.NaN()
	}
	pos := q / 100 * float64(len(sorted)-1)
	lo := int(math.Floor(pos))
	hi := min(lo+1, len(sorted)-1)
	f := pos - float64(lo)
	return sorted[lo] + f*(sorted[hi]-sorted[lo])
}
