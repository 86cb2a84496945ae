package dag

import (
	"fmt"
	"math/big"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/shammie-ml/shammie/host/internal/configs"
	"github.com/shammie-ml/shammie/host/internal/lang"
)

// Expansion of steps into instances: for_each and count.

// expand evaluates for_each / count of a step. It returns the instance
// keys (cty.NilVal alone for a single step) and each.value per key.
func (g *Graph) expand(st *configs.Step) (expansion, []cty.Value, []cty.Value, hcl.Diagnostics) {
	var expr hcl.Expression
	var what string
	switch {
	case st.ForEach != nil:
		expr, what = st.ForEach, "for_each"
	case st.Count != nil:
		expr, what = st.Count, "count"
	default:
		return single, []cty.Value{cty.NilVal}, nil, nil
	}
	scope := &lang.Scope{BaseDir: g.Spec.Dir, Cwd: g.opts.Cwd, Vars: g.Vars, Locals: g.Locals, Functions: g.funcs}
	diags := scope.CheckReferences(g.Spec, expr.Variables(), fmt.Sprintf("The %s argument", what))
	for _, d := range diags {
		if d.Summary == "Reference not allowed here" {
			d.Summary = fmt.Sprintf("Invalid %s argument", what)
			d.Detail += fmt.Sprintf(" A sweep's %s must be known when the spec is planned: compute it from variables and locals.", what)
		}
	}
	if diags.HasErrors() {
		_, k, v, _ := g.failedExpansion(st)
		return expansionOf(st), k, v, diags
	}
	val, d := expr.Value(scope.EvalContext())
	diags = append(diags, d...)
	if d.HasErrors() {
		_, k, v, _ := g.failedExpansion(st)
		return expansionOf(st), k, v, diags
	}
	bad := func(detail string) (expansion, []cty.Value, []cty.Value, hcl.Diagnostics) {
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  fmt.Sprintf("Invalid %s argument", what),
			Detail:   detail,
			Subject:  expr.Range().Ptr(),
		})
		_, k, v, _ := g.failedExpansion(st)
		return expansionOf(st), k, v, diags
	}
	// Instance keys are addresses, shown everywhere: a sensitive value
	// cannot stay hidden in them, so its mark is dropped here.
	val, _ = val.UnmarkDeep()
	if val.IsNull() {
		return bad(fmt.Sprintf("The %s value is null.", what))
	}
	if !val.IsWhollyKnown() {
		return bad(fmt.Sprintf("The %s value is not known until steps run; it must be computed from variables and locals only.", what))
	}
	if what == "count" {
		num, err := convert.Convert(val, cty.Number)
		if err != nil {
			return bad(fmt.Sprintf("count must be a whole number, not %s.", val.Type().FriendlyName()))
		}
		bf := num.AsBigFloat()
		if !bf.IsInt() || bf.Sign() < 0 || bf.Cmp(big.NewFloat(float64(g.maxInstances()))) > 0 {
			return bad(fmt.Sprintf("count must be a whole number between 0 and %d, not %s.", g.maxInstances(), bf.Text('g', -1)))
		}
		n, _ := bf.Int64()
		keys := make([]cty.Value, n)
		for i := range keys {
			keys[i] = cty.NumberIntVal(int64(i))
		}
		return countExp, keys, nil, diags
	}

	ty := val.Type()
	var keys, values []cty.Value
	switch {
	case ty.IsMapType() || ty.IsObjectType():
		for it := val.ElementIterator(); it.Next(); {
			k, v := it.Element()
			keys, values = append(keys, k), append(values, v)
		}
	case ty.IsSetType() || ty.IsListType() || ty.IsTupleType():
		seen := map[string]bool{}
		for it := val.ElementIterator(); it.Next(); {
			_, v := it.Element()
			s, err := convert.Convert(v, cty.String)
			if err != nil || s.IsNull() {
				return bad("A for_each list or set must contain strings (each becomes each.key and each.value); use a map to sweep over other values, e.g. { a = 0.9, b = 2.0 }.")
			}
			if seen[s.AsString()] {
				return bad(fmt.Sprintf("The for_each list contains %q twice; instance keys must be unique.", s.AsString()))
			}
			seen[s.AsString()] = true
			keys, values = append(keys, s), append(values, s)
		}
	default:
		return bad(fmt.Sprintf("for_each must be a map, an object, or a set or list of strings, not %s.", ty.FriendlyName()))
	}
	if len(keys) > g.maxInstances() {
		return bad(fmt.Sprintf("for_each has %d elements; at most %d instances per step are allowed.", len(keys), g.maxInstances()))
	}
	return forEach, keys, values, diags
}

func (g *Graph) maxInstances() int {
	if g.opts.MaxInstances > 0 {
		return g.opts.MaxInstances
	}
	return MaxInstances
}

func expansionOf(st *configs.Step) expansion {
	switch {
	case st.ForEach != nil:
		return forEach
	case st.Count != nil:
		return countExp
	}
	return single
}

// failedExpansion gives a step whose for_each/count is invalid no
// instances, so that its references and config are still checked once
// through other steps but nothing cascades.
func (g *Graph) failedExpansion(st *configs.Step) (expansion, []cty.Value, []cty.Value, hcl.Diagnostics) {
	g.failed[st.Name] = true
	return expansionOf(st), nil, nil, nil
}
