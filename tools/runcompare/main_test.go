package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestCompareValues(t *testing.T) {
	tol := tolerance{rtol: 0.05, atol: 0.01}
	for _, tc := range []struct {
		a, b string
		want verdict
	}{
		{`0.731`, `0.731`, equal},
		{`0.731`, `0.74`, near},
		{`0.731`, `0.9`, differ},
		{`12`, `12`, equal},
		{`12`, `13`, differ}, // a planted threshold / change point must match
		{`12`, `12.0`, equal},
		{`["human","lm","human"]`, `["human","lm","human"]`, equal},
		{`["human","lm","human"]`, `["lm","human","human"]`, differ}, // routing order
		{`[0.5, 0.25]`, `[0.51, 0.25]`, near},
		{`[0.5]`, `[0.5, 0.25]`, differ},
		{`{"code":0.8,"math":0.2}`, `{"code":0.81,"math":0.2}`, near},
		{`{"code":0.8}`, `{"prose":0.8}`, differ},
		{`true`, `false`, differ},
		{`"a"`, `"a"`, equal},
	} {
		if got, why := compareValues(tc.a, tc.b, tol, true); got != tc.want {
			t.Errorf("compare(%s, %s) = %d (%s), want %d", tc.a, tc.b, got, why, tc.want)
		}
	}
}

func events(outputs map[string]string) string {
	var b strings.Builder
	b.WriteString(`{"kind":"run","run_id":"r1"}` + "\n")
	for k, v := range outputs {
		step, name, _ := strings.Cut(k, ".")
		fmt.Fprintf(&b, `{"kind":"output","step":%q,"name":%q,"output":{"type":"dynamic","value":%s}}`+"\n", step, name, v)
	}
	return b.String()
}

func TestCompareRuns(t *testing.T) {
	a, err := readOutputs(strings.NewReader(events(map[string]string{"fit.threshold": "37", "route.order": `["a","b"]`, "train.loss": "1.25", "train.ms": "812"})))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := readOutputs(strings.NewReader(events(map[string]string{"fit.threshold": "37", "route.order": `["a","b"]`, "train.loss": "1.27", "train.ms": "95"})))
	var out bytes.Buffer
	o := options{def: tolerance{rtol: 0.05, atol: 0.01}, intExact: true, ignore: []string{"*.ms"}}
	if !compare(&out, a, b, o) {
		t.Errorf("runs within tolerance (timing ignored) reported different:\n%s", out.String())
	}
	if !strings.HasSuffix(out.String(), "runcompare: outputs=3 equal=2 near=1 differ=0 missing=0\n") {
		t.Errorf("summary:\n%s", out.String())
	}
	delete(b, "route.order")
	b["fit.threshold"] = "38"
	out.Reset()
	if compare(&out, a, b, o) || !strings.Contains(out.String(), "DIFFER  fit.threshold") || !strings.Contains(out.String(), "MISSING route.order") {
		t.Errorf("a moved threshold and a missing output passed:\n%s", out.String())
	}
	if _, err := readOutputs(strings.NewReader(`{"kind":"cached","step":"x"}` + "\n")); err == nil || !strings.Contains(err.Error(), "--no-cache") {
		t.Errorf("a cached step must be refused (it computed nothing): %v", err)
	}
}

// TestTwoCPURuns runs a spec twice through the real host on the CPU (the
// binaries of `make build`, which `make test` runs first) and compares the
// runs: they must agree, and a run on other data must not.
func TestTwoCPURuns(t *testing.T) {
	root, _ := filepath.Abs("../..")
	host := filepath.Join(root, "bin", "shammie")
	plugins, _ := filepath.Glob(filepath.Join(root, "bin", "shammie-plugin-linreg*"))
	if _, err := os.Stat(host); err != nil || len(plugins) == 0 {
		t.Skip("bin/shammie and the linreg example plugin are not built: run `make build` (make test does)")
	}
	dir := t.TempDir()
	spec, err := os.ReadFile(filepath.Join(root, "examples", "linreg", "linreg.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "linreg.hcl"), spec, 0o644); err != nil {
		t.Fatal(err)
	}
	sh := func(args ...string) []byte {
		t.Helper()
		cmd := exec.Command(host, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "SHAMMIE_PLUGIN_PATH="+filepath.Join(root, "bin"))
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("shammie %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return out
	}
	sh("init", "linreg.hcl")
	run := func(store string, samples int) map[string]string {
		out := sh("run", "--json", "--store", filepath.Join(dir, store), "-var", fmt.Sprintf("samples=%d", samples), "linreg.hcl")
		m, err := readOutputs(bytes.NewReader(out))
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	a, b := run("a", 300), run("b", 300)
	var out bytes.Buffer
	o := options{def: tolerance{rtol: 0.05, atol: 0.01}, intExact: true}
	if !compare(&out, a, b, o) {
		t.Errorf("two CPU runs of the same spec differ:\n%s", out.String())
	}
	t.Log(out.String())
	c := run("c", 400)
	out.Reset()
	o.def = tolerance{} // exact
	if compare(&out, a, c, o) {
		t.Errorf("runs on different data compared equal exactly: the comparison sees nothing\n%s", out.String())
	}
}

// Streams of hosts before the one event record carried an output's value,
// JSON-encoded, in "message"; both shapes read the same.
func TestReadOutputsBothShapes(t *testing.T) {
	old := `{"kind":"output","step":"step.a","name":"x","message":"[1,2]"}` + "\n"
	cur := `{"kind":"output","step":"step.a","name":"x","output":{"type":["list","number"],"value":[1,2]}}` + "\n"
	for _, in := range []string{old, cur} {
		got, err := readOutputs(strings.NewReader(in))
		if err != nil {
			t.Fatal(err)
		}
		if got["step.a.x"] != "[1,2]" {
			t.Errorf("readOutputs(%s) = %q, want [1,2]", in, got["step.a.x"])
		}
	}
}
