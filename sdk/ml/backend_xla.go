//go:build xla

package ml

import (
	"fmt"
	"os"
	"strings"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/xla"

	"github.com/shammie-ml/shammie/sdk/ml/pjrt"
)

func init() {
	// gomlx's xla package auto-installs (downloads) PJRT plugins from
	// New/GetAvailablePlugins unless told not to. We turn it off here, and in
	// addition always hand xla.NewWithOptions an absolute plugin path, the one
	// case in which v0.26 skips the auto-install branch altogether.
	xla.EnableAutoInstall(false)
	xlaOpener = openXLA
}

func openXLA(name string) (backends.Backend, error) {
	setup, err := pjrt.Find(name)
	if err != nil {
		return nil, err
	}
	path := setup.Plugin
	// go-xla v0.1.4 "helps" CUDA plugins that have a ../nvidia dir by pointing
	// XLA_FLAGS --xla_gpu_cuda_data_dir at a hard-coded developer home
	// directory; turn that check off unless the user chose otherwise.
	if _, set := os.LookupEnv("GOPJRT_CUDA_CHECKS"); !set {
		_ = os.Setenv("GOPJRT_CUDA_CHECKS", "0")
	}
	b, err := xla.NewWithOptions(path, nil)
	if err != nil {
		if !setup.Ready(os.Environ()) {
			return nil, fmt.Errorf("backend \"xla:%s\" with plugin %s: %w (the CUDA libraries in %s were not on LD_LIBRARY_PATH when this process started: `shammie run` sets it for the plugins it launches; a program of your own calls pjrt.Reexec first, or export LD_LIBRARY_PATH)",
				name, path, err, strings.Join(setup.LibDirs, ":"))
		}
		return nil, fmt.Errorf("backend \"xla:%s\" with plugin %s: %w", name, path, err)
	}
	return b, nil
}
