package lang

import (
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	hcljson "github.com/hashicorp/hcl/v2/json"
	"github.com/shammie-ml/shammie/host/internal/configs"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// EnvVarPrefix prefixes environment variables that set spec variables:
// SHAMMIE_VAR_n_concepts=400 sets var.n_concepts.
const EnvVarPrefix = "SHAMMIE_VAR_"

// rawValue is one candidate value of a variable and where it came from.
type rawValue struct {
	value cty.Value
	rng   hcl.Range
	from  string // "the environment", "a -var option", the file name
}

// ResolveVariables computes the value of every declared variable from, in
// increasing precedence: its default, SHAMMIE_VAR_<name> in environ, the
// var files in order (.json: HCL JSON syntax, anything else: native), and
// the cliVars ("name=value" from -var, later ones win). Values from -var and
// the environment are taken verbatim when the variable's type is string and
// parsed as HCL expressions otherwise (so -var 'sizes=[1,2]' works); an
// untyped variable takes text that does not parse as a constant verbatim.
// Then each value is converted to the declared type and checked by the
// variable's validation blocks. Var files and -var values are added to
// spec.Files so diagnostics render with snippets.
//
// On errors the affected variables are unknown values of their type, so
// later checks can go on without cascading errors.
func ResolveVariables(spec *configs.Spec, cliVars []string, varFiles []string, environ []string) (map[string]cty.Value, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	given := map[string]rawValue{}

	for _, kv := range environ {
		name, val, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, EnvVarPrefix) {
			continue
		}
		name = strings.TrimPrefix(name, EnvVarPrefix)
		v, declared := spec.Variables[name]
		if !declared {
			// The environment is shared with other specs: not an error.
			continue
		}
		rv, d := parseRaw(spec, v, val, fmt.Sprintf("<value for var.%s from %s%s>", name, EnvVarPrefix, name))
		diags = append(diags, d...)
		if !d.HasErrors() {
			rv.from = "the environment"
			given[name] = rv
		}
	}

	for _, path := range varFiles {
		vals, d := loadVarFile(spec, path)
		diags = append(diags, d...)
		for name, rv := range vals {
			given[name] = rv
		}
	}

	for _, kv := range cliVars {
		name, val, ok := strings.Cut(kv, "=")
		if !ok || name == "" {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid -var option",
				Detail:   fmt.Sprintf("The option -var %q is not of the form name=value, e.g. -var 'n_concepts=400'.", kv),
			})
			continue
		}
		v, declared := spec.Variables[name]
		if !declared {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Value for undeclared variable",
				Detail: fmt.Sprintf("A -var option sets %q, but the spec declares no variable of that name.%s",
					name, configs.DidYouMean(name, spec.SortedVariableNames())),
			})
			continue
		}
		rv, d := parseRaw(spec, v, val, fmt.Sprintf("<value for var.%s from -var>", name))
		diags = append(diags, d...)
		if !d.HasErrors() {
			rv.from = "a -var option"
			given[name] = rv
		}
	}

	out := make(map[string]cty.Value, len(spec.Variables))
	for _, name := range spec.SortedVariableNames() {
		v := spec.Variables[name]
		rv, ok := given[name]
		if v.Invalid && (!ok || v.Type == cty.DynamicPseudoType) {
			// Its declaration was reported; checking values against a
			// broken declaration would only add noise.
			out[name] = cty.UnknownVal(v.Type)
			continue
		}
		if !ok {
			if v.Required() {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "No value for required variable",
					Detail: fmt.Sprintf("The variable %q has no default, so it must be set: use -var '%s=...', a -var-file containing %s = ..., or the environment variable %s%s.",
						name, name, name, EnvVarPrefix, name),
					Subject: v.DeclRange.Ptr(),
				})
				out[name] = cty.UnknownVal(v.Type)
				continue
			}
			rv = rawValue{value: v.Default, rng: v.DefaultRange, from: "the default"}
		}
		val := rv.value
		if v.TypeDefaults != nil {
			val = v.TypeDefaults.Apply(val)
		}
		conv, err := convert.Convert(val, v.Type)
		if err != nil {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid value for variable",
				Detail: fmt.Sprintf("The value for var.%s from %s is not compatible with its type constraint %s: %s.",
					name, rv.from, typeexpr.TypeString(v.Type), convertErrString(err)),
				Subject: rv.rng.Ptr(),
			})
			out[name] = cty.UnknownVal(v.Type)
			continue
		}
		diags = append(diags, validate(spec, v, conv, rv)...)
		if v.Sensitive {
			// The mark follows the value through every expression, into
			// step configs, where records and displays redact it.
			conv = conv.Mark(SensitiveMark)
		}
		out[name] = conv
	}
	return out, diags
}

// SensitiveMark marks the values of sensitive variables (cty marks) and
// everything computed from them.
const SensitiveMark = "sensitive"

