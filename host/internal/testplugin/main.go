// Command testplugin is the plugin the host's end-to-end tests run: one
// binary whose config "mode" picks a behaviour, good or bad, so that every
// failure the host must survive can be provoked on demand.
//
// Built as shammie-plugin-test (plugin name "test"), version 0.1.0 unless
// built with -ldflags "-X main.version=...". The subdirectory rogue is a
// plugin that bypasses the SDK.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/shammie-ml/shammie/sdk"
)

// version is set with -ldflags "-X main.version=0.2.0" to build other
// versions for the version-selection tests.
var version = "0.1.0"

type config struct {
	Mode    string  `cty:"mode" doc:"ok, quiet (no outputs), resume (blocks on its first attempt, succeeds on the next: state in StateDir), fail, panic, exit, sleep, hang, stdout, escape, undeclared, badtype, ignore-stop, hang-validate (never answers ValidateConfig), scribble (chmods its input and writes to it)"`
	N       float64 `cty:"n" default:"1" doc:"input number; output value = n * 2"`
	Message string  `cty:"message" default:"\"hello\"" doc:"written to the data artifact"`
	Input   string  `cty:"input" optional:"true" doc:"a file to read (an upstream artifact); its content is appended to the data artifact"`
	Steps   int     `cty:"steps" default:"3" doc:"progress steps to report"`
	PIDFile string  `cty:"pidfile" optional:"true" doc:"file to write the plugin's pid to once running"`
	Token   string  `cty:"token" optional:"true" sensitive:"true" doc:"a secret that must not appear in records"`
	Model   string  `cty:"model" optional:"true" accepts:"application/vnd.shammie.model+safetensors,application/vnd.safetensors" doc:"a model file (only its media type is checked, by the host)"`
}

type testPlugin struct{}

func (testPlugin) Metadata() sdk.Metadata {
	return sdk.Metadata{Name: "test", Version: version, Description: "host end-to-end test plugin", Backends: []string{"go"}}
}

func (testPlugin) Schema() sdk.Schema {
	return sdk.Schema{
		Config: sdk.MustBlockOf(config{}),
		Outputs: []sdk.OutputDecl{
			{Name: "value", Type: cty.Number, Description: "n * 2"},
			{Name: "echo", Type: cty.String, Description: "the message"},
		},
		Artifacts: []sdk.ArtifactDecl{{Name: "data", MediaType: "text/plain", Description: "the message, and the input's content"}},
	}
}

var modes = []string{"ok", "quiet", "resume", "fail", "panic", "exit", "sleep", "hang", "stdout", "escape", "undeclared", "badtype", "ignore-stop", "scribble", "hang-validate"}

func (testPlugin) ValidateConfig(_ context.Context, c sdk.Config) sdk.Diagnostics {
	// Attributes that depend on steps not run yet are unknown: check what
	// is known (a real plugin must do the same; Decode refuses unknowns).
	var cfg config
	if m := c.Value.GetAttr("mode"); m.IsKnown() && !m.IsNull() {
		cfg.Mode = m.AsString()
	} else {
		return nil
	}
	if cfg.Mode == "hang-validate" {
		if p := c.Value.GetAttr("pidfile"); p.IsKnown() && !p.IsNull() {
			_ = os.WriteFile(p.AsString(), []byte(strconv.Itoa(os.Getpid())), 0o644)
		}
		select {}
	}
	if n := c.Value.GetAttr("n"); n.IsKnown() && !n.IsNull() {
		cfg.N, _ = n.AsBigFloat().Float64()
	}
	var diags sdk.Diagnostics
	found := false
	for _, m := range modes {
		found = found || m == cfg.Mode
	}
	if !found {
		diags = append(diags, sdk.Errorf(cty.GetAttrPath("mode"), "Unknown mode", fmt.Sprintf("mode must be one of %s, not %q.", strings.Join(modes, ", "), cfg.Mode)))
	}
	if v := c.Value.GetAttr("n"); v.IsKnown() && !v.IsNull() && cfg.N < 0 {
		diags = append(diags, sdk.Errorf(cty.GetAttrPath("n"), "n must not be negative", fmt.Sprintf("Got %g.", cfg.N)))
	}
	return diags
}

