package main

import (
	"os"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	gomlxctx "github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/google/go-cmp/cmp"
	"github.com/zclconf/go-cty/cty"

	"github.com/shammie-ml/shammie/internal/shareddata"
	"github.com/shammie-ml/shammie/plugins/moe/internal/moe"
	"github.com/shammie-ml/shammie/sdk"
	"github.com/shammie-ml/shammie/sdk/ml"
	"github.com/shammie-ml/shammie/sdk/plugintest"
)

// TestGenerateThenTrain runs the default-run pipeline at a tiny size through
// the real plugin protocol: planted corpus, then a short training run with
// every analysis.
func TestGenerateThenTrain(t *testing.T) {
	h := plugintest.New(t, plugin{})
	gen := h.Run(map[string]any{"mode": "generate", "bytes_per_domain": 20000}, plugintest.WithSeed(3))
	gen.RequireSuccess(t)
	low, high := gen.Artifact(t, "low"), gen.Artifact(t, "high")
	if low.Size != 20000 || high.Size != 20000 {
		t.Fatalf("planted domains have %d and %d bytes, want 20000", low.Size, high.Size)
	}
	tr := h.Run(map[string]any{
		"mode": "train", "domains": map[string]any{"low": low.Path, "high": high.Path},
		"layers": 1, "d_model": 32, "heads": 2, "seq": 32, "batch": 8, "expert_hidden": 32,
		"steps": 40, "lr": 0.01, "warmup": 4, "snapshots": 3, "eval_windows": 4,
	}, plugintest.WithSeed(1))
	tr.RequireSuccess(t)
	if n := ml.LiveBackends(); n != 0 {
		t.Errorf("%d backends still open after the steps (a reused plugin process would leak them)", n)
	}
	checkModelArtifact(t, tr.Artifact(t, "model").Path)
	for _, name := range []string{"model", "analysis", "specialisation", "plot_vocab_spec",
		"plot_saturation", "plot_domain_spec_layer0", "plot_load_layer0", "plot_coactivation_layer0", "plot_coactivation_adjacent_layer0",
		"plot_lift", "plot_divergence", "plot_divergence_svg"} {
		if a := tr.Artifact(t, name); a.Size == 0 {
			t.Errorf("artifact %s is empty", name)
		}
	}
	table, err := os.ReadFile(tr.Artifact(t, "specialisation").Path)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("specialisation table:\n%s", table)
	for _, want := range []string{"Layer 0", "high", "low", "uniform = 100·2/8 = 25.0", "less work", "lift", "JS bits", "shuffled-domain control (20 shuffles)"} {
		if !strings.Contains(string(table), want) {
			t.Errorf("specialisation table lacks %q:\n%s", want, table)
		}
	}
	div, ctrl := tr.Output(t, "divergence").AsValueSlice(), tr.Output(t, "divergence_control").AsValueSlice()
	if len(div) != 1 || len(ctrl) != 1 || tr.Output(t, "top_lift").LengthInt() != 2 {
		t.Errorf("divergence %v, control %v, top_lift %v: want one layer and two domains", div, ctrl, tr.Output(t, "top_lift"))
	}
	t.Logf("divergence %#v (control p95 %#v), top lift %#v (control p95 %#v), specialised %#v", div, ctrl, tr.Output(t, "top_lift"),
		tr.Output(t, "top_lift_control"), tr.Output(t, "domain_specialised"))
	if ws := tr.Float(t, "work_saved"); ws <= 1 {
		t.Errorf("work_saved = %g, want > 1 (sparse computes fewer rows than dense)", ws)
	}
	if len(tr.Metrics["aux/load_balance/layer_0"]) == 0 || len(tr.Metrics["aux/router_z/layer_0"]) == 0 {
		t.Errorf("aux losses not reported as metrics; metrics: %v", keys(tr.Metrics))
	}
}

