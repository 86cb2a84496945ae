// Package runner is the host's engine: it loads a spec with its lock file,
// launches the locked plugin binaries to learn their schemas, plans the step
// graph, validates every step instance (statically and with the plugins'
// own checks), and executes the graph: independent instances in parallel,
// cache hits skipped, events streamed to the run store and to an observer,
// failures stopping the run (or, with KeepGoing, only what depends on them).
package runner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-version"
	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/shammie-ml/shammie/host/internal/configs"
	"github.com/shammie-ml/shammie/host/internal/configschema"
	"github.com/shammie-ml/shammie/host/internal/dag"
	"github.com/shammie-ml/shammie/host/internal/depsfile"
	"github.com/shammie-ml/shammie/host/internal/lang"
	"github.com/shammie-ml/shammie/sdk"
)

// Kind says what went wrong; the command maps it to an exit code.
type Kind int

const (
	KindFailed      Kind = iota // a step failed, or a record could not be written
	KindInvalid                 // bad command line, spec or config
	KindPlugin                  // plugin or lock file problem
	KindInterrupted             // cancelled by a signal
)

// Error is a failure with diagnostics (rendered with source snippets) or a
// plain message, and what kind of failure it is.
type Error struct {
	Kind  Kind
	Diags hcl.Diagnostics
	Err   error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return e.Err.Error()
	}
	return e.Diags.Error()
}

func (e *Error) Unwrap() error { return e.Err }

// Timeouts of the plugin calls that only answer questions: a plugin that
// never answers must not hang validate, plan or run. Variables for tests.
var (
	DescribeTimeout = 30 * time.Second // GetMetadata and GetSchema
	ValidateTimeout = 2 * time.Minute  // ValidateConfig of one instance
)

// LoadOptions say what to load.
type LoadOptions struct {
	SpecPath string
	// LockPath defaults to shammie.lock.hcl beside the spec.
	LockPath string
	Vars     []string // -var name=value
	VarFiles []string // -var-file
	Environ  []string // for SHAMMIE_VAR_*; nil: none
	Seed     int64
	Backend  string // default GoMLX backend ("" = "go")
	Cwd      string
	// Parallelism bounds concurrent plugin calls during validation.
	Parallelism int
	// SkipPluginValidation skips the plugins' ValidateConfig.
	SkipPluginValidation bool
}

// Session is a loaded, planned and validated spec with its plugins running
// (in Pool). Close it to stop them.
type Session struct {
	Opts    LoadOptions
	Spec    *configs.Spec
	Vars    map[string]cty.Value
	Lock    *depsfile.Lock
	Plugins map[string]*Plugin // by plugin block label
	Graph   *dag.Graph
	Pool    *Pool
	// Warnings collected while loading.
	Warnings hcl.Diagnostics
	// Files for rendering diagnostics: the spec, var files, the lock.
	Files map[string]*hcl.File

	mu        sync.Mutex
	validated map[string]bool            // instances whose plugin ValidateConfig passed on the full config
	validMemo map[string]sdk.Diagnostics // plugin answers by plugin and config
	secrets   []string                   // strings of sensitive values, masked (secrets.go)
}

// Close kills the plugin processes.
func (s *Session) Close() {
	if s != nil && s.Pool != nil {
		s.Pool.Close()
	}
}

// Load reads the spec, variables and lock file, launches each plugin once
// to read its metadata and schema, plans the graph and validates every
// instance. On failure the returned Session still has Spec and Files (when
// the spec could be read) so that the error's diagnostics render with
// snippets; its plugins are already stopped.
func Load(ctx context.Context, opts LoadOptions, pool *Pool) (*Session, error) {
	s := &Session{Opts: opts, Pool: pool, Files: map[string]*hcl.File{}, Plugins: map[string]*Plugin{}, validated: map[string]bool{}, validMemo: map[string]sdk.Diagnostics{}}
	if opts.Parallelism <= 0 {
		s.Opts.Parallelism = 4
	}
	spec, diags := configs.LoadFile(opts.SpecPath)
	s.Spec = spec
	s.addFiles(spec.Files)
	if !diags.HasErrors() {
		var d hcl.Diagnostics
		s.Vars, d = lang.ResolveVariables(spec, opts.Vars, opts.VarFiles, opts.Environ)
		s.secrets = collectSecrets(s.Vars)
		diags = append(diags, s.maskDiags(d)...)
		s.addFiles(spec.Files)
	}
	if diags.HasErrors() {
		if s.Vars == nil && spec != nil {
			// Variables were not resolved (the spec has errors): unknown
			// values let the planner check the rest without claiming that
			// steps may not refer to variables.
			s.Vars = map[string]cty.Value{}
			for name, v := range spec.Variables {
				s.Vars[name] = cty.UnknownVal(v.Type)
			}
		}
		// Report the config errors the planner finds too, all at once, when
		// the plugins can tell their schemas (Plan copes with a spec that
		// loaded with errors).
		if s.resolvePlugins(ctx) == nil {
			_, d := dag.Plan(spec, s.Vars, s.schemas(), dag.Options{RunSeed: opts.Seed, DefaultBackend: opts.Backend, Cwd: opts.Cwd})
			diags = appendNew(diags, d)
		}
		pool.Close()
		return s, &Error{Kind: KindInvalid, Diags: s.maskDiags(diags)}
	}
	s.Warnings = append(s.Warnings, diags...)

	if err := s.resolvePlugins(ctx); err != nil {
		pool.Close()
		return s, err
	}

	g, diags := dag.Plan(spec, s.Vars, s.schemas(), dag.Options{RunSeed: opts.Seed, DefaultBackend: opts.Backend, Cwd: opts.Cwd})
	s.Graph = g
	if diags.HasErrors() {
		pool.Close()
		return s, &Error{Kind: KindInvalid, Diags: s.maskDiags(diags)}
	}
	s.Warnings = append(s.Warnings, s.maskDiags(diags)...)
	if !opts.SkipPluginValidation {
		diags = dag.CompactPluginDiagnostics(s.validateStatic(ctx))
		if diags.HasErrors() {
			pool.Close()
			return s, &Error{Kind: KindInvalid, Diags: s.maskDiags(diags)}
		}
		s.Warnings = append(s.Warnings, diags...)
	}
	return s, nil
}

