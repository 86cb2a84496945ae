package sdk_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/zclconf/go-cty/cty"

	"github.com/shammie-ml/shammie/sdk"
)

// Shared is a settings struct several plugin configs embed.
type Shared struct {
	Steps int     `cty:"steps" default:"10" doc:"optimizer steps"`
	LR    float64 `cty:"lr" default:"0.1"`
}

type withShared struct {
	Mode string `cty:"mode"`
	Shared
	Experts int `cty:"experts" default:"4"`
}

// TestEmbeddedStructIsFlat: an untagged embedded struct's fields are the
// outer block's own attributes, in the schema and when decoding.
func TestEmbeddedStructIsFlat(t *testing.T) {
	b, err := sdk.BlockOf(withShared{})
	if err != nil {
		t.Fatal(err)
	}
	want := sdk.Block{Attributes: []sdk.Attribute{
		{Name: "mode", Type: cty.String, Required: true},
		{Name: "steps", Type: cty.Number, Default: cty.NumberIntVal(10), Description: "optimizer steps"},
		{Name: "lr", Type: cty.Number, Default: cty.NumberFloatVal(0.1)},
		{Name: "experts", Type: cty.Number, Default: cty.NumberIntVal(4)},
	}}
	if diff := cmp.Diff(want, b, ctyCmp); diff != "" {
		t.Errorf("BlockOf (-want +got):\n%s", diff)
	}
	c := sdk.Config{Value: cty.ObjectVal(map[string]cty.Value{
		"mode": cty.StringVal("train"), "steps": cty.NumberIntVal(7), "lr": cty.UnknownVal(cty.Number), "experts": cty.NumberIntVal(8),
	})}
	var got withShared
	if err := c.Decode(&got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(withShared{Mode: "train", Shared: Shared{Steps: 7}, Experts: 8}, got); diff != "" {
		t.Errorf("Decode (-want +got):\n%s", diff)
	}
}
