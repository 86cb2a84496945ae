package lang_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/shammie-ml/shammie/host/internal/configs"
	"github.com/shammie-ml/shammie/host/internal/lang"
	"github.com/zclconf/go-cty/cty"
)

func eval(t *testing.T, scope *lang.Scope, src string) (cty.Value, hcl.Diagnostics) {
	t.Helper()
	expr, diags := hclsyntax.ParseExpression([]byte(src), "expr.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatalf("parse %s: %s", src, diags.Error())
	}
	return expr.Value(scope.EvalContext())
}

func TestFunctions(t *testing.T) {
	dir, err := filepath.Abs("testdata")
	if err != nil {
		t.Fatal(err)
	}
	scope := &lang.Scope{BaseDir: dir, Cwd: "/cwd"}
	tests := []struct {
		expr string
		want cty.Value
	}{
		{`upper("ab")`, cty.StringVal("AB")},
		{`format("%03d-%s", 7, "x")`, cty.StringVal("007-x")},
		{`max(1, 5, 3)`, cty.NumberIntVal(5)},
		{`sum([1, 2, 3.5])`, cty.NumberFloatVal(6.5)},
		{`length(range(4))`, cty.NumberIntVal(4)},
		{`keys({b = 1, a = 2})`, cty.TupleVal([]cty.Value{cty.StringVal("a"), cty.StringVal("b")})},
		{`jsondecode("{\"a\":[1,2]}").a[1]`, cty.NumberIntVal(2)},
		{`jsonencode({a = 1})`, cty.StringVal(`{"a":1}`)},
		{`csvdecode("x,y\n1,2\n")[0].y`, cty.StringVal("2")},
		{`regex("^(\\d+)-", "12-ab")[0]`, cty.StringVal("12")},
		{`base64decode(base64encode("héllo"))`, cty.StringVal("héllo")},
		{`sha256("abc")`, cty.StringVal("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")},
		{`startswith("shammie", "sha") && endswith("shammie", "mie") && strcontains("shammie", "amm")`, cty.True},
		{`try(tonumber("x"), 3)`, cty.NumberIntVal(3)},
		{`can(tonumber("x"))`, cty.False},
		{`file("hello.txt")`, cty.StringVal("hello\n")},
		{`file("${path.spec}/hello.txt")`, cty.StringVal("hello\n")},
		{`fileexists("hello.txt")`, cty.True},
		{`fileexists("nope.txt")`, cty.False},
		{`filesha256("hello.txt")`, cty.StringVal("5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03")},
		{`abspath("a/../b")`, cty.StringVal(filepath.ToSlash(filepath.Join(dir, "b")))},
		{`basename("/x/y/z.csv")`, cty.StringVal("z.csv")},
		{`dirname("/x/y/z.csv")`, cty.StringVal("/x/y")},
		{`templatefile("greet.tmpl", { name = "Ann", xs = [1, 2] })`, cty.StringVal("Hi Ann, [1][2]\n")},
		{`path.cwd`, cty.StringVal("/cwd")},
		{`path.spec`, cty.StringVal(dir)},
		{`convert(1, string)`, cty.StringVal("1")},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			got, diags := eval(t, scope, tt.expr)
			if diags.HasErrors() {
				t.Fatal(diags.Error())
			}
			if !got.RawEquals(tt.want) {
				t.Errorf("got %#v, want %#v", got, tt.want)
			}
		})
	}
}

func TestFunctionErrors(t *testing.T) {
	dir, _ := filepath.Abs("testdata")
	scope := &lang.Scope{BaseDir: dir}
	tests := []struct{ expr, want string }{
		{`file("missing.txt")`, "no such file or directory"},
		{`templatefile("greet.tmpl", { name = "x" })`, `references "xs", which is not in vars`},
		{`timestamp()`, `no function named "timestamp"`},
		{`base64decode("!!")`, "invalid base64"},
	}
	for _, tt := range tests {
		_, diags := eval(t, scope, tt.expr)
		if !diags.HasErrors() || !strings.Contains(diags.Error(), tt.want) {
			t.Errorf("%s: got %v, want an error containing %q", tt.expr, diags, tt.want)
		}
	}
}

