// Package pjrt finds what an XLA backend needs on a GPU machine — the PJRT
// plugin (JAX's site-packages/jax_plugins/xla_cuda*/xla_cuda_plugin.so) and
// the CUDA libraries pip installs beside it (site-packages/nvidia/*/lib) —
// and the environment a process must start with to use them. Nothing is
// downloaded: it only looks. Plain Go (no GoMLX, no cgo), so the host, which
// launches plugins, uses it too.
//
// Where it looks, in order:
//  1. PJRT_PLUGIN_LIBRARY_PATH (':'-separated directories or .so files); when
//     set it is the only place searched for the plugin.
//  2. The site-packages of the python3 (then python) found in PATH, without
//     running it: <dir of python3>/../lib/python3*/site-packages, for the
//     path as found and with links resolved (a venv's python3 links to the
//     system one, but its packages are in the venv).
//  3. $VIRTUAL_ENV and $CONDA_PREFIX likewise, ~/.local/lib/python3*/site-packages,
//     pyenv's versions ($PYENV_ROOT or ~/.pyenv),
//     and the usual system and image locations (/usr/local/lib/python3*/{dist,site}-packages,
//     /usr/lib/python3/dist-packages, /opt/*/.venv, /opt/conda).
//
// The CUDA library directories are every site-packages/nvidia/*/lib (CUDA 12
// wheels: nvidia/cublas/lib, …; CUDA 13: nvidia/cu13/lib) of the
// site-packages that holds the plugin; the first nvidia/* directory with
// nvvm/libdevice is handed to XLA as --xla_gpu_cuda_data_dir (ptxas, libdevice).
package pjrt

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
)

// PathEnv is the variable that names PJRT plugins (the GoMLX convention).
const PathEnv = "PJRT_PLUGIN_LIBRARY_PATH"

// Setup is what a process needs to open "xla:<name>".
type Setup struct {
	Name   string // PJRT plugin name: "cuda", "cpu", …
	Plugin string // absolute path of the plugin's .so
	// LibDirs are CUDA library directories found beside the plugin (pip's
	// nvidia/*/lib); they must be on LD_LIBRARY_PATH when the process starts.
	LibDirs []string
	// CUDADataDir holds nvvm/libdevice (and bin/ptxas) for XLA; "" if none.
	CUDADataDir string
}

// env is what Find reads of the machine; tests replace it with a fake tree.
type env struct {
	getenv   func(string) string
	lookPath func(string) (string, error)
	// systemGlobs are the fixed site-packages patterns (step 3).
	systemGlobs []string
}

var host = env{
	getenv:   os.Getenv,
	lookPath: exec.LookPath,
	systemGlobs: []string{
		"/usr/local/lib/python3*/dist-packages",
		"/usr/local/lib/python3*/site-packages",
		"/usr/lib/python3/dist-packages",
		"/usr/lib/python3*/site-packages",
		"/opt/*/.venv/lib/python3*/site-packages",
		"/opt/*/venv/lib/python3*/site-packages",
		"/opt/*/lib/python3*/site-packages",
		"/opt/conda/lib/python3*/site-packages",
	},
}

// FileNames are the file names a PJRT plugin called name may have: JAX's
// wheels (jax_plugins/xla_cuda13/xla_cuda_plugin.so) and the go-xla conventions.
func FileNames(name string) []string {
	return []string{
		"xla_" + name + "_plugin.so",
		"pjrt_c_api_" + name + "_plugin.so",
		"pjrt-plugin-" + name + ".so",
		"pjrt_plugin_" + name + ".so",
	}
}

// Find locates the PJRT plugin called name and the CUDA libraries beside it.
// The error names every place it looked and what it looked for.
func Find(name string) (Setup, error) { return host.find(name) }

func (e env) find(name string) (Setup, error) {
	if name == "" {
		return Setup{}, fmt.Errorf("no PJRT plugin name: use e.g. \"xla:cuda\"")
	}
	if list := e.getenv(PathEnv); list != "" {
		p, tried := searchList(name, list)
		if p == "" {
			return Setup{}, fmt.Errorf("backend \"xla:%s\": no PJRT plugin (%s) in %s=%q (looked in %s); point it at the directory holding the plugin, or unset it to search the Python environments",
				name, strings.Join(FileNames(name), ", "), PathEnv, list, strings.Join(tried, ", "))
		}
		return e.withLibs(name, p), nil
	}
	sites := e.sitePackages()
	for _, site := range sites {
		if p := pluginIn(name, site); p != "" {
			return e.withLibs(name, p), nil
		}
	}
	looked := "no site-packages found (no python3 in PATH, no $VIRTUAL_ENV, nothing under the usual prefixes)"
	if len(sites) > 0 {
		looked = strings.Join(sites, ", ")
	}
	return Setup{}, fmt.Errorf("backend \"xla:%s\": no PJRT plugin found: %s is not set, and no site-packages holds jax_plugins/xla_%s*/xla_%s_plugin.so (looked in %s); "+
		"install JAX with CUDA (pip install \"jax[cuda13]\" or \"jax[cuda12]\") into the python3 in PATH, or set %s to the directory holding the plugin; nothing is downloaded automatically",
		name, PathEnv, name, name, looked, PathEnv)
}

