package imitation

import (
	"math"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/backends"

	"github.com/shammie-ml/shammie/sdk/ml"
)

func testBackend(t testing.TB) backends.Backend {
	t.Helper()
	b, err := ml.OpenBackend("go")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func randVecs(rng *rand.Rand, n, d int, center []float32, spread float32) [][]float32 {
	out := make([][]float32, n)
	for i := range out {
		v := make([]float32, d)
		for j := range v {
			v[j] = center[j] + spread*float32(rng.NormFloat64())
		}
		out[i] = v
	}
	return out
}

// TestGraphMatchesReference scores ragged concepts (fewer than 10 training
// images, different prompt and image counts) in one batch and compares each
// score with the plain-Go reference.
func TestGraphMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	const d = 16
	var names []string
	var cs []Concept
	for i := range 9 {
		center := make([]float32, d)
		for j := range center {
			center[j] = float32(rng.NormFloat64())
		}
		c := Concept{Train: randVecs(rng, 1+rng.IntN(25), d, center, 1)}
		for range 1 + rng.IntN(4) {
			c.Prompts = append(c.Prompts, randVecs(rng, 1+rng.IntN(12), d, center, float32(i)/4))
		}
		names = append(names, string(rune('a'+i)))
		cs = append(cs, c)
	}
	b, err := Pack(names, cs)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewScorer(testBackend(t))
	if err != nil {
		t.Fatal(err)
	}
	pp, mean, err := s.Scores(b)
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range cs {
		wantPP, wantMean := Reference(c)
		if math.Abs(mean[i]-wantMean) > 1e-5 {
			t.Errorf("concept %s (T=%d, P=%d): score %v, reference %v", names[i], len(c.Train), len(c.Prompts), mean[i], wantMean)
		}
		for p := range b.P {
			if p >= len(wantPP) {
				if !math.IsNaN(pp[i][p]) {
					t.Errorf("concept %s: padded prompt %d scored %v, want NaN", names[i], p, pp[i][p])
				}
				continue
			}
			if math.Abs(pp[i][p]-wantPP[p]) > 1e-5 {
				t.Errorf("concept %s prompt %d: %v, reference %v", names[i], p, pp[i][p], wantPP[p])
			}
		}
	}
}

// TestScoreOrdersImitation: generated images close to the training images
// must score higher than unrelated ones; identical images score 1.
func TestScoreOrdersImitation(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	const d = 32
	center := make([]float32, d)
	for j := range center {
		center[j] = float32(rng.NormFloat64())
	}
	train := randVecs(rng, 20, d, center, 0.3)
	far := make([]float32, d)
	for j := range far {
		far[j] = float32(rng.NormFloat64())
	}
	cs := []Concept{
		{Train: train, Prompts: [][][]float32{train[:1]}},                        // a copy of one training image
		{Train: train, Prompts: [][][]float32{randVecs(rng, 8, d, center, 0.3)}}, // same style
		{Train: train, Prompts: [][][]float32{randVecs(rng, 8, d, far, 0.3)}},    // another concept
	}
	b, err := Pack([]string{"copy", "close", "far"}, cs)
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewScorer(testBackend(t))
	if err != nil {
		t.Fatal(err)
	}
	_, mean, err := s.Scores(b)
	if err != nil {
		t.Fatal(err)
	}
	if !(mean[1] > mean[2]+0.2) {
		t.Errorf("close %v should beat far %v clearly", mean[1], mean[2])
	}
	// The copied image is one of the top 10 with similarity 1; the others
	// are lower, so the score is below 1 but above the close set's.
	if !(mean[0] > mean[1]) || mean[0] > 1+1e-6 {
		t.Errorf("copy score %v, close %v", mean[0], mean[1])
	}
}

func TestPackErrors(t *testing.T) {
	v := func(d int) []float32 { return make([]float32, d) }
	tests := []struct {
		name string
		c    Concept
		want string
	}{
		{"no train", Concept{Prompts: [][][]float32{{v(2)}}}, `concept "x": no training-image embeddings`},
		{"no prompts", Concept{Train: [][]float32{v(2)}}, `concept "x": no generated-image embeddings`},
		{"empty prompt", Concept{Train: [][]float32{v(2)}, Prompts: [][][]float32{{}}}, "prompt 0 has no generated images"},
		{"width", Concept{Train: [][]float32{v(2)}, Prompts: [][][]float32{{v(2), v(3)}}}, "prompt 0 generated embedding 1 has width 3, expected 2"},
	}
	for _, tc := range tests {
		_, err := Pack([]string{"x"}, []Concept{tc.c})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.want)
		}
	}
}
