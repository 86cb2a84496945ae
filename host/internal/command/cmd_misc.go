package command

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	iofs "io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/go-version"

	"github.com/shammie-ml/shammie/host/internal/configs"
	"github.com/shammie-ml/shammie/host/internal/configschema"
	"github.com/shammie-ml/shammie/host/internal/getplugins"
	"github.com/shammie-ml/shammie/host/internal/report"
	"github.com/shammie-ml/shammie/host/internal/runner"
	"github.com/shammie-ml/shammie/host/internal/runstore"
	"github.com/shammie-ml/shammie/sdk"
	"github.com/shammie-ml/shammie/sdk/pluginhost"
)

func init() {
	register(&command{
		name:    "fmt",
		summary: "Rewrite spec files in canonical HCL layout (aligned =, two-space indent).",
		usage:   "[-check] [files or dirs...]",
		detail: `Without arguments, every .hcl file under the current directory (skipping
hidden directories, bin/ and the run store). -check changes nothing and
exits 1 listing the files that need formatting. Files with syntax errors are
reported and left alone.`,
		example: "  shammie fmt specs/\n  shammie fmt -check",
		run:     runFmt,
	})
	register(&command{
		name:    "plugins",
		summary: "List the plugin binaries found, or describe one plugin's config, outputs and artifacts.",
		usage:   "list | describe NAME [--version CONSTRAINT]",
		detail: `Plugins are searched in ./bin, --plugins-dir (default ~/.shammie/plugins) and
$SHAMMIE_PLUGIN_PATH. describe renders the schema as Markdown documentation.`,
		example: "  shammie plugins list\n  shammie plugins describe fit",
		run:     runPlugins,
	})
	register(&command{
		name:    "runs",
		summary: "List recorded runs, show one, or diff two.",
		usage:   "list | show [RUN] | diff RUN_A RUN_B   [--json] [--store DIR] [--spec SPEC]",
		detail: `RUN is a run id, a unique prefix of one, "latest" (the default for show) or
"latest~N"; with --spec, latest and latest~N count only the runs of that
spec, and list shows only them. diff warns when the two runs are of
different specs. A run whose host died while it was running is listed as
"interrupted", one whose record cannot be read as "damaged".`,
		example: "  shammie runs list\n  shammie runs show latest\n  shammie runs diff latest~1 latest",
		run:     runRuns,
	})
	register(&command{
		name:    "report",
		summary: "Write a run's report: metric plots (PNG and SVG) and report.md.",
		usage:   "[RUN] [-o DIR] [--store DIR]",
		detail:  `RUN defaults to "latest"; DIR defaults to <store>/runs/<id>/report.`,
		example: "  shammie report\n  shammie report latest~1 -o /tmp/report",
		run:     runReport,
	})
	register(&command{
		name:    "version",
		summary: "Print the host's version and the plugin protocol versions it speaks.",
		usage:   "",
		example: "  shammie version",
		run: func(ctx context.Context, env *Env, args []string) error {
			c := lookup("version")
			fs := newFlags(env, c)
			if _, err := parse(env, c, fs, args); err != nil {
				return err
			}
			fmt.Fprintf(env.Stdout, "shammie %s (plugin protocol %d, built with SDK %s)\n", Version, sdk.ProtocolVersion, sdk.Version)
			return nil
		},
	})
}

