package dag_test

import (
	"fmt"
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

var genSchema = sdk.Schema{
	Config: sdk.Block{
		Attributes: []sdk.Attribute{
			{Name: "mode", Type: cty.String, Required: true},
			{Name: "n", Type: cty.Number, Default: cty.NumberIntVal(10)},
			{Name: "sizes", Type: cty.List(cty.Number)},
			{Name: "opts", Type: cty.Map(cty.Number)},
		},
		Blocks: []sdk.NestedBlock{
			{TypeName: "layer", Nesting: sdk.NestingList, Block: sdk.Block{Attributes: []sdk.Attribute{
				{Name: "width", Type: cty.Number, Required: true},
				{Name: "act", Type: cty.String, Default: cty.StringVal("relu")},
			}}},
			{TypeName: "head", Nesting: sdk.NestingMap, Block: sdk.Block{Attributes: []sdk.Attribute{
				{Name: "dim", Type: cty.Number},
			}}},
			{TypeName: "optimizer", Nesting: sdk.NestingSingle, Block: sdk.Block{Attributes: []sdk.Attribute{
				{Name: "lr", Type: cty.Number, Default: cty.NumberFloatVal(0.01)},
			}}},
		},
	},
	Outputs:   []sdk.OutputDecl{{Name: "n", Type: cty.Number}, {Name: "names", Type: cty.List(cty.String)}},
	Artifacts: []sdk.ArtifactDecl{{Name: "data"}},
}

func plan(t *testing.T, src string, cliVars ...string) (*dag.Graph, hcl.Diagnostics) {
	t.Helper()
	spec, diags := configs.LoadSource("/specs/test.hcl", []byte(src))
	if diags.HasErrors() {
		t.Fatalf("load: %s", diags.Error())
	}
	vars, diags := lang.ResolveVariables(spec, cliVars, nil, nil)
	if diags.HasErrors() {
		t.Fatalf("vars: %s", diags.Error())
	}
	schemas := map[string]sdk.Schema{}
	for name := range spec.Plugins {
		schemas[name] = genSchema
	}
	return dag.Plan(spec, vars, schemas, dag.Options{RunSeed: 42, DefaultBackend: "xla:cuda", Cwd: "/work"})
}

func mustPlan(t *testing.T, src string, cliVars ...string) *dag.Graph {
	t.Helper()
	g, diags := plan(t, src, cliVars...)
	if diags.HasErrors() {
		t.Fatalf("plan: %s", diags.Error())
	}
	return g
}

func addrs(nodes []*dag.Node) []string {
	out := []string{}
	for _, n := range nodes {
		out = append(out, n.Addr)
	}
	return out
}

func TestExpansion(t *testing.T) {
	tests := []struct {
		name string
		src  string
		vars []string
		want []string
	}{
		{"single", `step "a" {
  plugin = plugin.gen
  config { mode = "x" }
}`, nil, []string{"step.a"}},
		{"count from var", `variable "k" { type = number }
step "a" {
  plugin = plugin.gen
  count  = var.k
  config { mode = "x" }
}`, []string{"k=3"}, []string{"step.a[0]", "step.a[1]", "step.a[2]"}},
		{"count zero", `step "a" {
  plugin = plugin.gen
  count  = 0
  config { mode = "x" }
}`, nil, []string{}},
		{"for_each map sorted keys", `step "a" {
  plugin   = plugin.gen
  for_each = { zeta = 1, alpha = 2 }
  config { mode = each.key }
}`, nil, []string{`step.a["alpha"]`, `step.a["zeta"]`}},
		{"for_each set of strings from local", `locals { ks = toset(["b", "a"]) }
step "a" {
  plugin   = plugin.gen
  for_each = local.ks
  config { mode = each.value }
}`, nil, []string{`step.a["a"]`, `step.a["b"]`}},
		{"for_each list", `step "a" {
  plugin   = plugin.gen
  for_each = ["x y", "q"]
  config { mode = each.value }
}`, nil, []string{`step.a["x y"]`, `step.a["q"]`}}, // list order
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := mustPlan(t, `plugin "gen" {}
`+tt.src, tt.vars...)
			if diff := cmp.Diff(tt.want, addrs(g.Nodes())); diff != "" {
				t.Errorf("nodes (-want +got):\n%s", diff)
			}
		})
	}
}

