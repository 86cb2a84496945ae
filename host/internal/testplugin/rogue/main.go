// Command rogue is a plugin written without the Shammie SDK: it speaks
// the protocol directly (handshake, gRPC service) and announces artifacts
// that the SDK would refuse to announce, to prove that the host refuses
// files outside the step's work dir by itself. It must not import the sdk
// package, whose init protects stdout for SDK plugins; it imports only the
// generated protocol code.
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	"github.com/shammie-ml/shammie/sdk/proto/pluginv1"
)

// handshake must equal the SDK's (sdk/internal/handshake): a plugin not built with the SDK has
// to know the cookie, which is the point of this plugin.
var handshake = plugin.HandshakeConfig{
	ProtocolVersion:  1,
	MagicCookieKey:   "SHAMMIE_PLUGIN",
	MagicCookieValue: "7f3b1c9e5a2d48e0b6c4a1f8d2e9c7b3",
}

type rogueServer struct {
	pluginv1.UnimplementedPluginServer
}

func (rogueServer) GetMetadata(context.Context, *pluginv1.GetMetadataRequest) (*pluginv1.Metadata, error) {
	return &pluginv1.Metadata{Name: "rogue", Version: "0.1.0", ProtocolVersions: []int32{1}, Backends: []string{"go"}}, nil
}

func (rogueServer) GetSchema(context.Context, *pluginv1.GetSchemaRequest) (*pluginv1.Schema, error) {
	return &pluginv1.Schema{
		Config: &pluginv1.Block{Attributes: []*pluginv1.Attribute{
			{Name: "mode", TypeJson: []byte(`"string"`), Required: true, Description: "escape (../), absolute, symlink, hardlink or spawn (starts a child and hangs)"},
		}},
		Artifacts: []*pluginv1.ArtifactDecl{{Name: "data"}},
	}, nil
}

func (rogueServer) ValidateConfig(context.Context, *pluginv1.ValidateConfigRequest) (*pluginv1.ValidateConfigResponse, error) {
	return &pluginv1.ValidateConfigResponse{}, nil
}

func (rogueServer) Stop(context.Context, *pluginv1.StopRequest) (*pluginv1.StopResponse, error) {
	return &pluginv1.StopResponse{}, nil
}

func (rogueServer) Run(req *pluginv1.RunRequest, stream grpc.ServerStreamingServer[pluginv1.Event]) error {
	var cfg struct {
		Mode string `json:"mode"`
	}
	if err := json.Unmarshal(req.GetConfig().GetValueJson(), &cfg); err != nil {
		return err
	}
	mode := cfg.Mode
	if mode == "spawn" {
		return spawnAndHang()
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
	case "hardlink":
		if err := os.Link(outside, filepath.Join(work, "link.txt")); err != nil {
			return err
		}
		path = "link.txt"
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

// spawnAndHang starts a child process (as a plugin shelling out would),
// writes both pids to $ROGUE_PIDDIR/{rogue,child}.pid and never returns:
// without the SDK nothing makes it exit when the host goes.
func spawnAndHang() error {
	child := exec.Command("sleep", "300")
	if err := child.Start(); err != nil {
		return err
	}
	dir := os.Getenv("ROGUE_PIDDIR")
	// child.pid last: the tests wait for it as the sign that both are
	// written (a map's random order let them kill the host before
	// rogue.pid existed).
	for _, f := range []struct {
		name string
		pid  int
	}{{"rogue.pid", os.Getpid()}, {"child.pid", child.Process.Pid}} {
		name, pid := f.name, f.pid
		tmp := filepath.Join(dir, name+".tmp")
		if err := os.WriteFile(tmp, []byte(strconv.Itoa(pid)), 0o644); err != nil {
			return err
		}
		if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
			return err
		}
	}
	select {}
}

type roguePlugin struct{ plugin.NetRPCUnsupportedPlugin }

func (roguePlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	pluginv1.RegisterPluginServer(s, rogueServer{})
	return nil
}

func (roguePlugin) GRPCClient(context.Context, *plugin.GRPCBroker, *grpc.ClientConn) (any, error) {
	return nil, nil
}

func main() {
	// ROGUE_PROTOCOL=2 makes it a plugin from the future that speaks only
	// protocol version 2, which the host must refuse with a clear message.
	proto := 1
	if os.Getenv("ROGUE_PROTOCOL") == "2" {
		proto = 2
	}
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig:  handshake,
		VersionedPlugins: map[int]plugin.PluginSet{proto: {"shammie": roguePlugin{}}},
		GRPCServer:       plugin.DefaultGRPCServer,
	})
}
