package main

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/zclconf/go-cty/cty"

	"github.com/shammie-ml/shammie/internal/shareddata"
	"github.com/shammie-ml/shammie/sdk"
	"github.com/shammie-ml/shammie/sdk/ml"
	"github.com/shammie-ml/shammie/sdk/plugintest"
)

func diagText(d sdk.Diagnostics) string {
	var parts []string
	for _, x := range d {
		parts = append(parts, x.String())
	}
	return strings.Join(parts, "; ")
}

func TestValidateConfig(t *testing.T) {
	h := plugintest.New(t, plugin{})
	cases := []struct {
		cfg  map[string]any
		want string
	}{
		{map[string]any{"mode": "bogus"}, "mode"},
		{map[string]any{"mode": "probe"}, "Probe needs a model"},
		{map[string]any{"mode": "probe", "model": "m", "task": "colors"}, "colors task needs data"},
		{map[string]any{"mode": "probe", "model": "m", "symbols": "XY"}, "symbols"},
		{map[string]any{"mode": "probe", "model": "m", "layout": "wide"}, "layout"},
		{map[string]any{"mode": "planted", "planted_layer": 4, "layers": 4}, "planted layer must be a layer"},
		{map[string]any{"mode": "planted", "task": "colors", "data": "x"}, "planted questions only"},
		{map[string]any{"mode": "planted", "shots": -1}, "shots"},
		{map[string]any{"mode": "planted", "leak_penalty": -1}, "leak_penalty"},
		{map[string]any{"mode": "probe", "model": "m", "task": "colors", "data": "x", "shots": 4}, "at most 3 in-context"},
		{map[string]any{"mode": "planted", "ways": 3}, "ways must be 2 or 4"},
		{map[string]any{"mode": "probe", "model": "m", "task": "colors", "data": "x", "ways": 4}, "Colors task is 2-way"},
		{map[string]any{"mode": "planted", "lr": 0}, "lr"},
	}
	for _, tc := range cases {
		d := h.Validate(tc.cfg)
		if !d.HasErrors() || !strings.Contains(strings.ToLower(diagText(d)), strings.ToLower(tc.want)) {
			t.Errorf("config %v: diagnostics %q, want an error mentioning %q", tc.cfg, diagText(d), tc.want)
		}
	}
	unknowns := []struct {
		name string
		cfg  map[string]any
		want []string
	}{
		{"unknown model", map[string]any{"mode": "probe", "model": cty.UnknownVal(cty.String)}, nil},
		{"unknown layers, bad symbols", map[string]any{"mode": "planted", "layers": cty.UnknownVal(cty.Number), "planted_layer": 9, "symbols": "XY"}, []string{"symbols"}},
		{"unknown mode, bad shots", map[string]any{"mode": cty.UnknownVal(cty.String), "shots": -2}, []string{"shots"}},
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
	if d := h.Validate(map[string]any{}); d.HasErrors() {
		t.Errorf("default config rejected: %s", diagText(d))
	}
}

// TestPlantedThenProbe runs both modes through the plugin protocol at a
// tiny size (too short to learn the task: the located layers are checked
// in internal/probe): the planted model is written, a probe step reloads
// it, and every output and artifact is there.
func TestPlantedThenProbe(t *testing.T) {
	h := plugintest.New(t, plugin{})
	pl := h.Run(map[string]any{"mode": "planted", "layers": 2, "planted_layer": 1, "d_model": 16, "heads": 2, "seq": 16,
		"batch": 8, "steps": 5, "warmup": 1, "items": 6}, plugintest.WithSeed(2))
	pl.RequireSuccess(t)
	model := pl.Artifact(t, "model").Path
	pr := h.Run(map[string]any{"mode": "probe", "model": model, "items": 4, "shots": 1, "symbols": "CD"}, plugintest.WithSeed(2))
	pr.RequireSuccess(t)
	four := h.Run(map[string]any{"mode": "probe", "model": model, "items": 3, "ways": 4}, plugintest.WithSeed(2))
	four.RequireSuccess(t)
	pr.RequireSuccess(t)
	if n := ml.LiveBackends(); n != 0 {
		t.Errorf("%d backends still open after the steps", n)
	}
	for _, r := range []*plugintest.Result{pl, pr} {
		for _, a := range []string{"analysis", "plot_patching", "plot_lens", "plot_lens_heads", "plot_lens_heads_svg"} {
			if r.Artifact(t, a).Size == 0 {
				t.Errorf("artifact %s is empty", a)
			}
		}
		d := r.Float(t, "decisive_layer")
		if d < 0 || d > 1 {
			t.Errorf("decisive_layer %v outside the model's layers", d)
		}
	}
	b, err := os.ReadFile(pr.Artifact(t, "analysis").Path)
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Symbols      string
		HeadAccuracy [][]float64
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Symbols != "CD" || len(rep.HeadAccuracy) != 2 || len(rep.HeadAccuracy[0]) != 2 {
		t.Errorf("analysis: symbols %q, head lens %v (want 2 layers × 2 heads)", rep.Symbols, rep.HeadAccuracy)
	}
}

// TestColorsProbe runs the probe mode on the paper's Colors prompts (full
// layout, one shot) over a tiny planted model with room for them; it needs
// ../shared/data.
func TestColorsProbe(t *testing.T) {
	dir := shareddata.Path(t, "mcqa_colors")
	h := plugintest.New(t, plugin{})
	pl := h.Run(map[string]any{"mode": "planted", "layers": 2, "planted_layer": 0, "d_model": 16, "heads": 2, "seq": 256,
		"batch": 8, "steps": 2, "warmup": 1, "items": 2}, plugintest.WithSeed(3))
	pl.RequireSuccess(t)
	pr := h.Run(map[string]any{"mode": "probe", "model": pl.Artifact(t, "model").Path, "task": "colors",
		"data": dir + "/memory_colors.csv", "layout": "full", "items": 5, "shots": 1}, plugintest.WithSeed(3))
	pr.RequireSuccess(t)
	if a := pr.Float(t, "accuracy"); a < 0 || a > 1 {
		t.Errorf("accuracy %v", a)
	}
	short := h.Run(map[string]any{"mode": "probe", "model": pl.Artifact(t, "model").Path, "task": "colors",
		"data": dir + "/memory_colors.csv", "layout": "full", "items": 2, "shots": 3}, plugintest.WithSeed(3))
	if short.Succeeded() {
		t.Error("3-shot Colors prompts longer than max_seq_len 256 were accepted")
	}
}
