// Package ml is Shammie's one GoMLX model kit: backends, the fast matmul,
// the decoder-only transformer, tokenizer and data loaders, the training loop
// and safetensors checkpoints. Every plugin that computes with GoMLX goes
// through it, so that each idea has exactly one implementation.
package ml

import (
	"fmt"
	"strings"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/simplego"
)

// BackendGo is the pure-Go CPU backend (GoMLX simplego); it is the default.
const BackendGo = "go"

// simplegoConfig is the configuration every simplego backend is opened with.
//
// Why "ops_sequential": in v0.26, with its default settings simplego runs
// independent graph nodes in parallel, each inside a slot of a worker pool
// that holds 2×NumCPU slots (workersPool.WaitToStart). A DotGeneral node (and
// Erf) then asks the SAME pool for more slots to split its batch across
// workers (WaitToStart again) and waits for them (wg.Wait) while still holding
// its own slot and without marking itself asleep. When as many matmuls as
// there are slots run at once — the backward pass of a transformer has many
// independent matmuls, and on a 2-CPU machine there are only 4 slots — each
// waits for a slot that only another waiting matmul could free: a deadlock.
// "parallelism=-1" avoided it only because an unlimited pool starts a
// goroutine for every task (and it prints to stdout, which a plugin must not
// touch). With sequential op execution only the executing goroutine takes
// slots, the tasks it starts never wait on the pool, and the matmuls still
// split across all cores, which is where nearly all the time goes.
const simplegoConfig = "ops_sequential"

// PJRTPathEnvName names PJRT plugins; unset, the XLA backend searches the
// Python environments for JAX's (package pjrt says where). Nothing is downloaded.
const PJRTPathEnvName = "PJRT_PLUGIN_LIBRARY_PATH"

// xlaOpener is set by backend_xla.go when the binary is built with the "xla"
// build tag; nil otherwise.
var xlaOpener func(plugin string) (backends.Backend, error)

// OpenBackend opens the GoMLX backend a step asked for:
//
//   - "" or "go": simplego, configured so it cannot deadlock (see
//     simplegoConfig). GOMLX_BACKEND is ignored on purpose: the host decides.
//   - "xla:<plugin>" (e.g. "xla:cuda", "xla:cpu"): XLA through a PJRT plugin
//     found ONLY through PJRT_PLUGIN_LIBRARY_PATH; auto-install (which would
//     download plugins) is disabled in code. Needs a binary built with
//     `go build -tags xla` (cgo); other builds return an error saying so.
//
// The caller owns the backend and should Finalize it when done.
func OpenBackend(name string) (backends.Backend, error) {
	b, err := openBackend(name)
	if err == nil {
		liveBackends.Lock()
		liveBackends.all = append(liveBackends.all, b)
		liveBackends.Unlock()
	}
	return b, err
}

func openBackend(name string) (backends.Backend, error) {
	switch {
	case name == "" || name == BackendGo:
		b, err := simplego.New(simplegoConfig)
		if err != nil {
			return nil, fmt.Errorf("opening the go backend: %w", err)
		}
		return b, nil
	case strings.HasPrefix(name, "xla:"):
		plugin := strings.TrimPrefix(name, "xla:")
		if plugin == "" {
			return nil, fmt.Errorf("backend %q names no PJRT plugin: use e.g. \"xla:cuda\" or \"xla:cpu\"", name)
		}
		if xlaOpener == nil {
			return nil, fmt.Errorf("backend %q: this binary was built without XLA support; rebuild it with `go build -tags xla` (needs cgo) or use backend \"go\"", name)
		}
		return xlaOpener(plugin)
	default:
		return nil, fmt.Errorf("unknown backend %q: use \"go\" (pure Go, CPU) or \"xla:<plugin>\" such as \"xla:cuda\"", name)
	}
}

// Backends lists the backend names this build can open, for a plugin's
// Metadata.Backends.
func Backends() []string {
	if xlaOpener == nil {
		return []string{BackendGo}
	}
	return []string{BackendGo, "xla:cuda", "xla:cpu"}
}
