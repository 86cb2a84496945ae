package pelt

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestPeltMatchesOptimalPartition is the check the issue asks for: on random
// signals of many shapes, the pruned search must return exactly the
// segmentation and the cost of the unpruned O(n²) programme.
func TestPeltMatchesOptimalPartition(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	kinds := []struct {
		name string
		gen  func(n int) []float64
	}{
		{"noise", func(n int) []float64 {
			y := make([]float64, n)
			for i := range y {
				y[i] = rng.NormFloat64()
			}
			return y
		}},
		{"steps", func(n int) []float64 {
			y := make([]float64, n)
			level := 0.0
			for i := range y {
				if rng.IntN(15) == 0 {
					level = rng.NormFloat64() * 3
				}
				y[i] = level + 0.3*rng.NormFloat64()
			}
			return y
		}},
		{"trend", func(n int) []float64 { // slow drift: few change points, many near-optimal candidates
			y := make([]float64, n)
			for i := range y {
				y[i] = 0.5*float64(i)/float64(n) + 0.05*rng.NormFloat64()
			}
			return y
		}},
		{"scores", func(n int) []float64 { // imitation-score-like: small noise, one onset
			y := make([]float64, n)
			on := rng.IntN(n)
			for i := range y {
				y[i] = 0.2 + 0.03*rng.NormFloat64()
				if i >= on {
					y[i] += 0.4
				}
			}
			return y
		}},
		{"ties", func(n int) []float64 { // repeated values make exact ties likely
			y := make([]float64, n)
			for i := range y {
				y[i] = float64(rng.IntN(3))
			}
			return y
		}},
	}
	for _, k := range kinds {
		for trial := 0; trial < 48; trial++ {
			n := 1 + rng.IntN(200)
			if trial%8 == 7 { // long enough for many candidate blocks, block pruning and merging
				n = 500 + rng.IntN(2500)
			}
			pen := []float64{0.9, 0.05, 2, 10 * rng.Float64()}[trial%4] + 1e-9
			y := k.gen(n)
			sig, err := NewSignal(y)
			if err != nil {
				t.Fatal(err)
			}
			got, err := sig.Pelt(pen)
			if err != nil {
				t.Fatal(err)
			}
			want, err := sig.OptimalPartition(pen)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Fatalf("%s trial %d (n=%d pen=%v): PELT differs from optimal partitioning (-OP +PELT):\n%s", k.name, trial, n, pen, diff)
			}
		}
	}
}

// TestOptimalPartitionIsOptimal checks the reference itself against brute
// force over every segmentation of short signals, with costs computed
// directly from the definition (no prefix sums).
func TestOptimalPartitionIsOptimal(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	for trial := 0; trial < 200; trial++ {
		n := 1 + rng.IntN(11)
		y := make([]float64, n)
		for i := range y {
			y[i] = rng.NormFloat64()
		}
		pen := 0.1 + rng.Float64()
		best := math.Inf(1)
		// Bit i of mask set: a change point before sample i+1.
		for mask := 0; mask < 1<<(n-1); mask++ {
			total, start := 0.0, 0
			for i := 1; i <= n; i++ {
				if i == n || mask&(1<<(i-1)) != 0 {
					total += directCost(y[start:i]) + pen
					start = i
				}
			}
			best = math.Min(best, total)
		}
		got, err := Pelt(y, pen)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(got.Penalised-best) > 1e-9 {
			t.Fatalf("trial %d: PELT penalised cost %v, brute force %v (y=%v pen=%v)", trial, got.Penalised, best, y, pen)
		}
		if want := got.Cost + pen*float64(len(got.Breakpoints)); math.Abs(want-got.Penalised) > 1e-9 {
			t.Fatalf("trial %d: penalised %v != cost %v + pen×%d", trial, got.Penalised, got.Cost, len(got.Breakpoints))
		}
	}
}

func directCost(y []float64) float64 {
	m := 0.0
	for _, v := range y {
		m += v
	}
	m /= float64(len(y))
	c := 0.0
	for _, v := range y {
		c += (v - m) * (v - m)
	}
	return c
}

// TestKnownSegmentations pins results that can be worked out by hand
// (ruptures returns the same breakpoints for these inputs).
func TestKnownSegmentations(t *testing.T) {
	tests := []struct {
		name string
		y    []float64
		pen  float64
		want []int
	}{
		{"single point", []float64{5}, 0.9, []int{1}},
		{"constant", []float64{1, 1, 1, 1}, 0.9, []int{4}},
		{"clean step", []float64{0, 0, 0, 1, 1, 1}, 0.9, []int{3, 6}},
		// Splitting 0,0,1 gains 2/3 < 0.9: not worth a segment.
		{"small step below penalty", []float64{0, 0, 1}, 0.9, []int{3}},
		// With pen 0.5 it is.
		{"small step above penalty", []float64{0, 0, 1}, 0.5, []int{2, 3}},
		{"outlier gets its own segment", []float64{0, 0, 0, 10, 0, 0, 0}, 0.9, []int{3, 4, 7}},
		{"two steps", []float64{0, 0, 5, 5, 9, 9}, 0.9, []int{2, 4, 6}},
		// Tie: 0,1 split at 1 costs pen + pen; unsplit costs 0.5 + pen. With
		// pen = 0.5 both equal 1.0 exactly; ruptures keeps the smallest last
		// change point (t=0), i.e. no split.
		{"tie keeps fewer earlier", []float64{0, 1}, 0.5, []int{2}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Pelt(tc.y, tc.pen)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, got.Breakpoints); diff != "" {
				t.Errorf("breakpoints (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRejectsBadInput(t *testing.T) {
	tests := []struct {
		name string
		y    []float64
		pen  float64
	}{
		{"empty", nil, 0.9},
		{"nan", []float64{1, math.NaN()}, 0.9},
		{"inf", []float64{math.Inf(1)}, 0.9},
		{"zero penalty", []float64{1, 2}, 0},
		{"negative penalty", []float64{1, 2}, -1},
		{"nan penalty", []float64{1, 2}, math.NaN()},
	}
	for _, tc := range tests {
		if _, err := Pelt(tc.y, tc.pen); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
}

// BenchmarkPelt100k times the search on 100 000 concepts of imitation-score
// shaped data (see the bench-fit target for the reported figure).
func BenchmarkPelt100k(b *testing.B) {
	y := scoreLike(100_000, 1)
	b.ResetTimer()
	for b.Loop() {
		if _, err := Pelt(y, 0.9); err != nil {
			b.Fatal(err)
		}
	}
}

// scoreLike is an imitation-score-like signal: a flat low plateau, an onset
// at 40% of the concepts, a slow rise, noise of sd 0.03.
func scoreLike(n int, seed uint64) []float64 {
	rng := rand.New(rand.NewPCG(seed, 7))
	y := make([]float64, n)
	for i := range y {
		x := float64(i) / float64(n)
		y[i] = 0.2 + 0.03*rng.NormFloat64()
		if x > 0.4 {
			y[i] += 0.3 + 0.2*(x-0.4)
		}
	}
	return y
}
