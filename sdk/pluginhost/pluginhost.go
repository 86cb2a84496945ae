// Package pluginhost is how the Shammie host talks to plugin binaries:
// launching them over hashicorp/go-plugin (handshake, protocol negotiation,
// checksum check, mTLS), and calling the protocol's RPCs with SDK types, so
// that the host never touches the generated protocol code.
package pluginhost

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"github.com/zclconf/go-cty/cty"
	"google.golang.org/grpc"

	"github.com/shammie-ml/shammie/sdk"
	"github.com/shammie-ml/shammie/sdk/internal/wire"
	"github.com/shammie-ml/shammie/sdk/proto/pluginv1"
)

// Defaults of [LaunchOptions].
const (
	DefaultGracePeriod  = 10 * time.Second
	DefaultStartTimeout = 30 * time.Second
	DefaultTailLines    = 20
)

// LaunchOptions say how to start a plugin binary.
type LaunchOptions struct {
	// Path of the plugin binary.
	Path string
	// SHA256 (hex) the binary must have, as recorded by `shammie init` in
	// the lock file; empty skips the check.
	SHA256 string
	// Stderr receives the plugin's stderr (hclog JSON lines and anything it
	// prints) as it comes; nil discards it. The last TailLines lines are kept
	// regardless for crash reports.
	Stderr io.Writer
	// Logger receives go-plugin's own log and the plugin's log lines; nil
	// disables it.
	Logger hclog.Logger
	// AutoMTLS makes the host and plugin negotiate mutual TLS with
	// throw-away certificates. The host should always set it.
	AutoMTLS bool
	// Env is added to the host's environment for the plugin ("KEY=value").
	Env []string
	// Dir is the plugin's working directory; empty: the host's.
	Dir string
	// StartTimeout bounds the handshake; 0: DefaultStartTimeout (or the
	// context's deadline when sooner).
	StartTimeout time.Duration
	// GracePeriod is how long Run waits after asking a cancelled step to
	// stop before it kills the plugin; 0: DefaultGracePeriod.
	GracePeriod time.Duration
	// TailLines of stderr to keep for crash reports; 0: DefaultTailLines.
	TailLines int
}

// Client is a connection to one plugin process.
type Client struct {
	name  string
	rpc   pluginv1.PluginClient
	grace time.Duration
	tail  *tailBuffer

	// Process mode (nil when connected in-process through Connect).
	pc      *plugin.Client
	cmd     *exec.Cmd
	version int
	closeFn func()

	mu     sync.Mutex
	killed bool // we killed it: not a crash
}

