package sdk_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/zclconf/go-cty/cty"

	"github.com/shammie-ml/shammie/sdk"
	"github.com/shammie-ml/shammie/sdk/internal/wire"
)

// ctyCmp compares cty types and values structurally (they hide their
// fields from go-cmp).
var ctyCmp = cmp.Options{
	cmp.Comparer(func(a, b cty.Type) bool { return a.Equals(b) }),
	cmp.Comparer(func(a, b cty.Value) bool { return a.RawEquals(b) }),
	cmp.Comparer(func(a, b cty.Path) bool { return a.Equals(b) }),
}

func TestValueRoundTrip(t *testing.T) {
	obj := cty.ObjectVal(map[string]cty.Value{
		"name":   cty.StringVal("ünïcode ✓"),
		"layers": cty.ListVal([]cty.Value{cty.ObjectVal(map[string]cty.Value{"d": cty.NumberIntVal(64)}), cty.ObjectVal(map[string]cty.Value{"d": cty.NumberIntVal(32)})}),
		"extra":  cty.MapVal(map[string]cty.Value{"a": cty.True, "b": cty.False}),
		"none":   cty.NullVal(cty.List(cty.String)),
	})
	tests := []struct {
		name string
		v    cty.Value
	}{
		{"string", cty.StringVal("hello")},
		{"empty string", cty.StringVal("")},
		{"integer", cty.NumberIntVal(-7)},
		{"fraction", cty.NumberFloatVal(0.001)},
		{"huge number", cty.MustParseNumberVal("123456789012345678901234567890.5")},
		{"bool", cty.True},
		{"list", cty.ListVal([]cty.Value{cty.NumberIntVal(1), cty.NumberIntVal(2)})},
		{"empty list", cty.ListValEmpty(cty.Number)},
		{"set", cty.SetVal([]cty.Value{cty.StringVal("a"), cty.StringVal("b")})},
		{"map", cty.MapVal(map[string]cty.Value{"x": cty.NumberIntVal(1)})},
		{"tuple", cty.TupleVal([]cty.Value{cty.StringVal("a"), cty.NumberIntVal(1), cty.True})},
		{"nested object", obj},
		{"null string", cty.NullVal(cty.String)},
		{"null object", cty.NullVal(obj.Type())},
		{"null dynamic", cty.NullVal(cty.DynamicPseudoType)},
		{"unknown", cty.UnknownVal(cty.String)},
		{"unknown dynamic", cty.DynamicVal},
		{"unknown list", cty.UnknownVal(cty.List(cty.Number))},
		{"unknown inside", cty.ObjectVal(map[string]cty.Value{
			"known":   cty.StringVal("k"),
			"pending": cty.UnknownVal(cty.String),
			"deep": cty.ListVal([]cty.Value{
				cty.MapVal(map[string]cty.Value{"k": cty.UnknownVal(cty.Number)}),
				cty.MapVal(map[string]cty.Value{"k": cty.NumberIntVal(3)}),
			}),
		})},
		{"null beside unknown", cty.TupleVal([]cty.Value{cty.NullVal(cty.String), cty.UnknownVal(cty.String)})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := wire.W.EncodeValue(tt.v)
			if err != nil {
				t.Fatalf("EncodeValue: %v", err)
			}
			got, err := wire.W.DecodeValue(m)
			if err != nil {
				t.Fatalf("DecodeValue: %v", err)
			}
			if diff := cmp.Diff(tt.v, got, ctyCmp); diff != "" {
				t.Errorf("round trip (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEncodeValueRefusals(t *testing.T) {
	tests := []struct {
		name string
		v    cty.Value
		want string
	}{
		{"nil", cty.NilVal, "NilVal"},
		{"unknown in set", cty.SetVal([]cty.Value{cty.UnknownVal(cty.String), cty.StringVal("a")}), "unknown value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := wire.W.EncodeValue(tt.v)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

func TestEncodeValueDropsMarks(t *testing.T) {
	v := cty.ObjectVal(map[string]cty.Value{"token": cty.StringVal("s3cret").Mark("sensitive")})
	m, err := wire.W.EncodeValue(v)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := wire.W.DecodeValue(m)
	want, _ := v.UnmarkDeep()
	if !got.RawEquals(want) {
		t.Errorf("got %#v, want %#v", got, want)
	}
}

func TestPathRoundTrip(t *testing.T) {
	tests := []cty.Path{
		nil,
		cty.GetAttrPath("lr"),
		cty.GetAttrPath("layer").IndexInt(2).GetAttr("d"),
		cty.GetAttrPath("extra").IndexString("key with spaces"),
	}
	for _, p := range tests {
		t.Run(sdk.FormatPath(p), func(t *testing.T) {
			steps, err := wire.W.EncodePath(p)
			if err != nil {
				t.Fatal(err)
			}
			got, err := wire.W.DecodePath(steps)
			if err != nil {
				t.Fatal(err)
			}
			if !got.Equals(p) {
				t.Errorf("got %s, want %s", sdk.FormatPath(got), sdk.FormatPath(p))
			}
		})
	}
	if _, err := wire.W.EncodePath(cty.Path{cty.IndexStep{Key: cty.NumberFloatVal(1.5)}}); err == nil {
		t.Error("a fractional index was encoded")
	}
}

func TestFormatPath(t *testing.T) {
	tests := []struct {
		p    cty.Path
		want string
	}{
		{nil, "(config)"},
		{cty.GetAttrPath("lr"), "lr"},
		{cty.GetAttrPath("layer").IndexInt(2).GetAttr("d"), "layer[2].d"},
		{cty.GetAttrPath("m").IndexString("k"), `m["k"]`},
	}
	for _, tt := range tests {
		if got := sdk.FormatPath(tt.p); got != tt.want {
			t.Errorf("FormatPath = %q, want %q", got, tt.want)
		}
	}
}

func TestSchemaRoundTrip(t *testing.T) {
	s := sdk.Schema{
		Config: sdk.Block{
			Attributes: []sdk.Attribute{
				{Name: "lr", Type: cty.Number, Default: cty.NumberFloatVal(0.001), Description: "learning rate"},
				{Name: "data", Type: cty.String, Required: true},
				{Name: "token", Type: cty.String, Sensitive: true, Default: cty.NilVal},
				{Name: "any", Type: cty.DynamicPseudoType},
				{Name: "sizes", Type: cty.List(cty.Number), Default: cty.ListVal([]cty.Value{cty.NumberIntVal(8)})},
			},
			Blocks: []sdk.NestedBlock{
				{TypeName: "layer", Nesting: sdk.NestingList, MinItems: 1, MaxItems: 4, Description: "a layer",
					Block: sdk.Block{Attributes: []sdk.Attribute{{Name: "d", Type: cty.Number, Required: true}}}},
				{TypeName: "opt", Nesting: sdk.NestingSingle},
				{TypeName: "named", Nesting: sdk.NestingMap,
					Block: sdk.Block{Blocks: []sdk.NestedBlock{{TypeName: "inner", Nesting: sdk.NestingSingle}}}},
			},
		},
		Outputs:   []sdk.OutputDecl{{Name: "loss", Type: cty.Number, Description: "final loss"}, {Name: "per_class", Type: cty.Map(cty.Number)}},
		Artifacts: []sdk.ArtifactDecl{{Name: "weights", MediaType: "application/json", Description: "w"}},
	}
	m, err := wire.W.EncodeSchema(s)
	if err != nil {
		t.Fatal(err)
	}
	got, err := wire.W.DecodeSchema(m)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(s, got, ctyCmp); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	if _, err := wire.W.EncodeSchema(sdk.Schema{Config: sdk.Block{Attributes: []sdk.Attribute{{Name: "x"}}}}); err == nil || !strings.Contains(err.Error(), "x") {
		t.Errorf("attribute without type: err = %v", err)
	}
}

func TestMetadataAndDiagnosticsRoundTrip(t *testing.T) {
	md := sdk.Metadata{Name: "fit", Version: "0.1.0", Description: "d", Backends: []string{"go", "xla:cuda"}}
	got := wire.W.DecodeMetadata(wire.W.EncodeMetadata(md))
	md.ProtocolVersions, md.SDKVersion = []int{sdk.ProtocolVersion}, sdk.Version
	if diff := cmp.Diff(md, got); diff != "" {
		t.Errorf("metadata (-want +got):\n%s", diff)
	}
	ds := sdk.Diagnostics{
		sdk.Errorf(cty.GetAttrPath("layer").IndexInt(1).GetAttr("d"), "Too small", "d must be ≥ 1"),
		sdk.Warnf(nil, "Slow", "this will take a while"),
	}
	gotDs, err := wire.W.DecodeDiagnostics(wire.W.EncodeDiagnostics(ds))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(ds, gotDs, ctyCmp); diff != "" {
		t.Errorf("diagnostics (-want +got):\n%s", diff)
	}
}
