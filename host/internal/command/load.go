package command

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"

	"github.com/shammie-ml/shammie/host/internal/configs"
	"github.com/shammie-ml/shammie/host/internal/depsfile"
	"github.com/shammie-ml/shammie/host/internal/getplugins"
	"github.com/shammie-ml/shammie/host/internal/runner"
	"github.com/shammie-ml/shammie/host/internal/runstore"
	"github.com/shammie-ml/shammie/sdk"
	"github.com/shammie-ml/shammie/sdk/pluginhost"
)

// DefaultSpec is used when a command that needs a spec is given none.
const DefaultSpec = "specs/default.hcl"

// specFlags are the flags of the commands that load a spec.
type specFlags struct {
	vars        stringList
	varFiles    stringList
	seed        int64
	backend     string
	parallelism int
	lock        string
	json        bool
	store       string
	grace       time.Duration
	noReuse     bool
	verbose     bool
}

func (f *specFlags) register(fs *flag.FlagSet, withJSON bool) {
	fs.Var(&f.vars, "var", "set a variable: -var name=value (repeatable; HCL syntax unless the variable is a string)")
	fs.Var(&f.varFiles, "var-file", "read variables from an .hcl or .json file (repeatable)")
	fs.Int64Var(&f.seed, "seed", 0, "run seed; steps without a seed derive theirs from it and their address")
	fs.StringVar(&f.backend, "backend", "go", "default GoMLX backend of steps that set none: go or xla:cuda")
	fs.IntVar(&f.parallelism, "parallelism", runtime.NumCPU(), "step instances running at once")
	fs.StringVar(&f.lock, "lock", "", "lock file (default: shammie.lock.hcl beside the spec)")
	fs.StringVar(&f.store, "store", runstore.DefaultDir, "run store directory")
	fs.DurationVar(&f.grace, "grace-period", pluginhost.DefaultGracePeriod, "how long a stopped plugin gets to finish before it is killed")
	fs.BoolVar(&f.noReuse, "no-reuse", false, "launch a fresh plugin process for every step instance (default: reuse a process after a step succeeds)")
	fs.BoolVar(&f.verbose, "verbose", false, "copy the plugins' stderr (hclog JSON lines) to the host's stderr")
	if withJSON {
		fs.BoolVar(&f.json, "json", false, "print JSON (one object per line) instead of text")
	}
}

func specArg(pos []string) (string, error) {
	switch len(pos) {
	case 0:
		if _, err := os.Stat(DefaultSpec); err == nil {
			return DefaultSpec, nil
		}
		// The only spec of the current directory (lock files aside).
		var specs []string
		matches, _ := filepath.Glob("*.hcl")
		for _, m := range matches {
			if m != depsfile.FileName {
				specs = append(specs, m)
			}
		}
		switch len(specs) {
		case 1:
			return specs[0], nil
		case 0:
			return "", usagef("no spec given, and there is no %s or other .hcl spec in the current directory", DefaultSpec)
		default:
			return "", usagef("no spec given, and the current directory has %d specs (%s): name one", len(specs), strings.Join(specs, ", "))
		}
	case 1:
		return pos[0], nil
	default:
		return "", usagef("expected one spec file, got %d arguments: %s", len(pos), strings.Join(pos, " "))
	}
}

// load loads, plans and validates a spec. On error it prints the
// diagnostics and returns a silentError with the exit code.
func (f *specFlags) load(ctx context.Context, env *Env, spec string, skipValidate bool) (*runner.Session, error) {
	var stderr io.Writer
	if f.verbose {
		stderr = env.Stderr
	}
	// Plugins run in the spec's folder, so that relative paths in a config
	// mean the same from wherever shammie is started (as path.spec does).
	specDir := filepath.Dir(spec)
	if !filepath.IsAbs(specDir) && env.Cwd != "" {
		specDir = filepath.Join(env.Cwd, specDir)
	}
	pool := runner.NewPool(runner.ProcessLauncher{GracePeriod: f.grace, Stderr: stderr, Dir: specDir, Spec: spec}, !f.noReuse)
	env.onKill(pool.KillNow)
	s, err := runner.Load(ctx, runner.LoadOptions{
		SpecPath: spec, LockPath: f.lock, Vars: f.vars, VarFiles: f.varFiles, Environ: env.Environ,
		Seed: f.seed, Backend: f.backend, Cwd: env.Cwd, Parallelism: f.parallelism,
		SkipPluginValidation: skipValidate,
	}, pool)
	if err != nil {
		if ctx.Err() != nil {
			// Interrupted: one line, not a diagnostic per cancelled call.
			return s, &runner.Error{Kind: runner.KindInterrupted, Err: context.Cause(ctx)}
		}
		return s, f.reportError(env, s, err)
	}
	if len(s.Warnings) > 0 && !f.json {
		writeDiags(env.Stderr, s.Files, s.Warnings)
	}
	return s, nil
}

