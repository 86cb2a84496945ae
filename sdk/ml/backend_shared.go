package ml

import (
	"sync"

	"github.com/gomlx/gomlx/backends"
)

// A plugin process serves many steps, and opening a backend is expensive
// (XLA's holds a GPU client). Each step acquires the process's shared
// backend of its name and releases it when done; the last release
// finalizes it, so nothing leaks from one step to the next and concurrent
// steps share one. Every plugin opens its backend this way:
//
//	backend, release, err := ml.AcquireBackend(run.Backend)
//	if err != nil { return err }
//	defer release()
//
// (OpenBackend remains for tools that own their backend outright.)

type sharedBackend struct {
	b    backends.Backend
	refs int
}

var backendCache = struct {
	sync.Mutex
	m map[string]*sharedBackend
	// opened and finalized count backends, for tests.
	opened, finalized int
}{m: map[string]*sharedBackend{}}

// AcquireBackend returns the process's backend named name (see OpenBackend
// for the names; "" is "go"), opening it if no step holds it, and a release
// function to call when the step is done with it (calling it again is a
// no-op). The last release finalizes the backend.
func AcquireBackend(name string) (backends.Backend, func(), error) {
	if name == "" {
		name = BackendGo
	}
	backendCache.Lock()
	defer backendCache.Unlock()
	sb, ok := backendCache.m[name]
	if !ok {
		b, err := OpenBackend(name)
		if err != nil {
			return nil, nil, err
		}
		sb = &sharedBackend{b: b}
		backendCache.m[name] = sb
		backendCache.opened++
	}
	sb.refs++
	var once sync.Once
	release := func() {
		once.Do(func() {
			backendCache.Lock()
			defer backendCache.Unlock()
			sb.refs--
			if sb.refs == 0 {
				delete(backendCache.m, name)
				sb.b.Finalize()
				backendCache.finalized++
			}
		})
	}
	return sb.b, release, nil
}

// liveBackends lists every backend OpenBackend returned, until finalized.
var liveBackends struct {
	sync.Mutex
	all []backends.Backend
}

// LiveBackends is the number of backends opened in this process (by
// OpenBackend or AcquireBackend) and not finalized yet; plugin tests check
// it is 0 after a step, which a reused plugin process needs.
func LiveBackends() int {
	liveBackends.Lock()
	defer liveBackends.Unlock()
	kept := liveBackends.all[:0]
	for _, b := range liveBackends.all {
		if !b.IsFinalized() {
			kept = append(kept, b)
		}
	}
	clear(liveBackends.all[len(kept):])
	liveBackends.all = kept
	return len(kept)
}
