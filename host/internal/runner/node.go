package runner

import (
	"context"
	"fmt"
	"strings"

	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/shammie-ml/shammie/host/internal/dag"
	"github.com/shammie-ml/shammie/host/internal/runstore"
	"github.com/shammie-ml/shammie/sdk/pluginhost"
)

// nodeExec is the execution of one step instance, as phases that each
// either hand over to the next or end the instance with its result:
//
//	evaluate  config, seed, backend from the upstream results; cache key
//	restore   a cache hit ends here, nothing launched
//	launch    the record, private inputs, a plugin process, its final check
//	execute   Run, each event policed against the schema and recorded
//	finish    the final record (and cache entry) from how Run ended
type nodeExec struct {
	s     *Session
	store *runstore.Store
	run   *runstore.Run
	n     *dag.Node
	p     *Plugin
	opts  RunOptions
	emit  func(Event)

	info    runstore.StepInfo
	cfg     cty.Value // evaluated config (marks kept)
	pcfg    cty.Value // what the plugin gets: private inputs, no marks
	st      *runstore.Step
	conn    Conn
	healthy bool // the process may be reused
}

// runNode executes instance n once every instance it depends on has its
// result in deps.
func (s *Session) runNode(ctx context.Context, store *runstore.Store, run *runstore.Run, n *dag.Node, deps map[string]dag.StepResult, opts RunOptions, emit func(Event)) nodeResult {
	x := &nodeExec{s: s, store: store, run: run, n: n, p: s.Plugins[n.Step.Plugin], opts: opts, emit: emit}
	x.info = runstore.StepInfo{Address: n.Addr, Plugin: n.Step.Plugin, PluginVersion: x.p.Version, PluginSHA256: x.p.SHA256}
	for _, d := range s.Graph.Deps(n) {
		x.info.DependsOn = append(x.info.DependsOn, d.Addr)
	}
	if res, done := x.evaluate(deps); done {
		return res
	}
	if res, done := x.restore(); done {
		return res
	}
	if err := ctx.Err(); err != nil {
		why := "not started: " + fmt.Sprint(context.Cause(ctx))
		_ = run.SkipStep(x.info, why)
		emit(Event{Kind: "skipped", Step: n.Addr, Message: why})
		return nodeResult{status: runstore.StatusSkipped, message: why}
	}
	if res, done := x.launch(ctx); done {
		return res
	}
	defer func() { s.Pool.Put(x.p, x.conn, x.healthy) }()
	return x.execute(ctx)
}

// fail ends the instance as failed, beginning its record if need be.
func (x *nodeExec) fail(msg string, diags []string) nodeResult {
	if x.st == nil {
		st, err := x.run.BeginStep(x.info)
		if err != nil {
			msg += "; and recording it failed: " + err.Error()
			x.emit(Event{Kind: "done", Step: x.n.Addr, Plugin: x.p.Label, Status: runstore.StatusFailed, Message: msg})
			return nodeResult{status: runstore.StatusFailed, message: msg}
		}
		x.st = st
	}
	return x.s.finishFailed(x.st, x.n, x.p, msg, diags, "", x.emit)
}

// evaluate computes the config, seed, backend and cache key.
func (x *nodeExec) evaluate(deps map[string]dag.StepResult) (nodeResult, bool) {
	cfg, seed, backend, diags := x.s.Graph.EvalConfig(x.n, deps)
	if !diags.HasErrors() {
		diags = append(diags, x.s.checkBackend(x.n, backend)...)
	}
	if diags.HasErrors() {
		return x.fail("config evaluation failed", x.s.diagStrings(diags)), true
	}
	x.cfg = cfg
	x.info.Config, x.info.Seed, x.info.Backend = cfg, seed, backend
	x.info.SensitivePaths = sensitivePaths(x.p.Schema.Config, nil)
	key, err := x.s.cacheKey(x.store, x.p, cfg, seed, backend)
	if err != nil {
		return x.fail(err.Error(), nil), true
	}
	x.info.CacheKey = key
	return nodeResult{}, false
}