// parseRaw turns a -var or environment string into a value, registering a
// pseudo file so that errors show the text.
func parseRaw(spec *configs.Spec, v *configs.Variable, raw, pseudoName string) (rawValue, hcl.Diagnostics) {
	src := []byte(raw)
	spec.Files[pseudoName] = &hcl.File{Bytes: src}
	rng := hcl.Range{
		Filename: pseudoName,
		Start:    hcl.InitialPos,
		End:      hcl.Pos{Line: 1, Column: len(raw) + 1, Byte: len(raw)},
	}
	if v.IsStringish() {
		return rawValue{value: cty.StringVal(raw), rng: rng}, nil
	}
	expr, diags := hclsyntax.ParseExpression(src, pseudoName, hcl.InitialPos)
	var val cty.Value
	if !diags.HasErrors() {
		val, diags = expr.Value(nil)
	}
	if diags.HasErrors() && v.Type == cty.DynamicPseudoType {
		// An untyped variable takes text that is not an HCL constant as
		// a string, so that -var name=hello works without quotes.
		return rawValue{value: cty.StringVal(raw), rng: rng}, nil
	}
	if diags.HasErrors() {
		for _, d := range diags {
			d.Detail += fmt.Sprintf(" Values for var.%s (type %s) are parsed as HCL expressions: write numbers, lists and objects literally (-var '%s=[1, 2]') and quote strings.", v.Name, typeexpr.TypeString(v.Type), v.Name)
		}
		return rawValue{}, diags
	}
	return rawValue{value: val, rng: expr.Range()}, nil
}

func loadVarFile(spec *configs.Spec, path string) (map[string]rawValue, hcl.Diagnostics) {
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Cannot read variables file",
			Detail:   fmt.Sprintf("%s. Check the -var-file option.", err),
		}}
	}
	var file *hcl.File
	var diags hcl.Diagnostics
	if configs.IsJSONFilename(path) {
		file, diags = hcljson.Parse(src, path)
	} else {
		file, diags = hclsyntax.ParseConfig(src, path, hcl.InitialPos)
	}
	if file == nil {
		return nil, diags
	}
	spec.Files[path] = file
	if diags.HasErrors() {
		return nil, diags
	}
	attrs, d := file.Body.JustAttributes()
	diags = append(diags, d...)
	out := map[string]rawValue{}
	names := make([]string, 0, len(attrs))
	for n := range attrs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		a := attrs[name]
		if _, declared := spec.Variables[name]; !declared {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagWarning,
				Summary:  "Value for undeclared variable",
				Detail: fmt.Sprintf("The file sets %q, but the spec declares no variable of that name; the value is ignored.%s",
					name, configs.DidYouMean(name, spec.SortedVariableNames())),
				Subject: a.NameRange.Ptr(),
			})
			continue
		}
		val, d := a.Expr.Value(nil)
		if d.HasErrors() {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Variables not allowed",
				Detail:   "Values in a variables file must be constants: they cannot refer to variables, locals or functions of them.",
				Subject:  a.Expr.Range().Ptr(),
			})
			continue
		}
		out[name] = rawValue{value: val, rng: a.Expr.Range(), from: path}
	}
	return out, diags
}

// validate runs the variable's validation blocks against val.
func validate(spec *configs.Spec, v *configs.Variable, val cty.Value, rv rawValue) hcl.Diagnostics {
	var diags hcl.Diagnostics
	scope := &Scope{BaseDir: spec.Dir, Vars: map[string]cty.Value{v.Name: val}}
	ctx := scope.EvalContext()
	for _, rule := range v.Validations {
		cond, d := rule.Condition.Value(ctx)
		diags = append(diags, d...)
		if d.HasErrors() {
			continue
		}
		if !cond.IsKnown() {
			continue
		}
		cond, err := convert.Convert(cond, cty.Bool)
		if err != nil || cond.IsNull() {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid validation condition",
				Detail:   "The condition must evaluate to true or false.",
				Subject:  rule.Condition.Range().Ptr(),
			})
			continue
		}
		if cond.True() {
			continue
		}
		msg := "(no error message)"
		if m, d := rule.ErrorMessage.Value(ctx); !d.HasErrors() && m.IsKnown() && !m.IsNull() {
			if s, err := convert.Convert(m, cty.String); err == nil {
				msg = s.AsString()
			}
		}
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid value for variable",
			Detail: fmt.Sprintf("%s\n\nThis was checked by the validation rule at %s (value from %s).",
				msg, rule.DeclRange, rv.from),
			Subject: rv.rng.Ptr(),
		})
	}
	return diags
}

func convertErrString(err error) string {
	if pe, ok := err.(cty.PathError); ok && len(pe.Path) > 0 {
		return fmt.Sprintf("at %s: %s", configs.FormatCtyPath(pe.Path), pe.Error())
	}
	return err.Error()
}

// SensitivePlaceholder replaces the values of sensitive variables in
// anything shown or recorded (plan output, run records).
const SensitivePlaceholder = "(sensitive)"

// RedactSensitive returns vars with the value of every variable declared
// `sensitive = true` replaced by SensitivePlaceholder. Steps still receive
// the real values; only what is displayed or stored should be redacted.
func RedactSensitive(spec *configs.Spec, vars map[string]cty.Value) map[string]cty.Value {
	out := make(map[string]cty.Value, len(vars))
	for name, v := range vars {
		if decl, ok := spec.Variables[name]; ok && decl.Sensitive {
			v = cty.StringVal(SensitivePlaceholder)
		}
		out[name] = v
	}
	return out
}
