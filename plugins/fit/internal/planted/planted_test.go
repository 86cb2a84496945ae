package planted

import (
	"path/filepath"
	"reflect"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/shammie-ml/shammie/plugins/fit/internal/dataset"
	"github.com/shammie-ml/shammie/plugins/fit/internal/imitation"
	"github.com/shammie-ml/shammie/plugins/fit/internal/threshold"
	"github.com/shammie-ml/shammie/sdk/ml"
)

// TestPlantedOnsetIsRecovered runs the whole embeddings path: generate,
// write the bundle, read it back, score in GoMLX, find the threshold. The
// estimate must be the planted onset's first count exactly.
func TestPlantedOnsetIsRecovered(t *testing.T) {
	cfg := Default
	cfg.Concepts, cfg.Seed = 150, 11
	set, err := Generate(cfg)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := Generate(cfg)
	if !reflect.DeepEqual(set, again) { // cmp.Equal takes seconds on this many floats
		t.Fatal("same config, different sets")
	}
	p := filepath.Join(t.TempDir(), "e.safetensors")
	if err := set.WriteBundle(p); err != nil {
		t.Fatal(err)
	}
	read, drops, err := dataset.ReadEmbeddings(p, dataset.Options{})
	if err != nil || drops.Rows+drops.Concepts != 0 {
		t.Fatal(err, drops)
	}
	if diff := cmp.Diff(set.Counts, read.Counts); diff != "" {
		t.Fatalf("counts changed through the bundle: %s", diff)
	}
	backend, err := ml.OpenBackend("go")
	if err != nil {
		t.Fatal(err)
	}
	sc, err := imitation.NewScorer(backend)
	if err != nil {
		t.Fatal(err)
	}
	b, err := imitation.Pack(read.Names, read.Concepts)
	if err != nil {
		t.Fatal(err)
	}
	_, scores, err := sc.Scores(b)
	if err != nil {
		t.Fatal(err)
	}
	pts := make([]threshold.Point, len(scores))
	var lo, hi []float64
	for i, s := range scores {
		pts[i] = threshold.Point{Count: read.Counts[i], Score: s}
		if read.Counts[i] >= cfg.Threshold {
			hi = append(hi, s)
		} else {
			lo = append(lo, s)
		}
	}
	t.Logf("scores below onset: mean %.3f (n=%d), above: %.3f (n=%d)", mean(lo), len(lo), mean(hi), len(hi))
	e, err := threshold.Find(pts, 0.9)
	if err != nil {
		t.Fatal(err)
	}
	if !e.Found || e.Threshold != set.Expected {
		t.Fatalf("threshold %d (found %v, all change counts %v), planted onset's first count %d", e.Threshold, e.Found, e.ChangeCounts, set.Expected)
	}
}

func mean(xs []float64) float64 {
	s := 0.0
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

func TestCountsAreLogUniformAndInRange(t *testing.T) {
	cfg := Default
	cfg.Concepts = 4000
	set, err := Generate(cfg)
	if err != nil {
		t.Fatal(err)
	}
	// Log-uniform over [1, 100000]: about a fifth of the concepts per decade.
	decades := make([]int, 6)
	for _, c := range set.Counts {
		if c < cfg.MinCount || c > cfg.MaxCount {
			t.Fatalf("count %d outside [%d, %d]", c, cfg.MinCount, cfg.MaxCount)
		}
		d := 0
		for v := c; v >= 10; v /= 10 {
			d++
		}
		decades[d]++
	}
	for d := 1; d < 4; d++ {
		if f := float64(decades[d]) / 4000; f < 0.15 || f > 0.25 {
			t.Errorf("decade %d holds %.2f of the concepts, want about 0.2 (%v)", d, f, decades)
		}
	}
}

func TestGivenCounts(t *testing.T) {
	cfg := Default
	cfg.Counts = []dataset.NamedCount{{Name: "a", Count: 5}, {Name: "b", Count: 112}, {Name: "c", Count: 113}, {Name: "d", Count: 112}}
	cfg.Threshold = 100
	set, err := Generate(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"a", "b", "c", "d"}, set.Names); diff != "" {
		t.Error(diff)
	}
	if set.Expected != 112 {
		t.Errorf("expected %d, want 112", set.Expected)
	}
}