func (testPlugin) Run(ctx context.Context, r *sdk.Run) error {
	var cfg config
	if err := r.Config.Decode(&cfg); err != nil {
		return err
	}
	// Resume counts attempts in the state dir, which the host keeps for a
	// step with the same cache key: the first attempt blocks (to be
	// killed), a rerun finds the count and completes. Counted before the
	// PID file is written, since a test kills the host as soon as it sees
	// that file and this process then exits on its own.
	attempts := 0
	if cfg.Mode == "resume" {
		var err error
		if attempts, err = bumpCounter(filepath.Join(r.StateDir, "attempts")); err != nil {
			return err
		}
	}
	if cfg.PIDFile != "" {
		// Written atomically so a test waiting for it never reads half.
		tmp := cfg.PIDFile + ".tmp"
		if err := os.WriteFile(tmp, []byte(strconv.Itoa(os.Getpid())), 0o644); err != nil {
			return err
		}
		if err := os.Rename(tmp, cfg.PIDFile); err != nil {
			return err
		}
	}
	for i := 1; i <= cfg.Steps; i++ {
		r.Progress("work", int64(i), int64(cfg.Steps), "steps")
		r.Metric("loss", int64(i), 1/float64(i))
	}
	r.Logf("mode %s seed %d backend %s", cfg.Mode, r.Seed, r.Backend)
	switch cfg.Mode {
	case "fail":
		return errors.New("failing on purpose (mode fail)")
	case "panic":
		fmt.Fprintln(os.Stderr, "about to panic: last words on stderr")
		panic("panic on purpose (mode panic)")
	case "exit":
		fmt.Fprintln(os.Stderr, "about to exit 3: last words on stderr")
		os.Exit(3)
	case "sleep":
		<-ctx.Done()
		return ctx.Err()
	case "resume":
		if attempts == 1 {
			<-ctx.Done()
			return ctx.Err()
		}
		cfg.N = float64(attempts)
	case "hang", "ignore-stop":
		fmt.Fprintln(os.Stderr, "ignoring the host's stop request")
		select {} // block forever: the host must kill us
	case "stdout":
		// Must not break the protocol: the SDK routes stdout to stderr.
		fmt.Println("printed to stdout by the plugin")
	case "escape":
		if err := os.WriteFile(filepath.Join(r.WorkDir, "..", "escape.txt"), []byte("x"), 0o644); err != nil {
			return err
		}
		return r.Artifact("data", "../escape.txt", "text/plain")
	case "undeclared":
		_ = r.Output("surprise", cty.StringVal("not in the schema"))
	case "badtype":
		_ = r.Output("value", cty.StringVal("not a number"))
		return nil
	case "scribble":
		// A careless (or hostile) plugin altering its input in place.
		if err := os.Chmod(cfg.Input, 0o644); err != nil {
			return err
		}
		if err := os.WriteFile(cfg.Input, []byte("scribbled\n"), 0o644); err != nil {
			return err
		}
	}
	data := cfg.Message + "\n"
	if cfg.Input != "" {
		b, err := os.ReadFile(cfg.Input)
		if err != nil {
			return fmt.Errorf("reading input: %w", err)
		}
		data += string(b)
	}
	if err := os.WriteFile(r.Path("data.txt"), []byte(data), 0o644); err != nil {
		return err
	}
	if err := r.Artifact("data", "data.txt", "text/plain"); err != nil {
		return err
	}
	if cfg.Mode != "quiet" {
		_ = r.Output("value", cty.NumberFloatVal(cfg.N*2))
		_ = r.Output("echo", cty.StringVal(cfg.Message))
	}
	// A short pause keeps "kill the host mid-run" tests deterministic
	// without slowing the others down much.
	if d, err := time.ParseDuration(os.Getenv("TESTPLUGIN_DELAY")); err == nil {
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return nil
}

func bumpCounter(path string) (int, error) {
	n := 0
	if b, err := os.ReadFile(path); err == nil {
		n, _ = strconv.Atoi(strings.TrimSpace(string(b)))
	}
	n++
	return n, os.WriteFile(path, []byte(strconv.Itoa(n)), 0o644)
}

func main() {
	sdk.Serve(testPlugin{})
}
