package configs

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

func TestResources(t *testing.T) {
	src := `
plugin "p" {}
resources {
  time      = "2h"
  partition = "cpu"
}
step "a" {
  plugin = plugin.p
  resources {
    cpus   = var.cpus
    memory = "16GB"
    gpus   = 2
    time   = "1-12:00:00"
  }
}
`
	spec, diags := LoadSource("spec.hcl", []byte(src))
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	ctx := &hcl.EvalContext{Variables: map[string]cty.Value{"var": cty.ObjectVal(map[string]cty.Value{"cpus": cty.NumberIntVal(8)})}}
	def, d := spec.Resources.Eval(ctx)
	if d.HasErrors() {
		t.Fatal(d)
	}
	r, d := spec.Steps["a"].Resources.Eval(ctx)
	if d.HasErrors() {
		t.Fatal(d)
	}
	want := Resources{CPUs: 8, Memory: "16G", GPUs: "2", Time: "1-12:00:00", Partition: "cpu"}
	if diff := cmp.Diff(want, r.Merge(def)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if def.Time != "120" {
		t.Errorf("time 2h = %q minutes, want 120", def.Time)
	}
}

func TestResourcesErrors(t *testing.T) {
	for _, tc := range []struct{ body, want string }{
		{`cpus = 1.5`, "cpus must be a whole number"},
		{`cpus = 0`, "cpus must be a whole number"},
		{`memory = "lots"`, "memory is a number of megabytes"},
		{`time = "soon"`, "time is a number of minutes"},
		{`gpus = "two"`, "gpus is a count"},
		{`partition = "a b"`, "partition is a name"},
		{`nodes = 2`, "Unsupported argument"},
	} {
		src := "plugin \"p\" {}\nstep \"a\" {\n  plugin = plugin.p\n  resources {\n    " + tc.body + "\n  }\n}\n"
		spec, diags := LoadSource("spec.hcl", []byte(src))
		if !diags.HasErrors() {
			_, diags = spec.Steps["a"].Resources.Eval(nil)
		}
		if !strings.Contains(diags.Error(), tc.want) || !strings.Contains(diags.Error(), "spec.hcl:5") {
			t.Errorf("%s: got %v, want %q at spec.hcl:5", tc.body, diags, tc.want)
		}
	}
	_, diags := LoadSource("spec.hcl", []byte("plugin \"p\" {}\nresources {}\nresources {}\n"))
	if !strings.Contains(diags.Error(), "Duplicate resources block") {
		t.Errorf("duplicate top-level block: %v", diags)
	}
}
