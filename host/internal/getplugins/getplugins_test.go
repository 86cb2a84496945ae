package getplugins

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/go-version"

	"github.com/shammie-ml/shammie/sdk"
)

// fakeBinaries writes executables whose content is their metadata
// ("name version"); the MetadataFunc reads it instead of launching.
func fakeBinaries(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for rel, content := range files {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		mode := os.FileMode(0o755)
		if strings.HasSuffix(rel, ".noexec") {
			mode = 0o644
			p = strings.TrimSuffix(p, ".noexec")
		}
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func readMeta(_ context.Context, path string) (sdk.Metadata, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return sdk.Metadata{}, err
	}
	if string(b) == "crash" {
		return sdk.Metadata{}, errors.New("plugin exited before the handshake")
	}
	name, ver, _ := strings.Cut(string(b), " ")
	return sdk.Metadata{Name: name, Version: ver}, nil
}

func TestSearchDirs(t *testing.T) {
	t.Setenv("HOME", "/home/u")
	got := SearchDirs("/work", "", "/opt/a:rel/b::/work/bin")
	want := []string{"/work/bin", "/home/u/.shammie/plugins", "/opt/a", "/work/rel/b"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("SearchDirs (-want +got):\n%s", d)
	}
}

func TestSelect(t *testing.T) {
	root := fakeBinaries(t, map[string]string{
		"bin/shammie-plugin-fit":          "fit 0.1.0",
		"plugins/shammie-plugin-fit":      "fit 0.3.0",
		"plugins/shammie-plugin-fit_v0.2": "fit 0.2.0",
		"extra/shammie-plugin-fit":        "crash",
		"extra/shammie-plugin-fit_vX":     "router 9.0.0",
		"extra/shammie-plugin-fitter":     "fitter 1.0.0",
		"other/shammie-plugin-fit.noexec": "fit 9.9.9",
	})
	dirs := []string{filepath.Join(root, "bin"), filepath.Join(root, "plugins"), filepath.Join(root, "extra"), filepath.Join(root, "other"), filepath.Join(root, "missing")}
	f := &Finder{Dirs: dirs, Metadata: readMeta}
	cands := f.Find(context.Background(), "fit")
	if len(cands) != 5 {
		t.Fatalf("found %d candidates, want 5 (fitter and non-executables excluded): %+v", len(cands), cands)
	}
	tests := []struct {
		constraint string
		want       string // path relative to root, or "" for an error
		errHas     []string
	}{
		{"", "plugins/shammie-plugin-fit", nil},
		{">= 0.1.0, < 0.3.0", "plugins/shammie-plugin-fit_v0.2", nil},
		{"~> 0.1.0", "bin/shammie-plugin-fit", nil},
		{">= 1.0", "", []string{`no binary of plugin "fit" with version >= 1.0`, "version 0.3.0 (does not satisfy", "unusable: plugin exited before the handshake", `unusable: it says it is plugin "router"`, "SHAMMIE_PLUGIN_PATH"}},
	}
	for _, tc := range tests {
		t.Run(tc.constraint, func(t *testing.T) {
			var cons version.Constraints
			if tc.constraint != "" {
				var err error
				if cons, err = version.NewConstraint(tc.constraint); err != nil {
					t.Fatal(err)
				}
			}
			got, err := Select("fit", cons, cands, dirs)
			if tc.want == "" {
				if err == nil {
					t.Fatalf("want an error, got %s", got.Path)
				}
				for _, s := range tc.errHas {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error lacks %q:\n%v", s, err)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(filepath.Join(root, tc.want), got.Path); d != "" {
				t.Errorf("selected (-want +got):\n%s", d)
			}
		})
	}
}

func TestSelectNothingFound(t *testing.T) {
	_, err := Select("moe", nil, nil, []string{"/a", "/b"})
	if err == nil || !strings.Contains(err.Error(), `no file named shammie-plugin-moe (or shammie-plugin-moe_v*) is in "/a", "/b"`) {
		t.Fatalf("unexpected error: %v", err)
	}
}