func (s *Session) addFiles(files map[string]*hcl.File) {
	for k, v := range files {
		s.Files[k] = v
	}
}

func (s *Session) schemas() map[string]sdk.Schema {
	out := map[string]sdk.Schema{}
	for label, p := range s.Plugins {
		out[label] = p.Schema
	}
	return out
}

// resolvePlugins checks every plugin block against the lock and launches
// the locked binary for its metadata and schema. Only plugins some step
// uses are launched.
func (s *Session) resolvePlugins(ctx context.Context) error {
	lockPath := s.Opts.LockPath
	if lockPath == "" {
		lockPath = depsfile.PathFor(s.Opts.SpecPath)
	}
	lock, files, diags := depsfile.Load(lockPath)
	s.addFiles(files)
	if diags.HasErrors() {
		return &Error{Kind: KindPlugin, Diags: diags}
	}
	s.Lock = lock
	used := map[string]bool{}
	for _, st := range s.Spec.Steps {
		used[st.Plugin] = true
	}
	var labels []string
	for label, decl := range s.Spec.Plugins {
		lp, ok := lock.Plugins[label]
		switch {
		case !ok:
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError, Summary: "Plugin not in lock file",
				Detail:  fmt.Sprintf("Plugin %q is not recorded in %s, so there is no pinned binary to run. Run `shammie init %s` to discover it and update the lock file.", label, lockPath, s.Opts.SpecPath),
				Subject: decl.DeclRange.Ptr(),
			})
			continue
		case decl.Version != nil:
			if v, err := version.NewVersion(lp.Version); err == nil && !decl.Version.Check(v) {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError, Summary: "Locked plugin version does not satisfy the spec",
					Detail:  fmt.Sprintf("The lock file pins plugin %q at version %s, which does not satisfy %q. Run `shammie init %s` to select a matching binary.", label, lp.Version, decl.VersionString, s.Opts.SpecPath),
					Subject: decl.VersionRange.Ptr(),
				})
				continue
			}
		}
		if used[label] {
			labels = append(labels, label)
		}
		s.Plugins[label] = &Plugin{Label: label, Source: decl.Source, Path: lp.Path, SHA256: lp.SHA256, Version: lp.Version}
	}
	if diags.HasErrors() {
		return &Error{Kind: KindPlugin, Diags: diags}
	}
	sort.Strings(labels)
	errs := make([]error, len(labels))
	var wg sync.WaitGroup
	for i, label := range labels {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.describe(ctx, s.Plugins[label])
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return &Error{Kind: KindPlugin, Err: err}
	}
	return nil
}

