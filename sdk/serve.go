package sdk

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/go-plugin"
	"github.com/zclconf/go-cty/cty"
	"google.golang.org/grpc"

	"github.com/shammie-ml/shammie/sdk/internal/handshake"
	"github.com/shammie-ml/shammie/sdk/proto/pluginv1"
)

var (
	loggerOnce sync.Once
	logger     hclog.Logger
)

// Logger returns the plugin's logger: hclog, JSON lines on stderr, which the
// host parses and files under the step's log. Use it for diagnostics meant
// for whoever debugs the plugin; use [Run.Logf] for what the user should see.
// The level follows $SHAMMIE_PLUGIN_LOG_LEVEL (default "info").
func Logger() hclog.Logger {
	loggerOnce.Do(func() {
		level := hclog.LevelFromString(os.Getenv("SHAMMIE_PLUGIN_LOG_LEVEL"))
		if level == hclog.NoLevel {
			level = hclog.Info
		}
		logger = hclog.New(&hclog.LoggerOptions{
			Name:       "plugin",
			Level:      level,
			Output:     realStderr(),
			JSONFormat: true,
		})
	})
	return logger
}

// Serve runs p as a plugin process: it negotiates the protocol with the host
// over go-plugin, serves requests until the host goes away, and exits. Call
// it from main and do nothing else there:
//
//	func main() { sdk.Serve(myPlugin{}) }
//
// Before serving it makes sure the plugin dies with its host (parent-death
// watch) and, when started by a host, that nothing printed to stdout can get
// mixed into the handshake (stdout is redirected to stderr as soon as the
// sdk package is initialised).
func Serve(p Plugin) {
	log := Logger()
	watchParent(log)
	if out := handshakeStdout(); out != nil {
		// go-plugin prints its handshake line to os.Stdout and then replaces
		// os.Stdout with a pipe forwarded to the host, so the original
		// stdout is only ever used for that one line.
		os.Stdout = out
	}
	plugin.Serve(&plugin.ServeConfig{
		HandshakeConfig:  handshake.Config,
		VersionedPlugins: map[int]plugin.PluginSet{ProtocolVersion: {handshake.PluginSetKey: &goPlugin{impl: p}}},
		GRPCServer: func(opts []grpc.ServerOption) *grpc.Server {
			return grpc.NewServer(append(opts, grpcServerOptions()...)...)
		},
		Logger: log,
	})
}

// server implements the gRPC service on top of a Plugin.
type server struct {
	pluginv1.UnimplementedPluginServer
	impl      Plugin
	stdioOnce sync.Once

	mu   sync.Mutex
	runs map[*runState]struct{} // Runs in flight, for Stop
}

type runState struct {
	runID, step string
	cancel      context.CancelCauseFunc
}

func newServer(impl Plugin) *server {
	return &server{impl: impl, runs: map[*runState]struct{}{}}
}

// claimStdio points os.Stdout and os.Stderr back at the real stderr. Once
// serving, go-plugin has replaced them with pipes that it forwards to the
// host over gRPC, asynchronously: whatever a plugin writes just before
// crashing (the most useful lines of a crash report) would be lost with the
// process. Writing to fd 2 directly is synchronous. It runs in the first
// request, i.e. after go-plugin's replacement, and only in a process started
// by a host (plugintest serves in the test process, whose stdio it must not
// touch).
func (s *server) claimStdio() {
	s.stdioOnce.Do(func() {
		if startedByHost() {
			os.Stdout = realStderr()
			os.Stderr = realStderr()
			// Programs the plugin starts must not believe that they, too,
			// were launched by a host (and redirect their stdout).
			os.Unsetenv(handshake.Config.MagicCookieKey)
			os.Unsetenv(handshake.HostPIDEnv)
		}
	})
}

