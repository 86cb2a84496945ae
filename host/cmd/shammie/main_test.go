package main

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"
)

// binDir holds the real binaries the scripts run, built once by TestMain:
// shammie, the test plugin as shammie-plugin-test at version 0.1.0 (in
// binDir) and 0.2.0 (in binDir/v2), and the SDK-less rogue plugin.
var binDir string

func TestMain(m *testing.M) {
	os.Exit(buildAndRun(m))
}

func buildAndRun(m *testing.M) int {
	dir, err := os.MkdirTemp("", "shammie-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	binDir = dir
	builds := []struct{ out, pkg, ldflags string }{
		{filepath.Join(dir, "shammie"), ".", ""},
		{filepath.Join(dir, "shammie-plugin-test"), "../../internal/testplugin", ""},
		{filepath.Join(dir, "v2", "shammie-plugin-test"), "../../internal/testplugin", "-X main.version=0.2.0"},
		{filepath.Join(dir, "rogue", "shammie-plugin-rogue"), "../../internal/testplugin/rogue", ""},
	}
	for _, b := range builds {
		cmd := exec.Command("go", "build", "-o", b.out, "-ldflags", b.ldflags, b.pkg)
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "building %s: %v\n", b.pkg, err)
			return 1
		}
	}
	return m.Run()
}

func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Setup: func(env *testscript.Env) error {
			env.Setenv("PATH", binDir+string(os.PathListSeparator)+env.Getenv("PATH"))
			env.Setenv("PLUGIN", filepath.Join(binDir, "shammie-plugin-test"))
			env.Setenv("PLUGIN_V2", filepath.Join(binDir, "v2", "shammie-plugin-test"))
			env.Setenv("PLUGIN_DIR", binDir)
			env.Setenv("ROGUE", filepath.Join(binDir, "rogue", "shammie-plugin-rogue"))
			env.Setenv("PLUGIN_V2_DIR", filepath.Join(binDir, "v2"))
			// No plugins from the developer's home or environment.
			env.Setenv("HOME", env.WorkDir)
			env.Setenv("SHAMMIE_PLUGIN_PATH", "")
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"rc":       cmdRC,
			"tamper":   cmdTamper,
			"waitfile": cmdWaitFile,
			"pidgone":  cmdPIDGone,
			"killpid":  cmdKillPID,
			"chmodx":   cmdChmodX,
			"sleep":    cmdSleep,
			"flipbyte": cmdFlipByte,
		},
	})
}

// rc N prog args...: run prog and require exit code N (the documented
// exit codes matter to scripts that call shammie).
func cmdRC(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: rc CODE PROG [ARGS...]")
	}
	want, err := strconv.Atoi(args[0])
	ts.Check(err)
	err = ts.Exec(args[1], args[2:]...)
	got := 0
	var ee *exec.ExitError
	switch {
	case errors.As(err, &ee):
		got = ee.ExitCode()
	case err != nil:
		ts.Fatalf("%v", err)
	}
	if got != want {
		ts.Fatalf("%s exited with %d, want %d", args[1], got, want)
	}
}

// tamper FILE: append bytes to a file (a plugin binary changed after init).
func cmdTamper(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: tamper FILE")
	}
	f, err := os.OpenFile(ts.MkAbs(args[0]), os.O_APPEND|os.O_WRONLY, 0)
	ts.Check(err)
	_, err = f.Write([]byte("tampered"))
	ts.Check(err)
	ts.Check(f.Close())
}

// chmodx FILE: make a copied file executable (cp keeps no mode bits
// reliably across testscript versions).
func cmdChmodX(ts *testscript.TestScript, neg bool, args []string) {
	for _, a := range args {
		ts.Check(os.Chmod(ts.MkAbs(a), 0o755))
	}
}

// sleep DURATION: pause the script.
func cmdSleep(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: sleep DURATION")
	}
	d, err := time.ParseDuration(args[0])
	ts.Check(err)
	time.Sleep(d)
}

// waitfile FILE: wait up to 30 s for FILE to exist.
func cmdWaitFile(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: waitfile FILE")
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := os.Stat(ts.MkAbs(args[0])); err == nil {
			return
		}
		if time.Now().After(deadline) {
			ts.Fatalf("%s did not appear within 30s", args[0])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func readPID(ts *testscript.TestScript, file string) int {
	pid, err := strconv.Atoi(strings.TrimSpace(ts.ReadFile(file)))
	ts.Check(err)
	return pid
}

// alive reports whether pid runs (a zombie counts as dead: it has exited
// and only waits to be reaped, which an orphan's new parent may never do
// in a container).
func alive(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] != 'Z'
	}
	return true
}

// pidgone FILE: the process whose pid is in FILE must be gone within 15 s
// (the plugin a host left behind would be an orphan).
func cmdPIDGone(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: pidgone PIDFILE")
	}
	pid := readPID(ts, args[0])
	deadline := time.Now().Add(15 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			ts.Fatalf("process %d is still running: orphaned plugin", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// killpid [-KILL|-INT|-TERM] FILE: signal the process whose pid is in FILE.
func cmdKillPID(ts *testscript.TestScript, neg bool, args []string) {
	sig := syscall.SIGKILL
	if len(args) == 2 {
		switch args[0] {
		case "-KILL":
		case "-INT":
			sig = syscall.SIGINT
		case "-TERM":
			sig = syscall.SIGTERM
		default:
			ts.Fatalf("unknown signal %s", args[0])
		}
		args = args[1:]
	}
	if neg || len(args) != 1 {
		ts.Fatalf("usage: killpid [-SIG] PIDFILE")
	}
	ts.Check(syscall.Kill(readPID(ts, args[0]), sig))
}

// flipbyte DIR: flip the first byte of every regular file under DIR,
// keeping sizes (silent corruption of a run store's objects).
func cmdFlipByte(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: flipbyte DIR")
	}
	n := 0
	err := filepath.WalkDir(ts.MkAbs(args[0]), func(p string, d os.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil || len(b) == 0 {
			return err
		}
		b[0] ^= 0x20
		if err := os.Chmod(p, 0o644); err != nil {
			return err
		}
		n++
		return os.WriteFile(p, b, 0o444)
	})
	ts.Check(err)
	if n == 0 {
		ts.Fatalf("no file under %s", args[0])
	}
}
