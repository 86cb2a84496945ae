package pjrt

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
)

// Why an environment and not just a path: the PJRT plugin is dlopen'ed by
// absolute path, but the CUDA libraries it links against (libcudart,
// libcublas, cuDNN…) are found through LD_LIBRARY_PATH, which the dynamic
// loader reads once, when the process starts. So the process that opens the
// backend must be started with it: the host sets it for every plugin it
// launches (ChildEnv), and a standalone program (a benchmark) re-executes
// itself once with it (Reexec).

// reexecMark stops a second re-execution.
const reexecMark = "SHAMMIE_PJRT_REEXEC"

// Env returns environ (KEY=VALUE entries) with what s needs added:
// PJRT_PLUGIN_LIBRARY_PATH (when unset), the CUDA library directories in
// front of LD_LIBRARY_PATH (those not already on it), XLA's
// --xla_gpu_cuda_data_dir (unless XLA_FLAGS names one) and its bin/ on PATH.
// Values already set by the user win.
func (s Setup) Env(environ []string) []string {
	vars := map[string]string{}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			vars[k] = v
		}
	}
	set := map[string]string{}
	if vars[PathEnv] == "" {
		set[PathEnv] = filepath.Dir(s.Plugin)
	}
	if add := s.missingLibDirs(vars["LD_LIBRARY_PATH"]); len(add) > 0 {
		set["LD_LIBRARY_PATH"] = joinList(append(add, filepath.SplitList(vars["LD_LIBRARY_PATH"])...))
	}
	if s.CUDADataDir != "" && !strings.Contains(vars["XLA_FLAGS"], "--xla_gpu_cuda_data_dir") {
		set["XLA_FLAGS"] = strings.TrimSpace(vars["XLA_FLAGS"] + " --xla_gpu_cuda_data_dir=" + s.CUDADataDir)
		if bin := filepath.Join(s.CUDADataDir, "bin"); isDir(bin) && !slices.Contains(filepath.SplitList(vars["PATH"]), bin) {
			set["PATH"] = joinList(append([]string{bin}, filepath.SplitList(vars["PATH"])...))
		}
	}
	out := make([]string, 0, len(environ)+len(set))
	for _, kv := range environ {
		k, _, _ := strings.Cut(kv, "=")
		if _, replaced := set[k]; !replaced {
			out = append(out, kv)
		}
	}
	for _, k := range []string{PathEnv, "LD_LIBRARY_PATH", "XLA_FLAGS", "PATH"} {
		if v, ok := set[k]; ok {
			out = append(out, k+"="+v)
		}
	}
	return out
}

// missingLibDirs are s.LibDirs not on the list ld.
func (s Setup) missingLibDirs(ld string) []string {
	have := filepath.SplitList(ld)
	var add []string
	for _, d := range s.LibDirs {
		if !slices.Contains(have, d) {
			add = append(add, d)
		}
	}
	return add
}

// Ready reports whether a process started with environ can open s: its
// CUDA library directories are on LD_LIBRARY_PATH.
func (s Setup) Ready(environ []string) bool {
	for _, kv := range environ {
		if v, ok := strings.CutPrefix(kv, "LD_LIBRARY_PATH="); ok {
			return len(s.missingLibDirs(v)) == 0
		}
	}
	return len(s.LibDirs) == 0
}

// Describe is one line for logs: the plugin and the libraries.
func (s Setup) Describe() string {
	libs := "no pip CUDA libraries beside it (the system's are used)"
	if len(s.LibDirs) > 0 {
		libs = "CUDA libraries " + strings.Join(s.LibDirs, ":")
	}
	return fmt.Sprintf("PJRT plugin %s; %s", s.Plugin, libs)
}

var child struct {
	once sync.Once
	add  []string
}

// ChildEnv is what the host adds to the environment of a process it
// launches (a plugin): when a CUDA PJRT plugin is found, the entries of
// Setup.Env that differ from the host's own, so that a step on "xla:cuda"
// works without the user exporting anything; nothing otherwise. Entries
// come as KEY=VALUE, later ones overriding (os/exec keeps the last of a
// key). Searched once per process.
func ChildEnv() []string {
	child.once.Do(func() {
		if s, err := Find("cuda"); err == nil {
			child.add = Added(os.Environ(), s.Env(os.Environ()))
		}
	})
	return slices.Clone(child.add)
}

// Added lists the entries of after that are not in before.
func Added(before, after []string) []string {
	var add []string
	for _, kv := range after {
		if !slices.Contains(before, kv) {
			add = append(add, kv)
		}
	}
	return add
}

// Reexec is for a standalone program about to open "xla:"+name: it finds the
// plugin and, when this process did not start with the environment the
// plugin needs, executes the same binary again with it (same pid, arguments
// and stdio; once: a marker variable prevents a loop). It returns only when
// no re-execution is needed, or with an error naming what it looked for.
// Call it first thing in main, before any goroutine or output.
func Reexec(name string) (Setup, error) {
	s, err := Find(name)
	if err != nil {
		return s, err
	}
	environ := os.Environ()
	if s.Ready(environ) && os.Getenv(PathEnv) != "" {
		return s, nil
	}
	if os.Getenv(reexecMark) != "" {
		// Already re-executed: what is missing cannot be fixed this way.
		return s, nil
	}
	exe, err := os.Executable()
	if err != nil {
		return s, fmt.Errorf("re-executing with the CUDA environment: %w", err)
	}
	env := slices.DeleteFunc(s.Env(environ), func(kv string) bool { return strings.HasPrefix(kv, reexecMark+"=") })
	env = append(env, reexecMark+"=1")
	return s, syscall.Exec(exe, os.Args, env)
}

func joinList(dirs []string) string {
	return strings.Join(dirs, string(filepath.ListSeparator))
}