// recoverAs turns a panic in a request handler into the handler's error:
// gRPC does not recover handler panics, and a plugin whose Schema panics
// (sdk.MustBlockOf on a malformed struct) should say so, not just die.
func recoverAs(call string, err *error) {
	if r := recover(); r != nil {
		Logger().Error(call+" panicked", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
		*err = fmt.Errorf("plugin panicked in %s: %v", call, r)
	}
}

func (s *server) GetMetadata(context.Context, *pluginv1.GetMetadataRequest) (_ *pluginv1.Metadata, err error) {
	s.claimStdio()
	defer recoverAs("Metadata", &err)
	return codec.EncodeMetadata(s.impl.Metadata()), nil
}

func (s *server) GetSchema(context.Context, *pluginv1.GetSchemaRequest) (_ *pluginv1.Schema, err error) {
	s.claimStdio()
	defer recoverAs("Schema", &err)
	out, err := codec.EncodeSchema(s.impl.Schema())
	if err != nil {
		return nil, fmt.Errorf("plugin %s declares an invalid schema: %w", s.impl.Metadata().Name, err)
	}
	return out, nil
}

func (s *server) ValidateConfig(ctx context.Context, req *pluginv1.ValidateConfigRequest) (resp *pluginv1.ValidateConfigResponse, err error) {
	s.claimStdio()
	v, err := codec.DecodeValue(req.GetConfig())
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	diags, err := s.validate(ctx, v)
	if err != nil {
		return nil, err
	}
	return &pluginv1.ValidateConfigResponse{Diagnostics: codec.EncodeDiagnostics(diags)}, nil
}

func (s *server) Stop(_ context.Context, req *pluginv1.StopRequest) (*pluginv1.StopResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	all := req.GetRunId() == "" && req.GetStep() == ""
	for r := range s.runs {
		if all || (r.runID == req.GetRunId() && r.step == req.GetStep()) {
			r.cancel(fmt.Errorf("stopped by the host: %s", req.GetReason()))
		}
	}
	return &pluginv1.StopResponse{}, nil
}

func (s *server) Run(req *pluginv1.RunRequest, stream grpc.ServerStreamingServer[pluginv1.Event]) error {
	s.claimStdio()
	cfg, err := codec.DecodeValue(req.GetConfig())
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	if !cfg.IsWhollyKnown() {
		// Decode turns unknowns into zero values for ValidateConfig; Run
		// must never compute with them.
		return fmt.Errorf("config: contains values that are not known yet; the host must run the upstream steps first")
	}
	ctx, cancel := context.WithCancelCause(stream.Context())
	defer cancel(nil)
	sink := &streamSink{send: stream.Send}
	// Run only ever sees a config that passed ValidateConfig: the host
	// validates right before running too, but a plugin must not rely on
	// every caller doing so (and need not re-validate in Run).
	if diags, err := s.validate(ctx, cfg); err != nil || diags.HasErrors() {
		if err == nil {
			err = diags.Err()
		}
		return sink.finish(stream, statusOf(ctx, err))
	}
	st := &runState{runID: req.GetRunId(), step: req.GetStep(), cancel: cancel}
	s.mu.Lock()
	s.runs[st] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.runs, st)
		s.mu.Unlock()
	}()

	run := &Run{
		RunID: req.GetRunId(), Step: req.GetStep(), Config: Config{Value: cfg},
		WorkDir: req.GetWorkDir(), StateDir: req.GetStateDir(), Seed: req.GetSeed(), Backend: req.GetBackend(),
		sink: sink, artifacts: s.artifactDecls(),
	}
	runErr := runRecovered(ctx, s.impl, run)
	return sink.finish(stream, statusOf(ctx, runErr))
}

// validate calls the plugin's ValidateConfig, a panic in it becoming the
// error, and puts the summaries in sentence case.
func (s *server) validate(ctx context.Context, cfg cty.Value) (diags Diagnostics, err error) {
	defer recoverAs("ValidateConfig", &err)
	diags = s.impl.ValidateConfig(ctx, Config{Value: cfg})
	for i := range diags {
		diags[i].Summary = SentenceCase(diags[i].Summary)
	}
	return diags, nil
}

// artifactDecls indexes the declared artifacts by name, families expanded
// (see [ArtifactFamily]), for [Run.WriteArtifact]'s media types.
func (s *server) artifactDecls() (out map[string]ArtifactDecl) {
	defer func() {
		if recover() != nil {
			out = nil // GetSchema reports the panic; Run then just lacks media types
		}
	}()
	out = map[string]ArtifactDecl{}
	for _, a := range s.impl.Schema().Artifacts {
		out[a.Name] = a
	}
	return out
}