// describe launches p, reads metadata and schema, checks them against the
// lock, and keeps the process in the pool for the steps.
func (s *Session) describe(ctx context.Context, p *Plugin) error {
	if _, err := os.Stat(p.Path); err != nil {
		return fmt.Errorf("plugin %q: locked binary %s: %v; run `shammie init %s` to find the plugin again", p.Label, p.Path, err, s.Opts.SpecPath)
	}
	c, err := s.Pool.Get(ctx, p)
	if err != nil {
		return fmt.Errorf("plugin %q: %w", p.Label, err)
	}
	healthy := false
	defer func() { s.Pool.Release(p, c, healthy) }()
	ctx, cancel := context.WithTimeoutCause(ctx, DescribeTimeout, fmt.Errorf("plugin %q did not describe itself within %s", p.Label, DescribeTimeout))
	defer cancel()
	md, err := c.Metadata(ctx)
	if err != nil && ctx.Err() != nil {
		err = context.Cause(ctx)
	}
	if err != nil {
		return fmt.Errorf("plugin %q: %w", p.Label, err)
	}
	if md.Name != p.Source {
		return fmt.Errorf("plugin %q: binary %s says it is plugin %q, not %q; run `shammie init %s`", p.Label, p.Path, md.Name, p.Source, s.Opts.SpecPath)
	}
	if md.Version != p.Version {
		return fmt.Errorf("plugin %q: binary %s reports version %s but the lock file says %s; run `shammie init %s` to update the lock", p.Label, p.Path, md.Version, p.Version, s.Opts.SpecPath)
	}
	schema, err := c.Schema(ctx)
	if err != nil && ctx.Err() != nil {
		err = context.Cause(ctx)
	}
	if err != nil {
		return fmt.Errorf("plugin %q: %w", p.Label, err)
	}
	if errs := configschema.Validate(schema.Config); len(errs) > 0 {
		return fmt.Errorf("plugin %q (%s) declares an invalid config schema: %w; this is a bug in the plugin", p.Label, p.Path, errors.Join(errs...))
	}
	p.Metadata, p.Schema = md, schema
	healthy = true
	return nil
}

// validateStatic calls the plugins' ValidateConfig for every instance
// before anything runs. Instances with upstream steps are validated on
// their static config (dag.Graph.StaticConfig: the values of steps not run
// yet are unknown, and the plugin skips the checks on them); they are
// validated again on their full config right before they run.
func (s *Session) validateStatic(ctx context.Context) hcl.Diagnostics {
	nodes := s.Graph.Nodes()
	results := make([]hcl.Diagnostics, len(nodes))
	cfgs := make([]cty.Value, len(nodes)) // cty.NilVal: not sent to the plugin
	work := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < min(s.Opts.Parallelism, len(nodes)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				n := nodes[i]
				var cfg cty.Value
				if len(s.Graph.Deps(n)) == 0 {
					var backend string
					var d hcl.Diagnostics
					cfg, _, backend, d = s.Graph.EvalConfig(n, nil)
					if d.HasErrors() {
						results[i] = d
						continue
					}
					results[i] = append(d, s.checkBackend(n, backend)...)
				} else {
					// Plan reported this config's own errors already.
					var d hcl.Diagnostics
					if cfg, d = s.Graph.StaticConfig(n); d.HasErrors() {
						continue
					}
				}
				// Plugins get plain values (marks do not cross the wire);
				// the plugin schema's sensitive attributes tell it what is
				// secret.
				if cfg.ContainsMarked() {
					cfg, _ = cfg.UnmarkDeep()
				}
				cfgs[i] = cfg
			}
		}()
	}
	for i := range nodes {
		work <- i
	}
	close(work)
	wg.Wait()
	for i, d := range s.validateBatched(ctx, nodes, cfgs) {
		results[i] = append(results[i], d...)
	}
	var diags hcl.Diagnostics
	for _, d := range results {
		diags = append(diags, d...)
	}
	return diags
}

// checkBackend reports a backend the plugin does not list.
func (s *Session) checkBackend(n *dag.Node, backend string) hcl.Diagnostics {
	p := s.Plugins[n.Step.Plugin]
	if p == nil || len(p.Metadata.Backends) == 0 {
		return nil
	}
	for _, b := range p.Metadata.Backends {
		if b == backend {
			return nil
		}
	}
	rng := n.Step.DeclRange
	if n.Step.Backend != nil {
		rng = n.Step.Backend.Range()
	}
	return hcl.Diagnostics{{
		Severity: hcl.DiagError, Summary: "Backend not supported by plugin",
		Detail:  fmt.Sprintf("%s would run on backend %q, but plugin %q %s supports only %s. Set backend in the step or pass --backend.", n.Addr, backend, p.Label, p.Version, strings.Join(p.Metadata.Backends, ", ")),
		Subject: rng.Ptr(),
	}}
}

func (s *Session) validatedNode(n *dag.Node, cfg cty.Value, pd sdk.Diagnostics) hcl.Diagnostics {
	if cfg.IsWhollyKnown() && !pd.HasErrors() {
		s.mu.Lock()
		s.validated[n.Addr] = true
		s.mu.Unlock()
	}
	return s.Graph.DiagnosticsFromPlugin(n, pd)
}

func (s *Session) isValidated(addr string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.validated[addr]
}

// appendNew appends the diagnostics of more that are not already in diags
// (same severity, summary and subject).
func appendNew(diags, more hcl.Diagnostics) hcl.Diagnostics {
	type key struct {
		sev     hcl.DiagnosticSeverity
		summary string
		rng     string
	}
	seen := map[key]bool{}
	k := func(d *hcl.Diagnostic) key {
		r := ""
		if d.Subject != nil {
			r = d.Subject.String()
		}
		return key{d.Severity, d.Summary, r}
	}
	for _, d := range diags {
		seen[k(d)] = true
	}
	for _, d := range more {
		if !seen[k(d)] {
			seen[k(d)] = true
			diags = append(diags, d)
		}
	}
	return diags
}