const pipeline = `
plugin "gen" {}
variable "widths" {
  type    = list(number)
  default = [8, 4]
}
step "src" {
  plugin = plugin.gen
  config { mode = "src" }
}
step "sweep" {
  plugin   = plugin.gen
  for_each = { a = 1, b = 2 }
  seed     = each.value * 10
  config {
    mode  = "${each.key}:${step.src.artifacts.data}"
    n     = step.src.outputs.n + each.value
    sizes = var.widths
  }
}
step "per_key" {
  plugin   = plugin.gen
  for_each = toset(["a", "b"])
  config { mode = step.sweep[each.key].artifacts.data }
}
step "rep" {
  plugin  = plugin.gen
  count   = 2
  backend = "go"
  config {
    mode = "rep"
    n    = count.index
  }
}
step "all" {
  plugin     = plugin.gen
  depends_on = [step.rep[1]]
  config {
    mode  = join(",", [for s in step.sweep : s.artifacts.data])
    sizes = [for s in step.sweep : s.outputs.n]
    layer { width = length(step.src.outputs.names) }
  }
}
`

func TestEdgesAndOrder(t *testing.T) {
	g := mustPlan(t, pipeline)
	deps := map[string][]string{}
	for _, n := range g.Nodes() {
		deps[n.Addr] = addrs(g.Deps(n))
	}
	want := map[string][]string{
		"step.src":          {},
		`step.sweep["a"]`:   {"step.src"},
		`step.sweep["b"]`:   {"step.src"},
		`step.per_key["a"]`: {`step.sweep["a"]`},
		`step.per_key["b"]`: {`step.sweep["b"]`},
		"step.rep[0]":       {},
		"step.rep[1]":       {},
		"step.all":          {"step.src", `step.sweep["a"]`, `step.sweep["b"]`, "step.rep[1]"},
	}
	if diff := cmp.Diff(want, deps); diff != "" {
		t.Errorf("deps (-want +got):\n%s", diff)
	}
	pos := map[string]int{}
	for i, n := range g.TopoOrder() {
		pos[n.Addr] = i
	}
	if len(pos) != len(g.Nodes()) {
		t.Fatalf("topo order has %d nodes, graph %d", len(pos), len(g.Nodes()))
	}
	for addr, ds := range want {
		for _, d := range ds {
			if pos[d] >= pos[addr] {
				t.Errorf("%s comes before its dependency %s", addr, d)
			}
		}
	}
	if got := addrs(g.Dependents(g.Node("step.src"))); !cmp.Equal(got, []string{`step.sweep["a"]`, `step.sweep["b"]`, "step.all"}) {
		t.Errorf("dependents of step.src: %v", got)
	}
	dot := g.DOT(nil)
	for _, want := range []string{`"step.src" -> "step.sweep[\"a\"]";`, `"step.rep[1]" -> "step.all";`} {
		if !strings.Contains(dot, want) {
			t.Errorf("DOT lacks %s:\n%s", want, dot)
		}
	}
}

