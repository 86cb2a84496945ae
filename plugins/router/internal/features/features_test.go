package features

import (
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/shammie-ml/shammie/plugins/router/internal/prefdata"
)

func TestRougeL(t *testing.T) {
	for _, tc := range []struct {
		a, b string
		want float64
	}{
		{"the cat sat on the mat", "the cat sat on the mat", 1},
		{"a b c d", "e f g", 0},
		// LCS "a c d" = 3: P = 3/4, R = 3/5, F = 2PR/(P+R) = 2/3.
		{"a b c d", "a c x d y", 2.0 / 3},
		{"", "a", 0},
	} {
		if got := RougeL(Tokenize(tc.a), Tokenize(tc.b)); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("RougeL(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.want)
		}
	}
}

func TestBowCosine(t *testing.T) {
	// (1,1,0)·(1,0,1) / (√2·√2) = 1/2
	if got := BowCosine(Tokenize("x y"), Tokenize("x z")); math.Abs(got-0.5) > 1e-12 {
		t.Errorf("cosine = %v, want 0.5", got)
	}
}

func TestPercentileRanksMatchPandas(t *testing.T) {
	// pandas: pd.Series([10, 20, 20, 5]).rank(pct=True) -> 0.5, 0.875, 0.875, 0.25
	got := PercentileRanks([]float64{10, 20, 20, 5})
	if diff := cmp.Diff([]float64{0.5, 0.875, 0.875, 0.25}, got, cmpopts.EquateApprox(0, 1e-12)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestBuild(t *testing.T) {
	insts := []prefdata.Instance{
		{Prompt: "a b c", A: "x y", B: "x y z w", Tags: map[string][]string{"subject_of_expertise": {"Physics", "Literature"}, "format_constraints": {"json"}}},
		{Prompt: "a", A: "p", B: "q", Tags: map[string][]string{"subject_of_expertise": {"Physics"}}},
		{Prompt: "a b", A: "same words", B: "same words"},
	}
	m := Build(insts)
	if want := 6*NBins + 3; len(m.Names) != want {
		t.Fatalf("%d features %v, want %d", len(m.Names), m.Names, want)
	}
	has := func(i int, name string) bool {
		j := m.Index(name)
		if j < 0 {
			t.Fatalf("no feature %q in %v", name, m.Names)
		}
		return m.At(i, j)
	}
	checks := []struct {
		i    int
		name string
		want bool
	}{
		{0, "subject_of_expertise=Physics", true},
		{0, "subject_of_expertise=Literature", true},
		{0, "format_constraints=1", true},
		{1, "format_constraints=1", false},
		{2, "rouge__min_val=0.67|max_val=1.0", true},       // identical responses
		{2, "cosine_sim__min_val=0.67|max_val=1.0", true},  // identical responses
		{1, "rouge__min_val=0.0|max_val=0.33", true},       // disjoint responses
		{0, "prompt_len__min_val=0.67|max_val=1.0", true},  // longest prompt: rank 1.0
		{1, "prompt_len__min_val=0.33|max_val=0.67", true}, // shortest: rank 1/3 ≥ 0.33
		{2, "prompt_len__min_val=0.33|max_val=0.67", true}, // rank 2/3 < 0.67
		{0, "token_len_difference__min_val=0.67|max_val=1.0", true},
	}
	for _, c := range checks {
		if got := has(c.i, c.name); got != c.want {
			t.Errorf("instance %d %s = %v, want %v", c.i, c.name, got, c.want)
		}
	}
	// Exactly one bin per lexical feature.
	for i := 0; i < m.N; i++ {
		for k := range Lexical {
			n := 0
			for b := 0; b < NBins; b++ {
				if m.At(i, k*NBins+b) {
					n++
				}
			}
			if n != 1 {
				t.Errorf("instance %d feature %s has %d bins set", i, Lexical[k], n)
			}
		}
	}
}
