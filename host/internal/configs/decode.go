package configs

import (
	"fmt"
	"regexp"

	"github.com/hashicorp/go-version"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	hcljson "github.com/hashicorp/hcl/v2/json"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

var specSchema = &hcl.BodySchema{
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "variable", LabelNames: []string{"name"}},
		{Type: "locals"},
		{Type: "plugin", LabelNames: []string{"name"}},
		{Type: "step", LabelNames: []string{"name"}},
		{Type: "output", LabelNames: []string{"name"}},
		{Type: "resources"},
	},
}

var variableSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "type"}, {Name: "default"}, {Name: "description"}, {Name: "sensitive"},
	},
	Blocks: []hcl.BlockHeaderSchema{{Type: "validation"}},
}

var validationSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "condition", Required: true},
		{Name: "error_message", Required: true},
	},
}

var pluginSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "source"}, {Name: "version"}},
}

var stepSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "plugin", Required: true},
		{Name: "depends_on"}, {Name: "for_each"}, {Name: "count"},
		{Name: "seed"}, {Name: "backend"},
	},
	Blocks: []hcl.BlockHeaderSchema{{Type: "config"}, {Type: "resources"}},
}

// pluginSourceRe is what may follow "shammie-plugin-" in a binary name: no
// path separators, so a spec can never point the host at an arbitrary file.
var pluginSourceRe = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)

func parseFile(filename string, src []byte) (*hcl.File, hcl.Diagnostics) {
	if IsJSONFilename(filename) {
		return hcljson.Parse(src, filename)
	}
	return hclsyntax.ParseConfig(src, filename, hcl.InitialPos)
}

// topLevelBlocks lists what a spec may contain, for "not expected here".
const topLevelBlocks = "variable, locals, plugin, step, resources and output"

func decodeSpec(spec *Spec, body hcl.Body) hcl.Diagnostics {
	content, diags := body.Content(specSchema)
	for _, d := range diags {
		if d.Summary == "Unsupported block type" || d.Summary == "Unsupported argument" {
			d.Detail += " A spec's top-level blocks are " + topLevelBlocks + "."
		}
	}
	for _, block := range content.Blocks {
		switch block.Type {
		case "output":
			o, d := decodeOutput(block)
			diags = append(diags, d...)
			if o != nil {
				if prev, dup := spec.Outputs[o.Name]; dup {
					diags = append(diags, duplicate("output", o.Name, prev.DeclRange, o.DeclRange))
					continue
				}
				spec.Outputs[o.Name] = o
			}
		case "variable":
			v, d := decodeVariable(block)
			diags = append(diags, d...)
			if v != nil {
				if prev, dup := spec.Variables[v.Name]; dup {
					diags = append(diags, duplicate("variable", v.Name, prev.DeclRange, v.DeclRange))
					continue
				}
				spec.Variables[v.Name] = v
			}
		case "locals":
			attrs, d := block.Body.JustAttributes()
			diags = append(diags, d...)
			for _, a := range sortedAttrs(attrs) {
				if !hclsyntax.ValidIdentifier(a.Name) {
					diags = append(diags, badName("local value", a.Name, a.NameRange))
					continue
				}
				if prev, dup := spec.Locals[a.Name]; dup {
					diags = append(diags, duplicate("local value", a.Name, prev.DeclRange, a.Range))
					continue
				}
				spec.Locals[a.Name] = &Local{Name: a.Name, Expr: a.Expr, DeclRange: a.Range}
			}
		case "plugin":
			p, d := decodePlugin(block)
			diags = append(diags, d...)
			if p != nil {
				if prev, dup := spec.Plugins[p.Name]; dup {
					diags = append(diags, duplicate("plugin", p.Name, prev.DeclRange, p.DeclRange))
					continue
				}
				spec.Plugins[p.Name] = p
			}
		case "step":
			s, d := decodeStep(block)
			diags = append(diags, d...)
			if s != nil {
				if prev, dup := spec.Steps[s.Name]; dup {
					diags = append(diags, duplicate("step", s.Name, prev.DeclRange, s.DeclRange))
					continue
				}
				spec.Steps[s.Name] = s
			}
		case "resources":
			r, d := decodeResources(block)
			diags = append(diags, d...)
			if spec.Resources != nil {
				diags = append(diags, duplicateResources("The spec", spec.Resources.DeclRange, block.DefRange))
				continue
			}
			spec.Resources = r
		}
	}
	diags = append(diags, checkStepReferences(spec)...)
	return diags
}