// Launch starts the plugin binary and completes the handshake. A binary
// whose checksum differs from opts.SHA256, or that speaks no protocol
// version this SDK does, is refused with an error that says what to do.
func Launch(ctx context.Context, opts LaunchOptions) (*Client, error) {
	if opts.Path == "" {
		return nil, errors.New("pluginhost.Launch: no plugin path")
	}
	name := filepath.Base(opts.Path)
	tail := newTail(orDefault(opts.TailLines, DefaultTailLines))
	var stderr io.Writer = tail
	if opts.Stderr != nil {
		stderr = io.MultiWriter(opts.Stderr, tail)
	}
	logger := opts.Logger
	if logger == nil {
		logger = hclog.NewNullLogger()
	}
	start := opts.StartTimeout
	if start == 0 {
		start = DefaultStartTimeout
	}
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < start {
		start = time.Until(dl)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	cmd := exec.Command(opts.Path)
	cmd.Dir = opts.Dir
	isolate(cmd)
	// go-plugin appends the host environment after ours unless told not to,
	// which would let the host's environment override opts.Env.
	cmd.Env = append(os.Environ(), wire.HostPIDEnv+"="+strconv.Itoa(os.Getpid()))
	cmd.Env = append(cmd.Env, opts.Env...)

	cfg := &plugin.ClientConfig{
		HandshakeConfig:  wire.Handshake,
		VersionedPlugins: map[int]plugin.PluginSet{sdk.ProtocolVersion: {wire.PluginSetKey: wire.W.GoPlugin(nil)}},
		Cmd:              cmd,
		SkipHostEnv:      true,
		AllowedProtocols: []plugin.Protocol{plugin.ProtocolGRPC},
		AutoMTLS:         opts.AutoMTLS,
		Logger:           logger,
		Stderr:           stderr,
		// After the handshake go-plugin forwards what the plugin writes to
		// os.Stdout/os.Stderr over gRPC; it belongs with the rest of stderr.
		SyncStdout:      stderr,
		SyncStderr:      stderr,
		StartTimeout:    start,
		GRPCDialOptions: wire.W.GRPCDialOptions(),
	}
	verifiedAfterLaunch := ""
	if opts.SHA256 != "" {
		sum, err := hex.DecodeString(opts.SHA256)
		if err != nil || len(sum) != sha256.Size {
			return nil, fmt.Errorf("plugin %s: recorded sha256 %q is not a hex sha256; run `shammie init` to rewrite the lock file", name, opts.SHA256)
		}
		// The file's identity is taken before hashing: if the file changes
		// while or after it is hashed, the identity recorded below no
		// longer matches it and the next launch hashes again.
		key, keyed := verifiedKey(opts.Path, opts.SHA256)
		if _, hit := verified.Load(key); !keyed || !hit {
			cfg.SecureConfig = &plugin.SecureConfig{Checksum: sum, Hash: sha256.New()}
			if keyed {
				verifiedAfterLaunch = key
			}
		}
	}
	pc := plugin.NewClient(cfg)
	c := &Client{name: name, grace: orDuration(opts.GracePeriod, DefaultGracePeriod), tail: tail, pc: pc, cmd: cmd}

	done := make(chan error, 1)
	go func() {
		rc, err := pc.Client()
		if err == nil {
			var raw any
			if raw, err = rc.Dispense(wire.PluginSetKey); err == nil {
				c.rpc = raw.(pluginv1.PluginClient)
			}
		}
		done <- err
	}()
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		pc.Kill()
		<-done
		killGroup(c.Pid())
		return nil, fmt.Errorf("launching plugin %s: %w", name, context.Cause(ctx))
	}
	if err != nil {
		pc.Kill()
		killGroup(c.Pid())
		return nil, c.launchError(opts, err)
	}
	if verifiedAfterLaunch != "" {
		verified.Store(verifiedAfterLaunch, struct{}{})
	}
	// From here on, what the plugin spawns dies with the host even if the
	// host is SIGKILLed.
	guardGroup(c.Pid())
	c.version = pc.NegotiatedVersion()
	return c, nil
}

func (c *Client) launchError(opts LaunchOptions, err error) error {
	msg := err.Error()
	switch {
	case errors.Is(err, plugin.ErrChecksumsDoNotMatch):
		got := "unreadable"
		if sum, herr := FileSHA256(opts.Path); herr == nil {
			got = sum
		}
		return fmt.Errorf("plugin %s: the binary %s changed since `shammie init` recorded it (lock sha256 %s, file sha256 %s); if the new binary is intended, run `shammie init` again", c.name, opts.Path, opts.SHA256, got)
	case strings.Contains(msg, "incompatible API version"):
		return fmt.Errorf("plugin %s speaks a plugin protocol this shammie does not (this shammie speaks version %d; %s); install a plugin version built against a compatible SDK or upgrade shammie", c.name, sdk.ProtocolVersion, msg)
	}
	if t := c.tail.String(); t != "" {
		return fmt.Errorf("launching plugin %s: %w\n--- last lines of its stderr ---\n%s", c.name, err, t)
	}
	return fmt.Errorf("launching plugin %s: %w", c.name, err)
}

// FileSHA256 returns the hex sha256 of a file: the hash a lock file pins
// for a plugin binary and LaunchOptions.SHA256 checks.
func FileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Connect wraps an established gRPC connection to a Shammie plugin served
// in-process (sdk/plugintest does this with go-plugin's test connections).
// closeFn, if not nil, is called by Kill.
func Connect(name string, conn grpc.ClientConnInterface, closeFn func()) *Client {
	return &Client{name: name, rpc: pluginv1.NewPluginClient(conn), grace: DefaultGracePeriod,
		tail: newTail(DefaultTailLines), version: sdk.ProtocolVersion, closeFn: closeFn}
}

func orDefault(v, def int) int {
	if v <= 0 {
		return def
	}
	return v
}

func orDuration(v, def time.Duration) time.Duration {
	if v <= 0 {
		return def
	}
	return v
}

// Name is the plugin binary's file name.
func (c *Client) Name() string { return c.name }

// NegotiatedVersion is the protocol version agreed in the handshake.
func (c *Client) NegotiatedVersion() int { return c.version }

// Pid of the plugin process, or 0 when in-process.
func (c *Client) Pid() int {
	if c.cmd == nil || c.cmd.Process == nil {
		return 0
	}
	return c.cmd.Process.Pid
}

// Exited reports whether the plugin process has ended.
func (c *Client) Exited() bool {
	if c.pc == nil {
		return false
	}
	return c.pc.Exited()
}

