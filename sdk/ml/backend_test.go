package ml

import (
	"slices"
	"strings"
	"testing"
)

func TestOpenBackend(t *testing.T) {
	for _, name := range []string{"", "go"} {
		b, err := OpenBackend(name)
		if err != nil {
			t.Fatalf("OpenBackend(%q): %v", name, err)
		}
		if b.String() != "go" {
			t.Errorf("OpenBackend(%q) opened %q, want the simplego backend", name, b.String())
		}
		b.Finalize()
	}
	tests := []struct {
		name string
		want string
	}{
		{"tpu", "unknown backend"},
		{"xla:", "names no PJRT plugin"},
	}
	if xlaOpener == nil {
		tests = append(tests, struct{ name, want string }{"xla:cuda", "go build -tags xla"})
	} else {
		t.Setenv(PJRTPathEnvName, "")
		tests = append(tests, struct{ name, want string }{"xla:cuda", "no PJRT plugin"}) // none on a machine without JAX
	}
	for _, tc := range tests {
		if _, err := OpenBackend(tc.name); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("OpenBackend(%q) error %v, want one mentioning %q", tc.name, err, tc.want)
		}
	}
	if got := Backends(); !slices.Contains(got, "go") || (xlaOpener != nil) != slices.Contains(got, "xla:cuda") {
		t.Errorf("Backends() = %v", got)
	}
}
