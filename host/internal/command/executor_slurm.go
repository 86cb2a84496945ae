package command

import (
	"context"
	"flag"
	"fmt"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/shammie-ml/shammie/host/internal/configs"
	"github.com/shammie-ml/shammie/host/internal/depsfile"
	"github.com/shammie-ml/shammie/host/internal/executor/slurm"
	"github.com/shammie-ml/shammie/host/internal/lang"
	"github.com/shammie-ml/shammie/host/internal/runner"
	"github.com/shammie-ml/shammie/host/internal/runstore"
	"github.com/shammie-ml/shammie/sdk"
	"github.com/shammie-ml/shammie/sdk/pluginhost"
)

// executorFlags are run's --executor and --executor-opt.
type executorFlags struct {
	kind string
	opts stringList
}

const executorOptHelp = `executor option key=value (repeatable). slurm: cpus, memory, gpus, time, partition, account (defaults of every step's resources), shammie=PATH (the binary the jobs run), poll=1s, max_requeue=3, heartbeat=5s, heartbeat_timeout=3m, probe=true, probe_timeout=5m, batch_window=250ms, sbatch_args="--qos=high ..."`

func (x *executorFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&x.kind, "executor", "local", "where step instances run: local (plugin processes on this machine) or slurm (one Slurm job per instance; sweeps as job arrays)")
	fs.Var(&x.opts, "executor-opt", executorOptHelp)
}

// setup prepares the executor for a loaded session. For slurm it swaps the
// session's pool for one whose plugin connections run steps as Slurm jobs
// (metadata and validation still use local processes), and returns the run
// options to use; close cancels what is left on the cluster.
func (x *executorFlags) setup(s *runner.Session, store *runstore.Store, env *Env, ro runner.RunOptions) (runner.RunOptions, func(), error) {
	switch x.kind {
	case "local", "":
		if len(x.opts) > 0 {
			return ro, func() {}, usagef("--executor-opt applies to --executor slurm")
		}
		return ro, func() {}, nil
	case "slurm":
	default:
		return ro, func() {}, usagef("--executor must be local or slurm, not %q", x.kind)
	}
	opts, err := x.slurmOptions(store)
	if err != nil {
		return ro, func() {}, err
	}
	// The array throttle takes --parallelism; the runner submits every
	// ready instance at once so that a sweep becomes one array.
	opts.Throttle = ro.Parallelism
	res, diags := instanceResources(s, env)
	if diags.HasErrors() {
		return ro, func() {}, &runner.Error{Kind: runner.KindInvalid, Diags: diags}
	}
	lockPath := s.Opts.LockPath
	if lockPath == "" {
		lockPath = depsfile.PathFor(s.Opts.SpecPath)
	}
	if lockPath, err = filepath.Abs(lockPath); err != nil {
		return ro, func() {}, err
	}
	ex := slurm.New(opts)
	l := &slurmLauncher{local: s.Pool, sem: make(chan struct{}, max(runtime.NumCPU(), 2)), exec: ex, res: res,
		lockPath: lockPath, specDir: s.Spec.Dir, stateDir: filepath.Join(store.Root(), "state")}
	s.Pool = runner.NewPool(l, true)
	ro.Parallelism = max(len(s.Graph.Nodes()), 1)
	return ro, func() { ex.Close(); l.local.Close() }, nil
}

func (x *executorFlags) slurmOptions(store *runstore.Store) (slurm.Options, error) {
	o := slurm.Options{StoreRoot: store.Root()}
	for _, kv := range x.opts {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			return o, usagef("--executor-opt %q: expected key=value", kv)
		}
		var err error
		dur := func(d *time.Duration) {
			*d, err = time.ParseDuration(v)
		}
		switch k {
		case "cpus":
			o.Defaults.CPUs, err = strconv.Atoi(v)
		case "memory":
			o.Defaults.Memory = v
		case "gpus":
			o.Defaults.GPUs = v
		case "time":
			o.Defaults.Time = v
		case "partition":
			o.Defaults.Partition = v
		case "account":
			o.Defaults.Account = v
		case "shammie":
			o.Shammie, err = filepath.Abs(v)
		case "poll":
			dur(&o.Poll)
		case "batch_window":
			dur(&o.BatchWindow)
		case "heartbeat":
			dur(&o.Heartbeat)
		case "heartbeat_timeout":
			dur(&o.HeartbeatTimeout)
		case "result_grace":
			dur(&o.ResultGrace)
		case "probe_timeout":
			dur(&o.ProbeTimeout)
		case "max_requeue":
			o.MaxRequeue, err = strconv.Atoi(v)
			if err == nil && o.MaxRequeue == 0 {
				o.MaxRequeue = -1
			}
		case "probe":
			var b bool
			b, err = strconv.ParseBool(v)
			o.NoProbe = !b
		case "sbatch_args":
			o.Extra = strings.Fields(v)
		default:
			return o, usagef("--executor-opt %q: unknown option %q (%s)", kv, k, strings.TrimPrefix(executorOptHelp, "executor option key=value (repeatable). "))
		}
		if err != nil {
			return o, usagef("--executor-opt %s: %v", kv, err)
		}
	}
	// Check the values the spec's resources block would check.
	if o.Defaults.Memory != "" || o.Defaults.Time != "" || o.Defaults.GPUs != "" {
		b := &configs.ResourcesBlock{Attrs: map[string]*hcl.Attribute{}}
		for name, v := range map[string]string{"memory": o.Defaults.Memory, "time": o.Defaults.Time, "gpus": o.Defaults.GPUs} {
			if v != "" {
				b.Attrs[name] = &hcl.Attribute{Name: name, Expr: hcl.StaticExpr(cty.StringVal(v), hcl.Range{Filename: "--executor-opt"})}
			}
		}
		r, diags := b.Eval(nil)
		if diags.HasErrors() {
			return o, usagef("%s", diags[0].Detail)
		}
		o.Defaults.Memory, o.Defaults.Time, o.Defaults.GPUs = r.Memory, r.Time, r.GPUs
	}
	return o, nil
}

