package configs_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/shammie-ml/shammie/host/internal/configs"
	"github.com/shammie-ml/shammie/host/internal/dag"
	"github.com/shammie-ml/shammie/host/internal/lang"
)

// addSuiteSeeds seeds a fuzz target with every specsuite spec (on top of
// the corpus in testdata/fuzz/<target>).
func addSuiteSeeds(f *testing.F, add func(src []byte, json bool)) {
	files, _ := filepath.Glob("testdata/specsuite/*")
	for _, p := range files {
		if strings.HasSuffix(p, ".golden") || strings.HasSuffix(p, ".vars") {
			continue
		}
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		add(b, strings.HasSuffix(p, ".json"))
	}
}

const fuzzHangLimit = 10 * time.Second

// FuzzLoadFile feeds arbitrary bytes through everything a spec goes through
// before a plugin runs: load (native or JSON syntax), variables, plan with
// static validation, and diagnostic rendering. None of it may panic.
// Run it for a while with `make fuzz-spec`; `go test` runs the seeds only.
func FuzzLoadFile(f *testing.F) {
	addSuiteSeeds(f, func(src []byte, json bool) { f.Add(src, json, "n=3") })
	f.Fuzz(func(t *testing.T, src []byte, json bool, cliVar string) {
		// A spec that makes the loader hang is a bug too; the fuzzing
		// engine would only say "hung", so dump where it is stuck.
		watchdog := time.AfterFunc(fuzzHangLimit, func() {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			fmt.Fprintf(os.Stderr, "input took over %s:\n%q\n%s", fuzzHangLimit, src, buf)
			os.Exit(3)
		})
		defer watchdog.Stop()
		name := "/fuzz/spec.hcl"
		if json {
			name = "/fuzz/spec.shammie.json"
		}
		spec, diags := configs.LoadSource(name, src)
		if spec == nil {
			t.Fatal("LoadSource returned a nil spec")
		}
		if _, parsed := spec.Files[name]; parsed {
			vars, d := lang.ResolveVariables(spec, []string{cliVar}, nil, []string{"SHAMMIE_VAR_n=2"})
			diags = append(diags, d...)
			g, d := dag.Plan(spec, vars, schemasFor(spec), dag.Options{RunSeed: 1, Cwd: "/fuzz", MaxInstances: 500})
			diags = append(diags, d...)
			if g != nil && !diags.HasErrors() {
				var buf bytes.Buffer
				g.WriteText(&buf, nil)
				g.DOT(nil)
				for _, n := range g.TopoOrder() {
					g.EvalConfig(n, map[string]dag.StepResult{})
				}
			}
		}
		var buf bytes.Buffer
		if err := configs.WriteDiagnostics(&buf, spec.Files, diags); err != nil {
			t.Fatal(err)
		}
	})
}

// FuzzFormat checks that Format never panics and is idempotent on source
// that parses.
func FuzzFormat(f *testing.F) {
	addSuiteSeeds(f, func(src []byte, json bool) {
		if !json {
			f.Add(src)
		}
	})
	f.Fuzz(func(t *testing.T, src []byte) {
		once, diags := configs.FormatChecked("f.hcl", src)
		if diags.HasErrors() {
			if !bytes.Equal(once, src) {
				t.Fatal("source with syntax errors was changed")
			}
			return
		}
		twice, diags := configs.FormatChecked("f.hcl", once)
		if diags.HasErrors() {
			t.Fatalf("formatted source no longer parses: %s\n%s", diags.Error(), once)
		}
		if !bytes.Equal(once, twice) {
			t.Fatalf("Format is not idempotent:\n%s\n---\n%s", once, twice)
		}
	})
}

func TestFormat(t *testing.T) {
	tests := []struct{ in, want string }{
		{"step \"a\" {\nplugin=plugin.gen\n    seed = 1\nconfig {\nmode=\"x\"\n  n = 2\n}\n}\n",
			"step \"a\" {\n  plugin = plugin.gen\n  seed   = 1\n  config {\n    mode = \"x\"\n    n    = 2\n  }\n}\n"},
		{"step \"a\" {\n  n = 2}\n", "step \"a\" {\n  n = 2}\n"}, // syntax error: unchanged
		{"locals {\n  a = 1\n  bb = 2\n}\n", "locals {\n  a  = 1\n  bb = 2\n}\n"},
		{"broken {", "broken {"},
	}
	for _, tt := range tests {
		if got := string(configs.Format([]byte(tt.in))); got != tt.want {
			t.Errorf("Format(%q) =\n%q\nwant\n%q", tt.in, got, tt.want)
		}
	}
}
