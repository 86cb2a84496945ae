package pjrt

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// fakeTree builds, under root, a venv the way pip lays out JAX with CUDA 13
// (jax_plugins/xla_cuda13, nvidia/cu13/lib) plus CUDA 12-style per-library
// directories, with bin/python3 linking to a "system" python elsewhere.
func fakeTree(t *testing.T, root string) (venv, site string) {
	t.Helper()
	venv = filepath.Join(root, "opt", "torch", ".venv")
	site = filepath.Join(venv, "lib", "python3.12", "site-packages")
	for _, d := range []string{
		filepath.Join(site, "jax_plugins", "xla_cuda13"),
		filepath.Join(site, "nvidia", "cu13", "lib"),
		filepath.Join(site, "nvidia", "cu13", "bin"),
		filepath.Join(site, "nvidia", "cu13", "nvvm", "libdevice"),
		filepath.Join(site, "nvidia", "cudnn", "lib"),
		filepath.Join(site, "nvidia", "nccl"), // no lib/: skipped
		filepath.Join(venv, "bin"),
		filepath.Join(root, "usr", "bin"),
	} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	touch(t, filepath.Join(site, "jax_plugins", "xla_cuda13", "xla_cuda_plugin.so"))
	touch(t, filepath.Join(root, "usr", "bin", "python3.12"))
	if err := os.Symlink(filepath.Join(root, "usr", "bin", "python3.12"), filepath.Join(venv, "bin", "python3")); err != nil {
		t.Fatal(err)
	}
	return venv, site
}

func touch(t *testing.T, p string) {
	t.Helper()
	if err := os.WriteFile(p, nil, 0o755); err != nil {
		t.Fatal(err)
	}
}

// fakeEnv sees only root: PATH, variables and system globs are the test's.
func fakeEnv(root string, vars map[string]string) env {
	return env{
		getenv: func(k string) string { return vars[k] },
		lookPath: func(name string) (string, error) {
			for _, d := range filepath.SplitList(vars["PATH"]) {
				if p := filepath.Join(d, name); isFile(p) {
					return p, nil
				}
			}
			return "", errors.New("not found")
		},
		systemGlobs: []string{filepath.Join(root, "usr", "lib", "python3", "dist-packages")},
	}
}

func TestFindThroughPythonInPath(t *testing.T) {
	root := t.TempDir()
	venv, site := fakeTree(t, root)
	s, err := fakeEnv(root, map[string]string{"PATH": filepath.Join(venv, "bin")}).find("cuda")
	if err != nil {
		t.Fatal(err)
	}
	want := Setup{
		Name:        "cuda",
		Plugin:      filepath.Join(site, "jax_plugins", "xla_cuda13", "xla_cuda_plugin.so"),
		LibDirs:     []string{filepath.Join(site, "nvidia", "cu13", "lib"), filepath.Join(site, "nvidia", "cudnn", "lib")},
		CUDADataDir: filepath.Join(site, "nvidia", "cu13"),
	}
	if d := cmp.Diff(want, s); d != "" {
		t.Errorf("Find (-want +got):\n%s", d)
	}

	// The environment a plugin process gets: user values win, lists are
	// prepended, nothing is added twice.
	env := s.Env([]string{"HOME=/root", "LD_LIBRARY_PATH=/usr/local/nvidia/lib64:" + want.LibDirs[1], "PATH=/usr/bin"})
	got := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		got[k] = v
	}
	wantEnv := map[string]string{
		"HOME":            "/root",
		PathEnv:           filepath.Dir(want.Plugin),
		"LD_LIBRARY_PATH": want.LibDirs[0] + ":/usr/local/nvidia/lib64:" + want.LibDirs[1],
		"XLA_FLAGS":       "--xla_gpu_cuda_data_dir=" + want.CUDADataDir,
		"PATH":            filepath.Join(want.CUDADataDir, "bin") + ":/usr/bin",
	}
	if d := cmp.Diff(wantEnv, got); d != "" {
		t.Errorf("Env (-want +got):\n%s", d)
	}
	if len(env) != len(wantEnv) {
		t.Errorf("Env has %d entries, want %d (a variable appears twice?): %q", len(env), len(wantEnv), env)
	}
	if s.Ready([]string{"LD_LIBRARY_PATH=/x"}) || !s.Ready(env) {
		t.Error("Ready: wrong about which environment has the CUDA libraries")
	}
	user := s.Env([]string{PathEnv + "=/mine", "XLA_FLAGS=--xla_gpu_cuda_data_dir=/cuda"})
	if !slices.Contains(user, PathEnv+"=/mine") || !slices.Contains(user, "XLA_FLAGS=--xla_gpu_cuda_data_dir=/cuda") {
		t.Errorf("the user's own settings were overridden: %q", user)
	}
}

func TestFindOtherPlaces(t *testing.T) {
	root := t.TempDir()
	venv, site := fakeTree(t, root)
	plugin := filepath.Join(site, "jax_plugins", "xla_cuda13", "xla_cuda_plugin.so")
	// A pyenv root whose version is the venv (same layout: versions/X/lib/python3*/site-packages).
	if err := os.MkdirAll(filepath.Join(root, "opt", "torch", "pyenv", "versions"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(venv, filepath.Join(root, "opt", "torch", "pyenv", "versions", "3.12.3")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		vars map[string]string
	}{
		{"VIRTUAL_ENV", map[string]string{"VIRTUAL_ENV": venv}},
		{"CONDA_PREFIX", map[string]string{"CONDA_PREFIX": venv}},
		{"pyenv", map[string]string{"PYENV_ROOT": filepath.Join(root, "opt", "torch", "pyenv")}},
		{"PJRT_PLUGIN_LIBRARY_PATH directory", map[string]string{PathEnv: "/nowhere:" + filepath.Dir(plugin)}},
		{"PJRT_PLUGIN_LIBRARY_PATH file", map[string]string{PathEnv: plugin}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := fakeEnv(root, tc.vars).find("cuda")
			if err != nil {
				t.Fatal(err)
			}
			if real, _ := filepath.EvalSymlinks(s.Plugin); real != plugin || len(s.LibDirs) != 2 {
				t.Errorf("found %+v", s)
			}
		})
	}
}

func TestFindErrorSaysWhere(t *testing.T) {
	root := t.TempDir()
	empty := filepath.Join(root, "venv", "lib", "python3.11", "site-packages")
	if err := os.MkdirAll(filepath.Join(root, "venv", "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(empty, 0o755); err != nil {
		t.Fatal(err)
	}
	touch(t, filepath.Join(root, "venv", "bin", "python3"))
	_, err := fakeEnv(root, map[string]string{"PATH": filepath.Join(root, "venv", "bin")}).find("cuda")
	if err == nil {
		t.Fatal("found a plugin in an empty tree")
	}
	for _, want := range []string{empty, "jax_plugins/xla_cuda*/xla_cuda_plugin.so", PathEnv, "jax[cuda13]"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	_, err = fakeEnv(root, map[string]string{PathEnv: filepath.Join(root, "missing")}).find("cuda")
	if err == nil || !strings.Contains(err.Error(), filepath.Join(root, "missing")+" (missing)") {
		t.Errorf("PJRT_PLUGIN_LIBRARY_PATH pointing nowhere: %v", err)
	}
	_, err = fakeEnv(root, nil).find("cuda")
	if err == nil || !strings.Contains(err.Error(), "no site-packages found") {
		t.Errorf("no Python at all: %v", err)
	}
}