// restore ends the instance with a cached result when there is one.
func (x *nodeExec) restore() (nodeResult, bool) {
	if x.opts.NoCache || x.info.CacheKey == "" {
		return nodeResult{}, false
	}
	entry, found, err := x.store.LookupCache(x.info.CacheKey)
	if err != nil || !found {
		return nodeResult{}, false
	}
	st, err := x.run.BeginStep(x.info)
	if err != nil {
		return x.fail(err.Error(), nil), true
	}
	if _, err := st.FinishFromCache(entry); err != nil {
		return nodeResult{status: runstore.StatusFailed, message: err.Error()}, true
	}
	res := dag.StepResult{Outputs: st.Outputs(), Artifacts: map[string]string{}}
	for name, a := range entry.Artifacts {
		res.Artifacts[name] = a.StorePath
	}
	x.emit(Event{Kind: "cached", Step: x.n.Addr, Plugin: x.p.Label, Status: runstore.StatusSucceeded, Message: "cache hit: restored from run " + entry.RunID, DurationMS: entry.DurationMS})
	return nodeResult{status: runstore.StatusSucceeded, result: res}, true
}

// launch begins the record, copies the inputs the plugin may read, takes
// a process and has the plugin check the final config (unless it did
// already, on the same config, before the run).
func (x *nodeExec) launch(ctx context.Context) (nodeResult, bool) {
	st, err := x.run.BeginStep(x.info)
	if err != nil {
		return x.fail(err.Error(), nil), true
	}
	x.st = st
	// The plugin reads verified private copies of its input artifacts,
	// never the store's objects.
	pcfg, err := x.run.PluginConfig(x.cfg)
	if err != nil {
		return x.fail(err.Error(), nil), true
	}
	x.pcfg, _ = pcfg.UnmarkDeep() // marks do not cross the wire
	conn, err := x.s.Pool.Get(ctx, x.p)
	if err != nil {
		if ctx.Err() != nil {
			return x.s.finishCancelled(st, x.n, x.p, ctx, "", x.emit), true
		}
		return x.fail(err.Error(), nil), true
	}
	x.conn = conn
	if x.s.isValidated(x.n.Addr) {
		return nodeResult{}, false
	}
	vctx, cancel := context.WithTimeoutCause(ctx, ValidateTimeout, fmt.Errorf("plugin %q did not validate the config within %s", x.p.Label, ValidateTimeout))
	pd, err := conn.ValidateConfig(vctx, x.pcfg)
	if err != nil && vctx.Err() != nil && ctx.Err() == nil {
		err = context.Cause(vctx)
	}
	cancel()
	var res nodeResult
	switch hd := x.s.Graph.DiagnosticsFromPlugin(x.n, pd); {
	case err != nil && ctx.Err() != nil:
		res = x.s.finishCancelled(st, x.n, x.p, ctx, conn.StderrTail(), x.emit)
	case err != nil:
		res = x.fail(err.Error(), nil)
	case hd.HasErrors():
		x.healthy = true
		res = x.fail("the plugin rejected the config", x.s.diagStrings(hd))
	default:
		return nodeResult{}, false
	}
	x.s.Pool.Put(x.p, conn, x.healthy)
	return res, true
}

// execute runs the step on the plugin and records how it ended.
func (x *nodeExec) execute(ctx context.Context) nodeResult {
	x.emit(Event{Kind: "start", Step: x.n.Addr, Plugin: x.p.Label})
	police := x.police()
	status, err := x.conn.Run(ctx, pluginhost.RunRequest{
		RunID: x.run.ID(), Step: x.n.Addr, Config: x.pcfg, WorkDir: x.st.WorkDir(), StateDir: x.st.StateDir(),
		Seed: x.info.Seed, Backend: x.info.Backend,
	}, police.onEvent)
	if jc, ok := x.conn.(JobConn); ok {
		if j, ok := jc.Job(); ok {
			x.st.SetJob(j)
		}
	}
	if err != nil {
		if ctx.Err() != nil {
			return x.s.finishCancelled(x.st, x.n, x.p, ctx, err.Error(), x.emit)
		}
		return x.s.finishFailed(x.st, x.n, x.p, err.Error(), nil, x.conn.StderrTail(), x.emit)
	}
	return x.finish(ctx, status, police.violations)
}

