// Package handshake holds what the host and every plugin must agree on to
// start talking: go-plugin's handshake, the name the service is dispensed
// under, and the environment variable carrying the host's pid. It is
// internal to the SDK: plugin authors call sdk.Serve, hosts use
// sdk/pluginhost.
package handshake

import "github.com/hashicorp/go-plugin"

// ProtocolVersion is the plugin protocol (proto package shammie.plugin.v1);
// sdk.ProtocolVersion is the same number.
const ProtocolVersion = 1

// Config is the go-plugin handshake shared by the host and every plugin.
// The magic cookie is not security: it only lets a plugin binary started by
// hand say "run me through shammie" instead of hanging on a handshake.
// ProtocolVersion is unused because the SDK negotiates through
// VersionedPlugins.
var Config = plugin.HandshakeConfig{
	ProtocolVersion:  ProtocolVersion,
	MagicCookieKey:   "SHAMMIE_PLUGIN",
	MagicCookieValue: "7f3b1c9e5a2d48e0b6c4a1f8d2e9c7b3",
}

// PluginSetKey is the name under which the Shammie service is dispensed in
// the go-plugin plugin set of every protocol version.
const PluginSetKey = "shammie"

// HostPIDEnv names the environment variable in which the host passes its
// process id, so that the plugin's parent-death watch notices a host that
// died before the watch started.
const HostPIDEnv = "SHAMMIE_HOST_PID"

// Codec is package sdk's converter between its types and the protocol's
// messages, set by sdk's init. It is typed any because naming sdk's types
// here would make an import cycle; sdk/internal/wire gives it its type.
var Codec any
