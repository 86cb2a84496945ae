package main

import (
	"encoding/json"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/google/go-cmp/cmp"
	"github.com/shammie-ml/shammie/internal/shareddata"
	"github.com/shammie-ml/shammie/sdk"
	"github.com/shammie-ml/shammie/sdk/plugintest"
)

func TestMetadataAndSchema(t *testing.T) {
	h := plugintest.New(t, &Plugin{})
	md := h.Metadata()
	if md.Name != "fit" || md.Version != sdk.DevVersion || md.SDKVersion != sdk.Version || !slices.Contains(md.Backends, "go") {
		t.Errorf("metadata %+v", md)
	}
	s := h.Schema()
	for _, a := range s.Config.Attributes {
		if a.Description == "" {
			t.Errorf("attribute %s has no description", a.Name)
		}
	}
	if len(s.Outputs) == 0 || len(s.Artifacts) == 0 {
		t.Error("no outputs or artifacts declared")
	}
}

func TestValidateConfig(t *testing.T) {
	h := plugintest.New(t, &Plugin{})
	dir := t.TempDir()
	table := filepath.Join(dir, "s.csv")
	os.WriteFile(table, []byte("concept,count,score\n"), 0o644)
	tests := []struct {
		name string
		cfg  map[string]any
		path string // attribute the error must point at; "" for no error
	}{
		{"ok scores", map[string]any{"scores": table}, ""},
		{"no input", map[string]any{}, "scores"},
		{"both inputs", map[string]any{"scores": table, "embeddings": table}, "embeddings"},
		{"missing file", map[string]any{"scores": filepath.Join(dir, "nope.csv")}, "scores"},
		{"penalty", map[string]any{"scores": table, "penalty": 0}, "penalty"},
		{"bootstrap", map[string]any{"scores": table, "bootstrap": -1}, "bootstrap"},
		{"confidence", map[string]any{"scores": table, "confidence": 1}, "confidence"},
		{"mode", map[string]any{"mode": "guess"}, "mode"},
		{"generate ok", map[string]any{"mode": "generate"}, ""},
		{"generate n", map[string]any{"mode": "generate", "n_concepts": 1}, "n_concepts"},
		{"generate range", map[string]any{"mode": "generate", "min_count": 10, "max_count": 5}, "max_count"},
		{"generate weight", map[string]any{"mode": "generate", "above": 1.5}, "above"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			diags := h.Validate(tc.cfg)
			if tc.path == "" {
				if diags.HasErrors() {
					t.Fatalf("unexpected errors: %v", diags)
				}
				return
			}
			for _, d := range diags {
				if d.Severity == sdk.SeverityError && sdk.FormatPath(d.Path) == tc.path {
					return
				}
			}
			t.Fatalf("no error at %s: %v", tc.path, diags)
		})
	}
	// An input that another step produces is unknown at validation time.
	cfg := h.Config(map[string]any{"scores": table})
	m := cfg.AsValueMap()
	m["scores"] = cty.UnknownVal(cty.String)
	if diags := (&Plugin{}).ValidateConfig(t.Context(), sdk.Config{Value: cty.ObjectVal(m)}); diags.HasErrors() {
		t.Errorf("unknown input path flagged: %v", diags)
	}
}

// TestValidateConfigUnknowns: before anything runs, values from upstream
// steps are unknown; their checks are skipped, the known ones still run.
func TestValidateConfigUnknowns(t *testing.T) {
	h := plugintest.New(t, &Plugin{})
	tests := []struct {
		name string
		cfg  map[string]any
		want []string // attribute paths of the errors, in order
	}{
		{"unknown embeddings, bad penalty", map[string]any{"embeddings": cty.UnknownVal(cty.String), "penalty": 0}, []string{"penalty"}},
		{"unknown penalty", map[string]any{"embeddings": cty.UnknownVal(cty.String), "penalty": cty.UnknownVal(cty.Number), "confidence": 2}, []string{"confidence"}},
		{"unknown mode", map[string]any{"mode": cty.UnknownVal(cty.String), "n_concepts": 1}, nil},
		{"generate, unknown count", map[string]any{"mode": "generate", "n_concepts": cty.UnknownVal(cty.Number), "above": 1.5}, []string{"above"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, d := range h.Validate(tc.cfg) {
				if d.Severity == sdk.SeverityError {
					got = append(got, sdk.FormatPath(d.Path))
				}
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("error paths (-want +got):\n%s", diff)
			}
		})
	}
}

