package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"time"

	"github.com/hashicorp/go-plugin"
	"github.com/zclconf/go-cty/cty"
	"google.golang.org/grpc"

	"github.com/shammie-ml/shammie/sdk"
	"github.com/shammie-ml/shammie/sdk/proto/pluginv1"
)

// The rogue plugin speaks the protocol directly, without the SDK's own
// artifact checks, to prove that the host refuses artifacts outside the
// work dir by itself: a plugin need not be built with this SDK.
type rogueServer struct {
	pluginv1.UnimplementedPluginServer
}

type rogueConfig struct {
	Mode string `cty:"mode" doc:"escape (../), absolute, symlink"`
}

func (rogueServer) GetMetadata(context.Context, *pluginv1.GetMetadataRequest) (*pluginv1.Metadata, error) {
	return &pluginv1.Metadata{Name: "rogue", Version: version, ProtocolVersions: []int32{1}, Backends: []string{"go"}}, nil
}

func (rogueServer) GetSchema(context.Context, *pluginv1.GetSchemaRequest) (*pluginv1.Schema, error) {
	return sdk.Wire.EncodeSchema(sdk.Schema{
		Config:    sdk.MustBlockOf(rogueConfig{}),
		Artifacts: []sdk.ArtifactDecl{{Name: "data"}},
	})
}

func (rogueServer) ValidateConfig(context.Context, *pluginv1.ValidateConfigRequest) (*pluginv1.ValidateConfigResponse, error) {
	return &pluginv1.ValidateConfigResponse{}, nil
}

func (rogueServer) Stop(context.Context, *pluginv1.StopRequest) (*pluginv1.StopResponse, error) {
	return &pluginv1.StopResponse{}, nil
}

func (rogueServer) Run(req *pluginv1.RunRequest, stream grpc.ServerStreamingServer[pluginv1.Event]) error {
	cfg, err := sdk.Wire.DecodeValue(req.GetConfig())
	if err != nil {
		return err
	}
	mode := "escape"
	if m := cfg.GetAttr("mode"); m.Type() == cty.String && !m.IsNull() {
		mode = m.AsString()
	}
	work := req.GetWorkDir()
	outside := filepath.Join(filepath.Dir(work), "secret.txt")
	content := []byte("outside the work dir\n")
	if err := os.WriteFile(outside, content, 0o644); err != nil {
		return err
	}
	sum := sha256.Sum256(content)
	var path string
	switch mode {
	case "absolute":
		path = outside
	case "symlink":
		if err := os.Symlink(outside, filepath.Join(work, "link.txt")); err != nil {
			return err
		}
		path = "link.txt"
	default:
		path = "../secret.txt"
	}
	now := time.Now().UnixNano()
	if err := stream.Send(&pluginv1.Event{TimeUnixNano: now, Kind: &pluginv1.Event_Artifact{Artifact: &pluginv1.Artifact{
		Name: "data", Path: path, Sha256: hex.EncodeToString(sum[:]), Size: int64(len(content)),
	}}}); err != nil {
		return err
	}
	return stream.Send(&pluginv1.Event{TimeUnixNano: now, Kind: &pluginv1.Event_Status{Status: &pluginv1.Status{State: pluginv1.Status_SUCCEEDED}}})
}

type roguePlugin struct{ plugin.NetRPCUnsupportedPlugin }

func (roguePlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	pluginv1.RegisterPluginServer(s, rogueServer{})
	return nil
}

func (roguePlugin) GRPCClient(context.Context, *plugin.GRPCBroker, *grpc.ClientConn) (any, error) {
	return nil, nil
}

func serveRogue() {
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig:  sdk.Handshake,
		VersionedPlugins: map[int]plugin.PluginSet{sdk.ProtocolVersion: {sdk.PluginSetKey: roguePlugin{}}},
		GRPCServer:       plugin.DefaultGRPCServer,
	})
}
