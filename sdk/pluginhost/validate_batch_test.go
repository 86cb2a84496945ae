package pluginhost_test

import (
	"context"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/shammie-ml/shammie/sdk/pluginhost"
)

// ValidateConfigs answers many configs in one call, in order.
func TestValidateConfigs(t *testing.T) {
	c, _ := launch(t, pluginhost.LaunchOptions{})
	cfg := func(text cty.Value) cty.Value {
		return cty.ObjectVal(map[string]cty.Value{"mode": cty.StringVal("ok"), "text": text})
	}
	got, err := c.ValidateConfigs(context.Background(), []cty.Value{
		cfg(cty.StringVal("ok")), cfg(cty.StringVal("invalid")), cfg(cty.UnknownVal(cty.String)),
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0].HasErrors() || !got[1].HasErrors() || got[1][0].Summary != "Invalid text" || got[2].HasErrors() {
		t.Errorf("ValidateConfigs = %v", got)
	}
}
