//go:build xla

package ml

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/xla"
)

// PJRTPathEnv is where the XLA backend looks for PJRT plugins, and the only
// place: nothing is ever downloaded.
const PJRTPathEnv = PJRTPathEnvName

func init() {
	// gomlx's xla package auto-installs (downloads) PJRT plugins from
	// New/GetAvailablePlugins unless told not to. We turn it off here, and in
	// addition always hand xla.NewWithOptions an absolute plugin path, the one
	// case in which v0.26 skips the auto-install branch altogether.
	xla.EnableAutoInstall(false)
	xlaOpener = openXLA
}

// pluginFileNames are the file names a PJRT plugin called name may have:
// the go-xla convention and JAX's wheels (jax_plugins/xla_cuda12/xla_cuda_plugin.so).
func pluginFileNames(name string) []string {
	return []string{
		"pjrt_c_api_" + name + "_plugin.so",
		"xla_" + name + "_plugin.so",
		"pjrt-plugin-" + name + ".so",
		"pjrt_plugin_" + name + ".so",
	}
}

// findPJRTPlugin searches the ':'-separated PJRT_PLUGIN_LIBRARY_PATH (entries
// may be directories or the .so itself) for the named plugin.
func findPJRTPlugin(name string) (string, error) {
	env := os.Getenv(PJRTPathEnv)
	hint := fmt.Sprintf("set %s to the directory holding the plugin; on a machine with JAX that is the "+
		"site-packages/jax_plugins/xla_%s* directory that holds xla_%s_plugin.so (nothing is downloaded automatically)",
		PJRTPathEnv, name, name)
	if env == "" {
		return "", fmt.Errorf("backend \"xla:%s\": %s is not set; %s", name, PJRTPathEnv, hint)
	}
	var tried []string
	for _, entry := range filepath.SplitList(env) {
		if entry == "" {
			continue
		}
		fi, err := os.Stat(entry)
		if err != nil {
			tried = append(tried, entry+" (missing)")
			continue
		}
		if !fi.IsDir() {
			base := filepath.Base(entry)
			for _, n := range pluginFileNames(name) {
				if base == n {
					return filepath.Abs(entry)
				}
			}
			tried = append(tried, entry)
			continue
		}
		for _, n := range pluginFileNames(name) {
			p := filepath.Join(entry, n)
			if _, err := os.Stat(p); err == nil {
				return filepath.Abs(p)
			}
		}
		tried = append(tried, entry)
	}
	return "", fmt.Errorf("backend \"xla:%s\": no PJRT plugin (%s) in %s=%q (looked in %s); %s",
		name, strings.Join(pluginFileNames(name), ", "), PJRTPathEnv, env, strings.Join(tried, ", "), hint)
}

func openXLA(name string) (backends.Backend, error) {
	path, err := findPJRTPlugin(name)
	if err != nil {
		return nil, err
	}
	// go-xla v0.1.4 "helps" CUDA plugins that have a ../nvidia dir by pointing
	// XLA_FLAGS --xla_gpu_cuda_data_dir at a hard-coded developer home
	// directory; turn that check off unless the user chose otherwise.
	if _, set := os.LookupEnv("GOPJRT_CUDA_CHECKS"); !set {
		_ = os.Setenv("GOPJRT_CUDA_CHECKS", "0")
	}
	b, err := xla.NewWithOptions(path, nil)
	if err != nil {
		return nil, fmt.Errorf("backend \"xla:%s\" with plugin %s: %w", name, path, err)
	}
	return b, nil
}
