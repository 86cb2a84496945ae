package runner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/zclconf/go-cty/cty"

	"github.com/shammie-ml/shammie/host/internal/depsfile"
	"github.com/shammie-ml/shammie/host/internal/runstore"
	"github.com/shammie-ml/shammie/sdk"
	"github.com/shammie-ml/shammie/sdk/pluginhost"
)

// fakeLauncher hands out in-memory plugin processes whose behaviour
// follows the config's mode, and measures concurrency.
type fakeLauncher struct {
	launches atomic.Int32
	running  atomic.Int32
	maxRun   atomic.Int32
	killed   atomic.Int32
	// waitForPeer makes failing modes wait until another step runs.
	waitForPeer bool
}

func (l *fakeLauncher) Launch(ctx context.Context, p *Plugin) (Conn, error) {
	l.launches.Add(1)
	return &fakeConn{l: l}, nil
}

type fakeConn struct{ l *fakeLauncher }

func (c *fakeConn) Metadata(context.Context) (sdk.Metadata, error) {
	return sdk.Metadata{Name: "fake", Version: "1.0.0", Backends: []string{"go"}}, nil
}

func (c *fakeConn) Schema(context.Context) (sdk.Schema, error) {
	return sdk.Schema{
		Config: sdk.Block{Attributes: []sdk.Attribute{
			{Name: "mode", Type: cty.String, Required: true},
			{Name: "n", Type: cty.Number, Default: cty.NumberIntVal(0)},
		}},
		Outputs: []sdk.OutputDecl{{Name: "value", Type: cty.Number}},
	}, nil
}

func (c *fakeConn) ValidateConfig(_ context.Context, cfg cty.Value) (sdk.Diagnostics, error) {
	if m := cfg.GetAttr("mode"); m.IsKnown() && m.AsString() == "invalid" {
		return sdk.Diagnostics{sdk.Errorf(cty.GetAttrPath("mode"), "invalid mode", "")}, nil
	}
	return nil, nil
}

func (c *fakeConn) Run(ctx context.Context, req pluginhost.RunRequest, on func(pluginhost.Event)) (pluginhost.Status, error) {
	n := c.l.running.Add(1)
	defer c.l.running.Add(-1)
	for {
		m := c.l.maxRun.Load()
		if n <= m || c.l.maxRun.CompareAndSwap(m, n) {
			break
		}
	}
	v := req.Config.GetAttr("n")
	mode := req.Config.GetAttr("mode").AsString()
	if c.l.waitForPeer && mode != "block" && mode != "ok" {
		// Fail only once a peer step is running, so that fail-fast has
		// something to cancel (otherwise the peer may never start).
		for deadline := time.Now().Add(5 * time.Second); c.l.running.Load() < 2 && time.Now().Before(deadline); {
			time.Sleep(time.Millisecond)
		}
	}
	switch mode {
	case "ok":
		time.Sleep(20 * time.Millisecond)
		on(pluginhost.Output{Name: "value", Value: v.Add(cty.NumberIntVal(1))})
	case "fail":
		return pluginhost.Status{State: pluginhost.Failed, Message: "boom"}, nil
	case "block":
		<-ctx.Done()
		return pluginhost.Status{State: pluginhost.Cancelled, Message: "stopped"}, nil
	case "undeclared":
		on(pluginhost.Output{Name: "other", Value: v})
	case "chatty":
		at := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
		on(pluginhost.Progress{Time: at, Stage: "train", Done: 1, Total: 2, Unit: "steps"})
		on(pluginhost.Metric{Time: at, Name: "loss", Step: 1, Value: math.Inf(1)})
		on(pluginhost.Log{Time: at, Level: pluginhost.LogWarn, Message: "careful"})
		on(pluginhost.Output{Time: at, Name: "value", Value: v})
	case "crash":
		return pluginhost.Status{}, errors.New("plugin crashed (exit status 2)")
	}
	return pluginhost.Status{State: pluginhost.Succeeded}, nil
}

func (c *fakeConn) StderrTail() string { return "" }
func (c *fakeConn) Kill()              { c.l.killed.Add(1) }