// checkModelArtifact: the model artifact alone rebuilds the MoE model
// (experts, top-k and expert width from its metadata), and its weights
// cannot be loaded into a dense transformer of the same shape.
func checkModelArtifact(t *testing.T, path string) {
	t.Helper()
	backend, release, err := ml.AcquireBackend("go")
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	ctx := gomlxctx.New()
	m, err := ml.LoadModel(backend, path, ctx)
	if err != nil {
		t.Fatal(err)
	}
	if f := m.Config.FFN; f.Kind != moe.Kind || f.Experts != 8 || f.TopK != 2 || f.ExpertHidden != 32 {
		t.Errorf("the model file's feed-forward is %+v, want moe with 8 experts, top-2, hidden 32", f)
	}
	logits := func(m *ml.Transformer, ctx *gomlxctx.Context) error {
		e, err := gomlxctx.NewExec(backend, ctx, func(ctx *gomlxctx.Context, tok *graph.Node) *graph.Node {
			return m.Forward(ctx, ml.Inputs{Tokens: tok}).Logits
		})
		if err != nil {
			return err
		}
		_, err = e.Exec(tensors.FromFlatDataAndDimensions([]int32{104, 105}, 1, 2))
		return err
	}
	if err := logits(m.Transformer, ctx); err != nil {
		t.Fatalf("running the loaded MoE model: %v", err)
	}
	dense := m.Config
	dense.FFN = ml.FFNSpec{}
	dm, err := ml.NewTransformer(dense)
	if err != nil {
		t.Fatal(err)
	}
	dctx := gomlxctx.New()
	if err := ml.LoadVariables(path, dctx, "/"+ml.ModelScope); err != nil {
		t.Fatal(err)
	}
	err = logits(dm, dctx)
	if err == nil || !strings.Contains(err.Error(), "model.layer_0.ff.gate_up.weights") {
		t.Fatalf("the MoE weights ran in a dense transformer (error %v); loading must fail naming the missing tensor", err)
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestValidateConfig(t *testing.T) {
	h := plugintest.New(t, plugin{})
	cases := []struct {
		cfg  map[string]any
		want string
	}{
		{map[string]any{"mode": "train"}, "Train needs domains"},
		{map[string]any{"mode": "bogus"}, "Unknown mode"},
		{map[string]any{"mode": "train", "domains": map[string]any{"a": "x"}, "top_k": 9}, "top_k"},
		{map[string]any{"mode": "train", "domains": map[string]any{"a": "x"}, "d_model": 30, "heads": 4}, "d_model"},
		{map[string]any{"mode": "generate", "bytes_per_domain": 10}, "Too little"},
		{map[string]any{"mode": "train", "domains": map[string]any{"a": "x"}, "accum_steps": 2}, "gradient accumulation is not supported"},
		{map[string]any{"mode": "train", "domains": map[string]any{"a": "x"}, "lr": 0}, "lr must be positive"},
	}
	for _, tc := range cases {
		d := h.Validate(tc.cfg)
		if !d.HasErrors() || !strings.Contains(strings.ToLower(diagText(d)), strings.ToLower(tc.want)) {
			t.Errorf("config %v: diagnostics %q, want an error mentioning %q", tc.cfg, diagText(d), tc.want)
		}
	}
	// Before anything runs, values from upstream steps are unknown: their
	// checks are skipped, the known attributes are still checked.
	unknowns := []struct {
		name string
		cfg  map[string]any
		want []string // error paths
	}{
		{"unknown domain paths, bad eval_fraction", map[string]any{"mode": "train", "eval_fraction": 0.7,
			"domains": cty.MapVal(map[string]cty.Value{"low": cty.UnknownVal(cty.String), "high": cty.UnknownVal(cty.String)})}, []string{"eval_fraction"}},
		{"unknown domains, bad top_k", map[string]any{"mode": "train", "domains": cty.UnknownVal(cty.Map(cty.String)), "top_k": 9}, []string{"(config)"}}, // Options.Validate names no attribute
		{"unknown steps, bad snapshots", map[string]any{"mode": "train", "domains": map[string]any{"a": "x"},
			"steps": cty.UnknownVal(cty.Number), "snapshots": 1}, []string{"snapshots"}},
		{"unknown heads, bad d_model and min_lr_ratio", map[string]any{"mode": "train", "domains": map[string]any{"a": "x"},
			"heads": cty.UnknownVal(cty.Number), "d_model": 30, "min_lr_ratio": 2}, []string{"min_lr_ratio"}},
		{"unknown mode", map[string]any{"mode": cty.UnknownVal(cty.String), "bytes_per_domain": 10}, nil},
		{"unknown bytes", map[string]any{"mode": "generate", "bytes_per_domain": cty.UnknownVal(cty.Number)}, nil},
	}
	for _, tc := range unknowns {
		var got []string
		for _, e := range h.Validate(tc.cfg) {
			if e.Severity == sdk.SeverityError {
				got = append(got, sdk.FormatPath(e.Path))
			}
		}
		if diff := cmp.Diff(tc.want, got); diff != "" {
			t.Errorf("%s: error paths (-want +got):\n%s", tc.name, diff)
		}
	}
	if d := h.Validate(map[string]any{"mode": "train", "domains": map[string]any{"a": "x"}}); d.HasErrors() {
		t.Errorf("default train config rejected: %s", diagText(d))
	}
}

func diagText(d sdk.Diagnostics) string {
	var parts []string
	for _, x := range d {
		parts = append(parts, x.String())
	}
	return strings.Join(parts, "; ")
}

// TestOLMoEDomainsSmoke trains a few steps on OLMoE's real domain samples
// (skipped without the shared data) and checks the table is printed beside
// OLMoE-1B-7B's with the pattern verdict; the full run is specs/olmoe.hcl.
func TestOLMoEDomainsSmoke(t *testing.T) {
	dir := shareddata.Path(t, "olmoe_domains")
	h := plugintest.New(t, plugin{})
	files := map[string]any{}
	for name, f := range map[string]string{"arxiv": "arxiv_texts.txt", "github": "github_oss_with_stack_texts.txt",
		"c4": "c4_texts.txt", "books": "b3g_texts.txt", "wikipedia": "wikipedia_texts.txt"} {
		files[name] = dir + "/" + f
	}
	tr := h.Run(map[string]any{
		"mode": "train", "domains": files, "max_bytes_per_domain": 40000, "reference": dir + "/domain_spec_reference.txt",
		"layers": 2, "d_model": 32, "heads": 2, "seq": 32, "batch": 8, "experts": 8, "expert_hidden": 32,
		"steps": 8, "warmup": 2, "snapshots": 2, "eval_windows": 4,
	}, plugintest.WithSeed(1))
	tr.RequireSuccess(t)
	table, err := os.ReadFile(tr.Artifact(t, "specialisation").Path)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Layer 1 (OLMoE layer 15)", "OLMoE: top3", "(17, 93.7)", "OLMoE's pattern"} {
		if !strings.Contains(string(table), want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
	tr.Output(t, "olmoe_pattern_holds")
}

// TestPerLayerPlotsAreFamilies: the per-layer plots are declared as bounded
// families, so `plugins describe moe` shows one row per family instead of
// one per layer up to MaxLayers.
func TestPerLayerPlotsAreFamilies(t *testing.T) {
	rows := map[string]bool{}
	families := map[string]int{}
	for _, a := range schema.Artifacts {
		if a.Family != "" {
			rows[a.Family] = true
			families[a.Family]++
			continue
		}
		rows[a.Name] = true
	}
	if len(families) != 8 {
		t.Errorf("%d artifact families, want 8 (4 per-layer plots × PNG/SVG): %v", len(families), families)
	}
	for f, n := range families {
		if n != MaxLayers {
			t.Errorf("family %s has %d members, want MaxLayers = %d", f, n, MaxLayers)
		}
	}
	if len(rows) > 24 {
		t.Errorf("describe would list %d artifact rows", len(rows))
	}
}
