package lang

import (
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/shammie-ml/shammie/host/internal/configs"
	"github.com/shammie-ml/shammie/host/internal/dag/order"
	"github.com/zclconf/go-cty/cty"
)

// EvalLocals evaluates every local value in dependency order (locals may
// refer to each other, to variables and to path, never to steps). A cycle
// is reported once, at each local in it. A local that fails evaluates to
// an unknown value so that later checks do not cascade.
func EvalLocals(spec *configs.Spec, vars map[string]cty.Value, cwd string) (map[string]cty.Value, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	deps := map[string][]string{}
	bad := map[string]bool{}
	names := configs.SortedKeys(spec.Locals)
	for _, name := range names {
		l := spec.Locals[name]
		refs := l.Expr.Variables()
		check := &Scope{BaseDir: spec.Dir, Cwd: cwd, Vars: vars, Locals: map[string]cty.Value{}}
		d := check.CheckReferences(spec, refs, "A local value")
		diags = append(diags, d...)
		if d.HasErrors() {
			// Evaluating would only repeat the problem as "Unknown variable".
			bad[name] = true
		}
		for _, t := range refs {
			if t.RootName() != RootLocal {
				continue
			}
			if dep, ok := attrAt(t, 1); ok {
				if _, declared := spec.Locals[dep]; declared {
					deps[name] = append(deps[name], dep)
				}
			}
		}
	}

	evalOrder, cycles := order.Sort(names, deps)
	out := make(map[string]cty.Value, len(names))
	for _, name := range names {
		// Overwritten below for every local that can be evaluated.
		out[name] = cty.DynamicVal
	}
	for _, cyc := range cycles {
		l := spec.Locals[cyc[0]]
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Cycle in local values",
			Detail:   fmt.Sprintf("These local values refer to each other in a cycle: %s. Break the cycle so each can be computed from the others.", cycleString("local.", cyc)),
			Subject:  l.DeclRange.Ptr(),
		})
	}
	for _, name := range evalOrder {
		if bad[name] {
			continue
		}
		l := spec.Locals[name]
		scope := &Scope{BaseDir: spec.Dir, Cwd: cwd, Vars: vars, Locals: out}
		v, d := l.Expr.Value(scope.EvalContext())
		diags = append(diags, d...)
		if d.HasErrors() {
			v = cty.DynamicVal
		}
		out[name] = v
	}
	return out, diags
}

func cycleString(prefix string, cyc []string) string {
	parts := make([]string, 0, len(cyc)+1)
	for _, n := range cyc {
		parts = append(parts, prefix+n)
	}
	parts = append(parts, prefix+cyc[0])
	return strings.Join(parts, " -> ")
}
