package main

import (
	"context"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/shammie-ml/shammie/sdk"
	"github.com/shammie-ml/shammie/sdk/pluginhost"
)

// TestBuildsOutsideTheWorkspace does what the author guide tells a
// third-party author to do: copy this template into a directory of its own,
// rename the module, point the SDK at a local checkout with a replace, and
// build with GOWORK=off and the version stamped from VERSION. The binary
// must then report that version and the SDK's.
func TestBuildsOutsideTheWorkspace(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: builds a GoMLX binary")
	}
	sdkDir, err := filepath.Abs("../../sdk")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(sdkDir, "go.mod")); err != nil {
		t.Skipf("no SDK checkout at %s: %v", sdkDir, err)
	}
	dir := filepath.Join(t.TempDir(), "myplugin")
	copyTemplate(t, ".", dir)

	const module = "example.com/myplugin"
	goCmd(t, dir, "mod", "edit", "-module", module, "-replace", "github.com/shammie-ml/shammie/sdk="+sdkDir)
	// The imports of the template's own packages follow the module.
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(p, ".go") {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(p, []byte(strings.ReplaceAll(string(b), "github.com/shammie-ml/shammie/examples/linreg", module)), 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	version, err := os.ReadFile(filepath.Join(dir, "VERSION"))
	if err != nil {
		t.Fatal(err)
	}
	v := strings.TrimSpace(string(version))
	bin := filepath.Join(dir, "shammie-plugin-linreg_v"+v)
	goCmd(t, dir, "build", "-ldflags", "-X main.version="+v, "-o", bin, ".")

	c, err := pluginhost.Launch(context.Background(), pluginhost.LaunchOptions{Path: bin, AutoMTLS: true})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Kill()
	md, err := c.Metadata(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if md.Name != "linreg" || md.Version != v || md.SDKVersion != sdk.Version {
		t.Errorf("metadata %+v, want linreg %s built with SDK %s", md, v, sdk.Version)
	}
}

// copyTemplate copies the template's sources, module files and VERSION
// (not the tests, which need the workspace's plugintest host helpers).
func copyTemplate(t *testing.T, from, to string) {
	t.Helper()
	err := filepath.WalkDir(from, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(from, p)
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(to, rel), 0o755)
		}
		base := filepath.Base(p)
		if strings.HasSuffix(base, "_test.go") || !(strings.HasSuffix(base, ".go") || base == "go.mod" || base == "go.sum" || base == "VERSION") {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(to, rel), b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// goCmd runs the go command in dir outside any workspace. -mod=mod lets it
// complete go.sum from the module cache (or the proxy) the way `go mod
// tidy` would for an author.
func goCmd(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("go", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=-mod=mod")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go %s: %v\n%s", strings.Join(args, " "), err, out)
	}
}
