// Package compute opens the GoMLX backend the router computes on, through
// sdk/ml.OpenBackend, and shares one per backend name within the process
// (creating a backend, especially XLA's, is expensive and the router opens
// it from several places).
package compute

import (
	"sync"

	"github.com/gomlx/gomlx/backends"

	"github.com/shammie-ml/shammie/sdk/ml"
)

var (
	mu    sync.Mutex
	cache = map[string]backends.Backend{}
)

// Open returns the backend named "go" (pure Go, CPU) or "xla:<plugin>"
// (e.g. "xla:cuda", in binaries built with -tags xla).
func Open(name string) (backends.Backend, error) {
	if name == "" {
		name = ml.BackendGo
	}
	mu.Lock()
	defer mu.Unlock()
	if b, ok := cache[name]; ok {
		return b, nil
	}
	b, err := ml.OpenBackend(name)
	if err != nil {
		return nil, err
	}
	cache[name] = b
	return b, nil
}
