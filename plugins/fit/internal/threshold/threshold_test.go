package threshold

import (
	"context"
	"errors"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/shammie-ml/shammie/internal/shareddata"
	"github.com/shammie-ml/shammie/plugins/fit/internal/dataset"
)

// stepScores plants a step in the score at count >= at: low before, high
// from there on, plus seeded Gaussian noise.
func stepScores(counts []int64, at int64, low, high, noise float64, seed uint64) []Point {
	rng := rand.New(rand.NewPCG(seed, 99))
	pts := make([]Point, len(counts))
	for i, c := range counts {
		s := low
		if c >= at {
			s = high
		}
		pts[i] = Point{Count: c, Score: s + noise*rng.NormFloat64()}
	}
	return pts
}

func TestFindPlantedStep(t *testing.T) {
	// Unsorted input with duplicate counts; the step is at count 40.
	counts := []int64{500, 3, 40, 17, 40, 1000, 8, 39, 41, 250, 0, 12}
	// With 6 points a side the split gains 6·6/12·h², so the step must be
	// above sqrt(0.9/3) ≈ 0.55 to beat the penalty 0.9.
	pts := stepScores(counts, 40, 0.1, 0.9, 0.01, 1)
	e, err := Find(pts, 0.9)
	if err != nil {
		t.Fatal(err)
	}
	if !e.Found || e.Threshold != 40 {
		t.Fatalf("threshold %d (found %v), want 40", e.Threshold, e.Found)
	}
	// Sorted counts: 0 3 8 12 17 39 | 40 40 41 250 500 1000.
	if diff := cmp.Diff([]int{6}, e.ChangePoints); diff != "" {
		t.Errorf("change points (-want +got):\n%s", diff)
	}
	if len(e.Segments) != 2 || e.Segments[0].LastCount != 39 || e.Segments[1].FirstCount != 40 {
		t.Errorf("segments %+v", e.Segments)
	}
	if m := e.Segments[1].Mean; m < 0.85 || m > 0.95 {
		t.Errorf("upper segment mean %v, want about 0.9", m)
	}
	// Stable sort: the two 40s keep their input order (input indices 2, 4).
	if e.Order[6] != 2 || e.Order[7] != 4 {
		t.Errorf("order %v: equal counts must keep input order", e.Order)
	}
}

func TestFindStepBelowPenalty(t *testing.T) {
	// The same step of 0.4 on 12 points gains only 3·0.4² = 0.48 < 0.9:
	// PELT keeps one segment, as ruptures would.
	counts := []int64{500, 3, 40, 17, 40, 1000, 8, 39, 41, 250, 0, 12}
	e, err := Find(stepScores(counts, 40, 0.2, 0.6, 0.01, 1), 0.9)
	if err != nil {
		t.Fatal(err)
	}
	if e.Found {
		t.Errorf("found threshold %d for a step below the penalty", e.Threshold)
	}
}

func TestFindNoChange(t *testing.T) {
	pts := stepScores([]int64{1, 2, 3, 4, 5, 6, 7, 8}, 1000, 0.3, 0.3, 0.01, 2)
	e, err := Find(pts, 0.9)
	if err != nil {
		t.Fatal(err)
	}
	if e.Found || len(e.Segments) != 1 {
		t.Errorf("flat curve: found %v, segments %d", e.Found, len(e.Segments))
	}
	if _, err := Bootstrap(context.Background(), pts, 0.9, 20, 1, 0.95, nil); err == nil {
		t.Error("bootstrap of a flat curve should report that no resample had a change point")
	}
}

func TestBootstrapDeterministicAndCovers(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	counts := make([]int64, 200)
	for i := range counts {
		counts[i] = int64(rng.IntN(5000))
	}
	pts := stepScores(counts, 700, 0.25, 0.45, 0.05, 4)
	a, err := Bootstrap(context.Background(), pts, 0.9, 300, 42, 0.9, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Bootstrap(context.Background(), pts, 0.9, 300, 42, 0.9, nil)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(a, b); diff != "" {
		t.Errorf("same seed, different intervals:\n%s", diff)
	}
	c, _ := Bootstrap(context.Background(), pts, 0.9, 300, 43, 0.9, nil)
	if cmp.Equal(a.Thresholds, c.Thresholds) {
		t.Error("different seeds gave identical resamples")
	}
	e, _ := Find(pts, 0.9)
	if !(a.Lo <= e.Threshold && e.Threshold <= a.Hi) || a.Lo > a.Median || a.Median > a.Hi {
		t.Errorf("interval [%d, %d] (median %d) vs estimate %d", a.Lo, a.Hi, a.Median, e.Threshold)
	}
	if len(a.Thresholds)+a.NoChange != 300 {
		t.Errorf("resamples %d + no-change %d != 300", len(a.Thresholds), a.NoChange)
	}
}

func TestQuantile(t *testing.T) {
	xs := []int64{10, 20, 30, 40}
	for _, tc := range []struct {
		q    float64
		want int64
	}{{0, 10}, {0.25, 10}, {0.26, 20}, {0.5, 20}, {0.975, 40}, {1, 40}} {
		if got := quantile(xs, tc.q); got != tc.want {
			t.Errorf("quantile(%v) = %d, want %d", tc.q, got, tc.want)
		}
	}
}

// TestRealCountsPlantedAtPaperThreshold uses the real per-artist LAION image
// counts of the paper's classical-artists set as x and plants a step at the
// paper's SD1.1 classical threshold, 112 (a count two artists in the table
// have). The estimator must recover 112 exactly and a bootstrap interval
// must cover it.
func TestRealCountsPlantedAtPaperThreshold(t *testing.T) {
	dir := shareddata.Path(t, "mimetic2")
	rows, err := dataset.ReadCounts(filepath.Join(dir, "classical_artists_group1_counts.csv"),
		"artist_name", "count_this_artist_artworks_in_laion_images")
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 418 {
		t.Fatalf("%d artists, PROVENANCE.md says 418", len(rows))
	}
	counts := make([]int64, len(rows))
	for i, r := range rows {
		counts[i] = r.Count
	}
	// Scores in the range CSD similarities take, with noise.
	pts := stepScores(counts, 112, 0.25, 0.45, 0.02, 7)
	e, err := Find(pts, 0.9)
	if err != nil {
		t.Fatal(err)
	}
	if !e.Found || e.Threshold != 112 {
		t.Fatalf("threshold %d (found %v, change counts %v), want 112", e.Threshold, e.Found, e.ChangeCounts)
	}
	iv, err := Bootstrap(context.Background(), pts, 0.9, 1000, 2024, 0.95, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("threshold 112, 95%% bootstrap interval [%d, %d], median %d, %d/%d resamples without change", iv.Lo, iv.Hi, iv.Median, iv.NoChange, iv.B)
	if !(iv.Lo <= 112 && 112 <= iv.Hi) {
		t.Errorf("interval [%d, %d] does not cover 112", iv.Lo, iv.Hi)
	}
}

func TestBootstrapCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	pts := stepScores([]int64{1, 2, 3, 4, 5, 6, 7, 8}, 5, 0, 1, 0.01, 1)
	if _, err := Bootstrap(ctx, pts, 0.9, 100, 1, 0.95, nil); err == nil || !errors.Is(err, context.Canceled) {
		t.Errorf("error %v, want context.Canceled", err)
	}
}
