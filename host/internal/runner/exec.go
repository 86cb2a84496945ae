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
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/shammie-ml/shammie/host/internal/configschema"
	"github.com/shammie-ml/shammie/host/internal/dag"
	"github.com/shammie-ml/shammie/host/internal/runstore"
	"github.com/shammie-ml/shammie/sdk"
	"github.com/shammie-ml/shammie/sdk/pluginhost"
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
}

type nodeState int

const (
	waiting nodeState = iota
	running
	succeeded
	failed // failed or cancelled
	skipped
)

// Execute runs the session's graph, recording everything in store. It
// returns an *Error with ExitStepFailed when an instance failed and
// ExitInterrupted when ctx was cancelled (SIGINT/SIGTERM); the Outcome is
// returned in every case once the run record exists.
func (s *Session) Execute(ctx context.Context, store *runstore.Store, opts RunOptions) (*Outcome, error) {
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
		return nil, &Error{Code: ExitStepFailed, Err: fmt.Errorf("creating the run record in %s: %w", store.Root(), err)}
	}
	out := &Outcome{RunID: run.ID(), Counts: map[runstore.Status]int{}}
	emit(Event{Kind: "run", RunID: run.ID(), Message: run.Dir()})

	g := s.Graph
	nodes := g.TopoOrder()
	pos := map[*dag.Node]int{}
	for i, n := range nodes {
		pos[n] = i
	}
	state := map[*dag.Node]nodeState{}
	remaining := map[*dag.Node]int{}
	var ready []*dag.Node
	for _, n := range nodes {
		remaining[n] = len(g.Deps(n))
		if remaining[n] == 0 {
			ready = append(ready, n)
		}
	}
	var (
		mu      sync.Mutex
		results = map[string]dag.StepResult{}
	)
	runCtx, cancelRun := context.WithCancelCause(ctx)
	defer cancelRun(nil)

	type completion struct {
		n   *dag.Node
		res nodeResult
	}
	done := make(chan completion)
	inFlight := 0
	stopping := false
	skipReason := map[*dag.Node]string{}
	start := func(n *dag.Node) {
		state[n] = running
		inFlight++
		deps := map[string]dag.StepResult{}
		mu.Lock()
		for _, d := range g.Deps(n) {
			deps[d.Addr] = results[d.Addr]
		}
		mu.Unlock()
		go func() {
			done <- completion{n, s.runNode(runCtx, store, run, n, deps, opts, emit)}
		}()
	}
	// skipDependents marks everything downstream of n as skipped.
	var skipDependents func(n *dag.Node, why string)
	skipDependents = func(n *dag.Node, why string) {
		for _, d := range g.Dependents(n) {
			if state[d] == waiting {
				state[d] = skipped
				skipReason[d] = why
				skipDependents(d, why)
			}
		}
	}

	for {
		if !stopping && runCtx.Err() != nil {
			stopping = true
		}
		sort.Slice(ready, func(i, j int) bool { return pos[ready[i]] < pos[ready[j]] })
		for !stopping && len(ready) > 0 && inFlight < opts.Parallelism {
			n := ready[0]
			ready = ready[1:]
			if state[n] != waiting {
				continue
			}
			start(n)
		}
		if inFlight == 0 {
			break
		}
		c := <-done
		inFlight--
		switch c.res.status {
		case runstore.StatusSucceeded:
			state[c.n] = succeeded
			mu.Lock()
			results[c.n.Addr] = c.res.result
			mu.Unlock()
			for _, d := range g.Dependents(c.n) {
				remaining[d]--
				if remaining[d] == 0 && state[d] == waiting {
					ready = append(ready, d)
				}
			}
		case runstore.StatusSkipped:
			state[c.n] = failed // recorded already
		default:
			state[c.n] = failed
			if c.res.status == runstore.StatusFailed {
				out.Failed = append(out.Failed, fmt.Sprintf("%s: %s", c.n.Addr, c.res.message))
				skipDependents(c.n, fmt.Sprintf("upstream %s failed", c.n.Addr))
				if !opts.KeepGoing && !stopping {
					stopping = true
					cancelRun(fmt.Errorf("%s failed (fail-fast; use --keep-going to run the independent steps)", c.n.Addr))
				}
			} else {
				skipDependents(c.n, fmt.Sprintf("upstream %s was cancelled", c.n.Addr))
			}
		}
	}

	interrupted := ctx.Err() != nil
	// Instances that never ran are recorded as skipped, with the reason.
	for _, n := range nodes {
		if state[n] == running || state[n] == succeeded || state[n] == failed {
			continue
		}
		why := skipReason[n]
		if why == "" {
			switch {
			case interrupted:
				why = "run interrupted: " + fmt.Sprint(context.Cause(ctx))
			default:
				why = "not started: " + fmt.Sprint(context.Cause(runCtx))
			}
		}
		_ = run.SkipStep(runstore.StepInfo{Address: n.Addr, Plugin: n.Step.Plugin}, why)
		emit(Event{Kind: "skipped", Step: n.Addr, Message: why})
	}
	for _, st := range run.Record().Steps {
		out.Counts[st.Status]++
		if st.CacheHit {
			out.CacheHits++
		}
	}

	var status runstore.Status
	var retErr error
	switch {
	case interrupted:
		status = runstore.StatusCancelled
		out.Message = "interrupted: " + fmt.Sprint(context.Cause(ctx))
		retErr = &Error{Code: ExitInterrupted, Err: errors.New(out.Message)}
	case len(out.Failed) > 0:
		status = runstore.StatusFailed
		out.Message = fmt.Sprintf("%d step instance(s) failed", len(out.Failed))
		retErr = &Error{Code: ExitStepFailed, Err: fmt.Errorf("%s:\n  %s", out.Message, strings.Join(out.Failed, "\n  "))}
	case out.Counts[runstore.StatusCancelled] > 0 || out.Counts[runstore.StatusSkipped] > 0:
		status = runstore.StatusFailed
		out.Message = "some steps did not run"
		retErr = &Error{Code: ExitStepFailed, Err: errors.New(out.Message)}
	default:
		status = runstore.StatusSucceeded
	}
	out.Status = status
	if err := run.Finish(status, out.Message); err != nil && retErr == nil {
		retErr = &Error{Code: ExitStepFailed, Err: err}
	}
	emit(Event{Kind: "finish", RunID: run.ID(), Status: string(status), Message: out.Message})
	return out, retErr
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

