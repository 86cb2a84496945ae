package main

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
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
		{map[string]any{"mode": "eval"}, "Eval needs a model"},
		{map[string]any{"mode": "eval", "model": "m"}, "Eval needs metadata"},
		{map[string]any{"mode": "eval", "model": "/nonexistent/m.safetensors", "metadata": "/nonexistent/m.jsonl"}, "cannot be read"},
		{map[string]any{"format": "wide"}, "format"},
		{map[string]any{"frames": 0}, "positive fps"},
		{map[string]any{"frames": -1}, "frames"},
		{map[string]any{"curve": []any{1, 32}}, "between 1 and 16"},
		{map[string]any{"curve": []any{}}, "curve needs frame counts"},
		{map[string]any{"train_frames": []any{0}}, "between 1 and 16"},
		{map[string]any{"size": 10, "patch": 4}, "multiple of the patch"},
		{map[string]any{"d_model": 18, "heads": 1}, "multiple of 4"},
		{map[string]any{"leaderboard": "/nonexistent.csv"}, "leaderboard file"},
		{map[string]any{"seeds": 0}, "seeds"},
		{map[string]any{"bootstrap": 0}, "bootstrap"},
		{map[string]any{"lr": 0}, "lr"},
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
		{"unknown model and metadata", map[string]any{"mode": "eval", "model": cty.UnknownVal(cty.String), "metadata": cty.UnknownVal(cty.String)}, nil},
		{"unknown mode, bad format", map[string]any{"mode": cty.UnknownVal(cty.String), "format": "x"}, []string{"format"}},
		{"unknown fps", map[string]any{"frames": 0, "fps": cty.UnknownVal(cty.Number)}, nil},
		{"unknown patch", map[string]any{"size": 10, "patch": cty.UnknownVal(cty.Number)}, nil},
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
	for _, ok := range []map[string]any{{}, {"frames": 0, "fps": 1}, {"format": "descriptions_cot"}} {
		if d := h.Validate(ok); d.HasErrors() {
			t.Errorf("config %v rejected: %s", ok, diagText(d))
		}
	}
}

