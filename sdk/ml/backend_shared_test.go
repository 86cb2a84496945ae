package ml

import (
	"sync"
	"testing"
)

// TestAcquireBackendSharesAndReleases: steps of one process share a
// backend; the last release finalizes it and the next step opens a new one.
func TestAcquireBackendSharesAndReleases(t *testing.T) {
	opened0, final0 := backendCache.opened, backendCache.finalized
	a, relA, err := AcquireBackend("")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 4 { // concurrent steps
		wg.Add(1)
		go func() {
			defer wg.Done()
			b, rel, err := AcquireBackend("go")
			if err != nil || b != a {
				t.Errorf("concurrent acquire: %v, same backend %v", err, b == a)
			}
			rel()
			rel() // a second release is a no-op
		}()
	}
	wg.Wait()
	if a.IsFinalized() {
		t.Fatal("the backend was finalized while a step still held it")
	}
	relA()
	if !a.IsFinalized() {
		t.Fatal("the last release did not finalize the backend (a reused plugin process would leak one per step)")
	}
	b, relB, err := AcquireBackend("go")
	if err != nil {
		t.Fatal(err)
	}
	defer relB()
	if b == a || b.IsFinalized() {
		t.Fatal("after the last release the next step must get a fresh backend")
	}
	if got := backendCache.opened - opened0; got != 2 {
		t.Errorf("opened %d backends, want 2", got)
	}
	if got := backendCache.finalized - final0; got != 1 {
		t.Errorf("finalized %d backends, want 1", got)
	}
	if _, _, err := AcquireBackend("nope"); err == nil {
		t.Error("an unknown backend name was accepted")
	}
}
