package dag

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"

	"github.com/shammie-ml/shammie/host/internal/configs"
	"github.com/shammie-ml/shammie/host/internal/dag/order"
	"github.com/shammie-ml/shammie/host/internal/lang"
	"github.com/shammie-ml/shammie/sdk"
)

// References between steps: what each instance reads, checked against
// the instances and the schemas, and the edges they make.

// traversals returns every traversal of node n's expressions and config,
// in source order. They are the same for every instance of a step, and
// finding them re-parses JSON templates, so they are cached per step.
func (g *Graph) traversals(n *Node) []hcl.Traversal {
	if ts, ok := g.travCache[n.Name]; ok {
		return ts
	}
	var ts []hcl.Traversal
	if spec, ok := g.configSpec(n.Step.Plugin); ok {
		ts = append(ts, hcldec.Variables(n.Step.Config, spec)...)
	}
	for _, e := range n.Step.Expressions() {
		ts = append(ts, e.Variables()...)
	}
	// hcldec walks its spec (a map) in random order: sort by position so
	// that diagnostics come out in source order, the same every time.
	sort.SliceStable(ts, func(i, j int) bool { return rangeLess(ts[i].SourceRange(), ts[j].SourceRange()) })
	g.travCache[n.Name] = ts
	return ts
}

// indexKeys maps the range of `step.X` used as the collection of an index
// expression (step.X[each.key]) to the key expression, so that such a
// reference depends on one instance rather than all of them.
func (g *Graph) indexKeys(n *Node) map[hcl.Range]hcl.Expression {
	if out, ok := g.keyCache[n.Name]; ok {
		return out
	}
	out := map[hcl.Range]hcl.Expression{}
	if g.keyCache != nil {
		g.keyCache[n.Name] = out
	}
	visit := func(node hclsyntax.Node) hcl.Diagnostics {
		ix, ok := node.(*hclsyntax.IndexExpr)
		if !ok {
			return nil
		}
		if st, ok := ix.Collection.(*hclsyntax.ScopeTraversalExpr); ok && len(st.Traversal) == 2 && st.Traversal.RootName() == lang.RootStep {
			out[st.Traversal.SourceRange()] = ix.Key
		}
		return nil
	}
	if body, ok := n.Step.Config.(*hclsyntax.Body); ok {
		hclsyntax.VisitAll(body, visit)
	}
	for _, e := range n.Step.Expressions() {
		if se, ok := e.(hclsyntax.Expression); ok {
			hclsyntax.VisitAll(se, visit)
		}
	}
	return out
}

// collectRefs resolves node n's step references and depends_on into
// references with target instances, reporting bad ones.
func (g *Graph) collectRefs(n *Node) hcl.Diagnostics {
	var diags hcl.Diagnostics
	keyed := g.indexKeys(n)
	keyScope := g.scope(n, nil)
	for _, t := range g.traversals(n) {
		if t.RootName() != lang.RootStep {
			continue
		}
		ref, d := g.resolveRef(n, t, keyed, keyScope)
		diags = append(diags, d...)
		n.badRefs = append(n.badRefs, rangesOf(d)...)
		if ref != nil {
			n.refs = append(n.refs, *ref)
		}
	}
	for _, t := range n.Step.DependsOn {
		ref, d := g.resolveRef(n, t, nil, nil)
		diags = append(diags, d...)
		if ref != nil {
			ref.dependsOn = true
			if ref.kind != "" {
				diags = append(diags, &hcl.Diagnostic{
					Severity: hcl.DiagError,
					Summary:  "Invalid depends_on reference",
					Detail:   "depends_on names whole steps or instances (step.a, step.a[\"k\"]), not their outputs or artifacts.",
					Subject:  t.SourceRange().Ptr(),
				})
				continue
			}
			n.refs = append(n.refs, *ref)
		}
	}
	return diags
}

// refProblem is why a step reference is invalid: a diagnostic's summary
// and detail, at the reference.
type refProblem struct{ summary, detail string }

func (g *Graph) resolveRef(n *Node, t hcl.Traversal, keyed map[hcl.Range]hcl.Expression, keyScope *lang.Scope) (*reference, hcl.Diagnostics) {
	rng := t.SourceRange()
	ref := &reference{rng: rng}
	p := g.refStep(n, t, ref)
	if p == nil && !g.failed[ref.step] {
		// A step whose for_each/count is invalid (already reported) has
		// nothing to check against.
		var i int
		if i, p = g.refTargets(t, keyed, keyScope, ref); p == nil {
			p = g.refItem(t, i, ref)
		}
	}
	if p != nil {
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: p.summary, Detail: p.detail, Subject: rng.Ptr()}}
	}
	return ref, nil
}

