package sdk_test

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/zclconf/go-cty/cty"

	"github.com/shammie-ml/shammie/sdk"
)

type layer struct {
	Width int    `cty:"width" doc:"units"`
	Act   string `cty:"act" default:"\"relu\""`
}

type extra struct {
	Note string `cty:"note"`
}

type trainConfig struct {
	LR      float64           `cty:"lr" doc:"learning rate" default:"0.001"`
	Steps   int               `cty:"steps"`
	Every   time.Duration     `cty:"every" default:"\"30s\""`
	Tags    []string          `cty:"tags" optional:"true"`
	Weights map[string]int    `cty:"weights" default:"{a = 1}"`
	Seed    *int64            `cty:"seed"`
	Raw     cty.Value         `cty:"raw" optional:"true"`
	Layers  []layer           `cty:"layer" min:"1" max:"3"`
	Extra   *extra            `cty:"extra"`
	Heads   map[string]layer  `cty:"head"`
	Skipped string            // untagged: not part of the config
	_       struct{}          `cty:"ignored"`
	Named   map[string]string `cty:"named" optional:"true"`
}

func TestConfigDecode(t *testing.T) {
	seven := int64(7)
	tests := []struct {
		name    string
		in      map[string]cty.Value
		want    trainConfig
		wantErr string
	}{
		{
			name: "full",
			in: map[string]cty.Value{
				"lr": cty.NumberFloatVal(0.5), "steps": cty.NumberIntVal(10), "every": cty.StringVal("1m"),
				"tags":    cty.ListVal([]cty.Value{cty.StringVal("a")}),
				"weights": cty.MapVal(map[string]cty.Value{"x": cty.NumberIntVal(2)}),
				"seed":    cty.NumberIntVal(7), "raw": cty.True,
				"layer": cty.ListVal([]cty.Value{
					cty.ObjectVal(map[string]cty.Value{"width": cty.NumberIntVal(8), "act": cty.StringVal("tanh")}),
				}),
				"extra": cty.ObjectVal(map[string]cty.Value{"note": cty.StringVal("n")}),
				"head":  cty.MapVal(map[string]cty.Value{"h1": cty.ObjectVal(map[string]cty.Value{"width": cty.NumberIntVal(2), "act": cty.StringVal("x")})}),
				"named": cty.NullVal(cty.Map(cty.String)),
			},
			want: trainConfig{
				LR: 0.5, Steps: 10, Every: time.Minute, Tags: []string{"a"}, Weights: map[string]int{"x": 2}, Seed: &seven,
				Raw: cty.True, Layers: []layer{{Width: 8, Act: "tanh"}}, Extra: &extra{Note: "n"},
				Heads: map[string]layer{"h1": {Width: 2, Act: "x"}},
			},
		},
		{
			name: "nulls leave zero values",
			in: map[string]cty.Value{
				"steps": cty.NullVal(cty.Number), "seed": cty.NullVal(cty.Number), "extra": cty.NullVal(cty.EmptyObject),
				"tags": cty.NullVal(cty.List(cty.String)),
			},
			want: trainConfig{Raw: cty.NullVal(cty.DynamicPseudoType)},
		},
		{
			name:    "not an integer",
			in:      map[string]cty.Value{"steps": cty.NumberFloatVal(1.5)},
			wantErr: "steps: ",
		},
		{
			name: "wrong type deep inside",
			in: map[string]cty.Value{"layer": cty.TupleVal([]cty.Value{
				cty.ObjectVal(map[string]cty.Value{"width": cty.NumberIntVal(1)}),
				cty.ObjectVal(map[string]cty.Value{"width": cty.StringVal("wide")}),
			})},
			wantErr: "layer[1].width: ",
		},
		{
			name:    "bad duration",
			in:      map[string]cty.Value{"every": cty.StringVal("soon")},
			wantErr: `every: time: invalid duration "soon"`,
		},
		{
			// ValidateConfig sees unknowns (values of steps not run yet):
			// they stay zero while the known attributes are decoded.
			name: "unknowns leave zero values",
			in: map[string]cty.Value{
				"steps": cty.UnknownVal(cty.Number), "lr": cty.NumberFloatVal(0.25),
				"tags":  cty.UnknownVal(cty.List(cty.String)),
				"layer": cty.ListVal([]cty.Value{cty.ObjectVal(map[string]cty.Value{"width": cty.UnknownVal(cty.Number), "act": cty.StringVal("relu")})}),
			},
			want: trainConfig{LR: 0.25, Raw: cty.NullVal(cty.DynamicPseudoType), Layers: []layer{{Act: "relu"}}},
		},
		{
			name:    "list expected",
			in:      map[string]cty.Value{"tags": cty.StringVal("a")},
			wantErr: "tags: a list is required, got string",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got trainConfig
			if _, ok := tt.in["raw"]; !ok && tt.wantErr == "" {
				tt.in["raw"] = cty.NullVal(cty.DynamicPseudoType)
			}
			err := sdk.Config{Value: cty.ObjectVal(tt.in)}.Decode(&got)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, ctyCmp); diff != "" {
				t.Errorf("Decode (-want +got):\n%s", diff)
			}
		})
	}
	var notPtr trainConfig
	if err := (sdk.Config{Value: cty.EmptyObjectVal}).Decode(notPtr); err == nil {
		t.Error("Decode into a non-pointer succeeded")
	}
}

