package runner

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/shammie-ml/shammie/host/internal/configschema"
	"github.com/shammie-ml/shammie/host/internal/dag"
	"github.com/shammie-ml/shammie/host/internal/runstore"
	"github.com/shammie-ml/shammie/sdk"
)

// RunOptions control Execute.
type RunOptions struct {
	// Parallelism bounds the instances running at once; <= 0: NumCPU.
	Parallelism int
	// KeepGoing runs everything that does not depend on a failed instance
	// instead of stopping the run at the first failure.
	KeepGoing bool
	// NoCache runs every instance even when a cached result exists (the
	// results still go into the cache).
	NoCache     bool
	HostVersion string
	Observer    Observer
}

// Outcome summarises a finished run.
type Outcome struct {
	RunID  string
	Status runstore.Status
	// Counts of instances by final status; CacheHits among the succeeded.
	Counts    map[runstore.Status]int
	CacheHits int
	// Failed lists the failed instances with their messages.
	Failed  []string
	Message string
	// Outputs are the spec's output blocks, evaluated at the end.
	Outputs []OutputResult
}

// OutputResult is one spec output as shown: its value rendered, or why it
// is not known.
type OutputResult struct {
	Name  string
	Text  string
	Known bool
}

// Execute runs the session's graph, recording everything in store. It
// returns an *Error of KindFailed when an instance failed and
// KindInterrupted when ctx was cancelled (SIGINT/SIGTERM); the Outcome is
// returned in every case once the run record exists.
func (s *Session) Execute(ctx context.Context, store *runstore.Store, opts RunOptions) (*Outcome, error) {
	e, err := s.beginRun(ctx, store, opts)
	if err != nil {
		return nil, err
	}
	defer e.cancel(nil)
	notRun := s.Graph.Walk(opts.Parallelism, func() bool { return e.ctx.Err() != nil }, e.visit)
	e.skipNotRun(ctx, notRun)
	retErr := e.conclude(ctx)
	s.recordOutputs(e.run, e.results, e.out, e.emit)
	if err := e.run.Finish(e.out.Status, e.out.Message); err != nil && retErr == nil {
		retErr = &Error{Kind: KindFailed, Err: err}
	}
	e.emit(Event{Kind: "finish", RunID: e.run.ID(), Status: e.out.Status, Message: e.out.Message})
	return e.out, retErr
}

// execution is one Execute: the run being recorded, the results of the
// instances that succeeded, and the outcome so far. Its phases: beginRun,
// visit (per instance, from the DAG walker), skipNotRun, conclude.
type execution struct {
	s      *Session
	store  *runstore.Store
	opts   RunOptions
	run    *runstore.Run
	out    *Outcome
	emit   func(Event)
	ctx    context.Context // the run's: cancelled on fail-fast
	cancel context.CancelCauseFunc

	mu      sync.Mutex
	results map[string]dag.StepResult
}

// beginRun creates the run record and says so.
func (s *Session) beginRun(ctx context.Context, store *runstore.Store, opts RunOptions) (*execution, error) {
	if opts.Parallelism <= 0 {
		opts.Parallelism = runtime.NumCPU()
	}
	obs := opts.Observer
	if obs == nil {
		obs = func(Event) {}
	}
	emit := func(e Event) {
		if e.Time.IsZero() {
			e.Time = time.Now()
		}
		obs(e)
	}
	run, err := store.CreateRun(s.runMeta(opts))
	if err != nil {
		return nil, &Error{Kind: KindFailed, Err: fmt.Errorf("creating the run record in %s: %w", store.Root(), err)}
	}
	e := &execution{s: s, store: store, opts: opts, run: run, emit: emit,
		out: &Outcome{RunID: run.ID(), Counts: map[runstore.Status]int{}}, results: map[string]dag.StepResult{}}
	e.ctx, e.cancel = context.WithCancelCause(ctx)
	emit(Event{Kind: "run", RunID: run.ID(), Message: run.Dir()})
	return e, nil
}

// visit runs one instance whose upstream instances succeeded and tells the
// walker how it went.
func (e *execution) visit(n *dag.Node) dag.VisitResult {
	deps := map[string]dag.StepResult{}
	e.mu.Lock()
	for _, d := range e.s.Graph.Deps(n) {
		deps[d.Addr] = e.results[d.Addr]
	}
	e.mu.Unlock()
	r := e.s.runNode(e.ctx, e.store, e.run, n, deps, e.opts, e.emit)
	switch r.status {
	case runstore.StatusSucceeded:
		e.mu.Lock()
		e.results[n.Addr] = r.result
		e.mu.Unlock()
		return dag.VisitResult{OK: true}
	case runstore.StatusSkipped:
		return dag.VisitResult{} // recorded already
	case runstore.StatusFailed:
		e.mu.Lock()
		e.out.Failed = append(e.out.Failed, fmt.Sprintf("%s: %s", n.Addr, r.message))
		e.mu.Unlock()
		if !e.opts.KeepGoing {
			e.cancel(fmt.Errorf("%s failed (fail-fast; use --keep-going to run the independent steps)", n.Addr))
		}
		return dag.VisitResult{SkipWhy: fmt.Sprintf("upstream %s failed", n.Addr)}
	default:
		return dag.VisitResult{SkipWhy: fmt.Sprintf("upstream %s was cancelled", n.Addr)}
	}
}

