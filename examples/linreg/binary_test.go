package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/zclconf/go-cty/cty"

	"github.com/shammie-ml/shammie/sdk/pluginhost"
	"github.com/shammie-ml/shammie/sdk/plugintest"
)

// pluginBin is this plugin's binary, built once for the package by
// TestMain (linking a GoMLX binary takes seconds); "" with -short.
var pluginBin string

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		os.Exit(m.Run())
	}
	dir, err := os.MkdirTemp("", "linreg-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	pluginBin = filepath.Join(dir, "shammie-plugin-linreg")
	if err := plugintest.Build(".", pluginBin); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// TestBinary runs the built plugin the way the host does: a separate
// process, handshake, schema, a run.
func TestBinary(t *testing.T) {
	if pluginBin == "" {
		t.Skip("-short: no plugin binary")
	}
	bin := pluginBin
	c, err := pluginhost.Launch(context.Background(), pluginhost.LaunchOptions{Path: bin, AutoMTLS: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Kill()
	schema, err := c.Schema(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	cfg, diags := schema.Config.Coerce(cty.ObjectVal(map[string]cty.Value{"samples": cty.NumberIntVal(300), "steps": cty.NumberIntVal(40)}))
	if diags.HasErrors() {
		t.Fatal(diags.Err())
	}
	var outputs []string
	st, err := c.Run(context.Background(), pluginhost.RunRequest{
		RunID: "t", Step: "bin", Config: cfg, WorkDir: t.TempDir(), StateDir: t.TempDir(), Seed: 1, Backend: "go",
	}, func(e pluginhost.Event) {
		if o, ok := e.(pluginhost.Output); ok {
			outputs = append(outputs, o.Name)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if st.State != pluginhost.Succeeded || len(outputs) != 3 {
		t.Fatalf("status %v %q, outputs %v", st.State, st.Message, outputs)
	}
}

// TestExampleSpec runs linreg.hcl with the real `shammie` host (built from
// the workspace; skipped outside it).
func TestExampleSpec(t *testing.T) {
	if pluginBin == "" {
		t.Skip("-short: no plugin binary")
	}
	host := plugintest.HostBinary(t)
	bin := pluginBin
	// Run a copy in a scratch dir: init writes a lock file and run a store,
	// neither of which belongs in the source tree.
	dir := t.TempDir()
	src, err := os.ReadFile("linreg.hcl")
	if err != nil {
		t.Fatal(err)
	}
	spec := filepath.Join(dir, "linreg.hcl")
	if err := os.WriteFile(spec, src, 0o644); err != nil {
		t.Fatal(err)
	}
	o := plugintest.HostOptions{Dir: dir, PluginDirs: []string{filepath.Dir(bin)}}
	for _, args := range [][]string{{"init", spec}, {"run", "-var", "samples=300", spec}} {
		res := plugintest.RunHostWith(t, host, o, args...)
		if res.ExitCode != 0 {
			t.Fatalf("shammie %v: exit %d\nstdout:\n%s\nstderr:\n%s", args, res.ExitCode, res.Stdout, res.Stderr)
		}
	}
}
