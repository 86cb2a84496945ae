// Package plugintest tests Shammie plugins through the real protocol.
//
// [New] serves a plugin in-process over an in-memory gRPC connection, so
// a test exercises the same encoding, streaming and error paths as a plugin
// launched by the host, without building a binary:
//
//	h := plugintest.New(t, myPlugin{})
//	res := h.Run(map[string]any{"lr": 0.1, "steps": 50})
//	res.RequireSuccess(t)
//	loss := res.Float(t, "final_loss")
//
// [BuildPlugin] and [RunHost] go one step further and run the real
// `shammie` binary against the plugin binary.
package plugintest

import (
	"context"
	"fmt"
	"net"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/hashicorp/go-plugin"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/gocty"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"

	"github.com/shammie-ml/shammie/sdk"
	"github.com/shammie-ml/shammie/sdk/internal/wire"
	"github.com/shammie-ml/shammie/sdk/pluginhost"
)

// Harness talks to one plugin served in-process.
type Harness struct {
	t      testing.TB
	client *pluginhost.Client
	schema *sdk.Schema
	runs   atomic.Int64
}

// New serves p over an in-process gRPC connection for the rest of the test.
// It is the real protocol (the SDK's gRPC server, message caps, value
// encoding, streaming) over an in-memory listener; go-plugin's own
// TestPluginGRPCConn would do the same but logs every stream at debug level
// onto the test's stderr.
func New(t testing.TB, p sdk.Plugin) *Harness {
	t.Helper()
	lis := bufconn.Listen(1 << 20)
	srv := grpc.NewServer(wire.W.GRPCServerOptions()...)
	gp, ok := wire.W.GoPlugin(p).(plugin.GRPCPlugin)
	if !ok {
		t.Fatal("wire.W.GoPlugin is not a gRPC plugin")
	}
	if err := gp.GRPCServer(nil, srv); err != nil {
		t.Fatalf("registering the plugin: %v", err)
	}
	go srv.Serve(lis)
	conn, err := grpc.NewClient("passthrough:///plugintest",
		append(wire.W.GRPCDialOptions(),
			grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
			grpc.WithTransportCredentials(insecure.NewCredentials()))...)
	if err != nil {
		t.Fatalf("connecting to the plugin: %v", err)
	}
	c := pluginhost.Connect(p.Metadata().Name, conn, func() {
		conn.Close()
		srv.Stop()
	})
	t.Cleanup(c.Kill)
	return &Harness{t: t, client: c}
}

// Client is the host-side client, for tests that need pluginhost directly.
func (h *Harness) Client() *pluginhost.Client { return h.client }

// Metadata returns the plugin's metadata as the host sees it.
func (h *Harness) Metadata() sdk.Metadata {
	h.t.Helper()
	m, err := h.client.Metadata(context.Background())
	if err != nil {
		h.t.Fatalf("Metadata: %v", err)
	}
	return m
}

// Schema returns the plugin's schema as the host sees it (after a round
// trip through the wire format, so unencodable schemas fail here).
func (h *Harness) Schema() sdk.Schema {
	h.t.Helper()
	if h.schema == nil {
		s, err := h.client.Schema(context.Background())
		if err != nil {
			h.t.Fatalf("Schema: %v", err)
		}
		h.schema = &s
	}
	return *h.schema
}

// Config turns cfg into the config value the host would send: cfg is a
// cty.Value, a map[string]any (nested maps and slices for blocks) or a
// struct with cty tags. Attribute types are converted as HCL would, and
// defaults filled in from the schema. A config the schema rejects fails the
// test, since the host would never send it.
func (h *Harness) Config(cfg any) cty.Value {
	h.t.Helper()
	v, err := toCty(cfg)
	if err != nil {
		h.t.Fatalf("config: %v", err)
	}
	out, diags := h.Schema().Config.Coerce(v)
	if diags.HasErrors() {
		h.t.Fatalf("config does not conform to the plugin's schema (the host would refuse it):\n%s", formatDiags(diags))
	}
	return out
}

func formatDiags(ds sdk.Diagnostics) string {
	lines := make([]string, len(ds))
	for i, d := range ds {
		lines[i] = "  " + d.String()
	}
	return strings.Join(lines, "\n")
}

