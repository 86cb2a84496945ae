package sdk_test

import (
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/shammie-ml/shammie/sdk/internal/wire"
	"github.com/shammie-ml/shammie/sdk/proto/pluginv1"
)

// FuzzDecodeValue feeds the host's decoder what a broken or hostile plugin
// could send: it must return an error, never panic, and whatever it accepts
// must encode again.
func FuzzDecodeValue(f *testing.F) {
	for _, v := range []cty.Value{
		cty.StringVal("x"),
		cty.ObjectVal(map[string]cty.Value{"a": cty.ListVal([]cty.Value{cty.NumberIntVal(1)}), "u": cty.UnknownVal(cty.String)}),
		cty.MapVal(map[string]cty.Value{"k": cty.UnknownVal(cty.Bool)}),
		cty.TupleVal([]cty.Value{cty.NullVal(cty.DynamicPseudoType), cty.DynamicVal}),
	} {
		m, err := wire.W.EncodeValue(v)
		if err != nil {
			f.Fatal(err)
		}
		var path string
		if len(m.Unknowns) > 0 && len(m.Unknowns[0].Steps) > 0 {
			if a, ok := m.Unknowns[0].Steps[0].Step.(*pluginv1.PathStep_Attribute); ok {
				path = a.Attribute
			}
		}
		f.Add(m.TypeJson, m.ValueJson, path)
	}
	f.Fuzz(func(t *testing.T, typeJSON, valueJSON []byte, unknownAttr string) {
		m := &pluginv1.Value{TypeJson: typeJSON, ValueJson: valueJSON}
		if unknownAttr != "" {
			m.Unknowns = []*pluginv1.ValuePath{{Steps: []*pluginv1.PathStep{{Step: &pluginv1.PathStep_Attribute{Attribute: unknownAttr}}}}}
		}
		v, err := wire.W.DecodeValue(m)
		if err != nil {
			return
		}
		if _, err := wire.W.EncodeValue(v); err != nil {
			t.Errorf("decoded %#v but cannot encode it again: %v", v, err)
		}
	})
}
