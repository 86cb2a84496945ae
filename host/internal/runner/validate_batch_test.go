package runner

import (
	"testing"

	"github.com/zclconf/go-cty/cty"
)

// TestConfigKey: the memo key of batched validation tells apart every
// pair of different configs below and gives equal configs one key.
func TestConfigKey(t *testing.T) {
	vals := []cty.Value{
		cty.ObjectVal(map[string]cty.Value{"i": cty.NumberIntVal(1)}),
		cty.ObjectVal(map[string]cty.Value{"i": cty.NumberFloatVal(1.5)}),
		cty.ObjectVal(map[string]cty.Value{"i": cty.StringVal("1")}),
		cty.ObjectVal(map[string]cty.Value{"i": cty.UnknownVal(cty.Number)}),
		cty.ObjectVal(map[string]cty.Value{"i": cty.UnknownVal(cty.String)}),
		cty.ObjectVal(map[string]cty.Value{"i": cty.NullVal(cty.Number)}),
		cty.ObjectVal(map[string]cty.Value{"j": cty.NumberIntVal(1)}),
		cty.ObjectVal(map[string]cty.Value{"i": cty.True}),
		cty.ObjectVal(map[string]cty.Value{"i": cty.ListValEmpty(cty.String)}),
		cty.ObjectVal(map[string]cty.Value{"i": cty.ListValEmpty(cty.Number)}),
		cty.ObjectVal(map[string]cty.Value{"i": cty.ListVal([]cty.Value{cty.StringVal("a,b")})}),
		cty.ObjectVal(map[string]cty.Value{"i": cty.ListVal([]cty.Value{cty.StringVal("a"), cty.StringVal("b")})}),
		cty.ObjectVal(map[string]cty.Value{"i": cty.TupleVal([]cty.Value{cty.StringVal("a"), cty.StringVal("b")})}),
		cty.ObjectVal(map[string]cty.Value{"i": cty.MapVal(map[string]cty.Value{"a": cty.StringVal("b")})}),
		cty.ObjectVal(map[string]cty.Value{"i": cty.ObjectVal(map[string]cty.Value{"a": cty.StringVal("b")})}),
		cty.ObjectVal(map[string]cty.Value{"i": cty.SetVal([]cty.Value{cty.StringVal("a"), cty.StringVal("b")})}),
		cty.ObjectVal(map[string]cty.Value{"i": cty.NumberIntVal(1), "j": cty.NumberIntVal(2)}),
		cty.ObjectVal(map[string]cty.Value{"i": cty.NumberIntVal(2), "j": cty.NumberIntVal(1)}),
	}
	seen := map[string]int{}
	for i, v := range vals {
		k := string(appendConfigKey(nil, v))
		if j, dup := seen[k]; dup {
			t.Errorf("configs %d (%#v) and %d (%#v) share the key %q", j, vals[j], i, v, k)
		}
		seen[k] = i
		// An equal value built again has the same key.
		again := cty.ObjectVal(v.AsValueMap())
		if k2 := string(appendConfigKey(nil, again)); k2 != k {
			t.Errorf("config %d: key %q, rebuilt %q", i, k, k2)
		}
	}
}
