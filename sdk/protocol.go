package sdk

import (
	"context"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/shammie-ml/shammie/sdk/proto/pluginv1"
)

// MaxMessageBytes caps every gRPC message in both directions (go-plugin's
// default is gRPC's 4 MiB receive limit on one side and unlimited send on the
// other). Messages carry schemas, configs, diagnostics and small output
// values; 16 MiB leaves room for a large sweep's config or a long
// diagnostics list while making a plugin that tries to ship tensors or
// datasets inline fail loudly: big data belongs in artifact files.
const MaxMessageBytes = 16 << 20

// grpcServerOptions and grpcCallOptions apply MaxMessageBytes on each side.
func grpcServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{grpc.MaxRecvMsgSize(MaxMessageBytes), grpc.MaxSendMsgSize(MaxMessageBytes)}
}

// goPlugin adapts the Shammie service to go-plugin. The server half serves a
// Plugin implementation; the client half hands back the raw gRPC client,
// which sdk/pluginhost wraps.
type goPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	impl Plugin
}

var _ plugin.GRPCPlugin = (*goPlugin)(nil)

func (p *goPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	pluginv1.RegisterPluginServer(s, newServer(p.impl))
	return nil
}

func (p *goPlugin) GRPCClient(_ context.Context, _ *plugin.GRPCBroker, c *grpc.ClientConn) (any, error) {
	return pluginv1.NewPluginClient(c), nil
}