// refStep checks the step a reference names.
func (g *Graph) refStep(n *Node, t hcl.Traversal, ref *reference) *refProblem {
	name, ok := attrName(t, 1)
	if !ok {
		return &refProblem{"Invalid step reference", "A step reference names a step, like step.generate.outputs.n or step.generate.artifacts.embeddings."}
	}
	if _, ok := g.Spec.Steps[name]; !ok {
		return &refProblem{"Reference to undeclared step", fmt.Sprintf("No step %q is declared in this spec.%s", name, configs.DidYouMean(name, g.Spec.SortedStepNames()))}
	}
	if name == n.Name {
		return &refProblem{"Self-referential step", fmt.Sprintf("Step %q cannot refer to its own results: they exist only after it has run.", name)}
	}
	ref.step = name
	return nil
}

// refTargets finds the instances a reference reads: the one its key names
// (in the traversal, step.a["k"], or as an index expression evaluated per
// instance, step.a[each.key]) or all of them. It returns where the
// traversal goes on after the instance.
func (g *Graph) refTargets(t hcl.Traversal, keyed map[hcl.Range]hcl.Expression, keyScope *lang.Scope, ref *reference) (int, *refProblem) {
	name, kind := ref.step, g.kinds[ref.step]
	i := 2
	var key cty.Value = cty.NilVal
	if len(t) > 2 {
		if ix, isIndex := t[2].(hcl.TraverseIndex); isIndex {
			key, i = ix.Key, 3
		}
	}
	if key == cty.NilVal && len(t) == 2 && keyed != nil {
		if kexpr, found := keyed[ref.rng]; found {
			if v, d := kexpr.Value(keyScope.EvalContext()); !d.HasErrors() && v.IsWhollyKnown() && !v.IsNull() {
				key = v
			}
		}
	}
	switch {
	case key != cty.NilVal && kind == single:
		return i, &refProblem{"Invalid step index", fmt.Sprintf("Step %q has neither for_each nor count, so it has no instances to index: use step.%s.outputs.NAME.", name, name)}
	case key != cty.NilVal:
		inst := g.instanceByKey(name, kind, key)
		if inst == nil {
			return i, &refProblem{"Reference to unknown step instance", fmt.Sprintf("Step %q has no instance %s. Its instances are: %s.", name, keyString(key), g.instanceList(name))}
		}
		ref.targets = []int{inst.index}
		return i, nil
	}
	for _, inst := range g.byStep[name] {
		ref.targets = append(ref.targets, inst.index)
	}
	if kind != single && len(t) > 2 {
		if a, isAttr := t[2].(hcl.TraverseAttr); isAttr && (a.Name == "outputs" || a.Name == "artifacts") {
			example := `["key"]`
			if kind == countExp {
				example = "[0]"
			}
			return i, &refProblem{"Missing step instance key", fmt.Sprintf("Step %q is repeated with %s, so refer to one instance, like step.%s%s.%s..., or to all of them, like [for s in step.%s : s.%s...].",
				name, map[expansion]string{forEach: "for_each", countExp: "count"}[kind], name, example, a.Name, name, a.Name)}
		}
	}
	return i, nil
}

// refItem checks what follows the instance from t[i] on: outputs.NAME or
// artifacts.NAME, NAME declared by the step's plugin.
func (g *Graph) refItem(t hcl.Traversal, i int, ref *reference) *refProblem {
	if len(t) <= i {
		return nil
	}
	attr, ok := t[i].(hcl.TraverseAttr)
	if !ok || (attr.Name != "outputs" && attr.Name != "artifacts") {
		return &refProblem{"Unsupported step attribute", "A step instance has two attributes: outputs (values) and artifacts (absolute file paths), e.g. step.generate.outputs.n."}
	}
	ref.kind = attr.Name
	if len(t) <= i+1 {
		return nil
	}
	item, ok := attrName(t, i+1)
	if !ok {
		if ix, isIndex := t[i+1].(hcl.TraverseIndex); isIndex && ix.Key.Type() == cty.String {
			item, ok = ix.Key.AsString(), true
		}
	}
	if !ok {
		return nil
	}
	ref.name = item
	st := g.Spec.Steps[ref.step]
	if _, known := g.schemas[st.Plugin]; !known || g.Spec.Plugins[st.Plugin] == nil {
		return nil
	}
	return g.undeclaredItem(ref.step, attr.Name, item)
}

