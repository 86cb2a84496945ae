package main

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/zclconf/go-cty/cty"

	"github.com/shammie-ml/shammie/sdk"
)

// cfgVal builds a config the way the host does: schema defaults coerced in.
func cfgVal(t *testing.T, attrs map[string]cty.Value) sdk.Config {
	t.Helper()
	v, diags := schema.Config.Coerce(cty.ObjectVal(attrs))
	if diags.HasErrors() {
		t.Fatalf("coerce: %v", diags)
	}
	return sdk.Config{Value: v}
}

func TestValidateConfig(t *testing.T) {
	for _, tc := range []struct {
		name  string
		attrs map[string]cty.Value
		want  []string // summaries
	}{
		{"generate ok", map[string]cty.Value{"mode": cty.StringVal("generate")}, nil},
		{"route ok", map[string]cty.Value{"mode": cty.StringVal("route"), "data": cty.StringVal("x.jsonl")}, nil},
		{"route without data", map[string]cty.Value{"mode": cty.StringVal("route")}, []string{"The route mode needs data"}},
		{"bad budget", map[string]cty.Value{"mode": cty.StringVal("route"), "data": cty.StringVal("x"),
			"budgets": cty.ListVal([]cty.Value{cty.NumberFloatVal(0.5), cty.NumberFloatVal(1)})}, []string{"Each budget must be in (0, 1)"}},
		{"bad method", map[string]cty.Value{"mode": cty.StringVal("route"), "data": cty.StringVal("x"), "method": cty.StringVal("best")}, []string{`Unknown method "best"`}},
		{"ppm without rows", map[string]cty.Value{"mode": cty.StringVal("ppm")}, []string{"The ppm mode needs rows"}},
		{"bad representation", map[string]cty.Value{"mode": cty.StringVal("route"), "data": cty.StringVal("x"), "representation": cty.StringVal("bert")}, []string{`Unknown representation "bert"`}},
		{"bad mode", map[string]cty.Value{"mode": cty.StringVal("fit")}, []string{`Unknown mode "fit"`}},
		{"bad planted", map[string]cty.Value{"mode": cty.StringVal("generate"), "human_flip": cty.NumberFloatVal(0.7)}, []string{"Invalid planted data settings"}},
		// Before anything runs, values from upstream steps are unknown:
		// their checks are skipped, the known attributes still checked.
		{"unknown data, bad method", map[string]cty.Value{"mode": cty.StringVal("route"), "data": cty.UnknownVal(cty.String), "method": cty.StringVal("best")}, []string{`Unknown method "best"`}},
		{"unknown budget element", map[string]cty.Value{"mode": cty.StringVal("route"), "data": cty.StringVal("x"),
			"budgets": cty.ListVal([]cty.Value{cty.UnknownVal(cty.Number), cty.NumberFloatVal(1)})}, []string{"Each budget must be in (0, 1)"}},
		{"unknown budgets, no rm steps", map[string]cty.Value{"mode": cty.StringVal("route"), "data": cty.StringVal("x"),
			"budgets": cty.UnknownVal(cty.List(cty.Number)), "rm_steps": cty.NumberIntVal(0)}, []string{"Invalid reward model settings"}},
		{"unknown mode, bad test_frac", map[string]cty.Value{"mode": cty.UnknownVal(cty.String), "test_frac": cty.NumberFloatVal(0.9)}, []string{"The test_frac must be between 0.05 and 0.5"}},
		{"unknown rows", map[string]cty.Value{"mode": cty.StringVal("ppm"), "rows": cty.UnknownVal(cty.String)}, nil},
		{"unknown flip", map[string]cty.Value{"mode": cty.StringVal("generate"), "human_flip": cty.UnknownVal(cty.Number)}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, d := range (plugin{}).ValidateConfig(context.Background(), cfgVal(t, tc.attrs)) {
				got = append(got, d.Summary)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("diagnostics (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSchemaDefaults(t *testing.T) {
	c := cfgVal(t, map[string]cty.Value{"mode": cty.StringVal("route"), "data": cty.StringVal("d.jsonl")})
	var cfg config
	if err := c.Decode(&cfg); err != nil {
		t.Fatal(err)
	}
	want := config{Mode: "route", N: 3000, PlantedFrac: 0.2, HumanFlip: 0.3, LMFlip: 0.05, LMPlantedFlip: 0.85, Weakness: true,
		Data: "d.jsonl", Format: "auto", LMField: "pref_gpt4", EvalLabels: "gold", EvalFrac: 0.25, Mixtures: 64,
		Budgets: []float64{0.25, 0.5, 0.75}, Method: "topk", Candidates: 2000, RMDim: 512, RMHidden: 0, RMSteps: 150, RMLR: 0.05,
		Repr: "bow", TFSteps: 200, TFDModel: 64, NoiseSeeds: 4, Bootstrap: 1000, Confidence: 0.95,
		Target: "Overall", TestFrac: 0.2, PPMModel: "quadratic"}
	if diff := cmp.Diff(want, cfg); diff != "" {
		t.Errorf("decoded defaults (-want +got):\n%s", diff)
	}
}