// finish records the step from the plugin's final status.
func (x *nodeExec) finish(ctx context.Context, status pluginhost.Status, violations []string) nodeResult {
	s, st, n, p := x.s, x.st, x.n, x.p
	switch {
	case status.State == pluginhost.Succeeded && len(violations) > 0:
		return s.finishFailed(st, n, p, strings.Join(violations, "; "), nil, "", x.emit)
	case status.State == pluginhost.Succeeded:
		rec, err := st.Finish(runstore.StepResult{Status: runstore.StatusSucceeded, Message: status.Message})
		if err != nil {
			return s.finishFailed(st, n, p, err.Error(), nil, "", x.emit)
		}
		x.healthy = true
		if rec.CacheWarning != "" {
			x.emit(Event{Kind: "log", Step: n.Addr, Plugin: p.Label, Level: "warn", Message: rec.CacheWarning})
		}
		res := dag.StepResult{Outputs: st.Outputs(), Artifacts: map[string]string{}}
		for name, a := range st.Artifacts() {
			res.Artifacts[name] = a.StorePath
		}
		x.emit(Event{Kind: "done", Step: n.Addr, Plugin: p.Label, Status: runstore.StatusSucceeded, Message: status.Message, DurationMS: durationOf(rec)})
		return nodeResult{status: runstore.StatusSucceeded, result: res}
	case status.State == pluginhost.Cancelled:
		return s.finishCancelled(st, n, p, ctx, status.Message, x.emit)
	default:
		msg := status.Message
		if len(violations) > 0 {
			msg += "; " + strings.Join(violations, "; ")
		}
		pdiags := s.diagStrings(s.Graph.DiagnosticsFromPlugin(n, status.Diagnostics))
		return s.finishFailed(st, n, p, msg, pdiags, settledTail(x.conn), x.emit)
	}
}

// eventPolice checks each event of a running step against the plugin's
// schema (declared outputs of the declared types, declared artifacts),
// masks secrets, records it and shows it. What breaks the schema is kept as
// a violation that fails the step.
type eventPolice struct {
	x           *nodeExec
	declaredOut map[string]cty.Type
	declaredArt map[string]bool
	violations  []string
}

func (x *nodeExec) police() *eventPolice {
	ep := &eventPolice{x: x, declaredOut: map[string]cty.Type{}, declaredArt: map[string]bool{}}
	for _, o := range x.p.Schema.Outputs {
		ep.declaredOut[o.Name] = o.Type
	}
	for _, a := range x.p.Schema.Artifacts {
		ep.declaredArt[a.Name] = true
	}
	return ep
}

func (ep *eventPolice) onEvent(pev pluginhost.Event) {
	s := ep.x.s
	e := pluginEvent(pev)
	e.Plugin = ep.x.p.Label
	switch e.Kind {
	case "log", "status":
		e.Message = s.mask(e.Message)
	case "output":
		v, violation := ep.output(e.Name, s.markIfSecret(e.OutputValue))
		if violation != "" {
			ep.violations = append(ep.violations, violation)
			return
		}
		e.OutputValue = v
	case "artifact":
		if !ep.declaredArt[e.Name] {
			ep.violations = append(ep.violations, fmt.Sprintf("the plugin announced artifact %q, which its schema does not declare (declared: %s)", e.Name, names(ep.declaredArt)))
			return
		}
	}
	recorded, err := ep.x.st.Record(e)
	if err != nil {
		ep.violations = append(ep.violations, err.Error())
		return
	}
	ep.x.emit(recorded)
}

// output checks an output against the schema: declared, and of the
// declared type (converted to it).
func (ep *eventPolice) output(name string, v cty.Value) (cty.Value, string) {
	ty, ok := ep.declaredOut[name]
	if !ok {
		return v, fmt.Sprintf("the plugin set output %q, which its schema does not declare (declared: %s)", name, names(ep.declaredOut))
	}
	if ty == cty.NilType || ty == cty.DynamicPseudoType {
		return v, ""
	}
	conv, err := convert.Convert(v, ty)
	if err != nil {
		return v, fmt.Sprintf("output %q is %s, not the declared %s", name, v.Type().FriendlyName(), ty.FriendlyName())
	}
	return conv, ""
}
