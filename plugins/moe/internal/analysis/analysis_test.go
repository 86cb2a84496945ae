package analysis

import (
	"math"
	"math/rand/v2"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/shammie-ml/shammie/internal/shareddata"
)

var approx = cmpopts.EquateApprox(0, 1e-12)

// Four tokens, k=2, E=4. Tokens 0,1 in domain 0, tokens 2,3 in domain 1.
var small = TopK{N: 4, K: 2, E: 4, Experts: []int32{
	0, 1,
	0, 2,
	3, 2,
	3, 0,
}}

func TestDomainSpec(t *testing.T) {
	got := DomainSpec(small, []int{0, 0, 1, 1}, 2)
	// Domain 0: 2 tokens, 4 assignments; expert 0 twice → 100·2·2/4 = 100.
	want := [][]float64{{100, 50, 50, 0}, {50, 0, 50, 100}}
	if d := cmp.Diff(want, got, approx); d != "" {
		t.Errorf("DomainSpec (-want +got):\n%s", d)
	}
	// At a uniform router every expert has spec 100·k/E.
	uni := TopK{N: 2, K: 2, E: 4, Experts: []int32{0, 1, 2, 3}}
	if d := cmp.Diff([][]float64{{50, 50, 50, 50}}, DomainSpec(uni, []int{0, 0}, 1), approx); d != "" {
		t.Errorf("uniform DomainSpec (-want +got):\n%s", d)
	}
	if Uniform(2, 4) != 50 {
		t.Errorf("Uniform(2,4) = %g", Uniform(2, 4))
	}
}

func TestVocabSpec(t *testing.T) {
	// Token id 7 occurs 3× with top-1 experts 0,0,3 → 2/3; id 9 once → 1.
	got, n := VocabSpec(small, []int{7, 7, 7, 9}, 1)
	if want := (2.0/3 + 1) / 2; math.Abs(got-want) > 1e-12 || n != 2 {
		t.Errorf("VocabSpec = %g over %d ids, want %g over 2", got, n, want)
	}
	got, n = VocabSpec(small, []int{7, 7, 7, 9}, 2)
	if math.Abs(got-2.0/3) > 1e-12 || n != 1 {
		t.Errorf("VocabSpec(minCount 2) = %g over %d ids, want 2/3 over 1", got, n)
	}
}

func TestSaturation(t *testing.T) {
	final := small
	ckpt := TopK{N: 4, K: 2, E: 4, Experts: []int32{1, 0, 1, 3, 3, 2, 1, 2}}
	// Overlaps: 2, 0, 2, 0 → 4/8.
	got, err := Saturation(ckpt, final)
	if err != nil || got != 0.5 {
		t.Errorf("Saturation = %g, %v; want 0.5", got, err)
	}
	if s, _ := Saturation(final, final); s != 1 {
		t.Errorf("self-saturation = %g, want 1", s)
	}
	if _, err := Saturation(TopK{N: 1, K: 2, E: 4, Experts: []int32{0, 1}}, final); err == nil {
		t.Error("mismatched routings: want an error")
	}
}

func TestCoActivation(t *testing.T) {
	r := TopK{N: 3, K: 3, E: 4, Experts: []int32{
		0, 1, 2,
		0, 2, 3,
		1, 0, 3,
	}}
	all := CoActivation(r, false)
	// Expert 0 active 3×: with 1 twice, 2 twice, 3 twice.
	want0 := []float64{0, 2.0 / 3, 2.0 / 3, 2.0 / 3}
	if d := cmp.Diff(want0, all[0], approx); d != "" {
		t.Errorf("P(·|0) (-want +got):\n%s", d)
	}
	adj := CoActivation(r, true)
	// Adjacent pairs: (0,1),(1,2) | (0,2),(2,3) | (1,0),(0,3).
	// Expert 0 neighbours: 1, 2, 1, 3 → P(1|0)=2/3, P(2|0)=1/3, P(3|0)=1/3.
	if d := cmp.Diff([]float64{0, 2.0 / 3, 1.0 / 3, 1.0 / 3}, adj[0], approx); d != "" {
		t.Errorf("rank-adjacent P(·|0) (-want +got):\n%s", d)
	}
}