// checkStepReferences checks what can be checked without evaluating
// anything: each step's plugin names a declared plugin block.
func checkStepReferences(spec *Spec) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, name := range spec.SortedStepNames() {
		s := spec.Steps[name]
		if s.Plugin != "" {
			if _, ok := spec.Plugins[s.Plugin]; !ok {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Reference to undeclared plugin",
					Detail: fmt.Sprintf("Step %q uses plugin.%s, but no plugin %q block is declared.%s To use a new plugin, declare it:\n  plugin %q { version = \">= 0.1.0\" }",
						name, s.Plugin, s.Plugin, didYouMean(s.Plugin, SortedKeys(spec.Plugins)), s.Plugin),
					Subject: s.PluginRange.Ptr(),
				})
			}
		}
		// depends_on targets are checked by package dag with the other
		// step references.
	}
	return diags
}

func decodeVariable(block *hcl.Block) (*Variable, hcl.Diagnostics) {
	name := block.Labels[0]
	v := &Variable{Name: name, Type: cty.DynamicPseudoType, Default: cty.NilVal, DeclRange: block.DefRange}
	var diags hcl.Diagnostics
	if !hclsyntax.ValidIdentifier(name) {
		diags = append(diags, badName("variable", name, block.LabelRanges[0]))
	}
	content, d := block.Body.Content(variableSchema)
	diags = append(diags, d...)

	if a, ok := content.Attributes["type"]; ok {
		ty, defaults, d := typeConstraint(a.Expr)
		diags = append(diags, d...)
		if !d.HasErrors() {
			v.Type, v.TypeDefaults = ty, defaults
		}
	}
	if a, ok := content.Attributes["description"]; ok {
		diags = append(diags, constString(a, &v.Description)...)
	}
	if a, ok := content.Attributes["sensitive"]; ok {
		val, d := a.Expr.Value(nil)
		diags = append(diags, d...)
		if !d.HasErrors() {
			if b, err := convert.Convert(val, cty.Bool); err != nil || b.IsNull() || !b.IsKnown() {
				diags = append(diags, attrTypeError(a, "a bool (true or false)"))
			} else {
				v.Sensitive = b.True()
			}
		}
	}
	if a, ok := content.Attributes["default"]; ok {
		v.DefaultRange = a.Expr.Range()
		val, d := a.Expr.Value(nil)
		if d.HasErrors() {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid default value for variable",
				Detail:   "A variable's default must be a constant: it cannot refer to other variables, locals, steps or functions of them. Use a local value to compute something from a variable.",
				Subject:  a.Expr.Range().Ptr(),
			})
		} else {
			if v.TypeDefaults != nil {
				val = v.TypeDefaults.Apply(val)
			}
			conv, err := convert.Convert(val, v.Type)
			if err != nil {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Invalid default value for variable",
					Detail:   fmt.Sprintf("This default value is not compatible with the variable's type constraint: %s.", errString(err)),
					Subject:  a.Expr.Range().Ptr(),
				})
				conv = cty.UnknownVal(v.Type)
			}
			v.Default = conv
		}
	}
	for _, vb := range content.Blocks {
		val, d := decodeValidation(name, vb)
		diags = append(diags, d...)
		if val != nil {
			v.Validations = append(v.Validations, val)
		}
	}
	v.Invalid = diags.HasErrors()
	return v, diags
}