func runFmt(_ context.Context, env *Env, args []string) error {
	c := lookup("fmt")
	fs := newFlags(env, c)
	check := fs.Bool("check", false, "only report files that are not formatted; exit 1 if any")
	pos, err := parse(env, c, fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		pos = []string{"."}
	}
	var files []string
	for _, p := range pos {
		fi, err := os.Stat(p)
		if err != nil {
			return usagef("%v", err)
		}
		if !fi.IsDir() {
			files = append(files, p)
			continue
		}
		err = filepath.WalkDir(p, func(path string, d iofs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && path != p && (strings.HasPrefix(d.Name(), ".") || d.Name() == "bin" || d.Name() == "testdata") {
				return filepath.SkipDir
			}
			if !d.IsDir() && strings.HasSuffix(path, ".hcl") {
				files = append(files, path)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	var unformatted []string
	broken := false
	for _, f := range files {
		src, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		out, diags := configs.FormatChecked(f, src)
		if diags.HasErrors() {
			writeDiags(env.Stderr, nil, diags)
			broken = true
			continue
		}
		if bytes.Equal(out, src) {
			continue
		}
		unformatted = append(unformatted, f)
		if *check {
			continue
		}
		fi, _ := os.Stat(f)
		if err := os.WriteFile(f, out, fi.Mode().Perm()); err != nil {
			return err
		}
		fmt.Fprintln(env.Stdout, f)
	}
	if broken {
		return &silentError{exitUsage}
	}
	if *check && len(unformatted) > 0 {
		fmt.Fprintf(env.Stderr, "These files are not formatted (run `shammie fmt`):\n  %s\n", strings.Join(unformatted, "\n  "))
		return &silentError{exitStepFailed}
	}
	return nil
}

func runPlugins(ctx context.Context, env *Env, args []string) error {
	c := lookup("plugins")
	fs := newFlags(env, c)
	pluginsDir := fs.String("plugins-dir", "", "extra plugin directory (default ~/.shammie/plugins)")
	constraint := fs.String("version", "", "describe: version constraint (default: the highest found)")
	asJSON := fs.Bool("json", false, "print JSON")
	pos, err := parse(env, c, fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usagef("expected list or describe NAME")
	}
	f := finder(env, *pluginsDir)
	switch pos[0] {
	case "list":
		if len(pos) != 1 {
			return usagef("plugins list takes no arguments")
		}
		return pluginsList(ctx, env, f, *asJSON)
	case "describe":
		if len(pos) != 2 {
			return usagef("expected plugins describe NAME")
		}
		var cons version.Constraints
		if *constraint != "" {
			if cons, err = version.NewConstraint(*constraint); err != nil {
				return usagef("--version: %v", err)
			}
		}
		best, err := getplugins.Select(pos[1], cons, f.Find(ctx, pos[1]), f.Dirs)
		if err != nil {
			return &runner.Error{Kind: runner.KindPlugin, Err: err}
		}
		cl, err := pluginhost.Launch(ctx, pluginhost.LaunchOptions{Path: best.Path, AutoMTLS: true})
		if err != nil {
			return &runner.Error{Kind: runner.KindPlugin, Err: err}
		}
		defer cl.Kill()
		schema, err := cl.Schema(ctx)
		if err != nil {
			return &runner.Error{Kind: runner.KindPlugin, Err: err}
		}
		if *asJSON {
			return json.NewEncoder(env.Stdout).Encode(map[string]any{"path": best.Path, "metadata": best.Metadata, "schema": schema})
		}
		if err := configschema.SchemaMarkdown(env.Stdout, best.Metadata, schema); err != nil {
			return err
		}
		fmt.Fprintf(env.Stdout, "\nBinary: %s\n", best.Path)
		return nil
	default:
		return usagef("unknown plugins subcommand %q (want list or describe)", pos[0])
	}
}

type listedPlugin struct {
	Name        string   `json:"name"`
	Version     string   `json:"version"`
	SDKVersion  string   `json:"sdk_version,omitempty"`
	Protocols   []int    `json:"protocol_versions,omitempty"`
	Path        string   `json:"path"`
	Description string   `json:"description,omitempty"`
	Backends    []string `json:"backends,omitempty"`
	Error       string   `json:"error,omitempty"`
}

func pluginsList(ctx context.Context, env *Env, f *getplugins.Finder, asJSON bool) error {
	var found []listedPlugin
	for _, d := range f.Dirs {
		entries, err := os.ReadDir(d)
		if err != nil {
			continue
		}
		for _, e := range entries {
			if !strings.HasPrefix(e.Name(), "shammie-plugin-") {
				continue
			}
			p := filepath.Join(d, e.Name())
			if fi, err := os.Stat(p); err != nil || !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
				continue
			}
			name, _, _ := strings.Cut(strings.TrimPrefix(e.Name(), "shammie-plugin-"), "_v")
			lp := listedPlugin{Path: p, Name: name}
			if err := getplugins.Untrusted(p); err != nil {
				lp.Error = err.Error()
				found = append(found, lp)
				continue
			}
			md, err := launchMetadata(ctx, p)
			if err != nil {
				lp.Error = strings.SplitN(err.Error(), "\n", 2)[0]
			} else {
				lp.Name, lp.Version, lp.Description, lp.Backends = md.Name, md.Version, md.Description, md.Backends
				lp.SDKVersion, lp.Protocols = md.SDKVersion, md.ProtocolVersions
			}
			found = append(found, lp)
		}
	}
	sort.SliceStable(found, func(i, j int) bool { return found[i].Name < found[j].Name })
	if asJSON {
		enc := json.NewEncoder(env.Stdout)
		for _, p := range found {
			if err := enc.Encode(p); err != nil {
				return err
			}
		}
		return nil
	}
	if len(found) == 0 {
		fmt.Fprintf(env.Stdout, "No plugins found in %s.\n", strings.Join(f.Dirs, ", "))
		return nil
	}
	// Three versions per plugin: its own, the SDK it was built with and
	// the protocol versions it speaks (what decides whether this host can
	// drive it).
	fmt.Fprintf(env.Stdout, "%-10s %-10s %-8s %-8s %s\n", "PLUGIN", "VERSION", "SDK", "PROTOCOL", "BINARY")
	for _, p := range found {
		if p.Error != "" {
			fmt.Fprintf(env.Stdout, "%-10s %-10s %-8s %-8s %s  (unusable: %s)\n", p.Name, "?", "?", "?", p.Path, p.Error)
			continue
		}
		sdkv := p.SDKVersion
		if sdkv == "" {
			sdkv = "-"
		}
		protos := make([]string, len(p.Protocols))
		for i, v := range p.Protocols {
			protos[i] = fmt.Sprint(v)
		}
		fmt.Fprintf(env.Stdout, "%-10s %-10s %-8s %-8s %s  %s [%s]\n", p.Name, p.Version, sdkv, strings.Join(protos, ","), p.Path, p.Description, strings.Join(p.Backends, ", "))
	}
	return nil
}

func runRuns(_ context.Context, env *Env, args []string) error {
	c := lookup("runs")
	fs := newFlags(env, c)
	storeDir := fs.String("store", runstore.DefaultDir, "run store directory")
	asJSON := fs.Bool("json", false, "print JSON")
	specPath := fs.String("spec", "", "only runs of this spec (list); latest and latest~N count its runs only (show, diff)")
	pos, err := parse(env, c, fs, args)
	if err != nil {
		return err
	}
	if len(pos) == 0 {
		return usagef("expected list, show or diff")
	}
	filter := runstore.SpecFilter{Path: *specPath, Cwd: env.Cwd}
	store, err := openStore(env, *storeDir)
	if err != nil {
		return err
	}
	notFound := func(err error) error { return &runner.Error{Kind: runner.KindFailed, Err: err} }
	out := env.Stdout
	if !*asJSON {
		out = safeWriter{env.Stdout}
	}
	switch pos[0] {
	case "list":
		runs, err := store.List()
		if err != nil {
			return err
		}
		if filter.Path != "" {
			kept := runs[:0]
			for _, r := range runs {
				if filter.Match(r.Spec) {
					kept = append(kept, r)
				}
			}
			runs = kept
		}
		if *asJSON {
			return report.RenderListJSON(env.Stdout, runs)
		}
		return report.RenderList(out, runs)
	case "show":
		ref := "latest"
		if len(pos) > 2 {
			return usagef("expected runs show [RUN]")
		}
		if len(pos) == 2 {
			ref = pos[1]
		}
		run, err := store.LoadSpec(ref, filter)
		if err != nil {
			return notFound(err)
		}
		if *asJSON {
			return report.RenderShowJSON(env.Stdout, run)
		}
		return report.RenderShow(out, run)
	case "diff":
		if len(pos) != 3 {
			return usagef("expected runs diff RUN_A RUN_B")
		}
		d, err := store.DiffSpec(pos[1], pos[2], filter)
		if err != nil {
			return notFound(err)
		}
		if d.Spec != nil {
			fmt.Fprintf(env.Stderr, "Warning: the runs are of different specs (%s: %s; %s: %s); use --spec to compare runs of one spec.\n", d.A, d.Spec.A, d.B, d.Spec.B)
		}
		if *asJSON {
			return report.RenderDiffJSON(env.Stdout, d)
		}
		return report.RenderDiff(out, d)
	default:
		return usagef("unknown runs subcommand %q (want list, show or diff)", pos[0])
	}
}

func runReport(_ context.Context, env *Env, args []string) error {
	c := lookup("report")
	fs := newFlags(env, c)
	storeDir := fs.String("store", runstore.DefaultDir, "run store directory")
	outDir := fs.String("o", "", "output directory (default <store>/runs/<id>/report)")
	pos, err := parse(env, c, fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 1 {
		return usagef("expected at most one run")
	}
	ref := "latest"
	if len(pos) == 1 {
		ref = pos[0]
	}
	store, err := openStore(env, *storeDir)
	if err != nil {
		return err
	}
	run, err := store.Load(ref)
	if err != nil {
		return &runner.Error{Kind: runner.KindFailed, Err: err}
	}
	dir := *outDir
	if dir == "" {
		dir = filepath.Join(run.Dir, "report")
	}
	res, err := report.Write(run, dir)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "Wrote %s and %d plot(s).\n", res.Markdown, len(res.Plots))
	return nil
}
