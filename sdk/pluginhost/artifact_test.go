package pluginhost_test

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/shammie-ml/shammie/sdk/pluginhost"
	"github.com/shammie-ml/shammie/sdk/proto/pluginv1"
)

// rogueServer speaks the protocol without the SDK, announcing whatever
// artifact paths it is given: what a plugin built without the SDK's checks
// could send.
type rogueServer struct {
	pluginv1.UnimplementedPluginServer
	artifact *pluginv1.Artifact
}

func (s rogueServer) Run(_ *pluginv1.RunRequest, stream grpc.ServerStreamingServer[pluginv1.Event]) error {
	if err := stream.Send(&pluginv1.Event{Kind: &pluginv1.Event_Artifact{Artifact: s.artifact}}); err != nil {
		return err
	}
	return stream.Send(&pluginv1.Event{Kind: &pluginv1.Event_Status{Status: &pluginv1.Status{State: pluginv1.Status_SUCCEEDED}}})
}

func connectRogue(t *testing.T, srv pluginv1.PluginServer) *pluginhost.Client {
	t.Helper()
	lis, err := net.Listen("unix", filepath.Join(t.TempDir(), "sock"))
	if err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer()
	pluginv1.RegisterPluginServer(s, srv)
	go s.Serve(lis)
	conn, err := grpc.NewClient("unix://"+lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	c := pluginhost.Connect("rogue", conn, func() { conn.Close(); s.Stop() })
	t.Cleanup(c.Kill)
	return c
}

func TestHostRefusesEscapingArtifacts(t *testing.T) {
	root := t.TempDir()
	work := filepath.Join(root, "work")
	if err := os.MkdirAll(work, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{filepath.Join(root, "secret"), filepath.Join(work, "ok.txt")} {
		if err := os.WriteFile(f, []byte("data"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink(filepath.Join(root, "secret"), filepath.Join(work, "link")); err != nil {
		t.Fatal(err)
	}
	const dataSHA = "3a6eb0790f39ac87c94f3856b2dd2c5d110e6811602261a9a923d3bb23adc8b7" // sha256("data")
	tests := []struct {
		name    string
		path    string
		sha     string
		wantMsg string // "" : accepted
	}{
		{"inside", "ok.txt", dataSHA, ""},
		{"parent", "../secret", dataSHA, "leaves the work dir"},
		{"absolute", filepath.Join(root, "secret"), dataSHA, "absolute"},
		{"symlink", "link", dataSHA, "symlink"},
		{"hash mismatch", "ok.txt", strings.Repeat("0", 64), "announced"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := connectRogue(t, rogueServer{artifact: &pluginv1.Artifact{Name: "a", Path: tt.path, Sha256: tt.sha, Size: 4}})
			var delivered int
			st, err := c.Run(context.Background(), pluginhost.RunRequest{Step: "s", Config: config("ok"), WorkDir: work}, func(e pluginhost.Event) {
				if _, ok := e.(pluginhost.Artifact); ok {
					delivered++
				}
			})
			if err != nil {
				t.Fatal(err)
			}
			if tt.wantMsg == "" {
				if st.State != pluginhost.Succeeded || delivered != 1 {
					t.Errorf("status %v %q, %d artifacts delivered", st.State, st.Message, delivered)
				}
				return
			}
			if st.State != pluginhost.Failed || !strings.Contains(st.Message, tt.wantMsg) || delivered != 0 {
				t.Errorf("status %v %q, %d artifacts delivered; want failed mentioning %q and none delivered", st.State, st.Message, delivered, tt.wantMsg)
			}
		})
	}
}

// silentServer ends the stream without a status.
type silentServer struct {
	pluginv1.UnimplementedPluginServer
}

func (silentServer) Run(*pluginv1.RunRequest, grpc.ServerStreamingServer[pluginv1.Event]) error {
	return nil
}

func TestRunWithoutStatusIsAnError(t *testing.T) {
	c := connectRogue(t, silentServer{})
	_, err := c.Run(context.Background(), pluginhost.RunRequest{Step: "s", Config: config("ok"), WorkDir: t.TempDir()}, nil)
	if err == nil || !strings.Contains(err.Error(), "without a final status") {
		t.Errorf("err = %v", err)
	}
}