// setup writes spec and lock files and loads them with the fake launcher.
func setup(t *testing.T, spec string, vars ...string) (*Session, *fakeLauncher, *runstore.Store) {
	t.Helper()
	dir := t.TempDir()
	specPath := filepath.Join(dir, "spec.hcl")
	if err := os.WriteFile(specPath, []byte(spec), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "shammie-plugin-fake")
	if err := os.WriteFile(bin, []byte("fake"), 0o755); err != nil {
		t.Fatal(err)
	}
	lock := depsfile.New(depsfile.PathFor(specPath))
	lock.Plugins["fake"] = &depsfile.Plugin{Name: "fake", Version: "1.0.0", Path: bin, SHA256: strings.Repeat("ab", 32)}
	if err := lock.Write(); err != nil {
		t.Fatal(err)
	}
	l := &fakeLauncher{}
	s, err := Load(context.Background(), LoadOptions{SpecPath: specPath, Vars: vars, Parallelism: 2}, NewPool(l, true))
	if err != nil {
		var re *Error
		if errors.As(err, &re) {
			t.Fatalf("load: %v %v", re.Err, re.Diags)
		}
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	store, err := runstore.Open(filepath.Join(dir, ".shammie"))
	if err != nil {
		t.Fatal(err)
	}
	return s, l, store
}

const header = `
variable "mode_a" {
  type    = string
  default = "ok"
}
plugin "fake" {}
`

// recorder collects the observer's events.
type recorder struct {
	mu     sync.Mutex
	events []Event
}

func (r *recorder) observe(e Event) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.events = append(r.events, e)
}

// final returns "addr kind status" of each instance's last event.
func (r *recorder) final() map[string]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string]string{}
	for _, e := range r.events {
		switch e.Kind {
		case "done":
			out[e.Step] = string(e.Status)
		case "cached":
			out[e.Step] = "cached"
		case "skipped":
			out[e.Step] = "skipped"
		}
	}
	return out
}

func TestParallelismBound(t *testing.T) {
	s, l, store := setup(t, header+`
step "sweep" {
  plugin = plugin.fake
  count  = 6
  config {
    mode = "ok"
    n    = count.index
  }
}`)
	var rec recorder
	out, err := s.Execute(context.Background(), store, RunOptions{Parallelism: 2, Observer: rec.observe})
	if err != nil {
		t.Fatal(err)
	}
	if out.Status != runstore.StatusSucceeded || out.Counts[runstore.StatusSucceeded] != 6 {
		t.Fatalf("outcome %+v", out)
	}
	if got := l.maxRun.Load(); got != 2 {
		t.Errorf("max concurrent runs = %d, want 2", got)
	}
	// One process from loading, reused; at most one more for the second
	// concurrent step.
	if got := l.launches.Load(); got > 2 {
		t.Errorf("launched %d processes for 6 steps at parallelism 2, want <= 2 (reuse)", got)
	}
}

func TestFailFastAndKeepGoing(t *testing.T) {
	spec := header + `
step "a" {
  plugin = plugin.fake
  config {
    mode = var.mode_a
  }
}
step "b" {
  plugin = plugin.fake
  config {
    mode = "block"
  }
}
step "c" {
  plugin = plugin.fake
  config {
    mode = "ok"
    n    = step.a.outputs.value
  }
}
step "d" {
  plugin     = plugin.fake
  depends_on = [step.c]
  config {
    mode = "ok"
  }
}`
	tests := []struct {
		name      string
		mode      string
		keepGoing bool
		want      map[string]string
		kind      Kind
	}{
		{"fail-fast", "fail", false, map[string]string{"step.a": "failed", "step.b": "cancelled", "step.c": "skipped", "step.d": "skipped"}, KindFailed},
		{"crash", "crash", false, map[string]string{"step.a": "failed", "step.b": "cancelled", "step.c": "skipped", "step.d": "skipped"}, KindFailed},
		{"undeclared output", "undeclared", false, map[string]string{"step.a": "failed", "step.b": "cancelled", "step.c": "skipped", "step.d": "skipped"}, KindFailed},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, l, store := setup(t, spec, "mode_a="+tc.mode)
			l.waitForPeer = true
			var rec recorder
			out, err := s.Execute(context.Background(), store, RunOptions{Parallelism: 2, KeepGoing: tc.keepGoing, Observer: rec.observe})
			if got := kindOf(err); got != tc.kind {
				t.Errorf("error kind %d, want %d (err %v)", got, tc.kind, err)
			}
			if d := cmp.Diff(tc.want, rec.final()); d != "" {
				t.Errorf("final states (-want +got):\n%s", d)
			}
			if out.Status != runstore.StatusFailed {
				t.Errorf("run status %s, want failed", out.Status)
			}
			// The failed and the cancelled step's processes are not reused.
			if l.killed.Load() < 2 {
				t.Errorf("killed %d processes, want the failed and cancelled ones", l.killed.Load())
			}
		})
	}

	// keep-going: b is independent of a; with a failing, b must run to its
	// end (here: it blocks, so give it a non-blocking mode).
	s, _, store := setup(t, strings.Replace(spec, `mode = "block"`, `mode = "ok"`, 1), "mode_a=fail")
	var rec recorder
	_, err := s.Execute(context.Background(), store, RunOptions{Parallelism: 1, KeepGoing: true, Observer: rec.observe})
	if kindOf(err) != KindFailed {
		t.Errorf("keep-going: error kind %d", kindOf(err))
	}
	want := map[string]string{"step.a": "failed", "step.b": "succeeded", "step.c": "skipped", "step.d": "skipped"}
	if d := cmp.Diff(want, rec.final()); d != "" {
		t.Errorf("keep-going final states (-want +got):\n%s", d)
	}
}

