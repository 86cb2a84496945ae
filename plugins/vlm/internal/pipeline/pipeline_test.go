package pipeline

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/shammie-ml/shammie/plugins/vlm/internal/planted"
	"github.com/shammie-ml/shammie/sdk/pointing"
)

func TestBucket(t *testing.T) {
	cases := []struct{ n, longest, want int }{
		{135, 209, 144}, {144, 209, 144}, {145, 209, 160}, {200, 209, 208}, {205, 209, 208}, {209, 209, 209}, {1, 20, 16},
	}
	for _, c := range cases {
		if got := bucket(c.n, c.longest); got != c.want {
			t.Errorf("bucket(%d, %d) = %d, want %d", c.n, c.longest, got, c.want)
		}
	}
}

// TestOneObject keeps exactly the examples of one-object images, in every
// pool, judged from generated scenes whose object counts are known.
func TestOneObject(t *testing.T) {
	d, err := planted.Generate(planted.Options{Images: 60, Size: 32, MinObjects: 0, MaxObjects: 3,
		Shapes: planted.KnownShapes, Colors: []string{"red", "green", "blue"}, Radius: 0.12, Noise: 0.1, Seed: 5})
	if err != nil {
		t.Fatal(err)
	}
	byTask := map[string][]planted.Example{}
	for _, e := range d.Examples {
		byTask[e.Task] = append(byTask[e.Task], e)
	}
	pools := [][]planted.Example{byTask["caption"], byTask["point"], byTask["count"]}
	got := oneObject(d.Examples, pools)
	for i, p := range pools {
		var want []planted.Example
		for _, e := range p {
			if len(d.Scenes[e.Image].Objects) == 1 {
				want = append(want, e)
			}
		}
		if diff := cmp.Diff(want, got[i]); diff != "" {
			t.Errorf("pool %d (-want +got):\n%s", i, diff)
		}
		if len(want) == 0 || len(want) == len(p) {
			t.Errorf("pool %d: %d of %d kept: the test data should mix one-object and other images", i, len(want), len(p))
		}
	}
}

// TestMisses sorts predicted points into on a named object, on another
// object and on the background, and averages F1 by the image's objects.
func TestMisses(t *testing.T) {
	const n = 10
	square := func(x0, y0 int) []bool { // 2×2 pixels at (x0, y0)
		m := make([]bool, n*n)
		for y := y0; y < y0+2; y++ {
			for x := x0; x < x0+2; x++ {
				m[y*n+x] = true
			}
		}
		return m
	}
	b := &planted.Bundle{N: 2, H: n, W: n, Masks: [][]bool{square(1, 1), square(7, 7), square(4, 4)}}
	pts := []planted.Example{
		{Image: 0, Task: "point", Masks: []int{0}, Label: "red circle"},
		{Image: 0, Task: "point", Masks: []int{1}, Label: "red square"},
		{Image: 1, Task: "point", Masks: []int{2}, Label: "blue circle"},
	}
	at := func(x, y float64) string { return pointing.Format([]pointing.Point{{X: x, Y: y}}, "thing") }
	answers := []string{
		at(15, 15), // pixel (2, 2): on the named square (1…2, 1…2)
		at(15, 15), // the same pixel, but the question names image 0's other square: a binding error
		`<points x1="45" y1="45" x2="95" y2="5">thing</points>`, // (5, 5) on target, (10, 1) outside the image
	}
	scores := []pointing.Score{{F1: 1}, {F1: 0}, {F1: 0.5}}
	masks, labels := imageMasks(pts)
	got := misses(pts, answers, scores, masks, labels, b)
	want := Misses{OnTarget: 0.5, OnOther: 0.25, OnBackground: 0.25, OtherSameColor: 1, OtherSameShape: 0, Points: 4,
		F1ByObjects: map[int]float64{2: 0.5, 1: 0.5}, ItemsByObjects: map[int]int{2: 2, 1: 1}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("misses (-want +got):\n%s", diff)
	}
	if s := byObjects(got); s != "1: 0.50 (1), 2: 0.50 (2)" {
		t.Errorf("byObjects = %q", s)
	}
}

// TestScoreCounting scores counting answers against the truth and the
// baselines: the majority training count (2 here) and chance (1/3: counts
// 1, 2, 3 were seen); an answer without a count is -1 and misses both.
func TestScoreCounting(t *testing.T) {
	train := []planted.Example{{Task: "count", Count: 2}, {Task: "count", Count: 2}, {Task: "count", Count: 1}, {Task: "count", Count: 3}, {Task: "point", Count: 7}}
	cnts := []planted.Example{{Task: "count", Count: 2}, {Task: "count", Count: 3}, {Task: "count", Count: 0}, {Task: "count", Count: 1}}
	answers := []string{"a total of 2.", "a total of 2.", "There are none.", "I cannot tell"}
	var ms Metrics
	preds := scoreCounting(&ms, cnts, answers, train)
	want := Metrics{CountExact: 0.5, CountWithin1: 0.75, MajorityExact: 0.25, MajorityWithin: 0.75, CountChance: 1.0 / 3, CountItems: 4}
	if diff := cmp.Diff(want, ms, cmpopts.EquateApprox(0, 1e-12), cmpopts.IgnoreFields(Metrics{}, "Misses")); diff != "" {
		t.Errorf("counting scores (-want +got):\n%s", diff)
	}
	var said []int
	for _, p := range preds {
		said = append(said, p.Said)
	}
	if diff := cmp.Diff([]int{2, 2, 0, -1}, said); diff != "" {
		t.Errorf("counts read from the answers (-want +got):\n%s", diff)
	}
}
