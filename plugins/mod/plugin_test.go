package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/zclconf/go-cty/cty"

	"github.com/shammie-ml/shammie/plugins/mod/internal/pipeline"
	"github.com/shammie-ml/shammie/sdk/ml"
	"github.com/shammie-ml/shammie/sdk/plugintest"
)

// saveTiny writes a random model artifact (seeded) of the given layers and
// tokenizer.
func saveTiny(t *testing.T, dir, name string, seed int64, layers int, eos bool) string {
	t.Helper()
	backend, err := ml.OpenBackend("go")
	if err != nil {
		t.Fatal(err)
	}
	defer backend.Finalize()
	tok := ml.ByteTokenizer{WithEOS: eos}
	m, err := ml.NewTransformer(ml.Config{VocabSize: tok.VocabSize(), DModel: 16, NumHeads: 2, NumLayers: layers, DFF: 32, MaxSeqLen: 48})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.New()
	ml.SetInitSeed(ctx, seed)
	sc, err := m.NewScorer(backend, ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sc.Score([][]int32{{1}}, [][]int32{{2}}, nil); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name+".safetensors")
	if err := ml.SaveModel(path, ctx, m, tok, nil); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestValidateConfig(t *testing.T) {
	dir := t.TempDir()
	ref := saveTiny(t, dir, "ref", 1, 1, true)
	a := saveTiny(t, dir, "a", 2, 1, true)
	b := saveTiny(t, dir, "b", 3, 1, true)
	deep := saveTiny(t, dir, "deep", 4, 2, true)
	noEOS := saveTiny(t, dir, "noeos", 5, 1, false)
	h := plugintest.New(t, &Plugin{})
	base := func(edit func(m map[string]any)) map[string]any {
		m := map[string]any{"reference": ref, "models": []string{a, b}, "prompts": []string{"hi"}}
		if edit != nil {
			edit(m)
		}
		return m
	}
	for _, tc := range []struct {
		name string
		cfg  map[string]any
		want string // "" = valid; else a substring of a diagnostic's summary and its attribute
		attr string
	}{
		{"valid", base(nil), "", ""},
		{"valid weights", base(func(m map[string]any) { m["weights"] = []float64{0.3, 0.7} }), "", ""},
		{"unknown models", base(func(m map[string]any) { m["models"] = cty.UnknownVal(cty.List(cty.String)) }), "", ""},
		{"unknown reference", base(func(m map[string]any) { m["reference"] = cty.UnknownVal(cty.String) }), "", ""},
		{"weights off the simplex", base(func(m map[string]any) { m["weights"] = []float64{0.5, 0.6} }), "on the simplex", "weights"},
		{"negative weight", base(func(m map[string]any) { m["weights"] = []float64{1.5, -0.5} }), "on the simplex", "weights"},
		{"weights count", base(func(m map[string]any) { m["weights"] = []float64{1} }), "One weight per model", "weights"},
		{"K too large", base(func(m map[string]any) { m["models"] = []string{a, b, a, b, a} }), "Between 1 and 4 models", "models"},
		{"no models", base(func(m map[string]any) { m["models"] = []string{} }), "Between 1 and 4 models", "models"},
		{"vocabulary", base(func(m map[string]any) { m["models"] = []string{a, noEOS} }), "vocabulary differs", "models"},
		{"architecture", base(func(m map[string]any) { m["models"] = []string{deep, b} }), "architecture differs", "models"},
		{"missing model", base(func(m map[string]any) { m["models"] = []string{a, filepath.Join(dir, "nope")} }), "Cannot read a model", "models"},
		{"divergence", base(func(m map[string]any) { m["divergence"] = "kl" }), "", "divergence"},
		{"alpha", base(func(m map[string]any) { m["divergence"] = "alpha"; m["alpha"] = 1.0 }), "(0, 1)", "alpha"},
		{"beta", base(func(m map[string]any) { m["beta"] = 0.0 }), "Beta (β) must be positive", "beta"},
		{"sweep step", base(func(m map[string]any) { m["sweep_step"] = 0.3 }), "divide 1", "sweep_step"},
		{"no prompts", base(func(m map[string]any) { delete(m, "prompts") }), "No prompts", "prompts"},
		{"objective names", base(func(m map[string]any) { m["objectives"] = []string{"x"} }), "One objective name", "objectives"},
		{"beams", base(func(m map[string]any) { m["beams"] = 0 }), "beam width", "beams"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ds := h.Validate(tc.cfg)
			if tc.attr == "" {
				if ds.HasErrors() {
					t.Fatalf("want valid, got %v", ds)
				}
				return
			}
			for _, d := range ds {
				if strings.Contains(d.Summary, tc.want) && len(d.Path) > 0 && d.Path[0].(cty.GetAttrStep).Name == tc.attr {
					return
				}
			}
			t.Fatalf("want an error %q at %s, got %v", tc.want, tc.attr, ds)
		})
	}
}

