package ml

import (
	"strings"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/shammie-ml/shammie/sdk"
)

type settingsConfig struct {
	Mode string `cty:"mode"`
	Settings
}

// settingsValue is a config object with every Settings attribute at its
// default, overridden by over (cty values, unknowns included).
func settingsValue(t *testing.T, over map[string]cty.Value) sdk.Config {
	t.Helper()
	b, err := sdk.BlockOf(settingsConfig{})
	if err != nil {
		t.Fatal(err)
	}
	attrs := map[string]cty.Value{"mode": cty.StringVal("train")}
	for _, a := range b.Attributes {
		if a.Name != "mode" {
			attrs[a.Name] = a.Default
		}
	}
	for k, v := range over {
		attrs[k] = v
	}
	return sdk.Config{Value: cty.ObjectVal(attrs)}
}

func TestSettingsValidate(t *testing.T) {
	n := func(v float64) cty.Value { return cty.NumberFloatVal(v) }
	unknown := cty.UnknownVal(cty.Number)
	tests := []struct {
		name string
		over map[string]cty.Value
		want []string // "path: summary" fragments, one per diagnostic
	}{
		{"defaults", nil, nil},
		{"zero layers", map[string]cty.Value{"layers": n(0)}, []string{"layers: The layers must be at least 1"}},
		{"heads do not divide", map[string]cty.Value{"d_model": n(30), "heads": n(4)}, []string{"d_model: The d_model must be a multiple of heads"}},
		{"odd head width", map[string]cty.Value{"d_model": n(12), "heads": n(4)}, []string{"d_model: The head width must be even"}},
		{"heads unknown: no divisibility check", map[string]cty.Value{"d_model": n(30), "heads": unknown}, nil},
		{"lr unknown", map[string]cty.Value{"lr": unknown}, nil},
		{"bad lr and clip", map[string]cty.Value{"lr": n(0), "clip": n(-1)}, []string{"lr: The lr must be positive", "clip: The clip must be at least 0"}},
		{"min_lr_ratio above 1", map[string]cty.Value{"min_lr_ratio": n(1.5)}, []string{"min_lr_ratio: The min_lr_ratio must be between 0 and 1"}},
		{"seq too short, steps unknown", map[string]cty.Value{"seq": n(1), "steps": unknown}, []string{"seq: The seq must be at least 2"}},
		{"accum 0", map[string]cty.Value{"accum_steps": n(0)}, []string{"accum_steps: The accum_steps must be at least 1"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := settingsValue(t, tc.over)
			var cfg settingsConfig
			if err := c.Decode(&cfg); err != nil {
				t.Fatal(err)
			}
			d := cfg.Settings.Validate(c)
			if len(d) != len(tc.want) {
				t.Fatalf("%d diagnostics, want %d: %v", len(d), len(tc.want), d)
			}
			for i, w := range tc.want {
				got := sdk.FormatPath(d[i].Path) + ": " + d[i].Summary
				if !strings.Contains(got, w) {
					t.Errorf("diagnostic %d is %q, want %q", i, got, w)
				}
			}
		})
	}
}

func TestSettingsConfigs(t *testing.T) {
	s := Settings{Layers: 3, DModel: 32, Heads: 2, Seq: 16, Batch: 4, Steps: 9, LR: 0.01, Warmup: 2, MinLRRatio: 0.2, WeightDecay: 0.1, Clip: 1, AccumSteps: 2}
	if _, err := NewTransformer(s.ModelConfig(256)); err != nil {
		t.Fatal(err)
	}
	tc := s.TrainConfig()
	if tc.Steps != 9 || tc.LR != 0.01 || tc.WarmupSteps != 2 || tc.MinLRRatio != 0.2 || tc.WeightDecay != 0.1 || tc.ClipNorm != 1 || tc.AccumSteps != 2 {
		t.Fatalf("TrainConfig %+v does not carry the settings %+v", tc, s)
	}
}
