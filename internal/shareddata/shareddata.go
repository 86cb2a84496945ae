// Package shareddata finds the project's shared real-data sets for the tests
// of this repository's modules (they live outside the checkout, in
// shared/data or $SHAMMIE_SHARED_DATA). It is internal to the repository: a
// plugin author's tests bring their own data.
package shareddata

import (
	"os"
	"path/filepath"
	"testing"
)

// Dir returns the directory of the project's shared real-data sets
// (the `shared/data` folder next to the checkout, or $SHAMMIE_SHARED_DATA),
// or "" when it cannot be found.
func Dir() string {
	if d := os.Getenv("SHAMMIE_SHARED_DATA"); d != "" {
		return d
	}
	wd, err := os.Getwd()
	if err != nil {
		return ""
	}
	// Walk up from the package directory: the checkout's parent holds shared/.
	for dir := wd; ; dir = filepath.Dir(dir) {
		cand := filepath.Join(dir, "shared", "data")
		if fi, err := os.Stat(cand); err == nil && fi.IsDir() {
			return cand
		}
		if parent := filepath.Dir(dir); parent == dir {
			return ""
		}
	}
}

// Path returns the path of the named shared data set (for example
// "mimetic2"), or skips the test with a message saying where it looked.
func Path(t testing.TB, name string) string {
	t.Helper()
	root := Dir()
	if root == "" {
		t.Skipf("shared data set %q not found: no shared/data above the working directory and $SHAMMIE_SHARED_DATA unset (CI always has it)", name)
	}
	p := filepath.Join(root, name)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("shared data set %q not found at %s: %v", name, p, err)
	}
	return p
}