// TestRunSweep decodes a K=2 sweep with random tiny models through the
// plugin protocol and checks the artifacts and outputs.
func TestRunSweep(t *testing.T) {
	dir := t.TempDir()
	ref := saveTiny(t, dir, "ref", 1, 1, true)
	a := saveTiny(t, dir, "a", 2, 1, true)
	b := saveTiny(t, dir, "b", 3, 1, true)
	res := plugintest.Run(t, &Plugin{}, map[string]any{
		"reference": ref, "models": []string{a, b}, "merged": a, "objectives": []string{"x", "y"},
		"divergence": "jsd", "sweep_step": 0.5, "prompts": []string{"ab", "hello"}, "max_new_tokens": 4, "beams": 2,
	})
	res.RequireSuccess(t)
	if n := ml.LiveBackends(); n != 0 {
		t.Errorf("%d backends still open after the step", n)
	}
	raw, err := os.ReadFile(res.Artifact(t, "sweep").Path)
	if err != nil {
		t.Fatal(err)
	}
	var sw pipeline.Result
	if err := json.Unmarshal(raw, &sw); err != nil {
		t.Fatal(err)
	}
	if len(sw.MOD) != 3 || len(sw.Singles) != 2 || sw.Merged == nil {
		t.Fatalf("sweep has %d MOD points, %d singles, merged %v; want 3, 2, set", len(sw.MOD), len(sw.Singles), sw.Merged != nil)
	}
	// w = (1, 0) is model a alone: the same generations as the single model.
	for _, p := range sw.MOD {
		if p.Weights[0] == 1 {
			if strings.Join(p.Generations, "|") != strings.Join(sw.Singles[0].Generations, "|") {
				t.Errorf("MOD at w=(1,0) generated %q, model a alone %q", p.Generations, sw.Singles[0].Generations)
			}
		}
	}
	for _, name := range []string{"pareto_png", "pareto_svg"} {
		if res.Artifact(t, name).Size == 0 {
			t.Errorf("%s is empty", name)
		}
	}
	_ = res.Float(t, "mod_combined")
}

// TestChain runs the planted chain's three modes through the plugin
// protocol at a tiny size: sft → dpo (both objectives) → decode with the
// plugin's own equal-weight merge.
func TestChain(t *testing.T) {
	h := plugintest.New(t, &Plugin{})
	small := map[string]any{"layers": 1, "d_model": 16, "heads": 2, "seq": 16, "batch": 8}
	with := func(extra map[string]any) map[string]any {
		m := map[string]any{}
		for k, v := range small {
			m[k] = v
		}
		for k, v := range extra {
			m[k] = v
		}
		return m
	}
	sft := h.Run(with(map[string]any{"mode": "sft", "steps": 20, "warmup": 2}), plugintest.WithSeed(1))
	sft.RequireSuccess(t)
	ref := sft.Artifact(t, "model").Path
	var models []string
	for _, obj := range []string{"first", "second"} {
		d := h.Run(with(map[string]any{"mode": "dpo", "objective": obj, "reference": ref, "dpo_steps": 10, "pairs": 64}), plugintest.WithSeed(1))
		d.RequireSuccess(t)
		models = append(models, d.Artifact(t, "model").Path)
	}
	dec := h.Run(map[string]any{"reference": ref, "models": models, "prompts_file": sft.Artifact(t, "prompts").Path,
		"sweep_step": 0.5, "max_new_tokens": 5, "planted_rewards": true}, plugintest.WithSeed(1))
	dec.RequireSuccess(t)
	if dec.Artifact(t, "merged").Size == 0 {
		t.Error("the equal-weight merge is empty")
	}
	raw, err := os.ReadFile(dec.Artifact(t, "sweep").Path)
	if err != nil {
		t.Fatal(err)
	}
	var sw pipeline.Result
	if err := json.Unmarshal(raw, &sw); err != nil {
		t.Fatal(err)
	}
	if sw.Merged == nil || len(sw.MOD) != 3 || len(sw.MOD[0].True) != 2 {
		t.Fatalf("sweep: merged %v, %d MOD points, true rewards %v", sw.Merged != nil, len(sw.MOD), sw.MOD[0].True)
	}
	if n := ml.LiveBackends(); n != 0 {
		t.Errorf("%d backends still open after the steps", n)
	}
}
