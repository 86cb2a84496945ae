package dag

import (
	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/shammie-ml/shammie/host/internal/lang"
)

// Spec-level outputs (`output "name" { value = ... }`) are evaluated once
// the run ends, from the results of every step instance that succeeded
// (computed or restored from the cache), like Terraform's root outputs.

// outputSteps names the steps an output refers to (all their instances).
func (g *Graph) outputSteps(expr hcl.Expression) map[string]map[int]bool {
	names := map[string]map[int]bool{}
	for _, t := range expr.Variables() {
		if t.RootName() != lang.RootStep {
			continue
		}
		if name, ok := attrName(t, 1); ok {
			if _, declared := g.Spec.Steps[name]; declared {
				names[name] = nil
			}
		}
	}
	return names
}

// checkOutputs validates every output statically: references (with the
// steps' declared outputs and artifacts) and the expression with unknown
// step results.
func (g *Graph) checkOutputs(placeholders map[string]cty.Value) hcl.Diagnostics {
	var diags hcl.Diagnostics
	outside := &Node{Name: "", index: -1}
	for _, name := range g.Spec.SortedOutputNames() {
		o := g.Spec.Outputs[name]
		var bad []hcl.Range
		var nonStep []hcl.Traversal
		for _, t := range o.Expr.Variables() {
			if t.RootName() != lang.RootStep {
				nonStep = append(nonStep, t)
				continue
			}
			if _, d := g.resolveRef(outside, t, nil, nil); d.HasErrors() {
				diags = append(diags, d...)
				bad = append(bad, t.SourceRange())
			}
		}
		scope := &lang.Scope{BaseDir: g.Spec.Dir, Cwd: g.opts.Cwd, Vars: g.Vars, Locals: g.Locals, Steps: placeholders, Functions: g.funcs}
		refDiags := scope.CheckReferences(g.Spec, nonStep, "An output")
		diags = append(diags, refDiags...)
		bad = append(bad, rangesOf(refDiags)...)
		_, d := o.Expr.Value(scope.EvalContext())
		diags = append(diags, withoutInside(d, bad)...)
	}
	return diags
}

// OutputValue is one evaluated spec output. Known is false when a step it
// reads did not succeed in this run.
type OutputValue struct {
	Name      string
	Value     cty.Value
	Sensitive bool
	Known     bool
	Err       string
}

// EvalOutputs evaluates the spec's outputs from the finished instances'
// results, in name order.
func (g *Graph) EvalOutputs(results map[string]StepResult) []OutputValue {
	var out []OutputValue
	for _, name := range g.Spec.SortedOutputNames() {
		o := g.Spec.Outputs[name]
		scope := &lang.Scope{BaseDir: g.Spec.Dir, Cwd: g.opts.Cwd, Vars: g.Vars, Locals: g.Locals,
			Steps: g.stepValues(results, g.outputSteps(o.Expr)), Functions: g.funcs}
		v, d := o.Expr.Value(scope.EvalContext())
		ov := OutputValue{Name: name, Value: v, Sensitive: o.Sensitive || v.ContainsMarked()}
		switch {
		case d.HasErrors():
			ov.Err = d.Error()
		case !v.IsWhollyKnown():
			ov.Err = "not known: a step it reads did not succeed in this run"
		default:
			ov.Known = true
		}
		if ov.Sensitive {
			ov.Value = ov.Value.Mark(lang.SensitiveMark)
		}
		out = append(out, ov)
	}
	return out
}