func TestLoad(t *testing.T) {
	if d := cmp.Diff([]float64{3.0 / 8, 1.0 / 8, 2.0 / 8, 2.0 / 8}, Load(small), approx); d != "" {
		t.Errorf("Load (-want +got):\n%s", d)
	}
	if MaxLoad(small) != 3.0/8 {
		t.Errorf("MaxLoad = %g", MaxLoad(small))
	}
	if err := (TopK{N: 1, K: 1, E: 2, Experts: []int32{5}}).Validate(); err == nil {
		t.Error("expert id out of range: want a validation error")
	}
}

func TestPlotsWrite(t *testing.T) {
	dir := t.TempDir()
	spec := DomainSpec(small, []int{0, 0, 1, 1}, 2)
	saves := []func() (string, string, error){
		func() (string, string, error) { return PlotDomainSpec(spec, []string{"a", "b"}, 2, 0, dir+"/spec") },
		func() (string, string, error) { return PlotVocabSpec([]float64{0.5, 0.7}, 4, dir+"/vocab") },
		func() (string, string, error) {
			return PlotSaturation([]int{10, 20}, [][]float64{{0.5, 1}, {0.4, 1}}, 2, dir+"/sat")
		},
		func() (string, string, error) {
			return PlotLoad([]int{0, 5}, [][]float64{Load(small), Load(small)}, 0, dir+"/load")
		},
		func() (string, string, error) { return PlotCoActivation(CoActivation(small, false), "co", dir+"/co") },
	}
	for i, save := range saves {
		png, svg, err := save()
		if err != nil {
			t.Fatalf("plot %d: %v", i, err)
		}
		for _, f := range []string{png, svg} {
			if fi, err := os.Stat(f); err != nil || fi.Size() < 500 {
				t.Errorf("plot %d: %s missing or tiny (%v)", i, f, err)
			}
		}
	}
}

func TestParseReference(t *testing.T) {
	dir := t.TempDir()
	good := dir + "/ref.txt"
	os.WriteFile(good, []byte("header prose\nLayer 7\n  arxiv      tokens=208896 top3 (expert, spec%): [(17, 78.5), (4, 73.5), (2, 55.3)]  min=0.6\n"), 0o644)
	ref, err := ParseReference(good)
	if err != nil {
		t.Fatal(err)
	}
	want := Reference{7: {"arxiv": {Top: []ExpertSpec{{17, 78.5}, {4, 73.5}, {2, 55.3}}, Min: 0.6}}}
	if d := cmp.Diff(want, ref); d != "" {
		t.Errorf("ParseReference (-want +got):\n%s", d)
	}
	bad := dir + "/bad.txt"
	os.WriteFile(bad, []byte("Layer 0\n  arxiv tokens=1 top3 (expert, spec%): [(1, x)]  min=0\n"), 0o644)
	if _, err := ParseReference(bad); err == nil || !strings.Contains(err.Error(), "bad.txt:2") {
		t.Errorf("malformed row: error %v, want one naming bad.txt:2", err)
	}
}

func TestParseSharedReference(t *testing.T) {
	dir := shareddata.Path(t, "olmoe_domains")
	ref, err := ParseReference(dir + "/domain_spec_reference.txt")
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]int{0, 7, 15}, ref.Layers()); d != "" {
		t.Errorf("layers (-want +got):\n%s", d)
	}
	if got := ref[7]["arxiv"].Top[0]; got != (ExpertSpec{17, 78.5}) {
		t.Errorf("layer 7 arxiv top = %+v, want expert 17 at 78.5 (PROVENANCE.md)", got)
	}
	if len(ref[15]) != 5 {
		t.Errorf("layer 15 has %d domains, want 5", len(ref[15]))
	}
}