func decodeValidation(varName string, block *hcl.Block) (*Validation, hcl.Diagnostics) {
	content, diags := block.Body.Content(validationSchema)
	if diags.HasErrors() {
		return nil, diags
	}
	val := &Validation{
		Condition:    content.Attributes["condition"].Expr,
		ErrorMessage: content.Attributes["error_message"].Expr,
		DeclRange:    block.DefRange,
	}
	refsSelf := false
	for _, t := range val.Condition.Variables() {
		ok := false
		if t.RootName() == "var" && len(t) >= 2 {
			if attr, isAttr := t[1].(hcl.TraverseAttr); isAttr && attr.Name == varName {
				ok, refsSelf = true, true
			}
		}
		if !ok {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid reference in variable validation",
				Detail:   fmt.Sprintf("The condition for variable %q can only refer to the variable itself, using var.%s.", varName, varName),
				Subject:  t.SourceRange().Ptr(),
			})
		}
	}
	if !refsSelf && !diags.HasErrors() {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid variable validation condition",
			Detail:   fmt.Sprintf("The condition for variable %q must refer to var.%s in order to test incoming values.", varName, varName),
			Subject:  val.Condition.Range().Ptr(),
		})
	}
	// A constant error message is checked now; one that interpolates the
	// value is checked when it is evaluated.
	for _, t := range val.ErrorMessage.Variables() {
		if t.RootName() != "var" {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid reference in variable validation",
				Detail:   fmt.Sprintf("The error message for variable %q can only refer to var.%s.", varName, varName),
				Subject:  t.SourceRange().Ptr(),
			})
		}
	}
	if diags.HasErrors() {
		// Dropped, so that evaluating it against values does not repeat
		// the problem.
		return nil, diags
	}
	return val, diags
}

func decodePlugin(block *hcl.Block) (*PluginDecl, hcl.Diagnostics) {
	name := block.Labels[0]
	p := &PluginDecl{Name: name, Source: name, DeclRange: block.DefRange}
	var diags hcl.Diagnostics
	if !hclsyntax.ValidIdentifier(name) {
		diags = append(diags, badName("plugin", name, block.LabelRanges[0]))
	}
	content, d := block.Body.Content(pluginSchema)
	diags = append(diags, d...)
	srcRange := block.LabelRanges[0]
	if a, ok := content.Attributes["source"]; ok {
		diags = append(diags, constString(a, &p.Source)...)
		srcRange = a.Expr.Range()
	}
	if !pluginSourceRe.MatchString(p.Source) {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Invalid plugin source",
			Detail: fmt.Sprintf("The plugin source %q must be a plugin name such as \"fit\" (lower-case letters, digits, '-' and '_'): the host runs the binary %s<source> found in ./bin, the plugins directory or $SHAMMIE_PLUGIN_PATH.",
				p.Source, PluginBinaryPrefix),
			Subject: srcRange.Ptr(),
		})
	}
	if a, ok := content.Attributes["version"]; ok {
		p.VersionRange = a.Expr.Range()
		d := constString(a, &p.VersionString)
		diags = append(diags, d...)
		if !d.HasErrors() {
			c, err := version.NewConstraint(p.VersionString)
			if err != nil {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Invalid version constraint",
					Detail:   fmt.Sprintf("%s. Write a constraint such as \">= 0.1.0\", \"~> 0.3\" or \">= 1.0, < 2.0\".", err),
					Subject:  a.Expr.Range().Ptr(),
				})
			} else {
				p.Version = c
			}
		}
	}
	return p, diags
}

