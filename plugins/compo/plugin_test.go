package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/shammie-ml/shammie/internal/shareddata"
	"github.com/shammie-ml/shammie/sdk/plugintest"
)

// chain runs generate → sft → dpo → eval on planted data, as specs/compo.hcl
// does, small enough for the test budget.
func chain(t *testing.T, h *plugintest.Harness, conditioning string, extra map[string]any) *plugintest.Result {
	t.Helper()
	start := time.Now()
	gen := h.Run(map[string]any{"mode": "generate", "communities": 3, "posts": 80}, plugintest.WithSeed(1))
	gen.RequireSuccess(t)
	model := map[string]any{"d_model": 32, "heads": 2, "layers": 2, "seq": 64, "batch": 16, "conditioning": conditioning}
	sft := h.Run(merge(model, map[string]any{"mode": "sft", "pairs": gen.Artifact(t, "pairs").Path,
		"test_fraction": 0.2, "steps": 130, "lr": 0.01, "warmup": 20, "weight_decay": 0}), plugintest.WithSeed(2))
	sft.RequireSuccess(t)
	dpo := h.Run(map[string]any{"mode": "dpo", "pairs": sft.Artifact(t, "train_pairs").Path,
		"reference": sft.Artifact(t, "model").Path, "seq": 64, "batch": 16, "steps": 30, "lr": 0.0003, "warmup": 20, "weight_decay": 0}, plugintest.WithSeed(3))
	dpo.RequireSuccess(t)
	ev := h.Run(merge(map[string]any{"mode": "eval", "pairs": sft.Artifact(t, "test_pairs").Path, "seq": 64,
		"model": dpo.Artifact(t, "model").Path, "reference": sft.Artifact(t, "model").Path,
		"truth": gen.Artifact(t, "truth").Path, "max_new_tokens": 12}, extra), plugintest.WithSeed(4))
	ev.RequireSuccess(t)
	t.Logf("%s chain: %v; dpo reward accuracy %.3f", conditioning, time.Since(start).Round(time.Second), dpo.Float(t, "reward_accuracy"))
	return ev
}