const varSpec = `
variable "n" {
  type    = number
  default = 1
}
variable "name" {
  type    = string
  default = "dflt"
}
variable "sizes" {
  type    = list(number)
  default = []
}
variable "cfg" {
  type = object({ lr = number, opt = optional(string, "adam") })
  default = { lr = 0.1 }
}
variable "untyped" {
  default = "u"
}
`

func loadSpec(t *testing.T, src string) *configs.Spec {
	t.Helper()
	spec, diags := configs.LoadSource(filepath.Join(t.TempDir(), "spec.hcl"), []byte(src))
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	return spec
}

func TestResolveVariablesPrecedence(t *testing.T) {
	dir := t.TempDir()
	hclFile := filepath.Join(dir, "a.hcl")
	jsonFile := filepath.Join(dir, "b.json")
	os.WriteFile(hclFile, []byte("n = 2\nsizes = [1, 2]\nname = \"file\"\n"), 0o644)
	os.WriteFile(jsonFile, []byte(`{"n": 3, "cfg": {"lr": 0.5}}`), 0o644)

	tests := []struct {
		name  string
		cli   []string
		files []string
		env   []string
		want  map[string]cty.Value
	}{
		{"defaults", nil, nil, nil, map[string]cty.Value{"n": cty.NumberIntVal(1), "name": cty.StringVal("dflt")}},
		{"env", nil, nil, []string{"SHAMMIE_VAR_n=4", "SHAMMIE_VAR_name=[x]", "SHAMMIE_VAR_other=1", "PATH=/bin"},
			map[string]cty.Value{"n": cty.NumberIntVal(4), "name": cty.StringVal("[x]")}},
		{"file beats env", nil, []string{hclFile}, []string{"SHAMMIE_VAR_n=4"},
			map[string]cty.Value{"n": cty.NumberIntVal(2), "name": cty.StringVal("file"), "sizes": cty.ListVal([]cty.Value{cty.NumberIntVal(1), cty.NumberIntVal(2)})}},
		{"later file wins", nil, []string{hclFile, jsonFile}, nil,
			map[string]cty.Value{"n": cty.NumberIntVal(3), "cfg": cty.ObjectVal(map[string]cty.Value{"lr": cty.NumberFloatVal(0.5), "opt": cty.StringVal("adam")})}},
		{"-var beats file", []string{"n=9", "name=a=b", "sizes=[3]", "n=10"}, []string{hclFile}, []string{"SHAMMIE_VAR_n=4"},
			map[string]cty.Value{"n": cty.NumberIntVal(10), "name": cty.StringVal("a=b"), "sizes": cty.ListVal([]cty.Value{cty.NumberIntVal(3)})}},
		{"untyped parses constants", []string{"untyped=[1]"}, nil, nil, map[string]cty.Value{"untyped": cty.TupleVal([]cty.Value{cty.NumberIntVal(1)})}},
		{"untyped falls back to text", []string{"untyped=hello world"}, nil, nil, map[string]cty.Value{"untyped": cty.StringVal("hello world")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := loadSpec(t, varSpec)
			got, diags := lang.ResolveVariables(spec, tt.cli, tt.files, tt.env)
			if diags.HasErrors() {
				t.Fatal(diags.Error())
			}
			for k, want := range tt.want {
				if !got[k].RawEquals(want) {
					t.Errorf("var.%s = %#v, want %#v", k, got[k], want)
				}
			}
			if len(got) != 5 {
				t.Errorf("got %d variables, want all 5", len(got))
			}
		})
	}
}

func TestResolveVariablesErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.hcl")
	os.WriteFile(bad, []byte("n = var.x\nnope = 1\n"), 0o644)
	tests := []struct {
		name  string
		cli   []string
		files []string
		want  []string // substrings of the rendered diagnostics, in order
	}{
		{"type mismatch from -var", []string{"n=abc"}, nil, []string{"Variables not allowed", `<value for var.n from -var>`, "parsed as HCL"}},
		{"quoted string for number", []string{`n="abc"`}, nil, []string{"Invalid value for variable", "from a -var option", "a number is required"}},
		{"object attribute type", []string{`cfg={lr="fast"}`}, nil, []string{"at lr: a number is required"}},
		{"undeclared", []string{"nn=1"}, nil, []string{"Value for undeclared variable", `Did you mean "n"?`}},
		{"file references and undeclared", nil, []string{bad}, []string{"Variables not allowed", "bad.hcl:1:5", "Warning: Value for undeclared variable"}},
		{"missing file", nil, []string{filepath.Join(dir, "none.hcl")}, []string{"Cannot read variables file"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := loadSpec(t, varSpec)
			_, diags := lang.ResolveVariables(spec, tt.cli, tt.files, nil)
			var sb strings.Builder
			configs.WriteDiagnostics(&sb, spec.Files, diags)
			out := sb.String()
			rest := out
			for _, w := range tt.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("missing %q in:\n%s", w, out)
				}
				rest = rest[i+len(w):]
			}
		})
	}
}

func TestEvalLocals(t *testing.T) {
	spec := loadSpec(t, `
variable "n" { default = 2 }
locals {
  c = local.b * 10
  b = local.a + 1
  a = var.n
  s = "${local.c}-${basename(path.spec)}"
}`)
	vars, _ := lang.ResolveVariables(spec, nil, nil, nil)
	got, diags := lang.EvalLocals(spec, vars, "")
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	want := map[string]cty.Value{
		"a": cty.NumberIntVal(2), "b": cty.NumberIntVal(3), "c": cty.NumberIntVal(30),
		"s": cty.StringVal("30-" + filepath.Base(spec.Dir)),
	}
	if diff := cmp.Diff(want, got, cmp.Comparer(func(a, b cty.Value) bool { return a.RawEquals(b) })); diff != "" {
		t.Errorf("locals (-want +got):\n%s", diff)
	}
}

func TestCheckReferences(t *testing.T) {
	spec := loadSpec(t, `variable "n" { default = 1 }
locals { l = 1 }`)
	tests := []struct {
		scope *lang.Scope
		expr  string
		want  string // "" for no error
	}{
		{&lang.Scope{Vars: map[string]cty.Value{}, Locals: map[string]cty.Value{}}, `var.n + local.l + path.spec`, ""},
		{&lang.Scope{Vars: map[string]cty.Value{}}, `local.l`, "cannot refer to local values"},
		{&lang.Scope{Vars: map[string]cty.Value{}}, `var.m`, `No variable "m" is declared`},
		{&lang.Scope{}, `step.a.outputs.x`, "cannot refer to step results"},
		{&lang.Scope{Steps: map[string]cty.Value{}}, `step.a.outputs.x`, ""},
		{&lang.Scope{Each: &lang.EachValue{Key: cty.StringVal("k"), Value: cty.True}}, `each.key`, ""},
		{&lang.Scope{CountIndex: cty.Zero}, `count.index + each.key`, "each.key and each.value exist only"},
		{&lang.Scope{}, `nothing.here`, `"nothing" is not a known name`},
	}
	for _, tt := range tests {
		expr, _ := hclsyntax.ParseExpression([]byte(tt.expr), "x.hcl", hcl.InitialPos)
		diags := tt.scope.CheckReferences(spec, expr.Variables(), "This position")
		switch {
		case tt.want == "" && diags.HasErrors():
			t.Errorf("%s: unexpected %s", tt.expr, diags.Error())
		case tt.want != "" && !strings.Contains(diags.Error(), tt.want):
			t.Errorf("%s: got %v, want %q", tt.expr, diags, tt.want)
		}
	}
}

func TestRedactSensitive(t *testing.T) {
	spec := loadSpec(t, `
variable "token" {
  type      = string
  sensitive = true
}
variable "n" { default = 1 }`)
	vars, diags := lang.ResolveVariables(spec, []string{"token=s3cret"}, nil, nil)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	got := lang.RedactSensitive(spec, vars)
	if got["token"].AsString() != lang.SensitivePlaceholder || !got["n"].RawEquals(cty.NumberIntVal(1)) {
		t.Errorf("redacted = %#v", got)
	}
	if plain, marks := vars["token"].Unmark(); plain.AsString() != "s3cret" || len(marks) == 0 {
		t.Errorf("sensitive variable %#v: want the value, marked", vars["token"])
	}
}