func TestEvalConfig(t *testing.T) {
	g := mustPlan(t, pipeline)
	results := map[string]dag.StepResult{
		"step.src": {
			Outputs:   map[string]cty.Value{"n": cty.NumberIntVal(5), "names": cty.ListVal([]cty.Value{cty.StringVal("p"), cty.StringVal("q"), cty.StringVal("r")})},
			Artifacts: map[string]string{"data": "/store/src.csv"},
		},
	}
	cfg, seed, backend, diags := g.EvalConfig(g.Node(`step.sweep["b"]`), results)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	want := cty.ObjectVal(map[string]cty.Value{
		"mode":      cty.StringVal("b:/store/src.csv"),
		"n":         cty.NumberIntVal(7),
		"sizes":     cty.ListVal([]cty.Value{cty.NumberIntVal(8), cty.NumberIntVal(4)}),
		"opts":      cty.NullVal(cty.Map(cty.Number)),
		"layer":     cty.ListValEmpty(cty.Object(map[string]cty.Type{"width": cty.Number, "act": cty.String})),
		"head":      cty.MapValEmpty(cty.Object(map[string]cty.Type{"dim": cty.Number})),
		"optimizer": cty.NullVal(cty.Object(map[string]cty.Type{"lr": cty.Number})),
	})
	if !cfg.RawEquals(want) {
		t.Errorf("config:\n got %#v\nwant %#v", cfg, want)
	}
	if seed != 20 || backend != "xla:cuda" {
		t.Errorf("seed, backend = %d, %q; want 20, xla:cuda", seed, backend)
	}

	// The collecting step needs every sweep instance and rep[1].
	_, _, _, diags = g.EvalConfig(g.Node("step.all"), results)
	if !diags.HasErrors() || !strings.Contains(diags.Error(), `step.sweep["a"], which has not finished`) {
		t.Errorf("missing upstream not reported: %v", diags)
	}
	for _, k := range []string{"a", "b"} {
		results[`step.sweep["`+k+`"]`] = dag.StepResult{
			Outputs:   map[string]cty.Value{"n": cty.NumberIntVal(int64(len(k) + 100))},
			Artifacts: map[string]string{"data": "/store/" + k},
		}
	}
	results["step.rep[1]"] = dag.StepResult{}
	cfg, seed, backend, diags = g.EvalConfig(g.Node("step.all"), results)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	if got := cfg.GetAttr("mode").AsString(); got != "/store/a,/store/b" {
		t.Errorf("mode = %q", got)
	}
	layers := cfg.GetAttr("layer")
	if layers.LengthInt() != 1 || !layers.Index(cty.NumberIntVal(0)).GetAttr("width").RawEquals(cty.NumberIntVal(3)) ||
		layers.Index(cty.NumberIntVal(0)).GetAttr("act").AsString() != "relu" {
		t.Errorf("layer = %#v", layers)
	}
	if want := dag.DefaultSeed(42, "step.all"); seed != want {
		t.Errorf("default seed = %d, want %d", seed, want)
	}
	if backend != "xla:cuda" {
		t.Errorf("backend = %q", backend)
	}

	// An output the upstream step declared but did not produce.
	delete(results["step.src"].Outputs, "names")
	_, _, _, diags = g.EvalConfig(g.Node("step.all"), results)
	if !diags.HasErrors() || !strings.Contains(diags.Error(), `step.src finished without setting output "names"`) {
		t.Errorf("missing output not reported: %v", diags)
	}

	_, _, backend, diags = g.EvalConfig(g.Node("step.rep[1]"), nil)
	if diags.HasErrors() || backend != "go" {
		t.Errorf("rep[1]: backend %q, %v", backend, diags)
	}
}

func TestStaticConfig(t *testing.T) {
	g := mustPlan(t, pipeline)
	layerTy := cty.Object(map[string]cty.Type{"width": cty.Number, "act": cty.String})
	headTy := cty.Object(map[string]cty.Type{"dim": cty.Number})
	optTy := cty.Object(map[string]cty.Type{"lr": cty.Number})
	tests := []struct {
		addr string
		want cty.Value
	}{
		{
			// No upstream: wholly known, defaults applied (n = 10).
			addr: "step.src",
			want: cty.ObjectVal(map[string]cty.Value{
				"mode": cty.StringVal("src"), "n": cty.NumberIntVal(10), "sizes": cty.NullVal(cty.List(cty.Number)),
				"opts": cty.NullVal(cty.Map(cty.Number)), "layer": cty.ListValEmpty(layerTy),
				"head": cty.MapValEmpty(headTy), "optimizer": cty.NullVal(optTy),
			}),
		},
		{
			// An artifact is an unknown string, an output unknown of its
			// declared type; the known attributes keep their values.
			addr: `step.sweep["b"]`,
			want: cty.ObjectVal(map[string]cty.Value{
				"mode": cty.UnknownVal(cty.String), "n": cty.UnknownVal(cty.Number),
				"sizes": cty.ListVal([]cty.Value{cty.NumberIntVal(8), cty.NumberIntVal(4)}),
				"opts":  cty.NullVal(cty.Map(cty.Number)), "layer": cty.ListValEmpty(layerTy),
				"head": cty.MapValEmpty(headTy), "optimizer": cty.NullVal(optTy),
			}),
		},
		{
			// Unknowns inside a nested block; the block's default still applies.
			addr: "step.all",
			want: cty.ObjectVal(map[string]cty.Value{
				"mode": cty.UnknownVal(cty.String), "n": cty.NumberIntVal(10),
				"sizes": cty.ListVal([]cty.Value{cty.UnknownVal(cty.Number), cty.UnknownVal(cty.Number)}),
				"opts":  cty.NullVal(cty.Map(cty.Number)),
				"layer": cty.ListVal([]cty.Value{cty.ObjectVal(map[string]cty.Value{"width": cty.UnknownVal(cty.Number), "act": cty.StringVal("relu")})}),
				"head":  cty.MapValEmpty(headTy), "optimizer": cty.NullVal(optTy),
			}),
		},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			got, diags := g.StaticConfig(g.Node(tt.addr))
			if diags.HasErrors() {
				t.Fatal(diags.Error())
			}
			// Refinements (prefix, not null, bounds) are HCL's extra
			// knowledge; the test pins the values and what is unknown.
			got, _ = cty.Transform(got, func(_ cty.Path, v cty.Value) (cty.Value, error) {
				if !v.IsKnown() {
					return cty.UnknownVal(v.Type()), nil
				}
				return v, nil
			})
			if !got.RawEquals(tt.want) {
				t.Errorf("StaticConfig:\n got %#v\nwant %#v", got, tt.want)
			}
		})
	}
}