func decodeStep(block *hcl.Block) (*Step, hcl.Diagnostics) {
	name := block.Labels[0]
	s := &Step{Name: name, DeclRange: block.DefRange}
	var diags hcl.Diagnostics
	if !hclsyntax.ValidIdentifier(name) {
		diags = append(diags, badName("step", name, block.LabelRanges[0]))
	}
	content, d := block.Body.Content(stepSchema)
	diags = append(diags, d...)

	if a, ok := content.Attributes["plugin"]; ok {
		s.PluginRange = a.Expr.Range()
		t, d := hcl.AbsTraversalForExpr(a.Expr)
		if d.HasErrors() || len(t) != 2 || t.RootName() != "plugin" {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid plugin reference",
				Detail:   "The plugin argument must be a reference to a declared plugin block, like plugin.fit.",
				Subject:  a.Expr.Range().Ptr(),
			})
		} else if attr, ok := t[1].(hcl.TraverseAttr); ok {
			s.Plugin = attr.Name
		} else {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid plugin reference",
				Detail:   "The plugin argument must be a reference to a declared plugin block, like plugin.fit.",
				Subject:  a.Expr.Range().Ptr(),
			})
		}
	}
	if a, ok := content.Attributes["depends_on"]; ok {
		exprs, d := hcl.ExprList(a.Expr)
		if d.HasErrors() {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid depends_on",
				Detail:   "depends_on must be a list of step references, like [step.generate, step.train].",
				Subject:  a.Expr.Range().Ptr(),
			})
		}
		for _, e := range exprs {
			t, d := hcl.AbsTraversalForExpr(e)
			valid := !d.HasErrors() && len(t) >= 2 && t.RootName() == "step"
			if valid {
				_, valid = t[1].(hcl.TraverseAttr)
			}
			if !valid {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Invalid depends_on reference",
					Detail:   "Each depends_on element must be a step reference, like step.generate.",
					Subject:  e.Range().Ptr(),
				})
				continue
			}
			s.DependsOn = append(s.DependsOn, t)
		}
	}
	if a, ok := content.Attributes["for_each"]; ok {
		s.ForEach = a.Expr
	}
	if a, ok := content.Attributes["count"]; ok {
		s.Count = a.Expr
		if s.ForEach != nil {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Invalid combination of \"count\" and \"for_each\"",
				Detail:   "The \"count\" and \"for_each\" arguments are mutually exclusive: a step is repeated either over a number of instances or over a collection, not both.",
				Subject:  a.NameRange.Ptr(),
			})
		}
	}
	if a, ok := content.Attributes["seed"]; ok {
		s.Seed = a.Expr
	}
	if a, ok := content.Attributes["backend"]; ok {
		s.Backend = a.Expr
	}

	s.Config = hcl.EmptyBody()
	s.ConfigRange = block.DefRange
	var first *hcl.Block
	for _, cb := range content.Blocks {
		if cb.Type == "resources" {
			r, d := decodeResources(cb)
			diags = append(diags, d...)
			if s.Resources != nil {
				diags = append(diags, duplicateResources(fmt.Sprintf("Step %q", name), s.Resources.DeclRange, cb.DefRange))
				continue
			}
			s.Resources = r
			continue
		}
		if first != nil {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Duplicate config block",
				Detail:   fmt.Sprintf("Step %q already has a config block at %s; a step has at most one.", name, first.DefRange),
				Subject:  cb.DefRange.Ptr(),
			})
			continue
		}
		first = cb
		s.Config, s.ConfigRange, s.HasConfig = cb.Body, cb.DefRange, true
	}
	return s, diags
}

// typeConstraint decodes a variable's type. In JSON syntax the type is
// written as a string ("list(number)") and parsed as a native expression.
func typeConstraint(expr hcl.Expression) (cty.Type, *typeexpr.Defaults, hcl.Diagnostics) {
	if isJSONExpr(expr) {
		val, diags := expr.Value(nil)
		if diags.HasErrors() || val.Type() != cty.String || val.IsNull() || !val.IsKnown() {
			return cty.DynamicPseudoType, nil, hcl.Diagnostics{{
				Severity: hcl.DiagError,
				Summary:  "Invalid type specification",
				Detail:   "In JSON syntax the type is a string containing a type expression, like \"number\" or \"list(string)\".",
				Subject:  expr.Range().Ptr(),
			}}
		}
		rng := expr.Range()
		// Point inside the quotes so ranges of errors line up with the text.
		start := rng.Start
		start.Column++
		start.Byte++
		native, diags := hclsyntax.ParseExpression([]byte(val.AsString()), rng.Filename, start)
		if diags.HasErrors() {
			return cty.DynamicPseudoType, nil, diags
		}
		expr = native
	}
	return typeexpr.TypeConstraintWithDefaults(expr)
}

func isJSONExpr(expr hcl.Expression) bool {
	_, native := expr.(hclsyntax.Expression)
	return !native
}