// reportError prints a runner error (diagnostics with snippets, or JSON
// with --json) and returns the silentError carrying its exit code.
func (f *specFlags) reportError(env *Env, s *runner.Session, err error) error {
	var re *runner.Error
	if !errors.As(err, &re) {
		return err
	}
	var files map[string]*hcl.File
	if s != nil {
		files = s.Files
	}
	re.Diags = configs.CapDiagnostics(re.Diags)
	if f.json {
		_ = json.NewEncoder(env.Stdout).Encode(struct {
			Valid       bool       `json:"valid"`
			Error       string     `json:"error,omitempty"`
			Diagnostics []jsonDiag `json:"diagnostics"`
		}{false, errString(re.Err), jsonDiags(files, re.Diags)})
		return &silentError{exitCodeOf(re)}
	}
	if len(re.Diags) > 0 {
		writeDiags(env.Stderr, files, re.Diags)
	}
	if re.Err != nil {
		fmt.Fprintf(env.Stderr, "Error: %v\n", re.Err)
	}
	return &silentError{exitCodeOf(re)}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// writeDiags prints diagnostics as users see them (configs.WriteDiagnostics),
// escaped for the terminal: specs and plugins' messages may hold control
// characters.
func writeDiags(w io.Writer, files map[string]*hcl.File, diags hcl.Diagnostics) {
	_ = configs.WriteDiagnostics(safeWriter{w}, files, diags)
}

type jsonPos struct {
	Line   int `json:"line"`
	Column int `json:"column"`
	Byte   int `json:"byte"`
}

type jsonRange struct {
	Filename string  `json:"filename"`
	Start    jsonPos `json:"start"`
	End      jsonPos `json:"end"`
}

type jsonDiag struct {
	Severity string     `json:"severity"`
	Summary  string     `json:"summary"`
	Detail   string     `json:"detail,omitempty"`
	Range    *jsonRange `json:"range,omitempty"`
	// Snippet is the source line(s) of the range.
	Snippet string `json:"snippet,omitempty"`
}

func jsonDiags(files map[string]*hcl.File, diags hcl.Diagnostics) []jsonDiag {
	out := []jsonDiag{}
	for _, d := range diags {
		jd := jsonDiag{Severity: "error", Summary: d.Summary, Detail: d.Detail}
		if d.Severity == hcl.DiagWarning {
			jd.Severity = "warning"
		}
		if r := d.Subject; r != nil {
			jd.Range = &jsonRange{Filename: r.Filename,
				Start: jsonPos{r.Start.Line, r.Start.Column, r.Start.Byte},
				End:   jsonPos{r.End.Line, r.End.Column, r.End.Byte}}
			if f := files[r.Filename]; f != nil {
				jd.Snippet = snippet(f.Bytes, r.Start.Line, r.End.Line)
			}
		}
		out = append(out, jd)
	}
	return out
}

func snippet(src []byte, from, to int) string {
	lines := strings.Split(string(src), "\n")
	if from < 1 || from > len(lines) {
		return ""
	}
	to = min(max(to, from), len(lines))
	return strings.Join(lines[from-1:to], "\n")
}

// openStore opens the run store relative to the working directory.
func openStore(env *Env, dir string) (*runstore.Store, error) {
	if !filepath.IsAbs(dir) && env.Cwd != "" {
		dir = filepath.Join(env.Cwd, dir)
	}
	return runstore.Open(dir)
}

// finder returns the plugin finder for the search dirs of env.
func finder(env *Env, pluginsDir string) *getplugins.Finder {
	dirs := getplugins.SearchDirs(env.Cwd, pluginsDir, env.getenv(getplugins.PathEnv))
	return &getplugins.Finder{Dirs: dirs, Metadata: launchMetadata}
}

// launchMetadata starts a binary (no checksum: it is being discovered)
// and asks for its metadata.
func launchMetadata(ctx context.Context, path string) (sdk.Metadata, error) {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	c, err := pluginhost.Launch(ctx, pluginhost.LaunchOptions{Path: path, AutoMTLS: true})
	if err != nil {
		return sdk.Metadata{}, err
	}
	defer c.Kill()
	return c.Metadata(ctx)
}
