// Command v2plugin stands in for a plugin built against a future SDK that
// speaks only plugin protocol version 2. It deliberately does not import
// the sdk package (a future SDK is different code); the handshake cookie is
// the one in wire.Handshake, which never changes between versions.
package main

import (
	"context"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/shammie-ml/shammie/sdk/proto/pluginv1"
)

type futurePlugin struct{ plugin.NetRPCUnsupportedPlugin }

func (futurePlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	pluginv1.RegisterPluginServer(s, pluginv1.UnimplementedPluginServer{})
	return nil
}

func (futurePlugin) GRPCClient(context.Context, *plugin.GRPCBroker, *grpc.ClientConn) (any, error) {
	return nil, nil
}

func main() {
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig: plugin.HandshakeConfig{
			ProtocolVersion:  2,
			MagicCookieKey:   "SHAMMIE_PLUGIN",
			MagicCookieValue: "7f3b1c9e5a2d48e0b6c4a1f8d2e9c7b3",
		},
		VersionedPlugins: map[int]plugin.PluginSet{2: {"shammie": futurePlugin{}}},
		GRPCServer:       plugin.DefaultGRPCServer,
	})
}
