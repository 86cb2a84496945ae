// Package compute opens the GoMLX backend the router computes on.
//
// It is a stop-gap until sdk/ml.OpenBackend lands: the same rules (simplego
// with bounded parallelism on CPU; XLA never auto-installs a PJRT plugin).
package compute

import (
	"fmt"
	"strings"
	"sync"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/simplego"
	"github.com/gomlx/gomlx/backends/xla"
)

var (
	mu    sync.Mutex
	cache = map[string]backends.Backend{}
)

// Open returns the backend named "go" (pure Go, CPU) or "xla:<plugin>"
// (e.g. "xla:cuda"); backends are shared per name within the process since
// creating one (especially XLA's) is expensive.
func Open(name string) (backends.Backend, error) {
	if name == "" {
		name = "go"
	}
	mu.Lock()
	defer mu.Unlock()
	if b, ok := cache[name]; ok {
		return b, nil
	}
	var (
		b   backends.Backend
		err error
	)
	switch {
	case name == "go" || strings.HasPrefix(name, "go:"):
		cfg := strings.TrimPrefix(strings.TrimPrefix(name, "go"), ":")
		if cfg == "" {
			// simplego deadlocks were seen with its default parallelism.
			cfg = "parallelism=-1"
		}
		b, err = simplego.New(cfg)
	case strings.HasPrefix(name, "xla:"):
		// Never download a PJRT plugin at run time.
		xla.EnableAutoInstall(false)
		b, err = xla.New(strings.TrimPrefix(name, "xla:"))
	default:
		return nil, fmt.Errorf("unknown backend %q: want \"go\" or \"xla:<plugin>\" (e.g. xla:cuda)", name)
	}
	if err != nil {
		return nil, fmt.Errorf("opening GoMLX backend %q: %w", name, err)
	}
	cache[name] = b
	return b, nil
}