// Validate calls the plugin's ValidateConfig with cfg (see Config).
func (h *Harness) Validate(cfg any) sdk.Diagnostics {
	h.t.Helper()
	diags, err := h.client.ValidateConfig(context.Background(), h.Config(cfg))
	if err != nil {
		h.t.Fatalf("ValidateConfig: %v", err)
	}
	return diags
}

// RunOption adjusts a Run.
type RunOption func(*runSettings)

type runSettings struct {
	req     pluginhost.RunRequest
	ctx     context.Context
	onEvent func(pluginhost.Event)
}

// WithSeed sets the step's seed (default 1).
func WithSeed(seed int64) RunOption { return func(s *runSettings) { s.req.Seed = seed } }

// WithBackend sets the GoMLX backend (default "go").
func WithBackend(b string) RunOption { return func(s *runSettings) { s.req.Backend = b } }

// WithWorkDir uses dir as the work dir instead of a fresh t.TempDir().
func WithWorkDir(dir string) RunOption { return func(s *runSettings) { s.req.WorkDir = dir } }

// WithStateDir uses dir as the state dir (to test resuming) instead of a
// fresh t.TempDir().
func WithStateDir(dir string) RunOption { return func(s *runSettings) { s.req.StateDir = dir } }

// WithStep names the step (default "test").
func WithStep(name string) RunOption { return func(s *runSettings) { s.req.Step = name } }

// WithContext runs under ctx: cancelling it stops the plugin as the host
// would (Stop, then kill after the grace period).
func WithContext(ctx context.Context) RunOption { return func(s *runSettings) { s.ctx = ctx } }

// OnEvent calls f with every event as it arrives (for example to cancel
// after the first progress event).
func OnEvent(f func(pluginhost.Event)) RunOption { return func(s *runSettings) { s.onEvent = f } }

// Run runs one step with cfg (see Config) and collects what it reported. A
// protocol or transport failure fails the test; a failed step does not (see
// Result.RequireSuccess).
func (h *Harness) Run(cfg any, opts ...RunOption) *Result {
	h.t.Helper()
	n := h.runs.Add(1)
	s := runSettings{ctx: context.Background(), req: pluginhost.RunRequest{
		RunID: fmt.Sprintf("plugintest-%d", n), Step: "test", Seed: 1, Backend: "go",
	}}
	for _, o := range opts {
		o(&s)
	}
	s.req.Config = h.Config(cfg)
	if s.req.WorkDir == "" {
		s.req.WorkDir = h.t.TempDir()
	}
	if s.req.StateDir == "" {
		s.req.StateDir = h.t.TempDir()
	}
	var err error
	if s.req.WorkDir, err = filepath.Abs(s.req.WorkDir); err != nil {
		h.t.Fatal(err)
	}
	res := &Result{WorkDir: s.req.WorkDir, StateDir: s.req.StateDir, Outputs: map[string]cty.Value{},
		Artifacts: map[string]Artifact{}, Metrics: map[string][]MetricPoint{}}
	st, err := h.client.Run(s.ctx, s.req, func(e pluginhost.Event) {
		res.Events = append(res.Events, e)
		switch e := e.(type) {
		case pluginhost.Output:
			res.Outputs[e.Name] = e.Value
		case pluginhost.Artifact:
			res.Artifacts[e.Name] = Artifact{Path: filepath.Join(s.req.WorkDir, filepath.FromSlash(e.Path)), SHA256: e.SHA256, Size: e.Size, MediaType: e.MediaType}
		case pluginhost.Metric:
			res.Metrics[e.Name] = append(res.Metrics[e.Name], MetricPoint{Step: e.Step, Value: e.Value})
		case pluginhost.Log:
			res.Logs = append(res.Logs, e.Level.String()+": "+e.Message)
		}
		if s.onEvent != nil {
			s.onEvent(e)
		}
	})
	if err != nil {
		h.t.Fatalf("Run: %v", err)
	}
	res.Status = st
	return res
}

// Result is what a step reported.
type Result struct {
	Status    pluginhost.Status
	Events    []pluginhost.Event // all but the status, in order
	Outputs   map[string]cty.Value
	Artifacts map[string]Artifact
	Metrics   map[string][]MetricPoint
	Logs      []string // "info: message", "warn: message"
	WorkDir   string
	StateDir  string
}

// Artifact is an announced file; Path is absolute.
type Artifact struct {
	Path      string
	SHA256    string
	Size      int64
	MediaType string
}

// MetricPoint is one recorded value of a metric.
type MetricPoint struct {
	Step  int64
	Value float64
}

