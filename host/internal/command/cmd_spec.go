package command

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/shammie-ml/shammie/host/internal/configs"
	"github.com/shammie-ml/shammie/host/internal/dag"
	"github.com/shammie-ml/shammie/host/internal/depsfile"
	"github.com/shammie-ml/shammie/host/internal/getplugins"
	"github.com/shammie-ml/shammie/host/internal/runner"
	"github.com/shammie-ml/shammie/sdk/pluginhost"
)

func init() {
	register(&command{
		name:    "init",
		summary: "Discover the plugins a spec needs and pin them in shammie.lock.hcl beside the spec.",
		usage:   "[flags] [spec.hcl]",
		detail: `For every plugin block of the spec, init searches ./bin, the plugins dir
(--plugins-dir, default ~/.shammie/plugins) and every directory of
$SHAMMIE_PLUGIN_PATH (colon-separated) for shammie-plugin-<source> or
shammie-plugin-<source>_v*, launches each to read its version, and picks the
highest version satisfying the block's version constraint. The lock records
version, path and sha256; every later launch checks the sha256, so run init
again after rebuilding a plugin. The specs of one directory share its lock
file: init updates this spec's plugins and keeps the others' entries.
The spec defaults to ` + DefaultSpec + `.`,
		example: "  shammie init specs/default.hcl\n  SHAMMIE_PLUGIN_PATH=/opt/shammie/plugins shammie init specs/fit.hcl",
		run:     runInit,
	})
	register(&command{
		name:    "validate",
		summary: "Check a spec, its variables and every step's config against the plugins' schemas and checks.",
		usage:   "[flags] [spec.hcl]",
		detail: `Reports every problem at once, each with file:line:col and the offending
source: syntax, undeclared references, cycles, types, missing or unknown
config attributes, and the plugins' own ValidateConfig diagnostics (for
steps whose config is known before anything runs; the others are checked
right before they run). Nothing runs.`,
		example: "  shammie validate specs/default.hcl\n  shammie validate --json -var n_concepts=50 specs/fit.hcl",
		run:     runValidate,
	})
	register(&command{
		name:    "plan",
		summary: "Show the step instances a run would execute, in order, with their cache status; runs nothing.",
		usage:   "[flags] [spec.hcl]",
		detail: `Cache status: "hit" (a stored result will be reused), "miss" (will run),
"pending" (depends on a step that will run, so its config is known only
then), "error" (its config cannot be evaluated).`,
		example: "  shammie plan specs/default.hcl\n  shammie plan --json specs/default.hcl | jq .cache",
		run:     runPlan,
	})
}

func runInit(ctx context.Context, env *Env, args []string) error {
	c := lookup("init")
	fs := newFlags(env, c)
	pluginsDir := fs.String("plugins-dir", "", "extra plugin directory (default ~/.shammie/plugins)")
	lockPath := fs.String("lock", "", "lock file to write (default: shammie.lock.hcl beside the spec)")
	pos, err := parse(env, c, fs, args)
	if err != nil {
		return err
	}
	specPath, err := specArg(pos)
	if err != nil {
		return err
	}
	spec, diags := configs.LoadFile(specPath)
	if diags.HasErrors() {
		writeDiags(env.Stderr, spec.Files, diags)
		return &silentError{exitUsage}
	}
	if *lockPath == "" {
		*lockPath = depsfile.PathFor(specPath)
	}
	f := finder(env, *pluginsDir)
	// One lock file serves every spec of a directory: entries for plugins
	// this spec does not declare are kept.
	lock := depsfile.New(*lockPath)
	if _, err := os.Stat(*lockPath); err == nil {
		if old, _, diags := depsfile.Load(*lockPath); !diags.HasErrors() {
			for name, p := range old.Plugins {
				if _, mine := spec.Plugins[name]; !mine {
					lock.Plugins[name] = p
				}
			}
		} else {
			fmt.Fprintf(env.Stderr, "Warning: %s is invalid and is rewritten from scratch: %v\n", *lockPath, diags)
		}
	}
	names := make([]string, 0, len(spec.Plugins))
	for n := range spec.Plugins {
		names = append(names, n)
	}
	sort.Strings(names)
	var problems []string
	for _, name := range names {
		decl := spec.Plugins[name]
		cands := f.Find(ctx, decl.Source)
		best, err := getplugins.Select(decl.Source, decl.Version, cands, f.Dirs)
		if err != nil {
			problems = append(problems, fmt.Sprintf("plugin %q (%s): %v", name, decl.DeclRange, err))
			continue
		}
		sum, err := pluginhost.FileSHA256(best.Path)
		if err != nil {
			problems = append(problems, fmt.Sprintf("plugin %q: %v", name, err))
			continue
		}
		abs, _ := filepath.Abs(best.Path)
		lock.Plugins[name] = &depsfile.Plugin{Name: name, Version: best.Version.String(), Path: abs, SHA256: sum}
		fmt.Fprintf(env.Stdout, "- %s: %s %s (sha256 %s)\n", name, best.Version, best.Path, sum[:12])
		if note := notFromBin(env, best, cands); note != "" {
			fmt.Fprintf(env.Stderr, "Note: plugin %q: %s\n", name, note)
		}
		for _, c := range cands {
			if c.Err != nil && strings.HasPrefix(c.Err.Error(), "refused:") {
				fmt.Fprintf(env.Stderr, "Warning: plugin %q: %s %s\n", name, c.Path, c.Err)
			}
		}
	}
	if len(problems) > 0 {
		fmt.Fprintf(env.Stderr, "Error: %s\n", strings.Join(problems, "\n\nError: "))
		return &silentError{exitPlugin}
	}
	if err := lock.Write(); err != nil {
		return &runner.Error{Kind: runner.KindPlugin, Err: fmt.Errorf("writing %s: %w", *lockPath, err)}
	}
	fmt.Fprintf(env.Stdout, "Wrote %s (%d plugin(s)).\n", *lockPath, len(lock.Plugins))
	return nil
}

