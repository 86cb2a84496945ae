package sdk

import (
	"context"

	"github.com/shammie-ml/shammie/sdk/proto/pluginv1"
)

// ValidateConfigs validates many configs in one call by looping over the
// plugin's ValidateConfig, so planning a large sweep costs one round trip
// per batch instead of one per instance.
func (s *server) ValidateConfigs(ctx context.Context, req *pluginv1.ValidateConfigsRequest) (*pluginv1.ValidateConfigsResponse, error) {
	out := &pluginv1.ValidateConfigsResponse{Responses: make([]*pluginv1.ValidateConfigResponse, 0, len(req.GetRequests()))}
	for _, r := range req.GetRequests() {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		resp, err := s.ValidateConfig(ctx, r)
		if err != nil {
			return nil, err
		}
		out.Responses = append(out.Responses, resp)
	}
	return out, nil
}
