// Command noopplugin is the plugin the host benchmark runs: a step that
// does nothing, so that what is measured is the host's overhead alone.
package main

import (
	"context"

	"github.com/zclconf/go-cty/cty"

	"github.com/shammie-ml/shammie/sdk"
)

type noop struct{}

func (noop) Metadata() sdk.Metadata {
	return sdk.Metadata{Name: "noop", Version: "0.1.0", Description: "does nothing (host benchmark)", Backends: []string{"go"}}
}

func (noop) Schema() sdk.Schema {
	return sdk.Schema{
		Config: sdk.Block{Attributes: []sdk.Attribute{
			{Name: "i", Type: cty.Number, Default: cty.NumberIntVal(0), Description: "instance index (makes each config distinct)"},
		}},
		Outputs: []sdk.OutputDecl{{Name: "i", Type: cty.Number}},
	}
}

func (noop) ValidateConfig(context.Context, sdk.Config) sdk.Diagnostics { return nil }

func (noop) Run(_ context.Context, r *sdk.Run) error {
	return r.Output("i", r.Config.Value.GetAttr("i"))
}

func main() { sdk.Serve(noop{}) }