func merge(a, b map[string]any) map[string]any {
	out := map[string]any{}
	for _, m := range []map[string]any{a, b} {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

func floatMap(t *testing.T, v cty.Value) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for k, x := range v.AsValueMap() {
		f, _ := x.AsBigFloat().Float64()
		out[k] = f
	}
	return out
}

// TestPlantedCommunities: K = 3 communities with mutually exclusive tastes
// on shared posts. With the true community the DPO model reaches ≥ 0.9 of
// the planted oracle in every community; with none it is near chance on
// these (all conflicting) pairs; generations with a random community carry
// the right attribute about 1/K of the time.
func TestPlantedCommunities(t *testing.T) {
	h := plugintest.New(t, &Plugin{})
	ev := chain(t, h, "template", nil)
	acc, oracle := floatMap(t, ev.Output(t, "accuracy")), floatMap(t, ev.Output(t, "oracle_accuracy"))
	if len(acc) != 3 {
		t.Fatalf("accuracy has %d communities, want 3: %v", len(acc), acc)
	}
	for c, a := range acc {
		if a < 0.9*oracle[c] {
			t.Errorf("%s: contextual accuracy %.3f < 0.9 × oracle %.3f", c, a, oracle[c])
		}
	}
	if nc := ev.Float(t, "no_context_accuracy"); nc < 0.25 || nc > 0.75 {
		t.Errorf("no-context accuracy %.3f, want near chance (0.5) on conflicting pairs", nc)
	}
	rate := floatMap(t, ev.Output(t, "attribute_rate"))
	if rate["contextual"] < 0.6 || rate["contextual"] < rate["random_context"]+0.3 {
		t.Errorf("generations with the true community carry its attribute %.3f of the time (random community: %.3f)", rate["contextual"], rate["random_context"])
	}
	if r := rate["random_context"]; r < 1.0/3-0.2 || r > 1.0/3+0.2 {
		t.Errorf("random-context attribute rate %.3f, want about 1/K = 0.333", r)
	}
	if w := ev.Float(t, "win_rate"); w < 0.25 || w > 1 {
		t.Errorf("win rate of DPO over SFT %.3f: DPO's replies fell apart", w)
	}
	for _, name := range []string{"report", "accuracy_png", "accuracy_svg"} {
		if fi, err := os.Stat(ev.Artifact(t, name).Path); err != nil || fi.Size() == 0 {
			t.Errorf("artifact %s: %v", name, err)
		}
	}
	if b, err := os.ReadFile(ev.Artifact(t, "report").Path); err == nil && t.Failed() {
		t.Logf("report: %s", b)
	}
	t.Logf("accuracy %v oracle %v no-context %.3f random %.3f sft %.3f attribute %v win %.3f", acc, oracle,
		ev.Float(t, "no_context_accuracy"), ev.Float(t, "random_context_accuracy"), ev.Float(t, "sft_accuracy"), rate, ev.Float(t, "win_rate"))
}

func TestValidateConfig(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "pairs.jsonl")
	if err := os.WriteFile(file, []byte(`{"post":"p","chosen":"a","rejected":"b"}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	h := plugintest.New(t, &Plugin{})
	unknown := cty.UnknownVal(cty.String)
	for _, tc := range []struct {
		name string
		cfg  map[string]any
		want string // "" = valid; else a substring of the first error
	}{
		{"generate ok", map[string]any{"mode": "generate"}, ""},
		{"unknown mode", map[string]any{"mode": "train"}, "Unknown mode"},
		{"unknown mode value skips checks", map[string]any{"mode": unknown, "steps": 0}, ""},
		{"too many communities", map[string]any{"mode": "generate", "communities": 9}, "communities"},
		{"sft ok", map[string]any{"mode": "sft", "pairs": file}, ""},
		{"sft pairs from an upstream step", map[string]any{"mode": "sft", "pairs": unknown}, ""},
		{"sft no pairs", map[string]any{"mode": "sft"}, "pairs attribute is required"},
		{"sft missing file", map[string]any{"mode": "sft", "pairs": filepath.Join(dir, "nope.jsonl")}, "File not found"},
		{"sft bad layout", map[string]any{"mode": "sft", "pairs": file, "layout": "csv"}, "Unknown layout"},
		{"sft bad conditioning", map[string]any{"mode": "sft", "pairs": file, "conditioning": "tag"}, "Unknown conditioning"},
		{"sft d_model not a multiple", map[string]any{"mode": "sft", "pairs": file, "d_model": 30, "heads": 4}, "multiple of heads"},
		{"sft odd head width", map[string]any{"mode": "sft", "pairs": file, "d_model": 36, "heads": 4}, "head width must be even"},
		{"sft unknown d_model skips the pair check", map[string]any{"mode": "sft", "pairs": file, "d_model": cty.UnknownVal(cty.Number), "heads": 4}, ""},
		{"dpo needs reference", map[string]any{"mode": "dpo", "pairs": file}, "reference attribute is required"},
		{"dpo reference unknown", map[string]any{"mode": "dpo", "pairs": unknown, "reference": unknown}, ""},
		{"dpo bad divergence", map[string]any{"mode": "dpo", "pairs": unknown, "reference": unknown, "divergence": "kl"}, "Unknown divergence"},
		{"dpo alpha range", map[string]any{"mode": "dpo", "pairs": unknown, "reference": unknown, "divergence": "alpha", "alpha": 1.5}, "alpha must be in (0, 1)"},
		{"dpo beta", map[string]any{"mode": "dpo", "pairs": unknown, "reference": unknown, "beta": 0}, "beta must be positive"},
		{"eval needs model", map[string]any{"mode": "eval", "pairs": file, "reference": file}, "model attribute is required"},
		{"eval ok with unknowns", map[string]any{"mode": "eval", "pairs": unknown, "reference": unknown, "model": unknown, "truth": unknown}, ""},
		{"eval temperature", map[string]any{"mode": "eval", "pairs": unknown, "reference": unknown, "model": unknown, "temperature": -1}, "temperature"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := h.Validate(tc.cfg)
			if tc.want == "" {
				if d.HasErrors() {
					t.Errorf("unexpected errors: %v", d)
				}
				return
			}
			if !d.HasErrors() || !strings.Contains(d.Err().Error(), tc.want) {
				t.Errorf("diagnostics %v, want one containing %q", d, tc.want)
			}
		})
	}
}

// TestSchemaDeclaresArtifacts: every artifact a mode writes is declared.
func TestSchemaDeclaresArtifacts(t *testing.T) {
	got := map[string]bool{}
	for _, a := range schema.Artifacts {
		got[a.Name] = true
	}
	for _, n := range []string{"pairs", "truth", "model", "train_pairs", "test_pairs", "report", "accuracy_png", "accuracy_svg"} {
		if !got[n] {
			t.Errorf("artifact %s not declared", n)
		}
	}
	b, _ := json.Marshal(schema.Outputs)
	if !strings.Contains(string(b), "random_context_accuracy") {
		t.Error("outputs lack random_context_accuracy")
	}
}

// TestHHRLHFChain runs sft → dpo → eval on a slice of the real HH-RLHF
// harmless pairs (one community) with a tiny model and a few steps: the
// real-data path works end to end and eval reports the DPO model beside
// the SFT model and the shorter-reply baseline (about 55 %), with no
// random-context figure for a single community.
func TestHHRLHFChain(t *testing.T) {
	data := filepath.Join(shareddata.Path(t, "small_corpora"), "hh_rlhf_harmless_test", "harmless-base-test.jsonl.gz")
	h := plugintest.New(t, &Plugin{})
	small := map[string]any{"d_model": 16, "heads": 2, "layers": 1, "seq": 96, "batch": 4, "steps": 4}
	sft := h.Run(merge(small, map[string]any{"mode": "sft", "pairs": data, "layout": "hh", "community": "harmless",
		"test_fraction": 0.15, "max_train_pairs": 64}), plugintest.WithSeed(2))
	sft.RequireSuccess(t)
	if n := sft.Float(t, "test_pairs"); n < 250 || n > 450 {
		t.Errorf("%v held-out pairs, want about 15 %% of 2312", n)
	}
	dpo := h.Run(merge(small, map[string]any{"mode": "dpo", "pairs": sft.Artifact(t, "train_pairs").Path,
		"reference": sft.Artifact(t, "model").Path}), plugintest.WithSeed(3))
	dpo.RequireSuccess(t)
	ev := h.Run(map[string]any{"mode": "eval", "pairs": sft.Artifact(t, "test_pairs").Path, "seq": 96, "max_eval_pairs": 48,
		"model": dpo.Artifact(t, "model").Path, "reference": sft.Artifact(t, "model").Path}, plugintest.WithSeed(4))
	ev.RequireSuccess(t)
	if lb := ev.Float(t, "length_baseline_accuracy"); lb < 0.3 || lb > 0.8 {
		t.Errorf("shorter-reply baseline %.3f on 48 pairs, want near 0.55", lb)
	}
	for _, name := range []string{"contextual_accuracy", "sft_accuracy", "policy_accuracy"} {
		if v := ev.Float(t, name); v < 0 || v > 1 {
			t.Errorf("%s = %v", name, v)
		}
	}
	if !ev.Output(t, "random_context_accuracy").IsNull() || !ev.Output(t, "win_rate").IsNull() {
		t.Error("one community, no truth: random-context accuracy and win rate should be null")
	}
}
