package report

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/shammie-ml/shammie/plugins/moe/internal/analysis"
	"github.com/shammie-ml/shammie/plugins/moe/internal/experiment"
	"github.com/shammie-ml/shammie/sdk/ml"
)

// A hand-made run: 4 tokens, 2 domains, E=4, k=1, one layer, two snapshots.
func fakeRun() *experiment.Result {
	final := analysis.TopK{N: 4, K: 1, E: 4, Experts: []int32{0, 0, 3, 2}}
	start := analysis.TopK{N: 4, K: 1, E: 4, Experts: []int32{1, 0, 1, 1}}
	return &experiment.Result{
		Train:      ml.TrainResult{Steps: 10, FinalLoss: 1.5},
		Snapshots:  []experiment.Snapshot{{Step: 0, Layers: []analysis.TopK{start}}, {Step: 10, Layers: []analysis.TopK{final}}},
		EvalDomain: []int{0, 0, 1, 1}, EvalToken: []int{5, 5, 6, 7},
		Domains:  []string{"arxiv_texts", "c4_texts"},
		UsedRows: 8, BoundRows: 8, DenseRows: 16,
	}
}

func TestAnalyseAndTable(t *testing.T) {
	s, err := Analyse(fakeRun(), 1)
	if err != nil {
		t.Fatal(err)
	}
	if s.Uniform != 25 {
		t.Errorf("uniform = %g, want 25", s.Uniform)
	}
	// arxiv: both tokens on expert 0 → 100 = 4× uniform; c4 split → 50.
	if got := []float64{s.DomainSpec[0][0].TopOverUniform, s.DomainSpec[0][1].TopOverUniform}; !cmp.Equal(got, []float64{4, 2}) {
		t.Errorf("top/uniform = %v, want [4 2]", got)
	}
	// Load-adjusted: arxiv's expert 0 has half of all assignments and all
	// of arxiv's (lift 2); c4's top expert (2, tied with 3) a quarter of
	// all and half of c4's (lift 2).
	if got := []float64{s.DomainSpec[0][0].TopLift, s.DomainSpec[0][1].TopLift}; !cmp.Equal(got, []float64{2, 2}) {
		t.Errorf("top lift = %v, want [2 2]", got)
	}
	if len(s.Control) != 1 || s.Control[0].Shuffles != analysis.ControlShuffles || len(s.Divergence) != 1 {
		t.Errorf("control %+v, divergence %v: want one layer", s.Control, s.Divergence)
	}
	if d := cmp.Diff([][]float64{{0.25, 1}}, s.Saturation); d != "" {
		t.Errorf("saturation (-want +got):\n%s", d)
	}
	// One layer compares with OLMoE's last; c4 has no reference row there.
	ref := analysis.Reference{0: {"c4": {Top: []analysis.ExpertSpec{{Expert: 41, Spec: 37.7}}}}, 15: {"arxiv": {Top: []analysis.ExpertSpec{{Expert: 17, Spec: 93.7}}}}}
	table := s.Table(ref)
	for _, want := range []string{"OLMoE layer 15", "(17, 93.7)", "7.50", "(no reference)", "2.00× less work", "(step 0) vs final, per layer: [0.250]", "shuffled-domain control (20 shuffles)", "JS bits"} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
	files, err := Write(t.TempDir(), s, ref)
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 2+2*(4+4) {
		t.Errorf("wrote %d files, want analysis, table and 8 plots × (png, svg)", len(files))
	}
}

func TestRefLayerFor(t *testing.T) {
	ref := []int{0, 7, 15}
	got := []int{refLayerFor(0, 3, ref), refLayerFor(1, 3, ref), refLayerFor(2, 3, ref), refLayerFor(0, 1, ref), refLayerFor(1, 2, ref)}
	if d := cmp.Diff([]int{0, 7, 15, 15, 15}, got); d != "" {
		t.Errorf("refLayerFor (-want +got):\n%s", d)
	}
}

func TestOLMoEPattern(t *testing.T) {
	s := &Summary{DomainSpec: [][]DomainRow{{
		{Domain: "arxiv", TopOverUniform: 3}, {Domain: "github_oss", TopOverUniform: 2.5},
		{Domain: "c4", TopOverUniform: 1.5}, {Domain: "b3g", TopOverUniform: 2},
	}}}
	text, holds, ok := s.OLMoEPattern()
	if !ok || !holds || !strings.Contains(text, "holds") {
		t.Errorf("pattern: %q holds=%v ok=%v", text, holds, ok)
	}
	s.DomainSpec[0][1].TopOverUniform = 1
	if _, holds, _ := s.OLMoEPattern(); holds {
		t.Error("github below books: the pattern must not hold")
	}
	if _, _, ok := (&Summary{DomainSpec: [][]DomainRow{{{Domain: "low"}}}}).OLMoEPattern(); ok {
		t.Error("planted domains: no OLMoE comparison expected")
	}
}
