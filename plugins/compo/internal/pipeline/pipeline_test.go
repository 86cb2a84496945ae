package pipeline

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/shammie-ml/shammie/plugins/compo/internal/planted"
	"github.com/shammie-ml/shammie/plugins/compo/internal/prefs"
	"github.com/shammie-ml/shammie/sdk/ml"
)

type quiet struct{}

func (quiet) Progress(string, int64, int64, string) {}
func (quiet) Metric(string, int64, float64)         {}
func (quiet) Logf(string, ...any)                   {}

// TestPrefixConditioningChain wires sft → dpo → eval with the kit's learned
// prefix id instead of the text template (a few steps: the wiring, not the
// learning, is under test): the model carries prefix_vocab = K+1 and its
// community list, DPO reads them from the SFT artifact, and eval scores
// every context.
func TestPrefixConditioningChain(t *testing.T) {
	pairs, truth := planted.Generate(planted.Config{Communities: 2, Posts: 12, LabelNoise: 0}, 1)
	train, test := prefs.Split(pairs, 0.3, 1)
	backend, err := ml.OpenBackend("go")
	if err != nil {
		t.Fatal(err)
	}
	defer backend.Finalize()
	dir := t.TempDir()
	sft, dpo := filepath.Join(dir, "sft.safetensors"), filepath.Join(dir, "dpo.safetensors")
	o := Train{Settings: ml.Settings{DModel: 16, Layers: 1, Heads: 2, Seq: 32, Batch: 4, Steps: 3, LR: 1e-3, MinLRRatio: 0.1, AccumSteps: 1},
		NoContextFraction: 0.2, Seed: 1}
	res, err := SFT(context.Background(), backend, train, "prefix", o, sft, "test", quiet{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Cond.PrefixVocab() != 3 {
		t.Errorf("prefix vocab %d, want K+1 = 3", res.Cond.PrefixVocab())
	}
	info, _, err := ml.ReadModelInfo(sft)
	if err != nil {
		t.Fatal(err)
	}
	if info.Config.PrefixVocab != 3 {
		t.Errorf("saved model has prefix_vocab %d, want 3", info.Config.PrefixVocab)
	}
	d, err := DPO(context.Background(), backend, train, sft, o, ml.DPOOptions{Beta: 0.1}, dpo, "test", quiet{})
	if err != nil {
		t.Fatal(err)
	}
	if d.Cond.Mode != "prefix" || len(d.Cond.Communities) != 2 {
		t.Errorf("dpo conditioning %+v, want prefix over 2 communities", d.Cond)
	}
	r, err := Evaluate(context.Background(), backend, test, dpo, sft, EvalOptions{Seq: 32, Seed: 1, Truth: &truth, Generate: true, Temperature: 1, MaxNew: 4}, quiet{})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range Contexts {
		if v, ok := r.Accuracy[c]; !ok || v < 0 || v > 1 {
			t.Errorf("accuracy[%s] = %v, %v", c, v, ok)
		}
	}
	if r.OracleAccuracy != 1 {
		t.Errorf("noise-free planted pairs: oracle accuracy %g, want 1", r.OracleAccuracy)
	}
	if len(r.AttributeRate) != 3 {
		t.Errorf("attribute rates %v, want one per context", r.AttributeRate)
	}
}
