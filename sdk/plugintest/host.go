package plugintest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Build compiles the main package in pkgDir to the executable outPath.
// It is the non-testing form of BuildPlugin, for TestMain, where building
// once for the whole package keeps tests fast. Like `make build`, it stamps
// the version from pkgDir's VERSION file into main.version (see
// sdk.BuildVersion) when there is one.
func Build(pkgDir, outPath string) error {
	args := []string{"build", "-o", outPath}
	if v, err := os.ReadFile(filepath.Join(pkgDir, "VERSION")); err == nil {
		args = append(args, "-ldflags", "-X main.version="+strings.TrimSpace(string(v)))
	}
	cmd := exec.Command("go", append(args, ".")...)
	cmd.Dir = pkgDir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build %s: %v\n%s", pkgDir, err, out.String())
	}
	return nil
}

// BuildPlugin builds the plugin main package in pkgDir (for instance "."
// or "../..") into a temporary directory as shammie-plugin-<dir name> and
// returns the binary's path; the directory can then be put on
// SHAMMIE_PLUGIN_PATH (see HostOptions.PluginDirs).
func BuildPlugin(t testing.TB, pkgDir string) string {
	t.Helper()
	abs, err := filepath.Abs(pkgDir)
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "shammie-plugin-"+filepath.Base(abs))
	if err := Build(abs, out); err != nil {
		t.Fatal(err)
	}
	return out
}

// WorkspaceRoot returns the directory holding go.work above the current
// directory, or "" outside the Shammie workspace.
func WorkspaceRoot() string {
	wd, err := os.Getwd()
	if err != nil {
		return ""
	}
	for dir := wd; ; dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.work")); err == nil {
			return dir
		}
		if filepath.Dir(dir) == dir {
			return ""
		}
	}
}

// HostBinary builds the `shammie` host from the workspace (host/cmd/shammie)
// and returns its path, or skips the test when the workspace or the host
// sources are not there (a plugin developed outside the repository uses
// its own `shammie` binary instead).
func HostBinary(t testing.TB) string {
	t.Helper()
	root := WorkspaceRoot()
	src := filepath.Join(root, "host", "cmd", "shammie")
	if root == "" {
		t.Skip("not inside the Shammie workspace (no go.work above the working directory): cannot build the host")
	}
	if _, err := os.Stat(src); err != nil {
		t.Skipf("host sources not found at %s: %v", src, err)
	}
	out := filepath.Join(t.TempDir(), "shammie")
	if err := Build(src, out); err != nil {
		t.Fatal(err)
	}
	return out
}

// HostOptions adjusts RunHostWith.
type HostOptions struct {
	// Dir is the host's working directory (where it keeps .shammie/);
	// default a fresh t.TempDir(), so pass spec paths as absolute paths.
	Dir string
	// PluginDirs are put first on SHAMMIE_PLUGIN_PATH.
	PluginDirs []string
	// Env is added to the environment ("KEY=value").
	Env []string
	// Timeout kills the host; default 5 minutes.
	Timeout time.Duration
}

// HostResult is what the host printed and how it exited.
type HostResult struct {
	Stdout, Stderr string
	ExitCode       int
}

// RunHost runs the host binary with args in a fresh directory, with every
// plugin binary next to hostBin discoverable, and returns its output. A
// non-zero exit does not fail the test: check ExitCode.
func RunHost(t testing.TB, hostBin string, args ...string) *HostResult {
	t.Helper()
	return RunHostWith(t, hostBin, HostOptions{PluginDirs: []string{filepath.Dir(hostBin)}}, args...)
}

// RunHostWith is RunHost with options.
func RunHostWith(t testing.TB, hostBin string, o HostOptions, args ...string) *HostResult {
	t.Helper()
	if o.Dir == "" {
		o.Dir = t.TempDir()
	}
	if o.Timeout == 0 {
		o.Timeout = 5 * time.Minute
	}
	ctx, cancel := context.WithTimeout(context.Background(), o.Timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, hostBin, args...)
	cmd.Dir = o.Dir
	cmd.Env = os.Environ()
	if len(o.PluginDirs) > 0 {
		path := strings.Join(o.PluginDirs, string(os.PathListSeparator))
		if old := os.Getenv("SHAMMIE_PLUGIN_PATH"); old != "" {
			path += string(os.PathListSeparator) + old
		}
		cmd.Env = append(cmd.Env, "SHAMMIE_PLUGIN_PATH="+path)
	}
	cmd.Env = append(cmd.Env, o.Env...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	res := &HostResult{Stdout: stdout.String(), Stderr: stderr.String()}
	var exit *exec.ExitError
	switch {
	case ctx.Err() != nil:
		t.Fatalf("%s %s: killed after %s\nstdout:\n%s\nstderr:\n%s", hostBin, strings.Join(args, " "), o.Timeout, res.Stdout, res.Stderr)
	case errors.As(err, &exit):
		res.ExitCode = exit.ExitCode()
	case err != nil:
		t.Fatalf("running %s: %v", hostBin, err)
	}
	return res
}
