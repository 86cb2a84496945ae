package pluginhost_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/zclconf/go-cty/cty"

	"github.com/shammie-ml/shammie/sdk"
	"github.com/shammie-ml/shammie/sdk/pluginhost"
)

// syncBuffer collects the plugin's stderr, written from go-plugin's
// goroutines while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func launch(t *testing.T, opts pluginhost.LaunchOptions) (*pluginhost.Client, *syncBuffer) {
	t.Helper()
	stderr := &syncBuffer{}
	opts.Path = testPluginBin
	opts.Stderr = stderr
	opts.AutoMTLS = true
	c, err := pluginhost.Launch(context.Background(), opts)
	if err != nil {
		t.Fatalf("Launch: %v", err)
	}
	t.Cleanup(c.Kill)
	return c, stderr
}

func config(mode string) cty.Value {
	return cty.ObjectVal(map[string]cty.Value{"mode": cty.StringVal(mode), "text": cty.StringVal("hi")})
}

func request(t *testing.T, mode string) pluginhost.RunRequest {
	return pluginhost.RunRequest{RunID: "r1", Step: "s", Config: config(mode), WorkDir: t.TempDir(), StateDir: t.TempDir(), Seed: 7, Backend: "go"}
}

func fileHash(t *testing.T, path string) string {
	t.Helper()
	return hashFile(t, path)
}