// instanceResources evaluates every instance's resources: its step's block
// over the spec's top-level block.
func instanceResources(s *runner.Session, env *Env) (map[string]configs.Resources, hcl.Diagnostics) {
	spec := s.Spec
	locals, diags := lang.EvalLocals(spec, s.Vars, env.Cwd)
	if diags.HasErrors() {
		return nil, diags
	}
	base := lang.Scope{BaseDir: spec.Dir, Cwd: env.Cwd, Vars: s.Vars, Locals: locals}
	def, d := spec.Resources.Eval(base.EvalContext())
	diags = append(diags, d...)
	out := map[string]configs.Resources{}
	for _, n := range s.Graph.Nodes() {
		if n.Step.Resources == nil {
			out[n.Addr] = def
			continue
		}
		sc := base
		sc.Each, sc.CountIndex = n.Each, n.CountIndex
		r, d := n.Step.Resources.Eval(sc.EvalContext())
		diags = append(diags, d...)
		out[n.Addr] = r.Merge(def)
	}
	return out, diags
}

// slurmLauncher's connections answer metadata, schema and validation with
// local plugin processes (from the session's original pool, at most sem at
// a time) and run steps as Slurm jobs.
type slurmLauncher struct {
	local    *runner.Pool
	sem      chan struct{}
	exec     *slurm.Executor
	res      map[string]configs.Resources
	lockPath string
	specDir  string
	stateDir string // <store>/state: a state dir there is named by the cache key
}

func (l *slurmLauncher) Launch(ctx context.Context, p *runner.Plugin) (runner.Conn, error) {
	return &slurmConn{l: l, p: p}, nil
}

type slurmConn struct {
	l    *slurmLauncher
	p    *runner.Plugin
	tail string
	job  runstore.JobRef
}

// Job implements runner.JobConn: the job of the last Run.
func (c *slurmConn) Job() (runstore.JobRef, bool) { return c.job, c.job.ID != "" }

func (c *slurmConn) withLocal(ctx context.Context, f func(runner.Conn) error) error {
	select {
	case c.l.sem <- struct{}{}:
	case <-ctx.Done():
		return context.Cause(ctx)
	}
	defer func() { <-c.l.sem }()
	lc, err := c.l.local.Get(ctx, c.p)
	if err != nil {
		return err
	}
	err = f(lc)
	c.l.local.Release(c.p, lc, err == nil)
	return err
}

func (c *slurmConn) Metadata(ctx context.Context) (md sdk.Metadata, err error) {
	err = c.withLocal(ctx, func(lc runner.Conn) error { md, err = lc.Metadata(ctx); return err })
	return md, err
}

func (c *slurmConn) Schema(ctx context.Context) (s sdk.Schema, err error) {
	err = c.withLocal(ctx, func(lc runner.Conn) error { s, err = lc.Schema(ctx); return err })
	return s, err
}

func (c *slurmConn) ValidateConfig(ctx context.Context, cfg cty.Value) (d sdk.Diagnostics, err error) {
	err = c.withLocal(ctx, func(lc runner.Conn) error { d, err = lc.ValidateConfig(ctx, cfg); return err })
	return d, err
}

func (c *slurmConn) Run(ctx context.Context, req pluginhost.RunRequest, onEvent func(pluginhost.Event)) (pluginhost.Status, error) {
	group, _, _ := strings.Cut(req.Step, "[")
	t := slurm.Task{
		Request: slurm.Request{
			RunID: req.RunID, Step: req.Step, Plugin: c.p.Label, Path: c.p.Path, SHA256: c.p.SHA256, LockPath: c.l.lockPath,
			WorkDir: req.WorkDir, StateDir: req.StateDir, Seed: req.Seed, Backend: req.Backend, SpecDir: c.l.specDir,
		},
		StepDir: filepath.Dir(req.WorkDir), Group: group, Resources: c.l.res[req.Step],
	}
	if abs, err := filepath.Abs(c.p.Path); err == nil {
		t.Request.Path = abs
	}
	// The run store names a step's shared state dir by its cache key.
	if filepath.Dir(req.StateDir) == c.l.stateDir {
		t.CacheKey = filepath.Base(req.StateDir)
	}
	if err := t.Request.EncodeConfig(req.Config); err != nil {
		return pluginhost.Status{}, err
	}
	st, out, err := c.l.exec.Run(ctx, t, onEvent)
	c.tail = out.StderrTail
	c.job = runstore.JobRef{Executor: "slurm", ID: out.JobID, Node: out.Node}
	if err == nil && out.JobID != "" && !strings.Contains(st.Message, out.JobID) {
		where := "Slurm job " + out.JobID
		if out.Node != "" {
			where += " on " + out.Node
		}
		if st.Message == "" {
			st.Message = where
		} else {
			st.Message += " (" + where + ")"
		}
	} else if err != nil && out.JobID != "" && !strings.Contains(err.Error(), out.JobID) {
		err = fmt.Errorf("the Slurm job %s: %w", out.JobID, err)
	}
	return st, err
}

func (c *slurmConn) StderrTail() string { return c.tail }

// Kill has nothing to kill: a job is cancelled through Run's context.
func (c *slurmConn) Kill() {}