func TestDefaultSeed(t *testing.T) {
	a, b := dag.DefaultSeed(1, `step.s["a"]`), dag.DefaultSeed(1, `step.s["b"]`)
	if a == b {
		t.Error("instances share a seed")
	}
	if a != dag.DefaultSeed(1, `step.s["a"]`) {
		t.Error("seed not deterministic")
	}
	if a == dag.DefaultSeed(2, `step.s["a"]`) {
		t.Error("run seed ignored")
	}
	if a < 0 || b < 0 {
		t.Error("negative seed")
	}
}

func TestStaticValidationUsesDeclaredOutputTypes(t *testing.T) {
	_, diags := plan(t, `plugin "gen" {}
step "a" {
  plugin = plugin.gen
  config { mode = "x" }
}
step "b" {
  plugin = plugin.gen
  config {
    mode = "y"
    n    = step.a.outputs.names
  }
}`)
	if !diags.HasErrors() || !strings.Contains(diags.Error(), "number required, but have list of string") {
		t.Errorf("type error from declared output type not reported: %v", diags)
	}
}

func TestDiagnosticsFromPlugin(t *testing.T) {
	src := `plugin "gen" {}
step "s" {
  plugin = plugin.gen
  config {
    mode  = "x"
    sizes = [1, 2, 3]
    opts  = { lr = 1, "beta" = 2 }
    layer {
      width = 1
    }
    layer {
      width = 2
    }
    head "cls" {
      dim = 3
    }
  }
}
step "bare" {
  plugin = plugin.gen
}
`
	spec, diags := configs.LoadSource("/specs/test.hcl", []byte(src))
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	vars, _ := lang.ResolveVariables(spec, nil, nil, nil)
	g, _ := dag.Plan(spec, vars, map[string]sdk.Schema{"gen": genSchema}, dag.Options{})
	tests := []struct {
		node string
		path cty.Path
		want string // start line:col
	}{
		{"step.s", cty.GetAttrPath("mode"), "5:13"},
		{"step.s", cty.GetAttrPath("sizes").IndexInt(2), "6:20"},
		{"step.s", cty.GetAttrPath("sizes").IndexInt(9), "6:13"},
		{"step.s", cty.GetAttrPath("opts").GetAttr("beta"), "7:32"},
		{"step.s", cty.GetAttrPath("opts").IndexString("lr"), "7:20"},
		{"step.s", cty.GetAttrPath("layer").IndexInt(1).GetAttr("width"), "12:15"},
		{"step.s", cty.GetAttrPath("layer").IndexInt(1), "11:5"},
		{"step.s", cty.GetAttrPath("head").IndexString("cls").GetAttr("dim"), "15:13"},
		{"step.s", cty.GetAttrPath("n"), "4:3"},
		{"step.s", nil, "4:3"},
		{"step.bare", cty.GetAttrPath("mode"), "19:1"},
	}
	for _, tt := range tests {
		got := g.DiagnosticsFromPlugin(g.Node(tt.node), sdk.Diagnostics{sdk.Errorf(tt.path, "bad", "because")})
		if len(got) != 1 {
			t.Fatalf("%d diagnostics", len(got))
		}
		pos := got[0].Subject.Start
		if s := fmt.Sprintf("%d:%d", pos.Line, pos.Column); s != tt.want {
			t.Errorf("%s %#v: at %s, want %s", tt.node, tt.path, s, tt.want)
		}
		if got[0].Severity != hcl.DiagError || got[0].Summary != "bad" || !strings.HasPrefix(got[0].Detail, "because") {
			t.Errorf("diag = %#v", got[0])
		}
	}
	w := g.DiagnosticsFromPlugin(g.Node("step.s"), sdk.Diagnostics{{Severity: sdk.SeverityWarning, Summary: "w"}})
	if w[0].Severity != hcl.DiagWarning {
		t.Errorf("warning became %v", w[0].Severity)
	}
}