// TestLiftSeparatesLoadFromSpecialisation: expert 0 takes half of every
// domain's assignments. OLMoE's spec calls it specialised (4× uniform) for
// both domains; its lift is 1 for both, and only expert 1 (domain 0) and 2
// (domain 1) have lift above 1.
func TestLiftSeparatesLoadFromSpecialisation(t *testing.T) {
	r := TopK{N: 4, K: 2, E: 4, Experts: []int32{0, 1, 0, 1, 0, 2, 0, 2}}
	domain := []int{0, 0, 1, 1}
	spec := DomainSpec(r, domain, 2)
	if spec[0][0] != 2*Uniform(2, 4) || spec[1][0] != 2*Uniform(2, 4) {
		t.Fatalf("spec of the busy expert %v, want 2× uniform for both domains", spec)
	}
	shares, overall := Shares(r, domain, 2)
	if d := cmp.Diff([][]float64{{1, 2, 0, 0}, {1, 0, 2, 0}}, Lift(shares, overall), approx); d != "" {
		t.Errorf("Lift (-want +got):\n%s", d)
	}
	div, w := Divergence(shares, overall, domain)
	// Each domain: p = (½, ½, 0, 0) against overall (½, ¼, ¼, 0).
	want := JSDivergence([]float64{0.5, 0.5, 0, 0}, []float64{0.5, 0.25, 0.25, 0})
	if d := cmp.Diff([]float64{want, want}, div, approx); d != "" || math.Abs(w-want) > 1e-12 {
		t.Errorf("Divergence = %v (weighted %g), want %g each (-want +got):\n%s", div, w, want, d)
	}
	// Domain-blind routing: divergence 0, lift 1, whatever the load.
	blind := TopK{N: 8, K: 1, E: 2, Experts: []int32{0, 0, 0, 0, 0, 0, 1, 1}}
	alt := []int{0, 1, 0, 1, 0, 1, 0, 1}
	s2, o2 := Shares(blind, alt, 2)
	if _, w := Divergence(s2, o2, alt); w > 1e-12 {
		t.Errorf("domain-blind routing has divergence %g", w)
	}
	if d := cmp.Diff([][]float64{{1, 1}, {1, 1}}, Lift(s2, o2), approx); d != "" {
		t.Errorf("domain-blind Lift (-want +got):\n%s", d)
	}
}

func TestJSDivergence(t *testing.T) {
	for _, tc := range []struct {
		p, q []float64
		want float64
	}{
		{[]float64{1, 0}, []float64{0, 1}, 1},
		{[]float64{0.3, 0.7}, []float64{0.3, 0.7}, 0},
		// H(¼,¾) − ½·H(½,½) − ½·0 for p=(½,½), q=(0,1).
		{[]float64{0.5, 0.5}, []float64{0, 1}, -(0.25*math.Log2(0.25) + 0.75*math.Log2(0.75)) - 0.5},
	} {
		if got := JSDivergence(tc.p, tc.q); math.Abs(got-tc.want) > 1e-12 {
			t.Errorf("JS(%v, %v) = %g, want %g", tc.p, tc.q, got, tc.want)
		}
	}
}

// TestShuffleDomainsKeepsSizesAndWindows: pseudo-domains have the real
// domains' sizes and every window keeps one label.
func TestShuffleDomainsKeepsSizesAndWindows(t *testing.T) {
	domain := []int{0, 0, 0, 1, 1, 1, 1, 1, 1, 2, 2, 2}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 10 {
		got := ShuffleDomains(domain, 3, rng)
		count := map[int]int{}
		for i, d := range got {
			count[d]++
			if got[i-i%3] != d {
				t.Fatalf("window %d mixes labels: %v", i/3, got)
			}
		}
		if d := cmp.Diff(map[int]int{0: 3, 1: 6, 2: 3}, count); d != "" {
			t.Fatalf("sizes (-want +got):\n%s", d)
		}
	}
}
