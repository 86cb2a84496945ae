package pluginhost

import (
	"context"
	"fmt"

	"github.com/zclconf/go-cty/cty"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/shammie-ml/shammie/sdk"
	"github.com/shammie-ml/shammie/sdk/internal/wire"
	"github.com/shammie-ml/shammie/sdk/proto/pluginv1"
)

// ValidateConfigs validates cfgs in one call, one result per config in
// order. A plugin built with an SDK without the batched call is asked
// config by config.
func (c *Client) ValidateConfigs(ctx context.Context, cfgs []cty.Value) ([]sdk.Diagnostics, error) {
	req := &pluginv1.ValidateConfigsRequest{Requests: make([]*pluginv1.ValidateConfigRequest, len(cfgs))}
	for i, cfg := range cfgs {
		v, err := wire.W.EncodeValue(cfg)
		if err != nil {
			return nil, fmt.Errorf("encoding config for plugin %s: %w", c.name, err)
		}
		req.Requests[i] = &pluginv1.ValidateConfigRequest{Config: v}
	}
	resp, err := c.rpc.ValidateConfigs(ctx, req)
	if status.Code(err) == codes.Unimplemented {
		out := make([]sdk.Diagnostics, len(cfgs))
		for i, cfg := range cfgs {
			if out[i], err = c.ValidateConfig(ctx, cfg); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	if err != nil {
		return nil, c.rpcError("ValidateConfigs", err)
	}
	if len(resp.GetResponses()) != len(cfgs) {
		return nil, fmt.Errorf("plugin %s answered %d of %d configs", c.name, len(resp.GetResponses()), len(cfgs))
	}
	out := make([]sdk.Diagnostics, len(cfgs))
	for i, r := range resp.GetResponses() {
		if out[i], err = wire.W.DecodeDiagnostics(r.GetDiagnostics()); err != nil {
			return nil, fmt.Errorf("plugin %s sent invalid diagnostics: %w", c.name, err)
		}
	}
	return out, nil
}