func TestConfigKnown(t *testing.T) {
	cfg := sdk.Config{Value: cty.ObjectVal(map[string]cty.Value{
		"lr":    cty.NumberFloatVal(0.5),
		"data":  cty.UnknownVal(cty.String),
		"tags":  cty.UnknownVal(cty.List(cty.String)),
		"layer": cty.ListVal([]cty.Value{cty.ObjectVal(map[string]cty.Value{"width": cty.UnknownVal(cty.Number), "act": cty.StringVal("relu")})}),
		"none":  cty.NullVal(cty.String),
	})}
	tests := []struct {
		path cty.Path
		want bool
	}{
		{cty.GetAttrPath("lr"), true},
		{cty.GetAttrPath("none"), true},
		{cty.GetAttrPath("data"), false},
		{cty.GetAttrPath("tags"), false},
		{cty.GetAttrPath("tags").Index(cty.NumberIntVal(0)), false},
		{cty.GetAttrPath("layer"), false}, // partly unknown inside
		{cty.GetAttrPath("layer").Index(cty.NumberIntVal(0)).GetAttr("act"), true},
		{cty.GetAttrPath("layer").Index(cty.NumberIntVal(0)).GetAttr("width"), false},
		{cty.GetAttrPath("missing"), true},
	}
	for _, tt := range tests {
		if got := cfg.Known(tt.path); got != tt.want {
			t.Errorf("Known(%s) = %v, want %v", sdk.FormatPath(tt.path), got, tt.want)
		}
	}
	if cfg.IsKnown("data") || !cfg.IsKnown("lr") {
		t.Errorf("IsKnown disagrees with Known")
	}
}