// skipNotRun records the instances that never ran as skipped, with the
// reason, and counts every instance's status.
func (e *execution) skipNotRun(ctx context.Context, notRun map[*dag.Node]string) {
	for _, n := range e.s.Graph.TopoOrder() {
		why, never := notRun[n]
		if !never {
			continue
		}
		if why == "" {
			if ctx.Err() != nil {
				why = "run interrupted: " + fmt.Sprint(context.Cause(ctx))
			} else {
				why = "not started: " + fmt.Sprint(context.Cause(e.ctx))
			}
		}
		_ = e.run.SkipStep(runstore.StepInfo{Address: n.Addr, Plugin: n.Step.Plugin}, why)
		e.emit(Event{Kind: "skipped", Step: n.Addr, Message: why})
	}
	for _, st := range e.run.Record().Steps {
		e.out.Counts[st.Status]++
		if st.CacheHit {
			e.out.CacheHits++
		}
	}
}

// conclude sets the run's final status and message, and the error the
// command turns into an exit code.
func (e *execution) conclude(ctx context.Context) error {
	out := e.out
	switch {
	case ctx.Err() != nil:
		out.Status = runstore.StatusCancelled
		out.Message = "interrupted: " + fmt.Sprint(context.Cause(ctx))
		return &Error{Kind: KindInterrupted, Err: errors.New(out.Message)}
	case len(out.Failed) > 0:
		out.Status = runstore.StatusFailed
		out.Message = fmt.Sprintf("%d step instance(s) failed", len(out.Failed))
		return &Error{Kind: KindFailed, Err: fmt.Errorf("%s:\n  %s", out.Message, strings.Join(out.Failed, "\n  "))}
	case out.Counts[runstore.StatusCancelled] > 0 || out.Counts[runstore.StatusSkipped] > 0:
		out.Status = runstore.StatusFailed
		out.Message = "some steps did not run"
		return &Error{Kind: KindFailed, Err: errors.New(out.Message)}
	}
	out.Status = runstore.StatusSucceeded
	return nil
}

// recordOutputs evaluates the spec's output blocks from every instance that
// succeeded (computed or cached), records them in the run and tells the
// observer ("result" events), also when every step was a cache hit.
func (s *Session) recordOutputs(run *runstore.Run, results map[string]dag.StepResult, out *Outcome, emit func(Event)) {
	if len(s.Spec.Outputs) == 0 {
		return
	}
	vals := map[string]cty.Value{}
	for _, o := range s.Graph.EvalOutputs(results) {
		text := "(" + o.Err + ")"
		switch {
		case o.Known && o.Sensitive:
			text = "(sensitive)"
		case o.Known:
			text = s.mask(configschema.ValueString(o.Value))
		}
		if o.Known {
			vals[o.Name] = o.Value
		}
		out.Outputs = append(out.Outputs, OutputResult{Name: o.Name, Text: text, Known: o.Known})
		emit(Event{Kind: "result", Name: o.Name, Message: text})
	}
	if err := run.SetOutputs(vals); err != nil {
		emit(Event{Kind: "log", Level: "warn", Message: "recording the spec's outputs: " + err.Error()})
	}
}

func (s *Session) runMeta(opts RunOptions) runstore.RunMeta {
	meta := runstore.RunMeta{
		Spec:        []runstore.SpecFile{{Path: s.Opts.SpecPath, Text: string(s.Spec.Source)}},
		Seed:        s.Opts.Seed,
		HostVersion: opts.HostVersion,
	}
	backend := s.Opts.Backend
	if backend == "" {
		backend = dag.DefaultBackend
	}
	meta.Backends = []string{backend}
	if s.Lock != nil {
		meta.Lock = string(s.Lock.Source)
	}
	for _, name := range s.Spec.SortedVariableNames() {
		v := s.Spec.Variables[name]
		meta.Variables = append(meta.Variables, runstore.Variable{Name: name, Value: s.Vars[name], Sensitive: v.Sensitive})
	}
	var labels []string
	for l := range s.Plugins {
		labels = append(labels, l)
	}
	sort.Strings(labels)
	for _, l := range labels {
		p := s.Plugins[l]
		meta.Plugins = append(meta.Plugins, runstore.PluginInfo{Name: l, Version: p.Version, SHA256: p.SHA256, Path: p.Path})
	}
	return meta
}