func TestInterrupt(t *testing.T) {
	s, _, store := setup(t, header+`
step "b" {
  plugin = plugin.fake
  config {
    mode = "block"
  }
}
step "after" {
  plugin = plugin.fake
  depends_on = [step.b]
  config {
    mode = "ok"
  }
}`)
	ctx, cancel := context.WithCancelCause(context.Background())
	var rec recorder
	// Interrupt once step.b has started (a fixed delay raced planning on a
	// loaded machine, and step.b was then skipped, not cancelled).
	observe := func(e Event) {
		rec.observe(e)
		if e.Kind == "start" && e.Step == "step.b" {
			go func() {
				time.Sleep(20 * time.Millisecond)
				cancel(errors.New("interrupted by SIGINT"))
			}()
		}
	}
	out, err := s.Execute(ctx, store, RunOptions{Observer: observe})
	if kindOf(err) != KindInterrupted {
		t.Fatalf("error kind %d, want %d (%v)", kindOf(err), KindInterrupted, err)
	}
	if out.Status != runstore.StatusCancelled {
		t.Errorf("run status %s, want cancelled", out.Status)
	}
	want := map[string]string{"step.b": "cancelled", "step.after": "skipped"}
	if d := cmp.Diff(want, rec.final()); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

func TestCacheAndPlan(t *testing.T) {
	s, l, store := setup(t, header+`
step "a" {
  plugin = plugin.fake
  config {
    mode = "ok"
    n    = 1
  }
}
step "b" {
  plugin   = plugin.fake
  for_each = { x = 10, y = 20 }
  config {
    mode = "ok"
    n    = step.a.outputs.value + each.value
  }
}`)
	plan := func() []string {
		var out []string
		for _, p := range s.Plan(store) {
			out = append(out, p.Address+" "+p.Cache)
		}
		sort.Strings(out)
		return out
	}
	if d := cmp.Diff([]string{"step.a miss", `step.b["x"] pending`, `step.b["y"] pending`}, plan()); d != "" {
		t.Errorf("plan before run (-want +got):\n%s", d)
	}
	if _, err := s.Execute(context.Background(), store, RunOptions{Parallelism: 2}); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"step.a hit", `step.b["x"] hit`, `step.b["y"] hit`}, plan()); d != "" {
		t.Errorf("plan after run (-want +got):\n%s", d)
	}
	before := l.launches.Load()
	var rec recorder
	out, err := s.Execute(context.Background(), store, RunOptions{Parallelism: 2, Observer: rec.observe})
	if err != nil {
		t.Fatal(err)
	}
	if out.CacheHits != 3 {
		t.Errorf("cache hits %d, want 3", out.CacheHits)
	}
	if l.launches.Load() != before {
		t.Errorf("a fully cached run launched plugins")
	}
	run, err := store.Load(out.RunID)
	if err != nil {
		t.Fatal(err)
	}
	st, _ := run.Step(`step.b["y"]`)
	if got := fmt.Sprint(st.Outputs["value"]); got != "23" {
		t.Errorf(`restored step.b["y"] value = %s, want 23 (a's 2 + 20 + 1)`, got)
	}
}

