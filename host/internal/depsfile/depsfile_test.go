package depsfile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/hashicorp/hcl/v2"
)

const sumA = "0000000000000000000000000000000000000000000000000000000000000001"
const sumB = "00000000000000000000000000000000000000000000000000000000000000ff"

func TestRoundTrip(t *testing.T) {
	dir := t.TempDir()
	l := New(filepath.Join(dir, "specs", FileName))
	if err := os.MkdirAll(filepath.Dir(l.Filename), 0o755); err != nil {
		t.Fatal(err)
	}
	l.Plugins["fit"] = &Plugin{Name: "fit", Version: "0.1.0", Path: filepath.Join(dir, "bin", "shammie-plugin-fit"), SHA256: sumA}
	l.Plugins["abs"] = &Plugin{Name: "abs", Version: "1.2.3", Path: "/opt/plugins/shammie-plugin-abs", SHA256: sumB}
	if err := l.Write(); err != nil {
		t.Fatal(err)
	}
	text := string(l.Source)
	// Relative paths keep a moved checkout's lock valid.
	if !strings.Contains(text, `path    = "../bin/shammie-plugin-fit"`) {
		t.Errorf("lock file does not store the relative path:\n%s", text)
	}
	if strings.Index(text, `plugin "abs"`) > strings.Index(text, `plugin "fit"`) {
		t.Errorf("plugins not sorted:\n%s", text)
	}
	got, _, diags := Load(l.Filename)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	want := map[string]*Plugin{
		"fit": {Name: "fit", Version: "0.1.0", Path: filepath.Join(dir, "bin", "shammie-plugin-fit"), SHA256: sumA},
		"abs": {Name: "abs", Version: "1.2.3", Path: "/opt/plugins/shammie-plugin-abs", SHA256: sumB},
	}
	if d := cmp.Diff(want, got.Plugins, cmpopts.IgnoreFields(Plugin{}, "DeclRange")); d != "" {
		t.Errorf("loaded lock (-want +got):\n%s", d)
	}
}

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name, src string
		want      []string // summaries
	}{
		{"missing attribute", `plugin "fit" {
  version = "0.1.0"
  path = "x"
}`, []string{"Missing required argument"}},
		{"bad version and sha", `plugin "fit" {
  version = "one"
  path = "x"
  sha256 = "zz"
}`, []string{"Invalid version in lock file", "Invalid sha256 in lock file"}},
		{"duplicate", `plugin "fit" {
  version = "0.1.0"
  path = "x"
  sha256 = "` + sumA + `"
}
plugin "fit" {
  version = "0.1.0"
  path = "x"
  sha256 = "` + sumA + `"
}`, []string{"Duplicate plugin in lock file"}},
		{"unknown block", `provider "x" {}`, []string{"Unsupported block type"}},
		{"syntax", `plugin "fit" {`, []string{"Unclosed configuration block"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), FileName)
			if err := os.WriteFile(p, []byte(tc.src), 0o644); err != nil {
				t.Fatal(err)
			}
			_, _, diags := Load(p)
			if d := cmp.Diff(tc.want, summaries(diags)); d != "" {
				t.Errorf("diagnostics (-want +got):\n%s", d)
			}
			for _, d := range diags {
				if d.Subject == nil {
					t.Errorf("diagnostic %q has no source range", d.Summary)
				}
			}
		})
	}
}

func TestLoadMissingSaysInit(t *testing.T) {
	_, _, diags := Load(filepath.Join(t.TempDir(), FileName))
	if !diags.HasErrors() || !strings.Contains(diags[0].Detail, "shammie init") {
		t.Fatalf("want a diagnostic telling to run shammie init, got %v", diags)
	}
}

func summaries(diags hcl.Diagnostics) []string {
	var out []string
	for _, d := range diags {
		out = append(out, d.Summary)
	}
	return out
}