func TestBlockOf(t *testing.T) {
	b, err := sdk.BlockOf(trainConfig{})
	if err != nil {
		t.Fatal(err)
	}
	want := sdk.Block{
		Attributes: []sdk.Attribute{
			{Name: "lr", Type: cty.Number, Default: cty.NumberFloatVal(0.001), Description: "learning rate"},
			{Name: "steps", Type: cty.Number, Required: true},
			{Name: "every", Type: cty.String, Default: cty.StringVal("30s")},
			{Name: "tags", Type: cty.List(cty.String)},
			{Name: "weights", Type: cty.Map(cty.Number), Default: cty.MapVal(map[string]cty.Value{"a": cty.NumberIntVal(1)})},
			{Name: "seed", Type: cty.Number},
			{Name: "raw", Type: cty.DynamicPseudoType},
			{Name: "named", Type: cty.Map(cty.String)},
		},
		Blocks: []sdk.NestedBlock{
			{TypeName: "layer", Nesting: sdk.NestingList, MinItems: 1, MaxItems: 3, Block: sdk.Block{Attributes: []sdk.Attribute{
				{Name: "width", Type: cty.Number, Required: true, Description: "units"},
				{Name: "act", Type: cty.String, Default: cty.StringVal("relu")},
			}}},
			{TypeName: "extra", Nesting: sdk.NestingSingle, Block: sdk.Block{Attributes: []sdk.Attribute{{Name: "note", Type: cty.String, Required: true}}}},
			{TypeName: "head", Nesting: sdk.NestingMap, Block: sdk.Block{Attributes: []sdk.Attribute{
				{Name: "width", Type: cty.Number, Required: true, Description: "units"},
				{Name: "act", Type: cty.String, Default: cty.StringVal("relu")},
			}}},
		},
	}
	if diff := cmp.Diff(want, b, ctyCmp); diff != "" {
		t.Errorf("BlockOf (-want +got):\n%s", diff)
	}

	bad := []struct {
		name string
		v    any
		want string
	}{
		{"not a struct", 3, "needs a struct"},
		{"bad default", struct {
			N int `cty:"n" default:"\"many\""`
		}{}, "n: default"},
		{"default syntax", struct {
			N int `cty:"n" default:"1 +"`
		}{}, "n: default"},
		{"bad limit", struct {
			L []layer `cty:"l" min:"x"`
		}{}, "l: tag min"},
		{"untyped field", struct {
			C chan int `cty:"c"`
		}{}, "c: no cty type"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			_, err := sdk.BlockOf(tt.v)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestCoerceThenDecode(t *testing.T) {
	b := sdk.MustBlockOf(trainConfig{})
	in := cty.ObjectVal(map[string]cty.Value{
		"steps": cty.StringVal("5"), // converted like HCL would
		"layer": cty.TupleVal([]cty.Value{cty.ObjectVal(map[string]cty.Value{"width": cty.NumberIntVal(4)})}),
	})
	v, diags := b.Coerce(in)
	if diags.HasErrors() {
		t.Fatalf("Coerce: %v", diags.Err())
	}
	if !v.Type().Equals(b.ImpliedType()) {
		t.Errorf("coerced type %s, want %s", v.Type().GoString(), b.ImpliedType().GoString())
	}
	var got trainConfig
	if err := (sdk.Config{Value: v}).Decode(&got); err != nil {
		t.Fatal(err)
	}
	want := trainConfig{LR: 0.001, Steps: 5, Every: 30 * time.Second, Weights: map[string]int{"a": 1},
		Raw: cty.NullVal(cty.DynamicPseudoType), Layers: []layer{{Width: 4, Act: "relu"}}, Heads: map[string]layer{}}
	if diff := cmp.Diff(want, got, ctyCmp); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestCoerceDiagnostics(t *testing.T) {
	b := sdk.MustBlockOf(trainConfig{})
	tests := []struct {
		name string
		in   map[string]cty.Value
		want []string
	}{
		{"missing required and too few blocks", map[string]cty.Value{}, []string{"steps: Missing required attribute", "layer: Too few blocks"}},
		{"wrong type and unexpected", map[string]cty.Value{
			"steps": cty.StringVal("many"), "bogus": cty.True,
			"layer": cty.TupleVal([]cty.Value{cty.ObjectVal(map[string]cty.Value{})}),
		}, []string{"steps: Incorrect attribute value type", "layer[0].width: Missing required attribute", "bogus: Unsupported argument"}},
		{"too many blocks", map[string]cty.Value{"steps": cty.NumberIntVal(1), "layer": cty.TupleVal([]cty.Value{
			cty.ObjectVal(map[string]cty.Value{"width": cty.NumberIntVal(1)}), cty.ObjectVal(map[string]cty.Value{"width": cty.NumberIntVal(1)}),
			cty.ObjectVal(map[string]cty.Value{"width": cty.NumberIntVal(1)}), cty.ObjectVal(map[string]cty.Value{"width": cty.NumberIntVal(1)}),
		})}, []string{"layer: Too many blocks"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, diags := b.Coerce(cty.ObjectVal(tt.in))
			var got []string
			for _, d := range diags {
				got = append(got, sdk.FormatPath(d.Path)+": "+d.Summary)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("diagnostics (-want +got):\n%s", diff)
			}
		})
	}
}

func TestCoerceDynamicBlockAttributes(t *testing.T) {
	b := sdk.Block{Blocks: []sdk.NestedBlock{
		{TypeName: "item", Nesting: sdk.NestingList, Block: sdk.Block{Attributes: []sdk.Attribute{{Name: "v", Type: cty.DynamicPseudoType}}}},
		{TypeName: "named", Nesting: sdk.NestingMap, Block: sdk.Block{Attributes: []sdk.Attribute{{Name: "v", Type: cty.DynamicPseudoType}}}},
	}}
	obj := func(v cty.Value) cty.Value { return cty.ObjectVal(map[string]cty.Value{"v": v}) }
	in := cty.ObjectVal(map[string]cty.Value{
		"item":  cty.TupleVal([]cty.Value{obj(cty.StringVal("a")), obj(cty.NumberIntVal(1))}),
		"named": cty.ObjectVal(map[string]cty.Value{"x": obj(cty.True), "y": obj(cty.StringVal("s"))}),
	})
	got, diags := b.Coerce(in)
	if diags.HasErrors() {
		t.Fatal(diags.Err())
	}
	if v := got.GetAttr("item").Index(cty.NumberIntVal(1)).GetAttr("v"); !v.RawEquals(cty.NumberIntVal(1)) {
		t.Errorf("item[1].v = %#v", v)
	}
	if v := got.GetAttr("named").GetAttr("x").GetAttr("v"); !v.RawEquals(cty.True) {
		t.Errorf("named.x.v = %#v", v)
	}
}