// Succeeded reports whether the step succeeded.
func (r *Result) Succeeded() bool { return r.Status.State == pluginhost.Succeeded }

// RequireSuccess fails the test unless the step succeeded, showing why.
func (r *Result) RequireSuccess(t testing.TB) {
	t.Helper()
	if !r.Succeeded() {
		msg := fmt.Sprintf("step %s: %s", r.Status.State, r.Status.Message)
		if len(r.Status.Diagnostics) > 0 {
			msg += "\n" + formatDiags(r.Status.Diagnostics)
		}
		if len(r.Logs) > 0 {
			msg += "\nlogs:\n  " + strings.Join(r.Logs, "\n  ")
		}
		t.Fatal(msg)
	}
}

// Output returns the named output or fails the test.
func (r *Result) Output(t testing.TB, name string) cty.Value {
	t.Helper()
	v, ok := r.Outputs[name]
	if !ok {
		t.Fatalf("no output %q (outputs: %v)", name, keys(r.Outputs))
	}
	return v
}

// Float returns a number output as float64 or fails the test.
func (r *Result) Float(t testing.TB, name string) float64 {
	t.Helper()
	var f float64
	if err := gocty.FromCtyValue(r.Output(t, name), &f); err != nil {
		t.Fatalf("output %q: %v", name, err)
	}
	return f
}

// Artifact returns the named artifact or fails the test.
func (r *Result) Artifact(t testing.TB, name string) Artifact {
	t.Helper()
	a, ok := r.Artifacts[name]
	if !ok {
		t.Fatalf("no artifact %q (artifacts: %v)", name, keys(r.Artifacts))
	}
	return a
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// toCty converts a Go config: cty.Value as is, structs via their cty tags,
// anything else by inferring types (maps → objects, slices → tuples) so
// that Coerce can convert them to the schema's types like HCL would.
func toCty(cfg any) (cty.Value, error) {
	switch c := cfg.(type) {
	case nil:
		return cty.EmptyObjectVal, nil
	case cty.Value:
		return c, nil
	}
	rv := reflect.ValueOf(cfg)
	for rv.Kind() == reflect.Pointer && !rv.IsNil() {
		rv = rv.Elem()
	}
	if rv.Kind() == reflect.Struct {
		ty, err := gocty.ImpliedType(rv.Interface())
		if err != nil {
			return cty.NilVal, err
		}
		return gocty.ToCtyValue(rv.Interface(), ty)
	}
	return inferCty(rv, nil)
}

func inferCty(rv reflect.Value, p cty.Path) (cty.Value, error) {
	if !rv.IsValid() {
		return cty.NullVal(cty.DynamicPseudoType), nil
	}
	if rv.Type() == reflect.TypeOf(cty.Value{}) {
		return rv.Interface().(cty.Value), nil
	}
	switch rv.Kind() {
	case reflect.Interface, reflect.Pointer:
		if rv.IsNil() {
			return cty.NullVal(cty.DynamicPseudoType), nil
		}
		return inferCty(rv.Elem(), p)
	case reflect.Map:
		if rv.Type().Key().Kind() != reflect.String {
			return cty.NilVal, fmt.Errorf("%s: map keys must be strings", sdk.FormatPath(p))
		}
		attrs := map[string]cty.Value{}
		for it := rv.MapRange(); it.Next(); {
			k := it.Key().String()
			v, err := inferCty(it.Value(), p.GetAttr(k))
			if err != nil {
				return cty.NilVal, err
			}
			attrs[k] = v
		}
		return cty.ObjectVal(attrs), nil
	case reflect.Slice, reflect.Array:
		elems := make([]cty.Value, rv.Len())
		for i := range elems {
			v, err := inferCty(rv.Index(i), p.IndexInt(i))
			if err != nil {
				return cty.NilVal, err
			}
			elems[i] = v
		}
		return cty.TupleVal(elems), nil
	default:
		ty, err := gocty.ImpliedType(rv.Interface())
		if err != nil {
			return cty.NilVal, fmt.Errorf("%s: %w", sdk.FormatPath(p), err)
		}
		return gocty.ToCtyValue(rv.Interface(), ty)
	}
}

// Run is New(t, p).Run(cfg, opts...): one step of a fresh in-process plugin.
func Run(t testing.TB, p sdk.Plugin, cfg any, opts ...RunOption) *Result {
	t.Helper()
	return New(t, p).Run(cfg, opts...)
}