func TestDiagnosticsFromPluginJSON(t *testing.T) {
	src := `{
  "plugin": {"gen": {}},
  "step": {"s": {
    "plugin": "plugin.gen",
    "config": {
      "mode": "x",
      "sizes": [1, 2],
      "layer": [{"width": 1}, {"width": 2}]
    }
  }}
}`
	spec, diags := configs.LoadSource("/specs/test.shammie.json", []byte(src))
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	g, diags := dag.Plan(spec, map[string]cty.Value{}, map[string]sdk.Schema{"gen": genSchema}, dag.Options{})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	tests := []struct {
		path cty.Path
		want string
	}{
		{cty.GetAttrPath("mode"), "6:15"},
		{cty.GetAttrPath("sizes").IndexInt(1), "7:20"},
		{cty.GetAttrPath("layer").IndexInt(1).GetAttr("width"), "8:41"},
		{cty.GetAttrPath("sizes").Index(cty.UnknownVal(cty.Number)), "7:16"},
	}
	for _, tt := range tests {
		got := g.DiagnosticsFromPlugin(g.Node("step.s"), sdk.Diagnostics{sdk.Errorf(tt.path, "bad", "")})
		pos := got[0].Subject.Start
		if s := fmt.Sprintf("%d:%d", pos.Line, pos.Column); s != tt.want {
			t.Errorf("%#v: at %s, want %s", tt.path, s, tt.want)
		}
	}
}

func TestCompactPluginDiagnostics(t *testing.T) {
	g := mustPlan(t, `plugin "gen" {}
step "s" {
  plugin   = plugin.gen
  for_each = toset(["a", "b", "c"])
  config { mode = each.key }
}`)
	var diags hcl.Diagnostics
	for _, n := range g.Nodes() {
		diags = append(diags, g.DiagnosticsFromPlugin(n, sdk.Diagnostics{
			sdk.Errorf(cty.GetAttrPath("mode"), "same everywhere", "d"),
			sdk.Errorf(cty.GetAttrPath("mode"), "only "+n.Key.AsString(), "d"),
		})...)
	}
	diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagWarning, Summary: "host"})
	got := dag.CompactPluginDiagnostics(diags)
	var lines []string
	for _, d := range got {
		lines = append(lines, d.Summary+" | "+d.Detail)
	}
	want := []string{
		`same everywhere | d` + "\n\n" + `Reported by plugin "gen" for step.s["a"], step.s["b"], step.s["c"] at config.mode.`,
		`only a | d` + "\n\n" + `Reported by plugin "gen" for step.s["a"] at config.mode.`,
		`only b | d` + "\n\n" + `Reported by plugin "gen" for step.s["b"] at config.mode.`,
		`only c | d` + "\n\n" + `Reported by plugin "gen" for step.s["c"] at config.mode.`,
		`host | `,
	}
	if diff := cmp.Diff(want, lines); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	// The input is left as it was.
	if !strings.Contains(diags[0].Detail, `for step.s["a"] at`) {
		t.Errorf("input modified: %q", diags[0].Detail)
	}
}
