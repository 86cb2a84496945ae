package depsfile

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// FuzzLoad: any lock file text either loads with diagnostics or loads
// cleanly; a clean load written back out loads to the same plugins.
func FuzzLoad(f *testing.F) {
	f.Add([]byte(`plugin "fit" {
  version = "0.2.0"
  path    = "../bin/shammie-plugin-fit_v0.2.0"
  sha256  = "` + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" + `"
}
`))
	f.Add([]byte(`plugin "a" { version = "x" path = "p" sha256 = "zz" }`))
	f.Add([]byte(`plugin "a" {}` + "\n" + `plugin "a" {}`))
	f.Add([]byte("plugin {"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, src []byte) {
		path := filepath.Join(dir, "shammie.lock.hcl")
		if err := os.WriteFile(path, src, 0o644); err != nil {
			t.Fatal(err)
		}
		l, _, diags := Load(path)
		if diags.HasErrors() || l == nil {
			return
		}
		if err := os.WriteFile(path, l.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		back, _, diags := Load(path)
		if diags.HasErrors() {
			t.Fatalf("a lock file Bytes wrote does not load: %v\n%s", diags, l.Bytes())
		}
		for name, p := range l.Plugins {
			q := back.Plugins[name]
			if q == nil || p.Version != q.Version || p.SHA256 != q.SHA256 || filepath.Clean(p.Path) != filepath.Clean(q.Path) {
				t.Fatalf("plugin %q changed in the round trip: %s", name, cmp.Diff(p, q))
			}
		}
	})
}
