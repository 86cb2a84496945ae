package operators

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// The hand-computed vectors share base θ₀ = [1 1 1 1] and
// θ₁ = [2 0 1 4] (δ₁ = [1 −1 0 3]), θ₂ = [0 3 1 2] (δ₂ = [−1 2 0 1]).
func TestMergeHandComputed(t *testing.T) {
	base := []float64{1, 1, 1, 1}
	m1 := []float64{2, 0, 1, 4}
	m2 := []float64{0, 3, 1, 2}
	tests := []struct {
		name string
		spec Spec
		two  bool // merge θ₁ and θ₂ (else θ₁ alone)
		want []float64
	}{
		// 0.25·θ₁ + 0.75·θ₂
		{"linear", Spec{Method: Linear, Weights: []float64{0.25, 0.75}}, true, []float64{0.5, 2.25, 1, 2.5}},
		// θ₀ + 1·δ₁ + 0.5·δ₂
		{"task arithmetic", Spec{Method: TaskArithmetic, Weights: []float64{1, 0.5}, Scale: 1}, true, []float64{1.5, 1, 1, 4.5}},
		// θ₀ + (δ₁ + 0.5·δ₂)/1.5
		{"task arithmetic normalised", Spec{Method: TaskArithmetic, Weights: []float64{1, 0.5}, Scale: 1, Normalize: true}, true, []float64{4.0 / 3, 1, 1, 10.0 / 3}},
		// θ₀ + 2·(δ₁ + δ₂)
		{"task arithmetic λ=2", Spec{Method: TaskArithmetic, Weights: []float64{1, 1}, Scale: 2}, true, []float64{1, 3, 1, 9}},
		// 0.75·θ₀ + 0.25·θ₁
		{"wise-ft", Spec{Method: WiSEFT, Weights: []float64{0.25}}, false, []float64{1.25, 0.75, 1, 1.75}},
		// Trim to 2 of 4: δ₁ → [1 0 0 3] (|1| tie: the earlier kept),
		// δ₂ → [−1 2 0 0]. Mass [0 2 0 3] elects + everywhere (0 → +);
		// disjoint means: [1, 2, 0, 3].
		{"ties", Spec{Method: TIES, Weights: []float64{1, 1}, Density: 0.5, Normalize: true, Scale: 1}, true, []float64{2, 3, 1, 4}},
		// Weights [2 1]: wδ = [2 0 0 6], [−1 2 0 0]; sums over the
		// elected sign: [2 2 0 6].
		{"ties unnormalised", Spec{Method: TIES, Weights: []float64{2, 1}, Density: 0.5, Scale: 1}, true, []float64{3, 3, 1, 7}},
		// Divided by the counted weights: [2/2 2/1 0 6/2].
		{"ties weighted mean", Spec{Method: TIES, Weights: []float64{2, 1}, Density: 0.5, Normalize: true, Scale: 1}, true, []float64{2, 3, 1, 4}},
		// DARE with p = 0 is task arithmetic.
		{"dare p=0", Spec{Method: DARE, Weights: []float64{1, 0.5}, Scale: 1}, true, []float64{1.5, 1, 1, 4.5}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			models := [][]float64{slices.Clone(m1)}
			if tc.two {
				models = append(models, slices.Clone(m2))
			}
			if err := tc.spec.Check(len(models)); err != nil {
				t.Fatal(err)
			}
			out := make([]float64, 4)
			Merge(tc.spec, "w", base, models, out)
			if diff := cmp.Diff(tc.want, out, cmpopts.EquateApprox(0, 1e-12)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

// TestTIESElectsBySummedMass: one large negative change outweighs two
// small positive ones (a vote by count would elect +).
func TestTIESElectsBySummedMass(t *testing.T) {
	s := Spec{Method: TIES, Weights: []float64{1, 1, 1}, Density: 1, Normalize: true, Scale: 1}
	out := make([]float32, 2)
	Merge(s, "w", []float32{0, 0}, [][]float32{{-3, 1}, {1, 1}, {1, -4}}, out)
	// Entry 0: mass −1 → −, only −3 counts. Entry 1: mass −2 → −, only −4.
	if diff := cmp.Diff([]float32{-3, -4}, out); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestTrimTopK(t *testing.T) {
	tests := []struct {
		in      []float64
		density float64
		want    []float64
	}{
		{[]float64{0.1, -5, 3, -0.2, 4}, 0.4, []float64{0, -5, 0, 0, 4}},
		{[]float64{1, -1, 1, -1}, 0.5, []float64{1, -1, 0, 0}},                         // ties: earlier first
		{[]float64{1, 2, 3}, 0.1, []float64{0, 0, 3}},                                  // at least one kept
		{[]float64{1, 2, 3}, 1, []float64{1, 2, 3}},                                    // density 1 keeps all
		{[]float64{-7, 2, 3, 1, 0, 0, 0, 9}, 0.25, []float64{-7, 0, 0, 0, 0, 0, 0, 9}}, // k = 2
	}
	for _, tc := range tests {
		d := slices.Clone(tc.in)
		TrimTopK(d, tc.density)
		if diff := cmp.Diff(tc.want, d); diff != "" {
			t.Errorf("TrimTopK(%v, %v) (-want +got):\n%s", tc.in, tc.density, diff)
		}
	}
}

// TestDrop: entries are 0 or δ/(1−p); the mask depends on (seed, name,
// model) only, so results do not depend on the order tensors are merged
// in; the kept fraction and the mean are about right.
func TestDrop(t *testing.T) {
	const n, p = 20000, 0.75
	ones := func() []float64 {
		d := make([]float64, n)
		for i := range d {
			d[i] = 1
		}
		return d
	}
	a, b, c, other := ones(), ones(), ones(), ones()
	Drop(a, p, 7, "layer_0.w", 0)
	Drop(other, p, 7, "layer_1.w", 0) // another tensor first…
	Drop(b, p, 7, "layer_0.w", 0)     // …does not change this one
	Drop(c, p, 7, "layer_0.w", 1)
	if !slices.Equal(a, b) {
		t.Error("same (seed, name, model) gave different masks")
	}
	if slices.Equal(a, c) || slices.Equal(a, other) {
		t.Error("different model or tensor gave the same mask")
	}
	var kept int
	var sum float64
	for _, x := range a {
		if x != 0 && x != 4 {
			t.Fatalf("entry %v is neither 0 nor 1/(1−p) = 4", x)
		}
		if x != 0 {
			kept++
		}
		sum += x
	}
	if frac := float64(kept) / n; math.Abs(frac-0.25) > 0.015 {
		t.Errorf("kept %.3f, want 0.25", frac)
	}
	if mean := sum / n; math.Abs(mean-1) > 0.06 {
		t.Errorf("mean %.3f, want ≈1 (rescaling keeps the expectation)", mean)
	}
	// DARE merge = θ₀ + Σ wᵢ·maskᵢ·δᵢ/(1−p), with the masks above.
	base := make([]float64, n)
	m0, m1 := ones(), make([]float64, n)
	for i := range m1 {
		m1[i] = -2
	}
	out := make([]float64, n)
	Merge(Spec{Method: DARE, Weights: []float64{1, 0.5}, DropRate: p, Seed: 7, Scale: 1}, "layer_0.w", base, [][]float64{m0, m1}, out)
	for i := range out {
		if want := a[i] + 0.5*(-2)*c[i]; out[i] != want {
			t.Fatalf("entry %d: %v, want %v", i, out[i], want)
		}
	}
}

func TestSpecCheck(t *testing.T) {
	tests := []struct {
		spec Spec
		n    int
		want string // "" = valid
	}{
		{Spec{Method: Linear, Weights: []float64{0.5, 0.5}}, 2, ""},
		{Spec{Method: Linear, Weights: []float64{0.5, 0.6}}, 2, "sum to 1.1"},
		{Spec{Method: Linear, Weights: []float64{1.5, -0.5}}, 2, "non-negative"},
		{Spec{Method: TaskArithmetic, Weights: []float64{1, 0.6}}, 2, ""},
		{Spec{Method: TaskArithmetic, Weights: []float64{1}}, 2, "1 weights for 2 models"},
		{Spec{Method: WiSEFT, Weights: []float64{0.5}}, 2, "one fine-tuned model"},
		{Spec{Method: WiSEFT, Weights: []float64{1.5}}, 1, "[0, 1]"},
		{Spec{Method: TIES, Weights: []float64{1, 1}, Density: 0}, 2, "density 0"},
		{Spec{Method: TIES, Weights: []float64{1, -1}, Density: 0.2, Normalize: true}, 2, "sum to 0"},
		{Spec{Method: DARE, Weights: []float64{1}, DropRate: 1}, 1, "drop_rate 1"},
		{Spec{Method: "slerp", Weights: []float64{1}}, 1, "unknown method"},
		{Spec{Method: TaskArithmetic, Weights: []float64{math.NaN()}}, 1, "NaN"},
	}
	for _, tc := range tests {
		err := tc.spec.Check(tc.n)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%+v: %v", tc.spec, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%+v: error %v, want %q", tc.spec, err, tc.want)
		}
	}
}
