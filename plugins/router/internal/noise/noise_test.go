package noise

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestZAndSimultaneous(t *testing.T) {
	for p, want := range map[float64]float64{0.975: 1.959964, 0.5: 0, 0.995: 2.575829} {
		if got := Z(p); math.Abs(got-want) > 1e-5 {
			t.Errorf("Z(%v) = %.6f, want %.6f", p, got, want)
		}
	}
	// One quantity: the ordinary 95% normal interval; ten: Bonferroni's
	// 1 − 0.05/10 two-sided, z = Φ⁻¹(0.9975) ≈ 2.807.
	if iv := Simultaneous(1, 0.5, 0.95, 1); math.Abs(iv.Low-(1-0.5*1.959964)) > 1e-5 {
		t.Errorf("Simultaneous(m=1) = %+v", iv)
	}
	if iv := Simultaneous(0, 1, 0.95, 10); math.Abs(iv.High-2.807034) > 1e-5 || iv.Low != -iv.High {
		t.Errorf("Simultaneous(m=10) = %+v, want ±2.807", iv)
	}
}

func TestPercentileAndMedian(t *testing.T) {
	x := make([]float64, 101)
	for i := range x {
		x[i] = float64(100 - i) // 0…100 reversed
	}
	if iv := Percentile(x, 0.9); math.Abs(iv.Low-5) > 1e-9 || math.Abs(iv.High-95) > 1e-9 {
		t.Errorf("Percentile = %+v, want [5, 95]", iv)
	}
	if m := Median(x); m != 50 {
		t.Errorf("Median = %v", m)
	}
	if !(Interval{Low: -1, High: 1}).Excludes(2) || (Interval{Low: -1, High: 1}).Excludes(0) {
		t.Error("Excludes")
	}
}

// TestResampleCoversTheTruth: replicates of a model that is right with
// probability 0.8 on each of 400 pairs. The bootstrap SD of one model's
// score matches the binomial sd √(p(1−p)/n) (eval-instance noise; the
// replicates here differ only by chance), the interval of the mean covers
// 0.8, and a routing compared with itself differs by exactly 0.
func TestResampleCoversTheTruth(t *testing.T) {
	const r, n = 5, 400
	rng := rand.New(rand.NewPCG(1, 1))
	rp := Replicates{R: r, N: n, Correct: make([]float32, r*n)}
	for i := range rp.Correct {
		if rng.Float64() < 0.8 {
			rp.Correct[i] = 1
		}
	}
	used := make([]float32, n)
	for i := range used {
		used[i] = 1
	}
	plan := NewPlan(2000, n, r, 3)
	d, err := plan.Resample(rp, used)
	if err != nil {
		t.Fatal(err)
	}
	single := SD(d.Single)
	want := math.Sqrt(0.8 * 0.2 / n)
	if single < 0.8*want || single > 1.5*want {
		t.Errorf("single-model sd %.4f, want ≈ %.4f", single, want)
	}
	if iv := Percentile(d.Mean, 0.95); iv.Excludes(0.8) || iv.Excludes(rp.Mean(used)) {
		t.Errorf("interval %+v excludes the truth 0.8 or the estimate %.4f", iv, rp.Mean(used))
	}
	same, _ := plan.Resample(rp, used)
	if iv := Percentile(Diff(d.Mean, same.Mean), 0.95); iv.Low != 0 || iv.High != 0 {
		t.Errorf("paired difference with itself %+v, want [0, 0]", iv)
	}
	if _, err := plan.Resample(Replicates{R: 2, N: n, Correct: rp.Correct[:2*n]}, used); err == nil {
		t.Error("replicate count unlike the plan's: want an error")
	}
}
