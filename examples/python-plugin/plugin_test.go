// Package pythonplugin_test drives the Python example plugin through the
// real host: init locks its launcher, run trains, a crash is reported with
// the Python traceback, SIGINT stops it. (The plugin itself is plugin.py;
// this Go file is only its end-to-end test.)
package pythonplugin_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/shammie-ml/shammie/sdk/plugintest"
)

// python is the interpreter the launcher runs: Debian's, which carries
// python3-grpcio, python3-protobuf, python3-cryptography and python3-torch.
const python = "/usr/bin/python3"

func TestScripts(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: trains with PyTorch")
	}
	if out, err := exec.Command(python, "-c", "import grpc, google.protobuf, cryptography, torch").CombinedOutput(); err != nil {
		t.Skipf("the Python plugin needs Debian's python3-grpcio, python3-protobuf, python3-cryptography and python3-torch "+
			"(`make python-plugin-deps` installs them as root): %s: %v\n%s", python, err, out)
	}
	host := plugintest.HostBinary(t)
	here, err := filepath.Abs(".")
	if err != nil {
		t.Fatal(err)
	}
	// The launcher `make python-plugin` installs: the host runs a private
	// copy of it, so it names plugin.py by its absolute path.
	launcher := filepath.Join(t.TempDir(), "shammie-plugin-pyclassifier")
	script := fmt.Sprintf("#!/bin/sh\nexec %s -u %s \"$@\"\n", python, filepath.Join(here, "plugin.py"))
	if err := os.WriteFile(launcher, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(env *testscript.Env) error {
			env.Setenv("PATH", filepath.Dir(host)+string(os.PathListSeparator)+env.Getenv("PATH"))
			env.Setenv("LAUNCHER", launcher)
			env.Setenv("HOME", env.WorkDir)
			env.Setenv("SHAMMIE_PLUGIN_PATH", "")
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"waitfile": waitFile,
		},
	})
}

// waitfile PATH: wait up to 60 s for PATH to exist.
func waitFile(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: waitfile PATH")
	}
	p := ts.MkAbs(args[0])
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if _, err := os.Stat(p); err == nil {
			return
		}
	}
	ts.Fatalf("%s", fmt.Sprintf("%s did not appear within 60s", p))
}