type nodeResult struct {
	status  runstore.Status
	message string
	result  dag.StepResult
}

// cacheKey is the instance's cache key: plugin, config, the content of
// input artifacts and of the files the config names, seed, backend.
func (s *Session) cacheKey(store *runstore.Store, p *Plugin, cfg cty.Value, seed int64, backend string) (string, error) {
	if !cfg.IsWhollyKnown() {
		return "", nil
	}
	files, err := store.FileInputs(cfg, s.Spec.Dir)
	if err != nil {
		return "", err
	}
	return runstore.CacheKey(runstore.CacheInputs{
		PluginSHA256: p.SHA256, Config: cfg, InputArtifacts: store.InputArtifacts(cfg),
		Files: files, Seed: seed, Backend: backend,
	}), nil
}

// settledTail returns the plugin's stderr tail once it stops growing: the
// plugin writes its last words (a recovered panic's stack) just before it
// sends the failed status, and stderr is read asynchronously, so the status
// can overtake them. Waits at most 500 ms, only on failure.
func settledTail(c Conn) string {
	prev := c.StderrTail()
	for deadline := time.Now().Add(500 * time.Millisecond); time.Now().Before(deadline); {
		time.Sleep(40 * time.Millisecond)
		cur := c.StderrTail()
		if cur == prev && cur != "" {
			return cur
		}
		prev = cur
	}
	return prev
}

func (s *Session) finishFailed(st *runstore.Step, n *dag.Node, p *Plugin, msg string, diags []string, tail string, emit func(Event)) nodeResult {
	msg, diags, tail = s.mask(msg), s.maskAll(diags), s.mask(tail)
	rec, err := st.Finish(runstore.StepResult{Status: runstore.StatusFailed, Message: msg, Diagnostics: diags, StderrTail: tail})
	if err != nil {
		msg += "; recording: " + err.Error()
	}
	full := msg
	if len(diags) > 0 {
		full += "\n" + strings.Join(diags, "\n")
	}
	uiTail := tail
	if strings.Contains(msg, strings.TrimSpace(tail)) {
		uiTail = "" // a crash error quotes the tail already
	}
	emit(Event{Kind: "done", Step: n.Addr, Plugin: p.Label, Status: runstore.StatusFailed, Message: full, StderrTail: uiTail, DurationMS: durationOf(rec)})
	return nodeResult{status: runstore.StatusFailed, message: full}
}

func (s *Session) finishCancelled(st *runstore.Step, n *dag.Node, p *Plugin, ctx context.Context, detail string, emit func(Event)) nodeResult {
	cause := fmt.Sprint(context.Cause(ctx))
	msg := "cancelled: " + cause
	// The plugin's own message usually repeats the cause; add it only
	// when it says more (e.g. that it had to be killed).
	if detail != "" && !strings.Contains(detail, cause) {
		msg += " (" + detail + ")"
	}
	rec, _ := st.Finish(runstore.StepResult{Status: runstore.StatusCancelled, Message: msg})
	emit(Event{Kind: "done", Step: n.Addr, Plugin: p.Label, Status: runstore.StatusCancelled, Message: msg, DurationMS: durationOf(rec)})
	return nodeResult{status: runstore.StatusCancelled, message: msg}
}

func durationOf(rec *runstore.StepRecord) int64 {
	if rec == nil {
		return 0
	}
	return rec.DurationMS
}

// diagStrings renders diagnostics one per line with their source position.
func (s *Session) diagStrings(diags hcl.Diagnostics) []string {
	var out []string
	for _, d := range diags {
		line := d.Summary
		if d.Detail != "" {
			line += ": " + d.Detail
		}
		if d.Subject != nil {
			line = fmt.Sprintf("%s:%d:%d: %s", d.Subject.Filename, d.Subject.Start.Line, d.Subject.Start.Column, line)
		}
		out = append(out, line)
	}
	return out
}

func names[V any](m map[string]V) string {
	if len(m) == 0 {
		return "none"
	}
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

// sensitivePaths lists the config paths of attributes the schema marks
// sensitive, through single nested blocks (list and map blocks are
// redacted by the run store as a whole when they contain one).
func sensitivePaths(b sdk.Block, prefix cty.Path) []cty.Path {
	var out []cty.Path
	for _, a := range b.Attributes {
		if a.Sensitive {
			out = append(out, append(prefix.Copy(), cty.GetAttrStep{Name: a.Name}))
		}
	}
	for _, nb := range b.Blocks {
		if nb.Nesting == sdk.NestingSingle {
			out = append(out, sensitivePaths(nb.Block, append(prefix.Copy(), cty.GetAttrStep{Name: nb.TypeName}))...)
		}
	}
	return out
}
