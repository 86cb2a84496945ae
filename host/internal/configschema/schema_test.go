package configschema_test

import (
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/shammie-ml/shammie/host/internal/configschema"
	"github.com/shammie-ml/shammie/sdk"
	"github.com/zclconf/go-cty/cty"
)

var schema = sdk.Block{
	Attributes: []sdk.Attribute{
		{Name: "mode", Type: cty.String, Required: true, Description: "What to do:\n generate or estimate."},
		{Name: "n", Type: cty.Number, Default: cty.NumberIntVal(10)},
		{Name: "ratio", Type: cty.Number, Default: cty.StringVal("0.5")}, // converted to number
		{Name: "anything", Type: cty.DynamicPseudoType},
		{Name: "token", Type: cty.String, Sensitive: true},
	},
	Blocks: []sdk.NestedBlock{
		{TypeName: "layer", Nesting: sdk.NestingList, MinItems: 1, Block: sdk.Block{Attributes: []sdk.Attribute{
			{Name: "width", Type: cty.Number, Required: true},
			{Name: "act", Type: cty.String, Default: cty.StringVal("relu")},
		}}},
		{TypeName: "head", Nesting: sdk.NestingMap, Block: sdk.Block{Attributes: []sdk.Attribute{
			{Name: "extra", Type: cty.DynamicPseudoType},
		}}},
		{TypeName: "opt", Block: sdk.Block{Attributes: []sdk.Attribute{
			{Name: "lr", Type: cty.Number, Default: cty.NumberFloatVal(0.01)},
		}}},
	},
}

func decode(t *testing.T, src string) (cty.Value, hcl.Diagnostics) {
	t.Helper()
	f, diags := hclsyntax.ParseConfig([]byte(src), "c.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	return hcldec.Decode(f.Body, configschema.FromSDK(schema).DecoderSpec(), nil)
}

func TestDecodeDefaults(t *testing.T) {
	v, diags := decode(t, `
mode = "generate"
layer { width = 3 }
layer {
  width = 4
  act   = "tanh"
}
head "a" { extra = [1, "x"] }
head "b" { extra = 2 }
opt {}
`)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	checks := map[string]cty.Value{
		"n":     cty.NumberIntVal(10),
		"ratio": cty.NumberFloatVal(0.5),
		"mode":  cty.StringVal("generate"),
	}
	for k, want := range checks {
		if got := v.GetAttr(k); !got.RawEquals(want) {
			t.Errorf("%s = %#v, want %#v", k, got, want)
		}
	}
	layers := v.GetAttr("layer")
	if got := layers.Index(cty.NumberIntVal(0)).GetAttr("act"); got.AsString() != "relu" {
		t.Errorf("default in nested list block: %#v", got)
	}
	if got := layers.Index(cty.NumberIntVal(1)).GetAttr("act"); got.AsString() != "tanh" {
		t.Errorf("explicit value in nested block: %#v", got)
	}
	// Dynamic attributes in a map-nested block decode as an object, since
	// the blocks' values have different types.
	if got := v.GetAttr("head").GetAttr("b").GetAttr("extra"); !got.RawEquals(cty.NumberIntVal(2)) {
		t.Errorf("head.b.extra = %#v", got)
	}
	if got := v.GetAttr("opt").GetAttr("lr"); !got.RawEquals(cty.NumberFloatVal(0.01)) {
		t.Errorf("opt.lr = %#v", got)
	}
	if errs := v.Type().TestConformance(configschema.FromSDK(schema).ImpliedType()); len(errs) > 0 {
		t.Errorf("value type %#v does not conform to the implied type: %v", v.Type(), errs)
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct{ src, want string }{
		{`layer { width = 1 }`, `The argument "mode" is required`},
		{`mode = "x"`, `Insufficient layer blocks`},
		{"mode = \"x\"\nlayer { width = 1 }\nbogus = 1", `An argument named "bogus" is not expected here`},
		{"mode = \"x\"\nlayer { width = \"wide\" }", `Inappropriate value for attribute "width"`},
		{"mode = \"x\"\nlayer { width = 1 }\nopt {}\nopt {}", `Duplicate opt block`},
	}
	for _, tt := range tests {
		_, diags := decode(t, tt.src)
		if !diags.HasErrors() || !strings.Contains(diags.Error(), tt.want) {
			t.Errorf("%q: got %v, want %q", tt.src, diags, tt.want)
		}
	}
}

func TestValidate(t *testing.T) {
	bad := sdk.Block{
		Attributes: []sdk.Attribute{
			{Name: "a", Type: cty.Number, Default: cty.StringVal("x")},
			{Name: "a", Type: cty.Number},
			{Name: "b", Type: cty.Number, Required: true, Default: cty.NumberIntVal(1)},
			{Name: "bad name", Type: cty.String},
			{Name: "c"},
		},
		Blocks: []sdk.NestedBlock{{TypeName: "blk", Nesting: 9, MinItems: 3, MaxItems: 1}},
	}
	errs := configschema.Validate(bad)
	var msgs []string
	for _, e := range errs {
		msgs = append(msgs, e.Error())
	}
	all := strings.Join(msgs, "\n")
	for _, want := range []string{"config.a: default does not fit", `name "a" declared twice`, "config.b: required attribute has a default",
		`"bad name" is not a valid identifier`, "config.c: no type", "unknown nesting mode 9", "min_items 3 > max_items 1"} {
		if !strings.Contains(all, want) {
			t.Errorf("missing %q in:\n%s", want, all)
		}
	}
	if errs := configschema.Validate(schema); len(errs) != 0 {
		t.Errorf("valid schema reported: %v", errs)
	}
}

func TestMarkdown(t *testing.T) {
	var sb strings.Builder
	err := configschema.SchemaMarkdown(&sb, sdk.Metadata{Name: "gen", Version: "0.1.0", Description: "Generates.", Backends: []string{"go"},
		SDKVersion: "0.2.0", ProtocolVersions: []int{1}},
		sdk.Schema{Config: schema, Outputs: []sdk.OutputDecl{{Name: "n", Type: cty.List(cty.Number), Description: "counts"}},
			Artifacts: append([]sdk.ArtifactDecl{{Name: "data", MediaType: "text/csv"}},
				sdk.ArtifactFamily("layer_{i}_png", 80, "image/png", "one plot per layer")...)})
	if err != nil {
		t.Fatal(err)
	}
	md := sb.String()
	for _, want := range []string{
		"# Plugin `gen` 0.1.0",
		"- `mode` (string, required): What to do: generate or estimate.",
		"- `n` (number, optional, default `10`)",
		"- `token` (string, optional, sensitive)",
		"### Block `config.layer`",
		"Repeatable: `layer { ... }` any number of times (at least 1).",
		"- `width` (number, required)",
		"Repeatable with a unique label: `head \"key\" { ... }`",
		"- `n` (list(number)): counts — `step.NAME.outputs.n`",
		"- `data` (text/csv) — `step.NAME.artifacts.data` (absolute path)",
		"Built with SDK 0.2.0, protocol 1.",
		"- `layer_{0..79}_png` (image/png): one plot per layer — a family",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	if n := strings.Count(md, "layer_"); n != 2 {
		t.Errorf("the artifact family shows %d times, want one row:\n%s", n, md)
	}
	// Required attributes are listed before optional ones.
	if strings.Index(md, "`mode`") > strings.Index(md, "`anything`") {
		t.Errorf("required attribute not first:\n%s", md)
	}
}
