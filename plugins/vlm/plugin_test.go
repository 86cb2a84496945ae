package main

import (
	"image"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/zclconf/go-cty/cty"

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
	train := func(kv ...any) map[string]any {
		m := map[string]any{"mode": "train", "bundle": "b", "examples": "e"}
		for i := 0; i < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	}
	cases := []struct {
		cfg  map[string]any
		want string
	}{
		{map[string]any{"mode": "bogus"}, "mode"},
		{map[string]any{"mode": "generate", "shapes": []any{"hexagon"}}, "shapes"},
		{map[string]any{"mode": "generate", "colors": []any{}}, "at least one colour"},
		{map[string]any{"mode": "generate", "min_objects": 4, "max_objects": 2}, "max_objects must be at least"},
		{map[string]any{"mode": "generate", "radius": 0.5}, "radius"},
		{map[string]any{"mode": "train", "examples": "e"}, "image bundle is missing"},
		{map[string]any{"mode": "train", "bundle": "b"}, "examples are missing"},
		{train("patch", 5), "tiling is not usable"},
		{train("margin", 1), "tiling is not usable"},
		{train("feature_layers", []any{0}), "two ViT blocks"},
		{train("feature_layers", []any{0, 7}), "not a ViT layer"},
		{train("vit_d_model", 66, "vit_heads", 2), "multiple of 4"},
		{train("lr_vit_scale", 0), "lr_vit_scale must be positive"},
		{train("one_object_steps", -1), "one_object_steps"},
		{train("eval_every", -1), "eval_every"},
		{train("mix_caption", 0, "mix_point", 0, "mix_count", 0), "mixture is empty"},
		{map[string]any{"mode": "evaluate", "bundle": "b", "examples": "e"}, "Evaluate needs a model"},
		{map[string]any{"mode": "ask", "model": "m"}, "Ask needs a manifest"},
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
		{"unknown artifacts", map[string]any{"mode": "train", "bundle": cty.UnknownVal(cty.String), "examples": cty.UnknownVal(cty.String)}, nil},
		{"unknown model, bad tokens", map[string]any{"mode": "ask", "model": cty.UnknownVal(cty.String), "manifest": "m", "max_new_tokens": 0}, []string{"max_new_tokens"}},
		{"unknown mode", map[string]any{"mode": cty.UnknownVal(cty.String), "images": -1}, nil},
		{"unknown crop skips the tiling check", train("crop", cty.UnknownVal(cty.Number), "patch", 5), nil},
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
	for _, mode := range []string{"generate", "train"} {
		cfg := map[string]any{"mode": mode}
		if mode == "train" {
			cfg = train()
		}
		if d := h.Validate(cfg); d.HasErrors() {
			t.Errorf("default %s config rejected: %s", mode, diagText(d))
		}
	}
}

// TestPlantedPointing is the reduced setting of the spec: 32×32 images
// with one red circle on a plain background, a single crop, a short run
// through the plugin protocol. After 120 steps at lr 0.003 the coordinate
// digits are off their plateau (it lasts ≈ 40–70 steps here) and the
// held-out points land on the circle: F1 must reach 0.5 and beat the
// centre-point baseline by 0.3 (measured: 0.80 against 0.20; the spec's
// bar, 0.9 with 1–3 objects among nine labels, is specs/vlm.hcl's). Then
// the artifact is evaluated again in its own step (same F1: greedy
// decoding) and asked about a PNG.
func TestPlantedPointing(t *testing.T) {
	h := plugintest.New(t, plugin{})
	gen := h.Run(map[string]any{"mode": "generate", "images": 200, "image_size": 32, "min_objects": 1, "max_objects": 1,
		"shapes": []any{"circle"}, "colors": []any{"red"}, "radius": 0.2, "noise": 0, "test_share": 0.1}, plugintest.WithSeed(3))
	gen.RequireSuccess(t)
	bundle, examples := gen.Artifact(t, "images").Path, gen.Artifact(t, "examples").Path
	tr := h.Run(map[string]any{"mode": "train", "bundle": bundle, "examples": examples,
		"vit_layers": 2, "vit_d_model": 32, "vit_heads": 2, "feature_layers": []any{-1, 0}, "pool_heads": 2, "proj_hidden": 64,
		"layers": 2, "d_model": 64, "heads": 2, "seq": 160, "batch": 12, "caption_steps": 0, "steps": 120, "lr": 0.003, "warmup": 10,
		"min_lr_ratio": 0.3, "lr_vit_scale": 1, "lr_connector_scale": 1, "mix_caption": 0, "mix_point": 1, "mix_count": 0, "eval_items": 20,
		"eval_every": 60}, plugintest.WithSeed(3))
	tr.RequireSuccess(t)
	for _, l := range tr.Logs {
		t.Log(l)
	}
	pts := tr.Metrics["mixture/train/loss"]
	if len(pts) < 2 || pts[len(pts)-1].Value > 0.5*pts[0].Value {
		t.Errorf("training loss did not halve: %v", pts)
	}
	// eval_every 60: one held-out score during training (the final
	// evaluation scores step 120).
	if got := tr.Metrics["mixture/eval/pointing_f1"]; len(got) != 1 || got[0].Step != 60 || got[0].Value < 0 || got[0].Value > 1 {
		t.Errorf("mixture/eval/pointing_f1 = %v, want one F1 at step 60", got)
	}
	f1, centre, valid := tr.Float(t, "pointing_f1"), tr.Float(t, "centre_f1"), tr.Float(t, "pointing_valid")
	t.Logf("held-out pointing F1 %.3f (centre baseline %.3f), %.0f%% valid answers, final loss %.3f", f1, centre, 100*valid, tr.Float(t, "final_loss"))
	if valid < 0.8 {
		t.Errorf("only %.0f%% of the pointing answers parse with a point, want ≥ 80%%", 100*valid)
	}
	if f1 < 0.5 || f1 < centre+0.3 {
		t.Errorf("held-out pointing F1 %.3f, want ≥ 0.5 and ≥ the centre baseline %.3f + 0.3", f1, centre)
	}
	for _, a := range []string{"model", "predictions", "metrics", "plot_scores", "plot_scores_svg"} {
		if tr.Artifact(t, a).Size == 0 {
			t.Errorf("artifact %s is empty", a)
		}
	}
	// The artifact alone, in later steps: evaluate again, ask about a PNG.
	model := tr.Artifact(t, "model").Path
	ev := h.Run(map[string]any{"mode": "evaluate", "model": model, "bundle": bundle, "examples": examples, "eval_items": 20}, plugintest.WithSeed(3))
	ev.RequireSuccess(t)
	if got := ev.Float(t, "pointing_f1"); got != f1 {
		t.Errorf("evaluate: F1 %v, the train step's %v (greedy decoding is deterministic)", got, f1)
	}
	dir := t.TempDir()
	im := image.NewRGBA(image.Rect(0, 0, 32, 32))
	for i := range im.Pix {
		im.Pix[i] = 128
	}
	f, err := os.Create(filepath.Join(dir, "grey.png"))
	if err != nil {
		t.Fatal(err)
	}
	if err := png.Encode(f, im); err != nil {
		t.Fatal(err)
	}
	f.Close()
	man := filepath.Join(dir, "manifest.jsonl")
	if err := os.WriteFile(man, []byte(`{"image": "grey.png", "prompt": "Point to the red circle."}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ask := h.Run(map[string]any{"mode": "ask", "model": model, "manifest": man, "max_new_tokens": 64}, plugintest.WithSeed(1))
	ask.RequireSuccess(t)
	if ask.Float(t, "answered") != 1 || ask.Artifact(t, "answers").Size == 0 {
		t.Error("ask: no answer written")
	}
	if err := os.WriteFile(man, []byte(`{"image": "missing.png", "prompt": "x"}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bad := h.Run(map[string]any{"mode": "ask", "model": model, "manifest": man}, plugintest.WithSeed(1))
	if bad.Succeeded() || !strings.Contains(bad.Status.Message, "missing.png") {
		t.Errorf("ask on a missing image: succeeded %v, error %q", bad.Succeeded(), bad.Status.Message)
	}
	if n := ml.LiveBackends(); n != 0 {
		t.Errorf("%d backends still open after the steps", n)
	}
}