// TestGenerateThenEstimate is specs/fit.hcl in small: a planted onset
// written as a bundle, scored in GoMLX and recovered exactly.
func TestGenerateThenEstimate(t *testing.T) {
	h := plugintest.New(t, &Plugin{})
	gen := h.Run(map[string]any{"mode": "generate", "n_concepts": 120, "prompts": 2, "train_images": 12,
		"generated_images": 6, "width": 32}, plugintest.WithSeed(3))
	gen.RequireSuccess(t)
	expected := gen.Float(t, "expected_threshold")
	emb := gen.Artifact(t, "embeddings").Path

	est := h.Run(map[string]any{"embeddings": emb, "bootstrap": 200}, plugintest.WithSeed(4))
	est.RequireSuccess(t)
	if got := est.Float(t, "threshold"); got != expected {
		t.Fatalf("threshold %v, planted onset's first count %v", got, expected)
	}
	lo, hi := est.Float(t, "interval_low"), est.Float(t, "interval_high")
	if !(lo <= expected && expected <= hi) {
		t.Errorf("interval [%v, %v] misses %v", lo, hi, expected)
	}
	if n := est.Float(t, "n_concepts"); n != 120 {
		t.Errorf("n_concepts %v", n)
	}
	var sum struct {
		Threshold *int64         `json:"threshold"`
		Scoring   map[string]any `json:"scoring"`
		Segments  []struct {
			Mean float64 `json:"mean"`
		} `json:"segments"`
	}
	b, err := os.ReadFile(est.Artifact(t, "summary").Path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &sum); err != nil {
		t.Fatal(err)
	}
	if sum.Threshold == nil || float64(*sum.Threshold) != expected || sum.Scoring["backend"] != "go" {
		t.Errorf("summary %s", b)
	}
	if len(sum.Segments) < 2 || sum.Segments[1].Mean <= sum.Segments[0].Mean {
		t.Errorf("segments should step up: %+v", sum.Segments)
	}
	f, err := os.Open(est.Artifact(t, "plot_png").Path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := png.Decode(f); err != nil {
		t.Errorf("plot_png: %v", err)
	}
	csvBytes, _ := os.ReadFile(est.Artifact(t, "concept_scores").Path)
	if lines := strings.Count(string(csvBytes), "\n"); lines != 121 {
		t.Errorf("concept_scores has %d lines, want header + 120", lines)
	}
}

func TestScoresTableStrictAndDrop(t *testing.T) {
	h := plugintest.New(t, &Plugin{})
	dir := t.TempDir()
	var sb strings.Builder
	sb.WriteString("concept,count,score,prompt\n")
	for i := range 40 {
		score := "0.2"
		if i >= 25 {
			score = "0.8"
		}
		for _, p := range []string{"a", "b"} {
			sb.WriteString("c" + itoa(i) + "," + itoa(10*i) + "," + score + "," + p + "\n")
		}
	}
	sb.WriteString("broken,5,NaN,a\n")
	table := filepath.Join(dir, "scores.csv")
	os.WriteFile(table, []byte(sb.String()), 0o644)

	strict := h.Run(map[string]any{"scores": table, "bootstrap": 0})
	if strict.Succeeded() {
		t.Fatal("a NaN score must fail the step without drop_invalid")
	}
	if msg := strict.Status.Message; !strings.Contains(msg, "scores.csv:82: score is NaN") || !strings.Contains(msg, "drop_invalid") {
		t.Errorf("error %q should name file:line and the drop option", msg)
	}

	dropped := h.Run(map[string]any{"scores": table, "bootstrap": 0, "drop_invalid": true})
	dropped.RequireSuccess(t)
	if r, c := dropped.Float(t, "dropped_rows"), dropped.Float(t, "dropped_concepts"); r != 1 || c != 0 {
		t.Errorf("dropped rows %v concepts %v, want 1 and 0", r, c)
	}
	if th := dropped.Float(t, "threshold"); th != 250 {
		t.Errorf("threshold %v, want 250", th)
	}
	if v := dropped.Output(t, "interval_low"); !v.IsNull() {
		t.Errorf("bootstrap = 0 should leave the interval null, got %#v", v)
	}
}

// TestRealCountsSpec is specs/fit-mimetic2.hcl in small: the real LAION
// counts of the paper's classical artists, an onset planted at the paper's
// SD1.1 threshold (112), recovered exactly through the whole embeddings
// path, with a bootstrap interval covering it.
func TestRealCountsSpec(t *testing.T) {
	data := shareddata.Path(t, "mimetic2")
	h := plugintest.New(t, &Plugin{})
	gen := h.Run(map[string]any{"mode": "generate", "counts_csv": filepath.Join(data, "classical_artists_group1_counts.csv"),
		"concept_column": "artist_name", "count_column": "count_this_artist_artworks_in_laion_images",
		"planted_threshold": 112, "prompts": 2, "train_images": 12, "generated_images": 6, "width": 32})
	gen.RequireSuccess(t)
	if e := gen.Float(t, "expected_threshold"); e != 112 {
		t.Fatalf("expected threshold %v: 112 is a count in the table", e)
	}
	est := h.Run(map[string]any{"embeddings": gen.Artifact(t, "embeddings").Path, "bootstrap": 1000})
	est.RequireSuccess(t)
	if got := est.Float(t, "threshold"); got != 112 {
		t.Fatalf("threshold %v, want 112", got)
	}
	lo, hi := est.Float(t, "interval_low"), est.Float(t, "interval_high")
	t.Logf("418 real counts, onset planted at 112: threshold 112, 95%% interval [%v, %v]", lo, hi)
	if !(lo <= 112 && 112 <= hi) {
		t.Errorf("interval [%v, %v] misses 112", lo, hi)
	}
}

func itoa(i int) string { return strconv.Itoa(i) }
