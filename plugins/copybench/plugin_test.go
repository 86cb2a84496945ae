package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/shammie-ml/shammie/internal/shareddata"
	"github.com/shammie-ml/shammie/plugins/copybench/internal/benchdata"
	"github.com/shammie-ml/shammie/sdk/plugintest"
)

func TestValidateConfig(t *testing.T) {
	dir := t.TempDir()
	model := filepath.Join(dir, "m.safetensors")
	if err := os.WriteFile(model, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "copybench")
	for _, d := range []string{"data", "prompts"} {
		if err := os.MkdirAll(filepath.Join(data, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	h := plugintest.New(t, &Plugin{})
	unknown := cty.UnknownVal(cty.String)
	for _, tc := range []struct {
		name string
		cfg  map[string]any
		want string // "" = valid; else a substring of the first error
	}{
		{"planted ok", map[string]any{"mode": "planted", "seq": 160}, ""},
		{"unknown mode", map[string]any{"mode": "train"}, "Unknown mode"},
		{"unknown mode value skips checks", map[string]any{"mode": unknown, "books": 0}, ""},
		{"planted too few events", map[string]any{"mode": "planted", "seq": 160, "events": 2}, "events"},
		{"planted no books", map[string]any{"mode": "planted", "seq": 160, "books": 0}, "books"},
		{"planted generation longer than seq", map[string]any{"mode": "planted", "seq": 64, "max_new_tokens": 96}, "fit the model's context"},
		{"planted unknown seq skips the fit check", map[string]any{"mode": "planted", "seq": cty.UnknownVal(cty.Number), "max_new_tokens": 96}, ""},
		{"planted d_model not a multiple", map[string]any{"mode": "planted", "seq": 160, "d_model": 30, "heads": 4}, "multiple of heads"},
		{"penalty below 1", map[string]any{"mode": "planted", "seq": 160, "repetition_penalty": 0.5}, "repetition_penalty"},
		{"evaluate ok", map[string]any{"mode": "evaluate", "model": model, "data": data}, ""},
		{"evaluate with unknowns", map[string]any{"mode": "evaluate", "model": unknown, "data": unknown}, ""},
		{"evaluate needs model", map[string]any{"mode": "evaluate", "data": data}, "model attribute is required"},
		{"evaluate missing model", map[string]any{"mode": "evaluate", "model": model + ".nope", "data": data}, "File not found"},
		{"evaluate data not copybench", map[string]any{"mode": "evaluate", "model": model, "data": dir}, "Not a CopyBench directory"},
		{"evaluate bad task", map[string]any{"mode": "evaluate", "model": unknown, "data": unknown, "tasks": []string{"literal", "poetry"}}, "Unknown tasks"},
		{"evaluate format", map[string]any{"mode": "evaluate", "model": unknown, "data": unknown, "format": 4}, "format"},
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

// TestSchemaDeclaresArtifacts: every artifact and output a mode writes is
// declared.
func TestSchemaDeclaresArtifacts(t *testing.T) {
	got := map[string]bool{}
	for _, a := range schema.Artifacts {
		got[a.Name] = true
	}
	for _, n := range []string{"model", "report"} {
		if !got[n] {
			t.Errorf("artifact %s not declared", n)
		}
	}
	b, _ := json.Marshal(schema.Outputs)
	for _, n := range []string{"literal_rate", "held_out_literal_rate", "character_rate", "event_rate", "qa_f1", "qa_em", "final_loss"} {
		if !strings.Contains(string(b), `"`+n+`"`) {
			t.Errorf("output %s not declared", n)
		}
	}
}

// TestEvaluateOnRealFiles runs both modes through the plugin protocol: a
// tiny planted model (two steps: it learns nothing) evaluated on the first
// items of each real task. The report must score them and hold no excerpt:
// no 24-byte run of an item's input or reference appears in it. It needs
// ../shared/data.
func TestEvaluateOnRealFiles(t *testing.T) {
	dir := shareddata.Path(t, "copybench")
	h := plugintest.New(t, &Plugin{})
	pl := h.Run(map[string]any{"mode": "planted", "books": 1, "held_out": 1, "prefix_words": 2, "continuation_words": 2,
		"events": 3, "layers": 1, "d_model": 16, "heads": 2, "seq": 112, "batch": 2, "steps": 2, "warmup": 1,
		"max_new_tokens": 8}, plugintest.WithSeed(1))
	pl.RequireSuccess(t)
	const n = 3
	ev := h.Run(map[string]any{"mode": "evaluate", "model": pl.Artifact(t, "model").Path, "data": dir,
		"max_items": n, "max_new_tokens": 8, "generate_batch": 4})
	ev.RequireSuccess(t)
	b, err := os.ReadFile(ev.Artifact(t, "report").Path)
	if err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Rates map[string]float64 `json:"rates"`
		Items []map[string]any   `json:"items"`
	}
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"literal_items", "nonliteral_items", "qa_items"} {
		if rep.Rates[k] != n {
			t.Errorf("%s = %v, want %d", k, rep.Rates[k], n)
		}
	}
	if len(rep.Items) != 3*n {
		t.Errorf("%d items in the report, want %d", len(rep.Items), 3*n)
	}
	var texts []string
	lit, err := benchdata.ReadLiteral(filepath.Join(dir, "data", "data.literal.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range lit[:n] {
		texts = append(texts, it.Input, it.Reference)
	}
	non, err := benchdata.ReadNonLiteral(filepath.Join(dir, "data", "data.nonliteral.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range non[:n] {
		texts = append(texts, it.Input)
		texts = append(texts, it.Events...)
	}
	qa, err := benchdata.ReadQA(filepath.Join(dir, "data", "data.qa.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, it := range qa[:n] {
		texts = append(texts, it.Input)
	}
	const run = 24
	for i, s := range texts {
		for j := 0; j+run <= len(s); j += run / 2 {
			if strings.Contains(string(b), s[j:j+run]) {
				t.Fatalf("the report holds a %d-byte run of excerpt %d at byte %d", run, i, j)
			}
		}
	}
}
