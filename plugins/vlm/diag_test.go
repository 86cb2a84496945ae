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

// TestDiag is an experiment harness, not a test: with VLM_DIAG=1 it runs a
// generate and a train step through the plugin protocol, their configs the
// JSON objects VLM_DIAG_GEN and VLM_DIAG_TRAIN (e.g. specs/vlm.hcl's two
// config blocks; "bundle" and "examples" are filled in), and logs the token
// lengths of the examples, the loss curves and the scores. The configs are
// not defaulted here so that no second copy of the spec can go stale.
func TestDiag(t *testing.T) {
	if os.Getenv("VLM_DIAG") != "1" {
		t.Skip("experiment harness: set VLM_DIAG=1, VLM_DIAG_GEN and VLM_DIAG_TRAIN (JSON step configs)")
	}
	gen, train := map[string]any{}, map[string]any{}
	for env, m := range map[string]map[string]any{"VLM_DIAG_GEN": gen, "VLM_DIAG_TRAIN": train} {
		if err := json.Unmarshal([]byte(os.Getenv(env)), &m); err != nil {
			t.Fatalf("%s must hold the step's config as a JSON object: %v", env, err)
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
