package main

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty/gocty"

	"github.com/shammie-ml/shammie/internal/shareddata"
	"github.com/shammie-ml/shammie/sdk/plugintest"
)

// TestPluginGenerateAndRoute runs the two steps of specs/hyper.hcl through
// the plugin protocol at a small size: the planted set, then routing.
func TestPluginGenerateAndRoute(t *testing.T) {
	h := plugintest.New(t, plugin{})
	gen := h.Run(map[string]any{"mode": "generate", "n": 1200}, plugintest.WithSeed(5))
	gen.RequireSuccess(t)
	data := gen.Artifact(t, "data").Path
	if got := gen.Output(t, "planted_feature").AsString(); got != "subject_of_expertise=Medicine_and_health" {
		t.Errorf("planted_feature = %q", got)
	}
	routeCfg := map[string]any{"mode": "route", "data": data, "mixtures": 24, "rm_steps": 80,
		"budgets": []any{0.25, 0.5}, "candidates": 200}
	stateDir := t.TempDir()
	res := h.Run(routeCfg, plugintest.WithSeed(5), plugintest.WithStateDir(stateDir))
	res.RequireSuccess(t)
	if got := len(res.Metrics["mixture_score"]); got != 24 {
		t.Errorf("%d mixture_score metrics, want 24", got)
	}
	// A second run of the same step resumes the trained mixtures from the
	// state dir and reaches the same PPM.
	again := h.Run(routeCfg, plugintest.WithSeed(5), plugintest.WithStateDir(stateDir))
	again.RequireSuccess(t)
	resumed := false
	for _, l := range again.Logs {
		resumed = resumed || strings.Contains(l, "resumed 24 mixture scores")
	}
	if !resumed || again.Float(t, "ppm_rmse") != res.Float(t, "ppm_rmse") {
		t.Errorf("second run did not resume (logs %v) or changed the PPM (%v vs %v)", again.Logs, again.Float(t, "ppm_rmse"), res.Float(t, "ppm_rmse"))
	}
	for _, a := range []string{"routed", "results", "feature_gains", "ppm_model", "plot_budgets", "plot_ppm_fit", "plot_learning_curve", "plot_feature_gains"} {
		if res.Artifact(t, a).Size == 0 {
			t.Errorf("artifact %s is empty", a)
		}
	}
	var routed map[string]float64
	if err := gocty.FromCtyValue(res.Output(t, "routed_score"), &routed); err != nil {
		t.Fatal(err)
	}
	if len(routed) != 2 {
		t.Errorf("routed_score = %v, want two budgets", routed)
	}
	t.Logf("routed %v all-human %.3f all-LM %.3f top feature %s", routed, res.Float(t, "all_human_score"), res.Float(t, "all_lm_score"),
		res.Output(t, "top_feature").AsString())
	// Every score comes with an interval around it; the top feature with
	// its gain, interval and the noise verdict.
	var routedIv map[string][]float64
	if err := gocty.FromCtyValue(res.Output(t, "routed_score_interval"), &routedIv); err != nil {
		t.Fatal(err)
	}
	for b, s := range routed {
		if iv := routedIv[b]; len(iv) != 2 || iv[0] > s || iv[1] < s {
			t.Errorf("budget %s: routed score %.4f outside its interval %v", b, s, iv)
		}
	}
	for _, name := range []string{"all_human_score", "all_lm_score"} {
		var iv []float64
		if err := gocty.FromCtyValue(res.Output(t, name+"_interval"), &iv); err != nil {
			t.Fatal(err)
		}
		if s := res.Float(t, name); len(iv) != 2 || iv[0] > s || iv[1] < s {
			t.Errorf("%s %.4f outside its interval %v", name, s, iv)
		}
	}
	var gainIv []float64
	if err := gocty.FromCtyValue(res.Output(t, "top_feature_gain_interval"), &gainIv); err != nil {
		t.Fatal(err)
	}
	t.Logf("top feature gain %+.4f %v, threshold %+.4f, gain is noise: %v, score noise %.4f", res.Float(t, "top_feature_gain"), gainIv,
		res.Float(t, "gain_threshold"), res.Output(t, "gain_is_noise").True(), res.Float(t, "score_noise"))
	if sn := res.Float(t, "score_noise"); !(sn > 0 && sn < 0.1) {
		t.Errorf("score_noise = %v", sn)
	}
	// routed.jsonl: every pool instance once; the human share per budget
	// is the budget.
	f, err := os.Open(res.Artifact(t, "routed").Path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	humans := map[string]int{}
	n := 0
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var row struct {
			LabelSource map[string]string `json:"label_source"`
		}
		if err := json.Unmarshal(sc.Bytes(), &row); err != nil {
			t.Fatal(err)
		}
		n++
		for b, src := range row.LabelSource {
			if src == "human" {
				humans[b]++
			}
		}
	}
	pool := 900 // 1200 minus the 25% held out
	if n != pool || humans["0.25"] != pool/4 || humans["0.5"] != pool/2 {
		t.Errorf("routed.jsonl: %d rows, human counts %v; want %d rows and %d/%d", n, humans, pool, pool/4, pool/2)
	}
}

// TestGenerateWithoutWeakness: the control set names no planted feature.
func TestGenerateWithoutWeakness(t *testing.T) {
	h := plugintest.New(t, plugin{})
	gen := h.Run(map[string]any{"mode": "generate", "n": 200, "weakness": false}, plugintest.WithSeed(5))
	gen.RequireSuccess(t)
	if got := gen.Output(t, "planted_feature").AsString(); got != "" {
		t.Errorf("planted_feature = %q, want none", got)
	}
}

// TestPluginPPMOnRealRows: the real-data check of specs/hyper-real.hcl.
func TestPluginPPMOnRealRows(t *testing.T) {
	dir := shareddata.Path(t, "hybrid_preferences")
	h := plugintest.New(t, plugin{})
	res := h.Run(map[string]any{"mode": "ppm", "rows": filepath.Join(dir, "proxy_rm_validation_set_features_rewardbench.jsonl")}, plugintest.WithSeed(42))
	res.RequireSuccess(t)
	if n := res.Float(t, "instances"); n != 26 {
		t.Errorf("rows = %v, want 26", n)
	}
	rmse, base := res.Float(t, "ppm_rmse"), res.Float(t, "ppm_baseline_rmse")
	t.Logf("26 real proxy-RM rows: held-out RMSE %.4f (mean predictor %.4f)", rmse, base)
	if !(rmse > 0 && rmse < 0.2) {
		t.Errorf("held-out RMSE %v not a sane RewardBench error", rmse)
	}
}
