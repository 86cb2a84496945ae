package configs_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"
	"github.com/shammie-ml/shammie/host/internal/configs"
	"github.com/shammie-ml/shammie/host/internal/dag"
	"github.com/shammie-ml/shammie/host/internal/lang"
	"github.com/shammie-ml/shammie/sdk"
	"github.com/zclconf/go-cty/cty"
)

// minSuiteSpecs guards against a glob that silently matches nothing.
var minSuiteSpecs = 2

var update = flag.Bool("update", false, "rewrite the specsuite .diags.golden files")

// testSchemas are the plugins the specsuite specs use, by source name.
var testSchemas = map[string]sdk.Schema{
	"gen": {
		Config: sdk.Block{
			Attributes: []sdk.Attribute{
				{Name: "mode", Type: cty.String, Required: true, Description: "what to do"},
				{Name: "n", Type: cty.Number, Default: cty.NumberIntVal(10)},
				{Name: "scale", Type: cty.Number},
				{Name: "tags", Type: cty.List(cty.String)},
				{Name: "options", Type: cty.Map(cty.Number)},
			},
			Blocks: []sdk.NestedBlock{
				{TypeName: "layer", Nesting: sdk.NestingList, Block: sdk.Block{Attributes: []sdk.Attribute{
					{Name: "width", Type: cty.Number, Required: true},
					{Name: "act", Type: cty.String, Default: cty.StringVal("relu")},
				}}},
				{TypeName: "optimizer", Nesting: sdk.NestingSingle, Block: sdk.Block{Attributes: []sdk.Attribute{
					{Name: "lr", Type: cty.Number, Default: cty.NumberFloatVal(0.01)},
				}}},
			},
		},
		Outputs:   []sdk.OutputDecl{{Name: "n", Type: cty.Number}, {Name: "names", Type: cty.List(cty.String)}},
		Artifacts: []sdk.ArtifactDecl{{Name: "embeddings", MediaType: "text/csv"}, {Name: "table"}},
	},
	"fit": {
		Config: sdk.Block{Attributes: []sdk.Attribute{
			{Name: "embeddings", Type: cty.String, Required: true},
			{Name: "penalty", Type: cty.Number, Default: cty.NumberIntVal(1)},
			{Name: "losses", Type: cty.List(cty.Number)},
			{Name: "label", Type: cty.String},
		}},
		Outputs:   []sdk.OutputDecl{{Name: "loss", Type: cty.Number}},
		Artifacts: []sdk.ArtifactDecl{{Name: "model"}},
	},
}

// schemasFor maps the spec's plugin labels to the test schemas by source.
func schemasFor(spec *configs.Spec) map[string]sdk.Schema {
	out := map[string]sdk.Schema{}
	for name, p := range spec.Plugins {
		if s, ok := testSchemas[p.Source]; ok {
			out[name] = s
		}
	}
	return out
}

// TestSpecSuite loads every spec in testdata/specsuite, resolves its
// variables (from a sibling .vars file of -var lines, if any), plans it
// against testSchemas and compares the rendered diagnostics and plan with
// the .diags.golden file. Run with -update to rewrite the goldens, then
// review the diff.
func TestSpecSuite(t *testing.T) {
	files, err := filepath.Glob("testdata/specsuite/*")
	if err != nil {
		t.Fatal(err)
	}
	var specs []string
	for _, f := range files {
		if strings.HasSuffix(f, ".hcl") || strings.HasSuffix(f, ".shammie.json") {
			specs = append(specs, f)
		}
	}
	sort.Strings(specs)
	if len(specs) < minSuiteSpecs {
		t.Fatalf("found only %d specs in testdata/specsuite", len(specs))
	}
	for _, path := range specs {
		t.Run(filepath.Base(path), func(t *testing.T) {
			got := runSuiteCase(t, path)
			golden := strings.TrimSuffix(strings.TrimSuffix(path, ".hcl"), ".shammie.json") + ".diags.golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -run TestSpecSuite -update to create it)", err)
			}
			if diff := cmp.Diff(string(want), got); diff != "" {
				t.Errorf("%s mismatch (-want +got):\n%s", golden, diff)
			}
			// A spec named valid_* must have no errors; any other must.
			hasErr := strings.Contains(got, "Error: ")
			if strings.HasPrefix(filepath.Base(path), "valid_") == hasErr {
				t.Errorf("valid_ prefix and errors disagree: errors=%v", hasErr)
			}
		})
	}
}

func runSuiteCase(t *testing.T, path string) string {
	t.Helper()
	spec, diags := configs.LoadFile(path)
	var cliVars []string
	varsFile := strings.TrimSuffix(strings.TrimSuffix(path, ".hcl"), ".shammie.json") + ".vars"
	if b, err := os.ReadFile(varsFile); err == nil {
		for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			if l != "" {
				cliVars = append(cliVars, l)
			}
		}
	}
	var g *dag.Graph
	// Go on after load errors, as the CLI does, so that every problem of
	// a spec is reported in one go.
	if _, parsed := spec.Files[path]; parsed {
		vars, d := lang.ResolveVariables(spec, cliVars, nil, []string{"SHAMMIE_VAR_from_env=env"})
		diags = append(diags, d...)
		var pd hcl.Diagnostics
		g, pd = dag.Plan(spec, vars, schemasFor(spec), dag.Options{RunSeed: 1, Cwd: "/cwd"})
		diags = append(diags, pd...)
	}
	var buf bytes.Buffer
	buf.WriteString("== diagnostics\n")
	if err := configs.WriteDiagnostics(&buf, spec.Files, diags); err != nil {
		t.Fatal(err)
	}
	if g != nil && !diags.HasErrors() {
		buf.WriteString("== plan\n")
		if err := g.WriteText(&buf, nil); err != nil {
			t.Fatal(err)
		}
	}
	return buf.String()
}
