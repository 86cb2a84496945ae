package dag

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/shammie-ml/shammie/host/internal/lang"
	"github.com/shammie-ml/shammie/sdk"
)

// EvalConfig evaluates node n's config, seed and backend at run time.
// results holds the finished step instances by address; every dependency
// of n must be there. A reference to an output or artifact the upstream
// step did not produce is an error naming both.
func (g *Graph) EvalConfig(n *Node, results map[string]StepResult) (cty.Value, int64, string, hcl.Diagnostics) {
	var diags hcl.Diagnostics
	for _, d := range g.Deps(n) {
		if _, ok := results[d.Addr]; !ok {
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Upstream step has no result",
				Detail:   fmt.Sprintf("%s needs the results of %s, which has not finished successfully.", n.Addr, d.Addr),
				Subject:  n.Step.DeclRange.Ptr(),
			})
		}
	}
	if diags.HasErrors() {
		return cty.NilVal, 0, "", diags
	}
	for _, r := range n.refs {
		if r.name == "" {
			continue
		}
		for _, t := range r.targets {
			addr := g.nodes[t].Addr
			res := results[addr]
			var ok bool
			if r.kind == "outputs" {
				_, ok = res.Outputs[r.name]
			} else {
				_, ok = res.Artifacts[r.name]
			}
			if !ok {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  fmt.Sprintf("Upstream step did not produce %s", singularOf(r.kind)),
					Detail:   fmt.Sprintf("%s finished without setting %s %q, which %s refers to. The plugin declares it but did not emit it; check that step's log.", addr, singularOf(r.kind), r.name, n.Addr),
					Subject:  r.rng.Ptr(),
				})
			}
		}
	}
	if diags.HasErrors() {
		return cty.NilVal, 0, "", diags
	}

	// A config without upstream steps was decoded by Plan already, in the
	// same scope: an evaluation context is built only if the seed or the
	// backend needs one.
	val := cty.NilVal
	if len(n.refs) == 0 {
		val = n.static
	}
	var ctx *hcl.EvalContext
	if val == cty.NilVal || n.Step.Seed != nil || n.Step.Backend != nil {
		ctx = g.scope(n, g.stepValues(results, g.referencedSteps(n))).EvalContext()
	}
	if val == cty.NilVal {
		var d hcl.Diagnostics
		val, d = g.decodeConfig(n, ctx)
		diags = append(diags, d...)
		if val == cty.NilVal {
			return cty.NilVal, 0, "", diags
		}
	}
	seedVal, d := g.evalSeed(n, ctx)
	diags = append(diags, d...)
	backendVal, d := g.evalBackend(n, ctx)
	diags = append(diags, d...)
	if diags.HasErrors() {
		return cty.NilVal, 0, "", diags
	}
	if !val.IsWhollyKnown() || !seedVal.IsKnown() || !backendVal.IsKnown() {
		return cty.NilVal, 0, "", hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Config not fully known",
			Detail:   fmt.Sprintf("The config of %s still contains values that are only known after other steps run; this is a bug in the dependency analysis, please report it with the spec.", n.Addr),
			Subject:  n.Step.ConfigRange.Ptr(),
		}}
	}
	seed, _ := seedVal.AsBigFloat().Int64()
	return val, seed, backendVal.AsString(), diags
}

// StaticConfig is node n's config as Plan validated it, before anything
// runs: upstream outputs are unknown values of their declared types and
// artifacts unknown strings; the rest is evaluated and decoded through the
// plugin's schema (defaults applied). It is what the plugin's ValidateConfig
// sees for an instance whose upstream steps have not run yet.
func (g *Graph) StaticConfig(n *Node) (cty.Value, hcl.Diagnostics) {
	if n.static != cty.NilVal {
		return n.static, nil
	}
	ctx := g.scope(n, g.stepValues(nil, g.referencedSteps(n))).EvalContext()
	return g.decodeConfig(n, ctx)
}

// referencedSteps names the steps n refers to and, for each, the
// instances it reads (nil: all of them). Building every step's value, or
// every instance of a referenced step, for every node would make planning
// and running quadratic in the number of instances: b[i] reading a[i]
// gets a value of step a with instance i alone.
func (g *Graph) referencedSteps(n *Node) map[string]map[int]bool {
	referenced := map[string]map[int]bool{}
	all := map[string]bool{}
	for _, r := range n.refs {
		if all[r.step] {
			continue
		}
		if g.kinds[r.step] == single || len(r.targets) >= len(g.byStep[r.step]) {
			all[r.step] = true
			referenced[r.step] = nil
			continue
		}
		set := referenced[r.step]
		if set == nil {
			set = map[int]bool{}
			referenced[r.step] = set
		}
		for _, t := range r.targets {
			set[t] = true
		}
	}
	return referenced
}

// decodeConfig decodes n's config block through the plugin's schema in
// ctx. The value is cty.NilVal when the schema is not known.
func (g *Graph) decodeConfig(n *Node, ctx *hcl.EvalContext) (cty.Value, hcl.Diagnostics) {
	spec, ok := g.configSpec(n.Step.Plugin)
	if !ok {
		return cty.NilVal, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Plugin schema unavailable",
			Detail:   fmt.Sprintf("The schema of plugin %q is not known, so the config of %s cannot be decoded.", n.Step.Plugin, n.Addr),
			Subject:  n.Step.PluginRange.Ptr(),
		}}
	}
	val, d := hcldec.Decode(n.Step.Config, spec, ctx)
	return val, sortDiags(g.fixRanges(n, d))
}