// runNode evaluates one instance's config, restores it from the cache or
// runs it on a plugin process, and records it.
func (s *Session) runNode(ctx context.Context, store *runstore.Store, run *runstore.Run, n *dag.Node, deps map[string]dag.StepResult, opts RunOptions, emit func(Event)) nodeResult {
	p := s.Plugins[n.Step.Plugin]
	info := runstore.StepInfo{Address: n.Addr, Plugin: n.Step.Plugin, PluginVersion: p.Version, PluginSHA256: p.SHA256}
	for _, d := range s.Graph.Deps(n) {
		info.DependsOn = append(info.DependsOn, d.Addr)
	}
	fail := func(st *runstore.Step, msg string, diags []string) nodeResult {
		if st == nil {
			var err error
			if st, err = run.BeginStep(info); err != nil {
				msg += "; and recording it failed: " + err.Error()
				emit(Event{Kind: "done", Step: n.Addr, Plugin: p.Label, Status: string(runstore.StatusFailed), Message: msg})
				return nodeResult{status: runstore.StatusFailed, message: msg}
			}
		}
		return s.finishFailed(st, n, p, msg, diags, "", emit)
	}

	cfg, seed, backend, diags := s.Graph.EvalConfig(n, deps)
	if !diags.HasErrors() {
		diags = append(diags, s.checkBackend(n, backend)...)
	}
	if diags.HasErrors() {
		return fail(nil, "config evaluation failed", s.diagStrings(diags))
	}
	info.Config, info.Seed, info.Backend = cfg, seed, backend
	info.SensitivePaths = sensitivePaths(p.Schema.Config, nil)
	key, err := s.cacheKey(store, p, cfg, seed, backend)
	if err != nil {
		return fail(nil, err.Error(), nil)
	}
	info.CacheKey = key

	if !opts.NoCache && key != "" {
		if entry, found, err := store.LookupCache(key); err == nil && found {
			st, err := run.BeginStep(info)
			if err != nil {
				return fail(nil, err.Error(), nil)
			}
			if _, err := st.FinishFromCache(entry); err != nil {
				return nodeResult{status: runstore.StatusFailed, message: err.Error()}
			}
			res := dag.StepResult{Outputs: st.Outputs(), Artifacts: map[string]string{}}
			for name, a := range entry.Artifacts {
				res.Artifacts[name] = a.StorePath
			}
			emit(Event{Kind: "cached", Step: n.Addr, Plugin: p.Label, Status: string(runstore.StatusSucceeded), Message: "cache hit: restored from run " + entry.RunID, DurationMS: entry.DurationMS})
			return nodeResult{status: runstore.StatusSucceeded, result: res}
		}
	}
	if err := ctx.Err(); err != nil {
		why := "not started: " + fmt.Sprint(context.Cause(ctx))
		_ = run.SkipStep(info, why)
		emit(Event{Kind: "skipped", Step: n.Addr, Message: why})
		return nodeResult{status: runstore.StatusSkipped, message: why}
	}

	st, err := run.BeginStep(info)
	if err != nil {
		return fail(nil, err.Error(), nil)
	}
	// The plugin reads verified private copies of its input artifacts,
	// never the store's objects.
	pcfg, err := run.PluginConfig(cfg)
	if err != nil {
		return fail(st, err.Error(), nil)
	}
	pcfg, _ = pcfg.UnmarkDeep() // marks do not cross the wire
	conn, err := s.Pool.Get(ctx, p)
	if err != nil {
		if ctx.Err() != nil {
			return s.finishCancelled(st, n, p, ctx, "", emit)
		}
		return fail(st, err.Error(), nil)
	}
	healthy := false
	defer func() { s.Pool.Put(p, conn, healthy) }()

	if !s.isValidated(n.Addr) {
		vctx, cancel := context.WithTimeoutCause(ctx, ValidateTimeout, fmt.Errorf("plugin %q did not validate the config within %s", p.Label, ValidateTimeout))
		pd, err := conn.ValidateConfig(vctx, pcfg)
		if err != nil && vctx.Err() != nil && ctx.Err() == nil {
			err = context.Cause(vctx)
		}
		cancel()
		if err != nil {
			if ctx.Err() != nil {
				return s.finishCancelled(st, n, p, ctx, conn.StderrTail(), emit)
			}
			return fail(st, err.Error(), nil)
		}
		if hd := s.Graph.DiagnosticsFromPlugin(n, pd); hd.HasErrors() {
			healthy = true
			return fail(st, "the plugin rejected the config", s.diagStrings(hd))
		}
	}

	emit(Event{Kind: "start", Step: n.Addr, Plugin: p.Label})
	declaredOut := map[string]cty.Type{}
	for _, o := range p.Schema.Outputs {
		declaredOut[o.Name] = o.Type
	}
	declaredArt := map[string]bool{}
	for _, a := range p.Schema.Artifacts {
		declaredArt[a.Name] = true
	}
	var violations []string
	onEvent := func(ev pluginhost.Event) {
		switch e := ev.(type) {
		case pluginhost.Log:
			e.Message = s.mask(e.Message)
			ev = e
		case pluginhost.Status:
			e.Message = s.mask(e.Message)
			ev = e
		case pluginhost.Output:
			e.Value = s.markIfSecret(e.Value)
			ev = e
			ty, ok := declaredOut[e.Name]
			if !ok {
				violations = append(violations, fmt.Sprintf("the plugin set output %q, which its schema does not declare (declared: %s)", e.Name, names(declaredOut)))
				return
			}
			if ty != cty.NilType && ty != cty.DynamicPseudoType {
				v, err := convert.Convert(e.Value, ty)
				if err != nil {
					violations = append(violations, fmt.Sprintf("output %q is %s, not the declared %s", e.Name, e.Value.Type().FriendlyName(), ty.FriendlyName()))
					return
				}
				e.Value = v
				ev = e
			}
		case pluginhost.Artifact:
			if !declaredArt[e.Name] {
				violations = append(violations, fmt.Sprintf("the plugin announced artifact %q, which its schema does not declare (declared: %s)", e.Name, names(declaredArt)))
				return
			}
		}
		if err := st.Record(ev); err != nil {
			violations = append(violations, err.Error())
			return
		}
		emit(uiEvent(n.Addr, p.Label, ev, st))
	}
	status, err := conn.Run(ctx, pluginhost.RunRequest{
		RunID: run.ID(), Step: n.Addr, Config: pcfg, WorkDir: st.WorkDir(), StateDir: st.StateDir(),
		Seed: seed, Backend: backend,
	}, onEvent)
	if err != nil {
		if ctx.Err() != nil {
			return s.finishCancelled(st, n, p, ctx, err.Error(), emit)
		}
		return s.finishFailed(st, n, p, err.Error(), nil, conn.StderrTail(), emit)
	}
	pdiags := s.diagStrings(s.Graph.DiagnosticsFromPlugin(n, status.Diagnostics))
	switch {
	case status.State == pluginhost.Succeeded && len(violations) > 0:
		return s.finishFailed(st, n, p, strings.Join(violations, "; "), nil, "", emit)
	case status.State == pluginhost.Succeeded:
		rec, err := st.Finish(runstore.StepResult{Status: runstore.StatusSucceeded, Message: status.Message})
		if err != nil {
			return s.finishFailed(st, n, p, err.Error(), nil, "", emit)
		}
		healthy = true
		if rec.CacheWarning != "" {
			emit(Event{Kind: "log", Step: n.Addr, Plugin: p.Label, Level: "warn", Message: rec.CacheWarning})
		}
		res := dag.StepResult{Outputs: st.Outputs(), Artifacts: map[string]string{}}
		for name, a := range st.Artifacts() {
			res.Artifacts[name] = a.StorePath
		}
		emit(Event{Kind: "done", Step: n.Addr, Plugin: p.Label, Status: string(runstore.StatusSucceeded), Message: status.Message, DurationMS: durationOf(rec)})
		return nodeResult{status: runstore.StatusSucceeded, result: res}
	case status.State == pluginhost.Cancelled:
		return s.finishCancelled(st, n, p, ctx, status.Message, emit)
	default:
		msg := status.Message
		if len(violations) > 0 {
			msg += "; " + strings.Join(violations, "; ")
		}
		return s.finishFailed(st, n, p, msg, pdiags, settledTail(conn), emit)
	}
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
	emit(Event{Kind: "done", Step: n.Addr, Plugin: p.Label, Status: string(runstore.StatusFailed), Message: full, StderrTail: uiTail, DurationMS: durationOf(rec)})
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
	emit(Event{Kind: "done", Step: n.Addr, Plugin: p.Label, Status: string(runstore.StatusCancelled), Message: msg, DurationMS: durationOf(rec)})
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

func uiEvent(addr, plugin string, ev pluginhost.Event, st *runstore.Step) Event {
	e := Event{Time: ev.EventTime(), Step: addr, Plugin: plugin}
	switch x := ev.(type) {
	case pluginhost.Progress:
		e.Kind, e.Stage, e.Done, e.Total, e.Unit = "progress", x.Stage, x.Done, x.Total, x.Unit
	case pluginhost.Metric:
		v, step := x.Value, x.Step
		e.Kind, e.Name, e.Metric, e.MStep = "metric", x.Name, &v, &step
	case pluginhost.Log:
		e.Kind, e.Level, e.Message = "log", x.Level.String(), x.Message
	case pluginhost.Artifact:
		e.Kind, e.Name, e.Path = "artifact", x.Name, x.Path
		if a, ok := st.Artifacts()[x.Name]; ok {
			e.Path = a.StorePath
		}
	case pluginhost.Output:
		e.Kind, e.Name, e.Message = "output", x.Name, configschema.ValueString(x.Value)
		if x.Value.ContainsMarked() {
			e.Message = "(sensitive)"
		}
	}
	return e
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