// StderrTail returns the last lines the plugin wrote to stderr.
func (c *Client) StderrTail() string { return c.tail.String() }

// Kill ends the plugin: go-plugin asks it to shut down, waits up to two
// seconds and then kills the process, and then its process group (what it
// spawned). Safe to call more than once.
func (c *Client) Kill() {
	c.mu.Lock()
	c.killed = true
	c.mu.Unlock()
	if c.pc != nil {
		c.pc.Kill()
		// Whatever the plugin spawned goes with it.
		killGroup(c.Pid())
	}
	if c.closeFn != nil {
		c.closeFn()
		c.closeFn = nil
	}
}

// forceKill ends the process at once: used when a step ignored Stop.
func (c *Client) forceKill() {
	c.mu.Lock()
	c.killed = true
	c.mu.Unlock()
	killGroup(c.Pid())
	c.Kill()
}

// KillNow kills the plugin and its process group at once, without asking
// it to shut down (the host's second SIGINT).
func (c *Client) KillNow() { c.forceKill() }

// Metadata asks the plugin to describe itself.
func (c *Client) Metadata(ctx context.Context) (sdk.Metadata, error) {
	m, err := c.rpc.GetMetadata(ctx, &pluginv1.GetMetadataRequest{})
	if err != nil {
		return sdk.Metadata{}, c.rpcError("GetMetadata", err)
	}
	return wire.W.DecodeMetadata(m), nil
}

// Schema asks for the config schema and declared outputs.
func (c *Client) Schema(ctx context.Context) (sdk.Schema, error) {
	s, err := c.rpc.GetSchema(ctx, &pluginv1.GetSchemaRequest{})
	if err != nil {
		return sdk.Schema{}, c.rpcError("GetSchema", err)
	}
	out, err := wire.W.DecodeSchema(s)
	if err != nil {
		return sdk.Schema{}, fmt.Errorf("plugin %s sent an invalid schema: %w", c.name, err)
	}
	return out, nil
}

// ValidateConfig runs the plugin's semantic checks on cfg, which may
// contain unknown values (outputs of steps that have not run yet).
func (c *Client) ValidateConfig(ctx context.Context, cfg cty.Value) (sdk.Diagnostics, error) {
	v, err := wire.W.EncodeValue(cfg)
	if err != nil {
		return nil, fmt.Errorf("encoding config for plugin %s: %w", c.name, err)
	}
	resp, err := c.rpc.ValidateConfig(ctx, &pluginv1.ValidateConfigRequest{Config: v})
	if err != nil {
		return nil, c.rpcError("ValidateConfig", err)
	}
	diags, err := wire.W.DecodeDiagnostics(resp.GetDiagnostics())
	if err != nil {
		return nil, fmt.Errorf("plugin %s sent invalid diagnostics: %w", c.name, err)
	}
	return diags, nil
}

// Stop asks every step running in the plugin to finish gracefully (their
// contexts are cancelled); their Run calls then return a Cancelled status.
// To stop one step, cancel the context given to its Run.
func (c *Client) Stop(ctx context.Context, reason string) error {
	if _, err := c.rpc.Stop(ctx, &pluginv1.StopRequest{Reason: reason}); err != nil {
		return c.rpcError("Stop", err)
	}
	return nil
}

// rpcError explains a failed call; when the process died, that is what the
// user needs to know, with its last words.
func (c *Client) rpcError(call string, err error) error {
	if crashed := c.crashError(call); crashed != nil {
		return crashed
	}
	return fmt.Errorf("plugin %s: %s: %w", c.name, call, err)
}

// crashError waits briefly for the process to be reaped (so its exit status
// and the rest of its stderr are in) and describes the crash, or returns nil
// if the process is still alive.
func (c *Client) crashError(during string) error {
	if c.pc == nil {
		return nil
	}
	deadline := time.Now().Add(3 * time.Second)
	for !c.pc.Exited() {
		if time.Now().After(deadline) {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	how := "exited"
	if ps := c.cmd.ProcessState; ps != nil {
		how = ps.String() // "exit status 3", "signal: killed"
	}
	c.mu.Lock()
	killed := c.killed
	c.mu.Unlock()
	what := "crashed"
	if killed {
		what = "was killed by the host"
	}
	msg := fmt.Sprintf("plugin %s %s during %s (%s)", c.name, what, during, how)
	if t := c.tail.String(); t != "" {
		msg += "\n--- last lines of its stderr ---\n" + t
	}
	return errors.New(msg)
}
