package dag

import (
	"fmt"
	"math/big"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/shammie-ml/shammie/host/internal/lang"
)

// Static validation of one instance: its config, seed and backend
// evaluated with unknown upstream results.

// validateNode evaluates node n's config, seed and backend with unknown
// upstream results and decodes the config with the plugin's schema.
func (g *Graph) validateNode(n *Node, all map[string]cty.Value) hcl.Diagnostics {
	steps := map[string]cty.Value{}
	for name := range g.referencedSteps(n) {
		steps[name] = all[name] // built once per pass by Plan
	}
	scope := g.scope(n, steps)
	var diags hcl.Diagnostics
	var nonStep []hcl.Traversal
	for _, t := range g.traversals(n) {
		if t.RootName() != lang.RootStep {
			nonStep = append(nonStep, t)
		}
	}
	refDiags := scope.CheckReferences(g.Spec, nonStep, "A step")
	diags = append(diags, refDiags...)
	badRanges := append(rangesOf(refDiags), n.badRefs...)
	ctx := scope.EvalContext()
	// A missing schema is reported once per plugin by Plan.
	if _, ok := g.configSpec(n.Step.Plugin); ok {
		val, d := g.decodeConfig(n, ctx)
		diags = append(diags, withoutInside(d, badRanges)...)
		if !d.HasErrors() {
			n.static = val
		}
	}
	_, d := g.evalSeed(n, ctx)
	diags = append(diags, withoutInside(d, badRanges)...)
	_, d = g.evalBackend(n, ctx)
	diags = append(diags, withoutInside(d, badRanges)...)
	return diags
}

// fixRanges points diagnostics without a usable subject (a missing
// required attribute in an absent config block) at the step's config.
func (g *Graph) fixRanges(n *Node, diags hcl.Diagnostics) hcl.Diagnostics {
	for _, d := range diags {
		if d.Subject == nil || d.Subject.Filename == "" {
			d.Subject = n.Step.ConfigRange.Ptr()
			if !n.Step.HasConfig {
				d.Detail += fmt.Sprintf(" Step %q has no config block; add config { ... } with the required attributes.", n.Name)
			}
		}
	}
	return diags
}

func (g *Graph) evalSeed(n *Node, ctx *hcl.EvalContext) (cty.Value, hcl.Diagnostics) {
	if n.Step.Seed == nil {
		return cty.NumberIntVal(DefaultSeed(g.opts.RunSeed, n.Addr)), nil
	}
	v, diags := n.Step.Seed.Value(ctx)
	if diags.HasErrors() || !v.IsKnown() {
		return cty.UnknownVal(cty.Number), diags
	}
	bad := func(detail string) (cty.Value, hcl.Diagnostics) {
		return cty.UnknownVal(cty.Number), append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError, Summary: "Invalid seed", Detail: detail,
			Subject: n.Step.Seed.Range().Ptr(), Expression: n.Step.Seed, EvalContext: ctx,
		})
	}
	v, _ = v.UnmarkDeep()
	num, err := convert.Convert(v, cty.Number)
	if err != nil || num.IsNull() {
		return bad(fmt.Sprintf("The seed must be a whole number, not %s.", v.Type().FriendlyName()))
	}
	bf := num.AsBigFloat()
	if _, acc := bf.Int64(); !bf.IsInt() || acc != big.Exact {
		return bad(fmt.Sprintf("The seed must be a whole number that fits in 64 bits, not %s.", bf.Text('g', -1)))
	}
	return num, diags
}

func (g *Graph) evalBackend(n *Node, ctx *hcl.EvalContext) (cty.Value, hcl.Diagnostics) {
	if n.Step.Backend == nil {
		return cty.StringVal(g.defaultBackend()), nil
	}
	v, diags := n.Step.Backend.Value(ctx)
	if diags.HasErrors() || !v.IsKnown() {
		return cty.UnknownVal(cty.String), diags
	}
	v, _ = v.UnmarkDeep()
	s, err := convert.Convert(v, cty.String)
	if err != nil || s.IsNull() || s.AsString() == "" {
		return cty.UnknownVal(cty.String), append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError, Summary: "Invalid backend",
			Detail:  "The backend must be a GoMLX backend name such as \"go\" (CPU) or \"xla:cuda\" (GPU).",
			Subject: n.Step.Backend.Range().Ptr(), Expression: n.Step.Backend, EvalContext: ctx,
		})
	}
	return s, diags
}