func runValidate(ctx context.Context, env *Env, args []string) error {
	c := lookup("validate")
	fs := newFlags(env, c)
	var f specFlags
	f.register(fs, true)
	pos, err := parse(env, c, fs, args)
	if err != nil {
		return err
	}
	specPath, err := specArg(pos)
	if err != nil {
		return err
	}
	s, err := f.load(ctx, env, specPath, false)
	if err != nil {
		return err
	}
	defer s.Close()
	// Resources matter only to a cluster executor, but a typo in them is
	// a spec error wherever the spec is checked.
	if _, diags := instanceResources(s, env); diags.HasErrors() {
		return f.reportError(env, s, &runner.Error{Kind: runner.KindInvalid, Diags: diags})
	}
	n := len(s.Graph.Nodes())
	if f.json {
		return json.NewEncoder(env.Stdout).Encode(struct {
			Valid       bool       `json:"valid"`
			Instances   int        `json:"instances"`
			Diagnostics []jsonDiag `json:"diagnostics"`
		}{true, n, jsonDiags(s.Files, s.Warnings)})
	}
	fmt.Fprintf(env.Stdout, "The spec is valid: %d step instance(s), %d plugin(s).\n", n, len(s.Plugins))
	return nil
}

func runPlan(ctx context.Context, env *Env, args []string) error {
	c := lookup("plan")
	fs := newFlags(env, c)
	var f specFlags
	f.register(fs, true)
	dot := fs.Bool("dot", false, "print the graph in Graphviz DOT syntax")
	pos, err := parse(env, c, fs, args)
	if err != nil {
		return err
	}
	specPath, err := specArg(pos)
	if err != nil {
		return err
	}
	s, err := f.load(ctx, env, specPath, false)
	if err != nil {
		return err
	}
	defer s.Close()
	store, err := openStore(env, f.store)
	if err != nil {
		return err
	}
	planned := s.Plan(store)
	byAddr := map[string]runner.PlannedNode{}
	counts := map[string]int{}
	for _, p := range planned {
		byAddr[p.Address] = p
		counts[p.Cache]++
	}
	if f.json {
		enc := json.NewEncoder(env.Stdout)
		for _, p := range planned {
			if err := enc.Encode(p); err != nil {
				return err
			}
		}
		return nil
	}
	annotate := func(n *dag.Node) string {
		p := byAddr[n.Addr]
		s := "[" + p.Cache + "]"
		if p.CachedFrom != "" {
			s += " from run " + p.CachedFrom
		}
		return s
	}
	if *dot {
		fmt.Fprint(env.Stdout, s.Graph.DOT(annotate))
		return nil
	}
	if err := s.Graph.WriteText(env.Stdout, annotate); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "\n%d instance(s): %d cached, %d to run, %d pending on upstream results.\n",
		len(planned), counts[runner.CacheHit], counts[runner.CacheMiss], counts[runner.CachePending])
	if counts[runner.CacheError] > 0 {
		for _, p := range planned {
			if p.Cache == runner.CacheError {
				fmt.Fprintf(env.Stdout, "%s: %s\n", p.Address, p.Message)
			}
		}
		return &silentError{exitUsage}
	}
	return nil
}

// notFromBin says when the locked binary is not the one in ./bin although
// ./bin has one: a higher version elsewhere on the search path won.
func notFromBin(env *Env, best *getplugins.Candidate, cands []getplugins.Candidate) string {
	bin := filepath.Join(env.Cwd, "bin")
	if filepath.Dir(best.Path) == bin {
		return ""
	}
	for _, c := range cands {
		if filepath.Dir(c.Path) == bin && c.Err == nil {
			return fmt.Sprintf("locked %s (version %s), not %s (version %s) from ./bin: a higher version satisfying the constraint was found there; pin the version in the spec to use ./bin's", best.Path, best.Version, c.Path, c.Version)
		}
	}
	return ""
}