// finish sends the final status: the last thing on the stream, which must
// get through even when events failed to send earlier.
func (s *streamSink) finish(stream grpc.ServerStreamingServer[pluginv1.Event], status *pluginv1.Status) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	return stream.Send(&pluginv1.Event{TimeUnixNano: time.Now().UnixNano(), Kind: &pluginv1.Event_Status{Status: status}})
}

// runRecovered calls Run, turning a panic in it into an error. (A panic in
// a goroutine the plugin started still kills the process; the host then
// reports the crash with the tail of stderr.)
func runRecovered(ctx context.Context, p Plugin, run *Run) (err error) {
	defer func() {
		if r := recover(); r != nil {
			stack := debug.Stack()
			Logger().Error("Run panicked", "panic", fmt.Sprint(r), "stack", string(stack))
			fmt.Fprintf(realStderr(), "panic in Run: %v\n\n%s\n", r, stack)
			err = fmt.Errorf("plugin panicked: %v (stack trace in the plugin's stderr)", r)
		}
	}()
	return p.Run(ctx, run)
}

// statusOf maps Run's result to the final status.
func statusOf(ctx context.Context, err error) *pluginv1.Status {
	switch {
	case err == nil:
		return &pluginv1.Status{State: pluginv1.Status_SUCCEEDED}
	case ctx.Err() != nil:
		msg := err.Error()
		if cause := context.Cause(ctx); cause != nil && !errors.Is(err, cause) && cause.Error() != msg {
			msg = cause.Error() + ": " + msg
		}
		return &pluginv1.Status{State: pluginv1.Status_CANCELLED, Message: msg}
	default:
		st := &pluginv1.Status{State: pluginv1.Status_FAILED, Message: err.Error()}
		if ds := DiagnosticsOf(err); ds != nil {
			st.Diagnostics = codec.EncodeDiagnostics(ds)
		}
		return st
	}
}

// streamSink sends Run's events on the gRPC stream. grpc streams do not allow
// concurrent Send, and Run's methods are documented as safe for concurrent
// use, hence the mutex.
type streamSink struct {
	mu     sync.Mutex
	send   func(*pluginv1.Event) error
	closed bool  // Run returned: later events (from stray goroutines) are dropped
	err    error // first send error, logged once
}

func (s *streamSink) emit(e *pluginv1.Event) {
	e.TimeUnixNano = time.Now().UnixNano()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.err != nil {
		return
	}
	if err := s.send(e); err != nil {
		s.err = err
		Logger().Warn("host no longer receives events", "error", err)
	}
}

func (s *streamSink) progress(stage string, done, total int64, unit string) {
	s.emit(&pluginv1.Event{Kind: &pluginv1.Event_Progress{Progress: &pluginv1.Progress{Stage: stage, Done: done, Total: total, Unit: unit}}})
}

func (s *streamSink) metric(name string, step int64, value float64) {
	s.emit(&pluginv1.Event{Kind: &pluginv1.Event_Metric{Metric: &pluginv1.Metric{Name: name, Step: step, Value: value, TimeUnixNano: time.Now().UnixNano()}}})
}

func (s *streamSink) log(level Severity, msg string) {
	l := pluginv1.Log_INFO
	switch level {
	case SeverityWarning:
		l = pluginv1.Log_WARN
	case SeverityError:
		l = pluginv1.Log_ERROR
	}
	s.emit(&pluginv1.Event{Kind: &pluginv1.Event_Log{Log: &pluginv1.Log{Level: l, Message: msg}}})
}

func (s *streamSink) artifact(name, relPath, sha256 string, size int64, mediaType string) {
	s.emit(&pluginv1.Event{Kind: &pluginv1.Event_Artifact{Artifact: &pluginv1.Artifact{Name: name, Path: relPath, Sha256: sha256, Size: size, MediaType: mediaType}}})
}

func (s *streamSink) output(name string, v cty.Value) error {
	pv, err := codec.EncodeValue(v)
	if err != nil {
		return fmt.Errorf("output %q: %w", name, err)
	}
	s.emit(&pluginv1.Event{Kind: &pluginv1.Event_Output{Output: &pluginv1.Output{Name: name, Value: pv}}})
	return nil
}