func constString(a *hcl.Attribute, dst *string) hcl.Diagnostics {
	val, diags := a.Expr.Value(nil)
	if diags.HasErrors() {
		return hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  fmt.Sprintf("Invalid %s", a.Name),
			Detail:   fmt.Sprintf("The %s argument must be a constant string: it cannot refer to variables or other values.", a.Name),
			Subject:  a.Expr.Range().Ptr(),
		}}
	}
	s, err := convert.Convert(val, cty.String)
	if err != nil || s.IsNull() || !s.IsKnown() {
		return hcl.Diagnostics{attrTypeError(a, "a string")}
	}
	*dst = s.AsString()
	return nil
}

func attrTypeError(a *hcl.Attribute, want string) *hcl.Diagnostic {
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  fmt.Sprintf("Invalid %s", a.Name),
		Detail:   fmt.Sprintf("The %s argument must be %s.", a.Name, want),
		Subject:  a.Expr.Range().Ptr(),
	}
}

func duplicate(kind, name string, prev, cur hcl.Range) *hcl.Diagnostic {
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  fmt.Sprintf("Duplicate %s %q", kind, name),
		Detail:   fmt.Sprintf("A %s named %q was already declared at %s. Names must be unique within a spec.", kind, name, prev),
		Subject:  cur.Ptr(),
	}
}

func badName(kind, name string, rng hcl.Range) *hcl.Diagnostic {
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  fmt.Sprintf("Invalid %s name", kind),
		Detail:   fmt.Sprintf("%q is not a valid name: a name starts with a letter or underscore and contains only letters, digits, underscores and dashes.", name),
		Subject:  rng.Ptr(),
	}
}

func errString(err error) string {
	if pe, ok := err.(cty.PathError); ok && len(pe.Path) > 0 {
		return fmt.Sprintf("%s: %s", FormatCtyPath(pe.Path), pe.Error())
	}
	return err.Error()
}

// FormatCtyPath renders a cty path as HCL-ish syntax: .a[0]["k"].
func FormatCtyPath(p cty.Path) string {
	var out string
	for _, step := range p {
		switch s := step.(type) {
		case cty.GetAttrStep:
			out += "." + s.Name
		case cty.IndexStep:
			if !s.Key.IsKnown() || s.Key.IsNull() {
				out += "[?]"
			} else if s.Key.Type() == cty.String {
				out += fmt.Sprintf("[%q]", s.Key.AsString())
			} else if s.Key.Type() == cty.Number {
				out += "[" + s.Key.AsBigFloat().Text('f', -1) + "]"
			} else {
				out += "[...]"
			}
		}
	}
	if len(out) > 0 && out[0] == '.' {
		out = out[1:]
	}
	return out
}

func sortedAttrs(attrs hcl.Attributes) []*hcl.Attribute {
	out := make([]*hcl.Attribute, 0, len(attrs))
	for _, a := range attrs {
		out = append(out, a)
	}
	sortByRange(out)
	return out
}

var outputSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "value", Required: true},
		{Name: "description"},
		{Name: "sensitive"},
	},
}

// decodeOutput decodes `output "name" { value = ... }`: a result of the
// whole run, printed when it ends and kept in run.json.
func decodeOutput(block *hcl.Block) (*Output, hcl.Diagnostics) {
	name := block.Labels[0]
	o := &Output{Name: name, DeclRange: block.DefRange}
	var diags hcl.Diagnostics
	if !hclsyntax.ValidIdentifier(name) {
		diags = append(diags, badName("output", name, block.LabelRanges[0]))
	}
	content, d := block.Body.Content(outputSchema)
	diags = append(diags, d...)
	if a, ok := content.Attributes["value"]; ok {
		o.Expr = a.Expr
	}
	if a, ok := content.Attributes["description"]; ok {
		diags = append(diags, constString(a, &o.Description)...)
	}
	if a, ok := content.Attributes["sensitive"]; ok {
		v, d := a.Expr.Value(nil)
		diags = append(diags, d...)
		if !d.HasErrors() {
			if v.Type() != cty.Bool || v.IsNull() {
				diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid sensitive value",
					Detail: "sensitive must be true or false.", Subject: a.Expr.Range().Ptr()})
			} else {
				o.Sensitive = v.True()
			}
		}
	}
	if o.Expr == nil {
		return nil, diags
	}
	return o, diags
}
