package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"

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