// undeclaredItem reports an output or artifact the step's plugin does not
// declare, with the declared ones and a hint (a close name, or the same
// name of the other kind).
func (g *Graph) undeclaredItem(step, kind, item string) *refProblem {
	schema := g.byStepSchema(step)
	var declared, other []string
	for _, o := range schema.Outputs {
		declared = append(declared, o.Name)
	}
	for _, a := range schema.Artifacts {
		other = append(other, a.Name)
	}
	if kind == "artifacts" {
		declared, other = other, declared
	}
	if slices.Contains(declared, item) {
		return nil
	}
	singular := strings.TrimSuffix(kind, "s")
	list := "none"
	if len(declared) > 0 {
		list = strings.Join(declared, ", ")
	}
	hint := configs.DidYouMean(item, declared)
	// The other kind may have it: an artifact referred to as an output.
	if slices.Contains(other, item) {
		if kind == "outputs" {
			hint = fmt.Sprintf(" %q is an artifact (a file), not an output: use step.%s.artifacts.%s.", item, step, item)
		} else {
			hint = fmt.Sprintf(" %q is an output (a value), not an artifact: use step.%s.outputs.%s.", item, step, item)
		}
	}
	plugin := g.Spec.Steps[step].Plugin
	return &refProblem{fmt.Sprintf("Reference to undeclared %s", singular),
		fmt.Sprintf("Plugin %q (used by step %q) declares no %s %q. Its %s: %s.%s", plugin, step, singular, item, kind, list, hint)}
}

func (g *Graph) byStepSchema(step string) sdk.Schema {
	return g.sdkSchemas[g.Spec.Steps[step].Plugin]
}

func (g *Graph) instanceByKey(step string, kind expansion, key cty.Value) *Node {
	want := cty.NilVal
	switch kind {
	case forEach:
		if k, err := convert.Convert(key, cty.String); err == nil && !k.IsNull() {
			want = k
		}
	case countExp:
		if k, err := convert.Convert(key, cty.Number); err == nil && !k.IsNull() {
			want = k
		}
	}
	if want == cty.NilVal {
		return nil
	}
	return g.byAddr[InstanceAddr(step, want)]
}

func (g *Graph) instanceList(step string) string {
	var addrs []string
	for _, n := range g.byStep[step] {
		addrs = append(addrs, n.Addr)
	}
	if len(addrs) == 0 {
		return "none"
	}
	if len(addrs) > 10 {
		addrs = append(addrs[:10], fmt.Sprintf("... (%d in all)", len(g.byStep[step])))
	}
	return strings.Join(addrs, ", ")
}

func keyString(k cty.Value) string {
	if k.Type() == cty.String {
		return fmt.Sprintf("[%q]", k.AsString())
	}
	if k.Type() == cty.Number {
		return "[" + k.AsBigFloat().Text('f', -1) + "]"
	}
	return "[" + k.GoString() + "]"
}

func attrName(t hcl.Traversal, i int) (string, bool) {
	if len(t) <= i {
		return "", false
	}
	a, ok := t[i].(hcl.TraverseAttr)
	return a.Name, ok
}

// connect builds the edges from references and reports cycles.
func (g *Graph) connect() hcl.Diagnostics {
	g.deps = make([][]int, len(g.nodes))
	g.rdeps = make([][]int, len(g.nodes))
	edgeRange := map[[2]int]hcl.Range{}
	for _, n := range g.nodes {
		set := map[int]bool{}
		for _, r := range n.refs {
			for _, t := range r.targets {
				set[t] = true
				if _, seen := edgeRange[[2]int{n.index, t}]; !seen {
					edgeRange[[2]int{n.index, t}] = r.rng
				}
			}
		}
		g.deps[n.index] = sortedInts(set)
		for _, t := range g.deps[n.index] {
			g.rdeps[t] = append(g.rdeps[t], n.index)
		}
	}
	names := make([]string, len(g.nodes))
	deps := map[string][]string{}
	for _, n := range g.nodes {
		names[n.index] = n.Addr
		for _, d := range g.deps[n.index] {
			deps[n.Addr] = append(deps[n.Addr], g.nodes[d].Addr)
		}
	}
	sorted, cycles := order.Sort(names, deps)
	// order.Sort visits names in the order given but emits dependencies
	// first; stable spec order among independent nodes is kept by it.
	for _, addr := range sorted {
		g.topo = append(g.topo, g.byAddr[addr])
	}
	var diags hcl.Diagnostics
	for _, cyc := range cycles {
		var lines []string
		var first hcl.Range
		for i, addr := range cyc {
			next := cyc[(i+1)%len(cyc)]
			r := edgeRange[[2]int{g.byAddr[addr].index, g.byAddr[next].index}]
			if i == 0 {
				first = r
			}
			lines = append(lines, fmt.Sprintf("  %s refers to %s at %s", addr, next, r))
		}
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagError,
			Summary:  "Cycle between steps",
			Detail:   fmt.Sprintf("These steps depend on each other in a cycle, so none of them can run first:\n%s\nRemove one of these references or depends_on entries.", strings.Join(lines, "\n")),
			Subject:  first.Ptr(),
		})
	}
	return diags
}