func TestPluginValidationBeforeRun(t *testing.T) {
	tests := []struct {
		name     string
		steps    string
		wantLine int
	}{
		{
			name: "no upstream",
			steps: `
step "a" {
  plugin = plugin.fake
  config {
    mode = "invalid"
  }
}`,
			wantLine: 11,
		},
		{
			// n is unknown before a runs; the known mode is still checked.
			name: "dependent step",
			steps: `
step "a" {
  plugin = plugin.fake
  config { mode = "ok" }
}
step "b" {
  plugin = plugin.fake
  config {
    n    = step.a.outputs.value
    mode = "invalid"
  }
}`,
			wantLine: 16,
		},
		{
			// Both instances fail the same way: one compacted diagnostic.
			name: "dependent sweep",
			steps: `
step "a" {
  plugin = plugin.fake
  config { mode = "ok" }
}
step "b" {
  plugin   = plugin.fake
  for_each = { x = 1, y = 2 }
  config {
    mode = "invalid"
    n    = step.a.outputs.value + each.value
  }
}`,
			wantLine: 16,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			specPath := filepath.Join(dir, "spec.hcl")
			os.WriteFile(specPath, []byte(header+tt.steps), 0o644)
			bin := filepath.Join(dir, "bin")
			os.WriteFile(bin, nil, 0o755)
			lock := depsfile.New(depsfile.PathFor(specPath))
			lock.Plugins["fake"] = &depsfile.Plugin{Name: "fake", Version: "1.0.0", Path: bin, SHA256: strings.Repeat("ab", 32)}
			if err := lock.Write(); err != nil {
				t.Fatal(err)
			}
			_, err := Load(context.Background(), LoadOptions{SpecPath: specPath}, NewPool(&fakeLauncher{}, true))
			var re *Error
			if !errors.As(err, &re) || re.Kind != KindInvalid || len(re.Diags) != 1 {
				t.Fatalf("want one usage diagnostic, got %v", err)
			}
			d := re.Diags[0]
			if d.Summary != "invalid mode" || d.Subject == nil || d.Subject.Start.Line != tt.wantLine {
				t.Errorf("diagnostic %q at %v, want 'invalid mode' at line %d", d.Summary, d.Subject, tt.wantLine)
			}
		})
	}
}

func TestNoReuseRunsEachStepOnAFreshProcess(t *testing.T) {
	s, l, store := setup(t, header+`
step "sweep" {
  plugin = plugin.fake
  count  = 5
  config {
    mode = "ok"
    n    = count.index
  }
}`)
	s.Pool.Reuse = false
	before := l.launches.Load() // processes that answered schema/validation
	if _, err := s.Execute(context.Background(), store, RunOptions{Parallelism: 2}); err != nil {
		t.Fatal(err)
	}
	// Each of the 5 runs gets its own process; the ones that only answered
	// questions during loading may be used once.
	if got := l.launches.Load(); got < 5 || got > before+5 {
		t.Errorf("launched %d processes (%d while loading) for 5 runs without reuse, want 5..%d", got, before, before+5)
	}
	if got := l.killed.Load(); got < 5 {
		t.Errorf("killed %d processes, want every one that ran a step (5)", got)
	}
}

// kindOf is err's Kind; -1 when err is not an *Error.
func kindOf(err error) Kind {
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return -1
}

// TestObserverSeesTheRecordedEvents: what --json streams for a plugin's
// events is, byte for byte, what the step's events.jsonl holds.
func TestObserverSeesTheRecordedEvents(t *testing.T) {
	s, _, store := setup(t, header+`
step "a" {
  plugin = plugin.fake
  config {
    mode = "chatty"
    n    = 4
  }
}`)
	var rec recorder
	out, err := s.Execute(context.Background(), store, RunOptions{Parallelism: 1, Observer: rec.observe})
	if err != nil {
		t.Fatal(err)
	}
	var streamed bytes.Buffer
	for _, e := range rec.events {
		switch e.Kind {
		case "progress", "metric", "log", "output":
			if err := runstore.WriteEvent(&streamed, e); err != nil {
				t.Fatal(err)
			}
		}
	}
	file, err := os.ReadFile(filepath.Join(store.Root(), "runs", out.RunID, "steps", runstore.StepDirName("step.a"), "events.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitAfter(string(file), "\n")
	if len(lines) < 5 {
		t.Fatalf("events.jsonl has %d lines, want the 4 plugin events and the end:\n%s", len(lines), file)
	}
	recorded := strings.Join(lines[:4], "")
	if d := cmp.Diff(recorded, streamed.String()); d != "" {
		t.Errorf("--json stream differs from events.jsonl (-recorded +streamed):\n%s", d)
	}
	for _, want := range []string{`"kind":"metric","step":"step.a","plugin":"fake","name":"loss","metric_step":1,"value":"+Inf"`, `"kind":"output","step":"step.a","plugin":"fake","name":"value","output":{"type":"number","value":4}`} {
		if !strings.Contains(recorded, want) {
			t.Errorf("events.jsonl lacks %s:\n%s", want, recorded)
		}
	}
}