func hashFile(t testing.TB, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func TestLaunchAndDescribe(t *testing.T) {
	c, _ := launch(t, pluginhost.LaunchOptions{SHA256: fileHash(t, testPluginBin)})
	ctx := context.Background()
	if got := c.NegotiatedVersion(); got != sdk.ProtocolVersion {
		t.Errorf("NegotiatedVersion = %d, want %d", got, sdk.ProtocolVersion)
	}
	md, err := c.Metadata(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := sdk.Metadata{Name: "testplugin", Version: "0.1.0", Description: "pluginhost test double", Backends: []string{"go"}, ProtocolVersions: []int{1}, SDKVersion: sdk.Version}
	if diff := cmp.Diff(want, md); diff != "" {
		t.Errorf("Metadata (-want +got):\n%s", diff)
	}
	s, err := c.Schema(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Config.Attributes) != 2 || !s.Config.Attributes[0].Required || s.Config.Attributes[1].Default.AsString() != "hi" {
		t.Errorf("Schema config = %#v", s.Config)
	}
	if len(s.Outputs) != 2 || !s.Outputs[0].Type.Equals(cty.Number) || s.Artifacts[0].Name != "out" {
		t.Errorf("Schema outputs = %#v, artifacts = %#v", s.Outputs, s.Artifacts)
	}
}

func TestValidateConfig(t *testing.T) {
	c, _ := launch(t, pluginhost.LaunchOptions{})
	tests := []struct {
		name string
		text cty.Value
		want []string // "summary@path"
	}{
		{"fine", cty.StringVal("ok"), nil},
		{"invalid", cty.StringVal("invalid"), []string{"Invalid text@text"}},
		// Validation happens before upstream steps ran: unknowns must cross.
		{"unknown", cty.UnknownVal(cty.String), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := cty.ObjectVal(map[string]cty.Value{"mode": cty.StringVal("ok"), "text": tt.text})
			diags, err := c.ValidateConfig(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, d := range diags {
				got = append(got, d.Summary+"@"+sdk.FormatPath(d.Path))
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("diagnostics (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRunEventsAndStdoutProtection(t *testing.T) {
	c, stderr := launch(t, pluginhost.LaunchOptions{})
	req := request(t, "ok")
	var kinds []string
	var outputs = map[string]cty.Value{}
	var art pluginhost.Artifact
	st, err := c.Run(context.Background(), req, func(e pluginhost.Event) {
		switch e := e.(type) {
		case pluginhost.Progress:
			kinds = append(kinds, fmt.Sprintf("progress %d/%d", e.Done, e.Total))
		case pluginhost.Metric:
			kinds = append(kinds, fmt.Sprintf("metric %s@%d=%.3g", e.Name, e.Step, e.Value))
		case pluginhost.Log:
			kinds = append(kinds, fmt.Sprintf("log %s %s", e.Level, e.Message))
		case pluginhost.Artifact:
			kinds = append(kinds, "artifact "+e.Name)
			art = e
		case pluginhost.Output:
			kinds = append(kinds, "output "+e.Name)
			outputs[e.Name] = e.Value
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if st.State != pluginhost.Succeeded {
		t.Fatalf("status = %+v", st)
	}
	want := []string{
		"progress 1/3", "metric loss@1=1", "progress 2/3", "metric loss@2=0.5", "progress 3/3", "metric loss@3=0.333",
		"log info hello hi", "log warn careful", "artifact out", "output answer", "output echo",
	}
	if diff := cmp.Diff(want, kinds); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	if !outputs["answer"].RawEquals(cty.NumberIntVal(42)) || outputs["echo"].AsString() != "hi from s" {
		t.Errorf("outputs = %#v", outputs)
	}
	if art.Path != "out.txt" || art.Size != 2 || art.SHA256 != fileHash(t, filepath.Join(req.WorkDir, "out.txt")) {
		t.Errorf("artifact = %+v", art)
	}
	// Both prints went to stderr instead of breaking the handshake (init)
	// or the protocol (Run).
	c.Kill()
	for _, s := range []string{"stdout noise from init", "stdout noise from Run"} {
		if !strings.Contains(stderr.String(), s) {
			t.Errorf("stderr lacks %q; stderr:\n%s", s, stderr.String())
		}
	}
}

func TestRunFailures(t *testing.T) {
	tests := []struct {
		mode      string
		wantState pluginhost.State
		wantMsg   string
		wantDiag  string
	}{
		{"fail", pluginhost.Failed, "boom", ""},
		{"diags", pluginhost.Failed, "Bad text", "text"},
		{"panic", pluginhost.Failed, "plugin panicked: kaboom", ""},
	}
	c, _ := launch(t, pluginhost.LaunchOptions{})
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			st, err := c.Run(context.Background(), request(t, tt.mode), nil)
			if err != nil {
				t.Fatal(err)
			}
			if st.State != tt.wantState || !strings.Contains(st.Message, tt.wantMsg) {
				t.Errorf("status = %v %q, want %v containing %q", st.State, st.Message, tt.wantState, tt.wantMsg)
			}
			if tt.wantDiag != "" && (len(st.Diagnostics) != 1 || sdk.FormatPath(st.Diagnostics[0].Path) != tt.wantDiag) {
				t.Errorf("diagnostics = %+v, want one at %s", st.Diagnostics, tt.wantDiag)
			}
		})
	}
}

func TestCrashReportsStderrTail(t *testing.T) {
	tests := []struct {
		mode string
		kill bool // SIGKILL the plugin once it reports progress
		want []string
	}{
		{mode: "goroutine-panic", want: []string{"crashed", "exit status 2", "kaboom in goroutine"}},
		{mode: "exit", want: []string{"crashed", "exit status 3", "about to exit 3"}},
		{mode: "wait", kill: true, want: []string{"crashed", "signal: killed", "stdout noise from init"}},
	}
	for _, tt := range tests {
		t.Run(tt.mode, func(t *testing.T) {
			c, _ := launch(t, pluginhost.LaunchOptions{})
			_, err := c.Run(context.Background(), request(t, tt.mode), func(e pluginhost.Event) {
				if _, ok := e.(pluginhost.Progress); ok && tt.kill {
					syscall.Kill(c.Pid(), syscall.SIGKILL)
				}
			})
			if err == nil {
				t.Fatal("Run succeeded, want a crash error")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
			if !c.Exited() {
				t.Error("Exited() = false after a crash")
			}
		})
	}
}

func TestStop(t *testing.T) {
	t.Run("context cancel", func(t *testing.T) {
		c, _ := launch(t, pluginhost.LaunchOptions{})
		ctx, cancel := context.WithCancelCause(context.Background())
		st, err := c.Run(ctx, request(t, "wait"), func(e pluginhost.Event) {
			if _, ok := e.(pluginhost.Progress); ok {
				cancel(errors.New("user pressed ^C"))
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		if st.State != pluginhost.Cancelled || !strings.Contains(st.Message, "user pressed ^C") {
			t.Errorf("status = %v %q, want cancelled naming the reason", st.State, st.Message)
		}
	})
	t.Run("cancelled before the run started", func(t *testing.T) {
		c, _ := launch(t, pluginhost.LaunchOptions{})
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		st, err := c.Run(ctx, request(t, "wait"), nil)
		if err != nil {
			t.Fatal(err)
		}
		if st.State != pluginhost.Cancelled {
			t.Errorf("status = %v %q, want cancelled", st.State, st.Message)
		}
	})
	t.Run("only the cancelled step stops", func(t *testing.T) {
		c, _ := launch(t, pluginhost.LaunchOptions{})
		ctxA, cancelA := context.WithCancel(context.Background())
		ctxB, cancelB := context.WithCancel(context.Background())
		defer cancelB()
		started := make(chan struct{}, 2)
		onEvent := func(e pluginhost.Event) {
			if _, ok := e.(pluginhost.Progress); ok {
				started <- struct{}{}
			}
		}
		reqA, reqB := request(t, "wait"), request(t, "wait")
		reqA.Step, reqB.Step = "a", "b"
		type result struct {
			st  pluginhost.Status
			err error
		}
		doneA, doneB := make(chan result, 1), make(chan result, 1)
		go func() { st, err := c.Run(ctxA, reqA, onEvent); doneA <- result{st, err} }()
		go func() { st, err := c.Run(ctxB, reqB, onEvent); doneB <- result{st, err} }()
		<-started
		<-started
		cancelA()
		a := <-doneA
		if a.err != nil || a.st.State != pluginhost.Cancelled {
			t.Fatalf("step a: %v %v", a.st, a.err)
		}
		select {
		case b := <-doneB:
			t.Fatalf("step b ended when only a was cancelled: %v %v", b.st, b.err)
		case <-time.After(300 * time.Millisecond):
		}
		cancelB()
		if b := <-doneB; b.err != nil || b.st.State != pluginhost.Cancelled {
			t.Fatalf("step b: %v %v", b.st, b.err)
		}
	})
	t.Run("Stop RPC", func(t *testing.T) {
		c, _ := launch(t, pluginhost.LaunchOptions{})
		st, err := c.Run(context.Background(), request(t, "wait"), func(e pluginhost.Event) {
			if _, ok := e.(pluginhost.Progress); ok {
				go c.Stop(context.Background(), "sweep aborted")
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		if st.State != pluginhost.Cancelled || !strings.Contains(st.Message, "sweep aborted") {
			t.Errorf("status = %v %q", st.State, st.Message)
		}
	})
	t.Run("killed after grace period", func(t *testing.T) {
		c, _ := launch(t, pluginhost.LaunchOptions{GracePeriod: 300 * time.Millisecond})
		ctx, cancel := context.WithCancel(context.Background())
		start := time.Now()
		_, err := c.Run(ctx, request(t, "ignore-stop"), func(e pluginhost.Event) {
			if _, ok := e.(pluginhost.Progress); ok {
				cancel()
			}
		})
		if err == nil || !strings.Contains(err.Error(), "did not stop") {
			t.Fatalf("err = %v, want a kill after the grace period", err)
		}
		if d := time.Since(start); d > 8*time.Second {
			t.Errorf("Run took %s to give up", d)
		}
		waitGone(t, c)
	})
}

func waitGone(t *testing.T, c *pluginhost.Client) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !c.Exited() {
		if time.Now().After(deadline) {
			t.Fatal("plugin process still running")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestLaunchRefusals(t *testing.T) {
	t.Run("checksum mismatch", func(t *testing.T) {
		_, err := pluginhost.Launch(context.Background(), pluginhost.LaunchOptions{Path: testPluginBin, SHA256: strings.Repeat("ab", 32)})
		if err == nil {
			t.Fatal("Launch accepted a binary with the wrong checksum")
		}
		for _, w := range []string{"changed since `shammie init`", "run `shammie init` again", fileHash(t, testPluginBin)} {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error lacks %q: %v", w, err)
			}
		}
	})
	t.Run("protocol version 2 only", func(t *testing.T) {
		_, err := pluginhost.Launch(context.Background(), pluginhost.LaunchOptions{Path: v2PluginBin})
		if err == nil {
			t.Fatal("Launch accepted a plugin that only speaks protocol 2")
		}
		for _, w := range []string{"speaks version 1", "Plugin version: 2"} {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error lacks %q: %v", w, err)
			}
		}
	})
	t.Run("run by hand", func(t *testing.T) {
		out, err := exec.Command(testPluginBin).CombinedOutput()
		if err == nil || !strings.Contains(string(out), "This binary is a plugin") {
			t.Errorf("running the plugin directly: err=%v output=%q", err, out)
		}
	})
}

// TestParentDeath kills a host-like parent with SIGKILL: the orphaned
// plugin must exit by itself.
func TestParentDeath(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("the parent-death signal and /proc are Linux-only; elsewhere the plugin polls getppid")
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	host := exec.Command(self)
	host.Env = append(os.Environ(), "SHAMMIE_TEST_FAKEHOST="+testPluginBin)
	out, err := host.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	host.Stderr = io.Discard
	if err := host.Start(); err != nil {
		t.Fatal(err)
	}
	defer host.Process.Kill()
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("reading fake host: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "PID ")))
	if err != nil {
		t.Fatalf("fake host said %q", line)
	}
	if !alive(pid) {
		t.Fatalf("plugin %d not running before the host died", pid)
	}
	host.Process.Signal(syscall.SIGKILL)
	host.Wait()
	deadline := time.Now().Add(5 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("plugin %d still running 5s after its host was killed", pid)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// alive reports whether pid is a running process (a zombie waiting for a
// reaper counts as gone).
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || (s[i+2] != 'Z' && s[i+2] != 'X')
}

// TestChecksumRecheckedAfterChange: a launch verified once is not hashed
// again, but a binary rewritten afterwards is refused.
func TestChecksumRecheckedAfterChange(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "plugin")
	data, err := os.ReadFile(testPluginBin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	sum := fileHash(t, bin)
	for range 2 {
		c, err := pluginhost.Launch(context.Background(), pluginhost.LaunchOptions{Path: bin, SHA256: sum})
		if err != nil {
			t.Fatal(err)
		}
		c.Kill()
	}
	// Same size, one byte changed near the end (in the binary's padding or
	// symbol data: it would still run).
	data[len(data)-1] ^= 0xff
	if err := os.WriteFile(bin, data, 0o755); err != nil {
		t.Fatal(err)
	}
	_, err = pluginhost.Launch(context.Background(), pluginhost.LaunchOptions{Path: bin, SHA256: sum})
	if err == nil || !strings.Contains(err.Error(), "changed since `shammie init`") {
		t.Fatalf("tampered binary: err = %v", err)
	}
}
