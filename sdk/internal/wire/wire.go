// Package wire is the host side's access to the SDK's protocol codec: the
// conversions between the SDK's types and the protocol's messages, and the
// gRPC options both ends use. sdk/pluginhost and sdk/plugintest use it;
// being internal, it is not part of the plugin author's API.
package wire

import (
	"github.com/hashicorp/go-plugin"
	"github.com/zclconf/go-cty/cty"
	"google.golang.org/grpc"

	"github.com/shammie-ml/shammie/sdk"
	"github.com/shammie-ml/shammie/sdk/internal/handshake"
	"github.com/shammie-ml/shammie/sdk/proto/pluginv1"
)

// Codec is what package sdk's codec offers.
type Codec interface {
	// GoPlugin returns the go-plugin plugin that serves impl (server
	// side) or, with a nil impl, dials a plugin (client side; dispensing
	// yields a pluginv1.PluginClient).
	GoPlugin(impl sdk.Plugin) plugin.Plugin
	GRPCServerOptions() []grpc.ServerOption
	GRPCDialOptions() []grpc.DialOption
	EncodeValue(v cty.Value) (*pluginv1.Value, error)
	DecodeValue(m *pluginv1.Value) (cty.Value, error)
	EncodePath(p cty.Path) ([]*pluginv1.PathStep, error)
	DecodePath(steps []*pluginv1.PathStep) (cty.Path, error)
	EncodeMetadata(m sdk.Metadata) *pluginv1.Metadata
	DecodeMetadata(m *pluginv1.Metadata) sdk.Metadata
	EncodeSchema(s sdk.Schema) (*pluginv1.Schema, error)
	DecodeSchema(s *pluginv1.Schema) (sdk.Schema, error)
	EncodeDiagnostics(ds sdk.Diagnostics) []*pluginv1.Diagnostic
	DecodeDiagnostics(ds []*pluginv1.Diagnostic) (sdk.Diagnostics, error)
}

// W is the SDK's codec. (Package sdk is initialised before this package,
// which imports it, so the codec is set by then.)
var W = handshake.Codec.(Codec)

// The handshake, re-exported for the host side.
var (
	Handshake = handshake.Config
)

const (
	PluginSetKey = handshake.PluginSetKey
	HostPIDEnv   = handshake.HostPIDEnv
)