// searchList searches a PJRT_PLUGIN_LIBRARY_PATH value.
func searchList(name, list string) (string, []string) {
	var tried []string
	for _, entry := range filepath.SplitList(list) {
		if entry == "" {
			continue
		}
		fi, err := os.Stat(entry)
		switch {
		case err != nil:
			tried = append(tried, entry+" (missing)")
		case !fi.IsDir():
			if slices.Contains(FileNames(name), filepath.Base(entry)) {
				abs, _ := filepath.Abs(entry)
				return abs, nil
			}
			tried = append(tried, entry)
		default:
			for _, n := range FileNames(name) {
				if p := filepath.Join(entry, n); isFile(p) {
					abs, _ := filepath.Abs(p)
					return abs, nil
				}
			}
			tried = append(tried, entry)
		}
	}
	return "", tried
}

// pluginIn is site/jax_plugins/xla_<name>*/<plugin file>, the newest
// (highest-sorting) directory first.
func pluginIn(name, site string) string {
	dirs, _ := filepath.Glob(filepath.Join(site, "jax_plugins", "xla_"+name+"*"))
	sort.Sort(sort.Reverse(sort.StringSlice(dirs)))
	for _, d := range dirs {
		for _, n := range FileNames(name) {
			if p := filepath.Join(d, n); isFile(p) {
				return p
			}
		}
	}
	return ""
}

// withLibs adds the CUDA libraries of the site-packages holding plugin
// (plugin = site/jax_plugins/xla_cuda13/xla_cuda_plugin.so, or a plugin
// directory given by hand whose grandparent has nvidia/).
func (e env) withLibs(name, plugin string) Setup {
	s := Setup{Name: name, Plugin: plugin}
	site := filepath.Dir(filepath.Dir(filepath.Dir(plugin)))
	libs, _ := filepath.Glob(filepath.Join(site, "nvidia", "*", "lib"))
	sort.Strings(libs)
	for _, l := range libs {
		if isDir(l) {
			s.LibDirs = append(s.LibDirs, l)
		}
	}
	cands, _ := filepath.Glob(filepath.Join(site, "nvidia", "*"))
	sort.Strings(cands)
	for _, c := range cands {
		if isDir(filepath.Join(c, "nvvm", "libdevice")) {
			s.CUDADataDir = c
			break
		}
	}
	return s
}

// sitePackages lists candidate site-packages directories, each once, in
// search order.
func (e env) sitePackages() []string {
	var out []string
	seen := map[string]bool{}
	add := func(patterns ...string) {
		for _, p := range patterns {
			m, _ := filepath.Glob(p)
			sort.Sort(sort.Reverse(sort.StringSlice(m))) // python3.12 before python3.10
			for _, d := range m {
				if !seen[d] && isDir(d) {
					seen[d] = true
					out = append(out, d)
				}
			}
		}
	}
	prefixSites := func(prefix string) []string {
		return []string{filepath.Join(prefix, "lib", "python3*", "site-packages"), filepath.Join(prefix, "lib", "python3*", "dist-packages")}
	}
	for _, py := range []string{"python3", "python"} {
		p, err := e.lookPath(py)
		if err != nil {
			continue
		}
		add(prefixSites(filepath.Dir(filepath.Dir(p)))...)
		if r, err := filepath.EvalSymlinks(p); err == nil && r != p {
			add(prefixSites(filepath.Dir(filepath.Dir(r)))...)
		}
	}
	for _, v := range []string{"VIRTUAL_ENV", "CONDA_PREFIX"} {
		if d := e.getenv(v); d != "" {
			add(prefixSites(d)...)
		}
	}
	if h := e.getenv("HOME"); h != "" {
		add(filepath.Join(h, ".local", "lib", "python3*", "site-packages"))
	}
	// pyenv: python3 in PATH is a shim script; its interpreters live here.
	for _, root := range []string{e.getenv("PYENV_ROOT"), filepath.Join(e.getenv("HOME"), ".pyenv")} {
		if root != "" && root != ".pyenv" {
			add(filepath.Join(root, "versions", "*", "lib", "python3*", "site-packages"))
		}
	}
	add(e.systemGlobs...)
	return out
}

func isFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && !fi.IsDir()
}

func isDir(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}
