package main

import (
	"encoding/json"
	"os"
	"sort"
	"testing"
	"time"

	"github.com/shammie-ml/shammie/plugins/vlm/internal/model"
	"github.com/shammie-ml/shammie/plugins/vlm/internal/planted"
	"github.com/shammie-ml/shammie/sdk"
	"github.com/shammie-ml/shammie/sdk/plugintest"
)

// TestDiag is an experiment harness, not a test: VLM_DIAG=1 runs the
// spec's generate and train steps through the plugin protocol with
// VLM_DIAG_GEN / VLM_DIAG_TRAIN (JSON objects) overriding specs/vlm.hcl's
// configs, and logs the token lengths of the examples and the scores.
func TestDiag(t *testing.T) {
	if os.Getenv("VLM_DIAG") != "1" {
		t.Skip("experiment harness: set VLM_DIAG=1 (and VLM_DIAG_GEN, VLM_DIAG_TRAIN as JSON overrides)")
	}
	gen := map[string]any{"mode": "generate", "images": 3000, "image_size": 48, "min_objects": 1, "max_objects": 3,
		"shapes": []any{"circle", "square", "triangle"}, "colors": []any{"red", "green", "blue"}, "radius": 0.1, "test_share": 0.1}
	train := map[string]any{"mode": "train", "crop": 32, "patch": 4, "margin": 2, "max_crops": 12,
		"vit_layers": 3, "vit_d_model": 64, "vit_heads": 4, "feature_layers": []any{-1, -3}, "pool_heads": 4, "proj_hidden": 256,
		"layers": 3, "d_model": 128, "heads": 4, "seq": 320, "batch": 16, "caption_steps": 300, "steps": 3000, "lr": 0.002,
		"lr_vit_scale": 0.5, "lr_connector_scale": 2, "warmup": 50, "mix_caption": 1, "mix_point": 3, "mix_count": 2, "eval_items": 300}
	for env, m := range map[string]map[string]any{"VLM_DIAG_GEN": gen, "VLM_DIAG_TRAIN": train} {
		if s := os.Getenv(env); s != "" {
			if err := json.Unmarshal([]byte(s), &m); err != nil {
				t.Fatalf("%s: %v", env, err)
			}
		}
	}
	h := plugintest.New(t, plugin{})
	g := h.Run(gen, plugintest.WithSeed(3))
	g.RequireSuccess(t)
	bundle, examples := g.Artifact(t, "images").Path, g.Artifact(t, "examples").Path
	b, err := planted.ReadBundle(bundle)
	if err != nil {
		t.Fatal(err)
	}
	exs, err := planted.ReadExamples(examples, b)
	if err != nil {
		t.Fatal(err)
	}
	var cfg config
	if err := (sdk.Config{Value: h.Config(train)}).Decode(&cfg); err != nil {
		t.Fatal(err)
	}
	mc, err := modelConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	m, err := model.New(mc)
	if err != nil {
		t.Fatal(err)
	}
	l, err := m.Layout(b.H, b.W)
	if err != nil {
		t.Fatal(err)
	}
	lens := map[string][]int{}
	for _, e := range exs {
		toks, _, err := m.Encode(l, e.Prompt, e.Answer)
		if err != nil {
			t.Fatal(err)
		}
		lens[e.Task] = append(lens[e.Task], len(toks))
	}
	for task, ls := range lens {
		sort.Ints(ls)
		t.Logf("%s: %d examples, tokens (image %d + prompt + answer + EOS) median %d, p90 %d, max %d", task, len(ls), len(l.Tokens), ls[len(ls)/2], ls[len(ls)*9/10], ls[len(ls)-1])
	}
	train["bundle"], train["examples"] = bundle, examples
	start := time.Now()
	tr := h.Run(train, plugintest.WithSeed(3))
	for _, s := range tr.Logs {
		t.Log(s)
	}
	tr.RequireSuccess(t)
	for _, k := range []string{"mixture/train/loss", "captions/train/loss"} {
		pts := tr.Metrics[k]
		for i, p := range pts {
			if i%max(1, len(pts)/15) == 0 || i == len(pts)-1 {
				t.Logf("%s step %d: %.4f", k, p.Step, p.Value)
			}
		}
	}
	t.Logf("train step: %s", time.Since(start).Round(time.Second))
}