// instanceValue is the value of step.X (or step.X[k]) for one instance:
// with res nil, unknown values of the declared types.
func instanceValue(schema sdk.Schema, hasSchema bool, res *StepResult) cty.Value {
	if !hasSchema {
		if res == nil {
			return cty.DynamicVal
		}
		outs := map[string]cty.Value{}
		for k, v := range res.Outputs {
			outs[k] = v
		}
		arts := map[string]cty.Value{}
		for k, v := range res.Artifacts {
			arts[k] = cty.StringVal(v)
		}
		return cty.ObjectVal(map[string]cty.Value{"outputs": objectOrEmpty(outs), "artifacts": objectOrEmpty(arts)})
	}
	outs := map[string]cty.Value{}
	for _, o := range schema.Outputs {
		ty := o.Type
		if ty == cty.NilType {
			ty = cty.DynamicPseudoType
		}
		v := cty.UnknownVal(ty)
		if res != nil {
			if got, ok := res.Outputs[o.Name]; ok {
				if conv, err := convert.Convert(got, ty); err == nil {
					v = conv
				}
			}
		}
		outs[o.Name] = v
	}
	arts := map[string]cty.Value{}
	for _, a := range schema.Artifacts {
		v := cty.UnknownVal(cty.String)
		if res != nil {
			if p, ok := res.Artifacts[a.Name]; ok {
				v = cty.StringVal(p)
			}
		}
		arts[a.Name] = v
	}
	return cty.ObjectVal(map[string]cty.Value{"outputs": objectOrEmpty(outs), "artifacts": objectOrEmpty(arts)})
}

func objectOrEmpty(m map[string]cty.Value) cty.Value {
	if len(m) == 0 {
		return cty.EmptyObjectVal
	}
	return cty.ObjectVal(m)
}

// stepValues builds the `step` object for the named steps (all when
// names is nil; the instances named, or all when a step's set is nil):
// results of finished instances, unknown placeholders for the others. A
// repeated step narrowed to some instances is an object keyed by instance
// key (a count step's by index: step.a[3] indexes it the same way).
func (g *Graph) stepValues(results map[string]StepResult, names map[string]map[int]bool) map[string]cty.Value {
	out := map[string]cty.Value{}
	for name, st := range g.Spec.Steps {
		only, named := names[name]
		if names != nil && !named {
			continue
		}
		_, hasSchema := g.schemas[st.Plugin]
		schema := g.sdkSchemas[st.Plugin]
		unknown, built := g.unknowns[st.Plugin]
		if !built {
			unknown = instanceValue(schema, hasSchema, nil)
			if g.unknowns != nil {
				g.unknowns[st.Plugin] = unknown
			}
		}
		inst := func(n *Node) cty.Value {
			if r, ok := results[n.Addr]; ok {
				return instanceValue(schema, hasSchema, &r)
			}
			return unknown
		}
		if only != nil && g.kinds[name] != single && !g.failed[name] {
			m := map[string]cty.Value{}
			for i := range only {
				n := g.nodes[i]
				k := n.Key
				if g.kinds[name] == countExp {
					k = cty.StringVal(numberKey(n.Key))
				}
				m[k.AsString()] = inst(n)
			}
			out[name] = objectOrEmpty(m)
			continue
		}
		switch g.kinds[name] {
		case single:
			if insts := g.byStep[name]; len(insts) == 1 {
				out[name] = inst(insts[0])
			} else {
				out[name] = cty.DynamicVal
			}
		case forEach:
			m := map[string]cty.Value{}
			for _, n := range g.byStep[name] {
				m[n.Key.AsString()] = inst(n)
			}
			if g.failed[name] {
				out[name] = cty.DynamicVal
			} else {
				out[name] = objectOrEmpty(m)
			}
		case countExp:
			var vals []cty.Value
			for _, n := range g.byStep[name] {
				vals = append(vals, inst(n))
			}
			if g.failed[name] {
				out[name] = cty.DynamicVal
			} else if len(vals) == 0 {
				out[name] = cty.EmptyTupleVal
			} else {
				out[name] = cty.TupleVal(vals)
			}
		}
	}
	return out
}

// scope is the evaluation scope of node n with the given step values.
func (g *Graph) scope(n *Node, steps map[string]cty.Value) *lang.Scope {
	return &lang.Scope{
		BaseDir:    g.Spec.Dir,
		Cwd:        g.opts.Cwd,
		Vars:       g.Vars,
		Locals:     g.Locals,
		Steps:      steps,
		Each:       n.Each,
		CountIndex: n.CountIndex,
		Functions:  g.funcs,
		Base:       g.base,
	}
}

func (g *Graph) configSpec(plugin string) (hcldec.Spec, bool) {
	if spec, ok := g.decSpecs[plugin]; ok {
		return spec, true
	}
	b, ok := g.schemas[plugin]
	if !ok {
		return nil, false
	}
	spec := b.DecoderSpec()
	g.decSpecs[plugin] = spec
	return spec, true
}