// TestPlantedThenEval runs both modes through the plugin protocol at a tiny
// size (too short to learn: the curve is checked in internal/videoqa): the
// planted step writes its model, clips and metadata; eval steps read them
// back by count and by fps with every prompt format.
func TestPlantedThenEval(t *testing.T) {
	h := plugintest.New(t, plugin{})
	pl := h.Run(map[string]any{"mode": "planted", "seeds": 1, "curve": []any{1, 8}, "train_frames": []any{4}, "questions": 12,
		"layers": 1, "d_model": 16, "heads": 2, "seq": 8, "batch": 4, "steps": 3, "warmup": 1, "bootstrap": 50}, plugintest.WithSeed(4))
	pl.RequireSuccess(t)
	for _, a := range []string{"model", "metadata", "clips", "report", "plot_curve", "plot_curve_svg"} {
		if pl.Artifact(t, a).Size == 0 {
			t.Errorf("artifact %s is empty", a)
		}
	}
	if c := pl.Float(t, "chance"); c != 0.2 {
		t.Errorf("chance %v", c)
	}
	// The clips beside the metadata, as a user's copy has them (clip =
	// clips.safetensors#… relative to the metadata).
	dir := t.TempDir()
	for _, a := range []string{"metadata", "clips"} {
		b, err := os.ReadFile(pl.Artifact(t, a).Path)
		if err != nil {
			t.Fatal(err)
		}
		name := map[string]string{"metadata": "metadata.jsonl", "clips": "clips.safetensors"}[a]
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	meta := filepath.Join(dir, "metadata.jsonl")
	model := pl.Artifact(t, "model").Path
	for _, cfg := range []map[string]any{
		{"frames": 8, "format": "direct"},
		{"frames": 0, "fps": 4, "format": "descriptions"},
		{"frames": 1, "format": "cot"},
		{"frames": 16, "format": "descriptions_cot", "batch": 5},
	} {
		cfg["mode"], cfg["model"], cfg["metadata"], cfg["bootstrap"] = "eval", model, meta, 100
		ev := h.Run(cfg, plugintest.WithSeed(4))
		ev.RequireSuccess(t)
		acc, lo, hi := ev.Float(t, "accuracy"), ev.Float(t, "ci_lower"), ev.Float(t, "ci_upper")
		if !(lo <= acc && acc <= hi) || acc < 0 || acc > 1 || ev.Float(t, "questions") != 12 {
			t.Errorf("%v: accuracy %v, interval [%v, %v]", cfg, acc, lo, hi)
		}
		f, err := os.Open(ev.Artifact(t, "predictions").Path)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		sc := bufio.NewScanner(f)
		for sc.Scan() {
			var p struct {
				Response string `json:"response"`
				Parsed   string `json:"parsed"`
				Frames   int    `json:"n_frames"`
			}
			if err := json.Unmarshal(sc.Bytes(), &p); err != nil {
				t.Fatal(err)
			}
			want := cfg["frames"].(int)
			if want == 0 {
				want = 8 // 16 frames at 8 fps sampled at 4 fps: every second frame
			}
			if p.Parsed != p.Response || p.Frames != want {
				t.Errorf("%v: prediction %+v", cfg, p)
			}
			n++
		}
		f.Close()
		if n != 12 {
			t.Errorf("%v: %d predictions", cfg, n)
		}
	}
	// Between steps: the metadata and clips artifacts as they are, the
	// bundle named by clips.
	direct := h.Run(map[string]any{"mode": "eval", "model": model, "metadata": pl.Artifact(t, "metadata").Path,
		"clips": pl.Artifact(t, "clips").Path, "frames": 4}, plugintest.WithSeed(4))
	direct.RequireSuccess(t)
	if direct.Float(t, "questions") != 12 {
		t.Errorf("direct bundle: %v questions", direct.Float(t, "questions"))
	}
	// A missing clip fails the step naming it.
	if err := os.Remove(filepath.Join(dir, "clips.safetensors")); err != nil {
		t.Fatal(err)
	}
	bad := h.Run(map[string]any{"mode": "eval", "model": model, "metadata": meta}, plugintest.WithSeed(4))
	if bad.Succeeded() || !strings.Contains(bad.Status.Message, "clips.safetensors") {
		t.Errorf("missing clips: succeeded %v, error %q", bad.Succeeded(), bad.Status.Message)
	}
	if n := ml.LiveBackends(); n != 0 {
		t.Errorf("%d backends still open after the steps", n)
	}
}

// TestLeaderboardPlot draws the real leaderboard beside a planted curve
// (needs ../shared/data/actionatlas).
func TestLeaderboardPlot(t *testing.T) {
	lb := filepath.Join(shareddata.Path(t, "actionatlas"), "leaderboard_website.csv")
	h := plugintest.New(t, plugin{})
	pl := h.Run(map[string]any{"mode": "planted", "seeds": 1, "curve": []any{1, 16}, "train_frames": []any{4}, "questions": 5,
		"layers": 1, "d_model": 16, "heads": 2, "seq": 8, "batch": 2, "steps": 1, "warmup": 0, "bootstrap": 10, "leaderboard": lb}, plugintest.WithSeed(1))
	pl.RequireSuccess(t)
	b, err := os.ReadFile(pl.Artifact(t, "report").Path)
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Leaderboard []struct {
			Model    string  `json:"model"`
			Accuracy float64 `json:"accuracy_pct"`
		} `json:"leaderboard"`
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	found := false
	for _, e := range rep.Leaderboard {
		if e.Model == "GPT-4o" && e.Accuracy == 42.95 {
			found = true
		}
	}
	if len(rep.Leaderboard) != 14 || !found {
		t.Errorf("leaderboard: %d rows, GPT-4o at 42.95 %% found: %v", len(rep.Leaderboard), found)
	}
	svg, err := os.ReadFile(pl.Artifact(t, "plot_curve_svg").Path)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"Qwen2-VL-7B", "Random chance"} {
		if !strings.Contains(string(svg), s) {
			t.Errorf("the plot does not name %s", s)
		}
	}
}
