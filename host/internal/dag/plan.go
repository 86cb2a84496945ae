package dag

import (
	"fmt"
	"math/big"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/shammie-ml/shammie/host/internal/configs"
	"github.com/shammie-ml/shammie/host/internal/configschema"
	"github.com/shammie-ml/shammie/host/internal/dag/order"
	"github.com/shammie-ml/shammie/host/internal/lang"
	"github.com/shammie-ml/shammie/sdk"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// MaxInstances is the default bound on the instances of one step, so that
// a typo such as count = 1e9 fails at plan time instead of exhausting
// memory (see Options.MaxInstances).
const MaxInstances = 100000

type expansion int

const (
	single expansion = iota
	forEach
	countExp
)

// reference is one use of step.* by a node.
type reference struct {
	rng       hcl.Range
	step      string
	targets   []int  // node indexes the reference reads
	kind      string // "outputs", "artifacts" or "" (the whole instance)
	name      string // output or artifact name, "" when not named
	dependsOn bool
}

// Plan expands the spec's steps into instances, connects them by their
// references and depends_on, and validates every instance statically. vars
// are the resolved variables (lang.ResolveVariables); schemas are the
// plugins' schemas keyed by the plugin block's label. A plugin missing from
// schemas is reported. The Graph is returned even with errors so callers
// can show what was understood.
func Plan(spec *configs.Spec, vars map[string]cty.Value, schemas map[string]sdk.Schema, opts Options) (*Graph, hcl.Diagnostics) {
	g := &Graph{
		Spec:    spec,
		Vars:    vars,
		opts:    opts,
		byAddr:  map[string]*Node{},
		byStep:  map[string][]*Node{},
		schemas: map[string]*configschema.Block{},
		kinds:   map[string]expansion{},
		failed:  map[string]bool{},

		sdkSchemas: map[string]sdk.Schema{},
		decSpecs:   map[string]hcldec.Spec{},
		travCache:  map[string][]hcl.Traversal{},
		funcs:      lang.Functions(spec.Dir),
	}
	locals, diags := lang.EvalLocals(spec, vars, opts.Cwd)
	g.Locals = locals

	for _, name := range configs.SortedKeys(spec.Plugins) {
		if s, ok := schemas[name]; ok {
			g.schemas[name] = configschema.FromSDK(s.Config)
			g.sdkSchemas[name] = s
		} else {
			p := spec.Plugins[name]
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Plugin schema unavailable",
				Detail:   fmt.Sprintf("The schema of plugin %q (binary %s) is not known, so steps using it cannot be checked. Build or install the plugin and run `shammie init %s`.", name, p.BinaryName(), spec.Filename),
				Subject:  p.DeclRange.Ptr(),
			})
		}
	}

	for _, name := range spec.SortedStepNames() {
		st := spec.Steps[name]
		kind, keys, values, d := g.expand(st)
		diags = append(diags, d...)
		g.kinds[name] = kind
		for i, key := range keys {
			n := &Node{Addr: InstanceAddr(name, key), Name: name, Step: st, Key: key, Plugin: spec.Plugins[st.Plugin], index: len(g.nodes)}
			if s, ok := schemas[st.Plugin]; ok {
				n.Schema = s
			}
			switch kind {
			case forEach:
				n.Each = &lang.EachValue{Key: key, Value: values[i]}
			case countExp:
				n.CountIndex = key
			}
			g.nodes = append(g.nodes, n)
			g.byAddr[n.Addr] = n
			g.byStep[name] = append(g.byStep[name], n)
		}
	}

	placeholders := g.stepValues(nil, nil)
	var refDiags hcl.Diagnostics
	for _, n := range g.nodes {
		refDiags = append(refDiags, g.collectRefs(n)...)
	}
	diags = append(diags, dedupe(refDiags)...)
	diags = append(diags, g.connect()...)

	var valDiags hcl.Diagnostics
	for _, n := range g.nodes {
		valDiags = append(valDiags, g.validateNode(n, placeholders)...)
	}
	diags = append(diags, dedupe(valDiags)...)
	diags = append(diags, g.checkOutputs(placeholders)...)
	return g, diags
}

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
		inst := func(n *Node) cty.Value {
			if r, ok := results[n.Addr]; ok {
				return instanceValue(schema, hasSchema, &r)
			}
			return instanceValue(schema, hasSchema, nil)
		}
		if only != nil && g.kinds[name] != single && !g.failed[name] {
			m := map[string]cty.Value{}
			for i := range only {
				n := g.nodes[i]
				k := n.Key
				if g.kinds[name] == countExp {
					k = cty.StringVal(n.Key.AsBigFloat().String())
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

func rangeLess(a, b hcl.Range) bool {
	if a.Filename != b.Filename {
		return a.Filename < b.Filename
	}
	if a.Start.Byte != b.Start.Byte {
		return a.Start.Byte < b.Start.Byte
	}
	return a.End.Byte < b.End.Byte
}

// sortDiags orders diagnostics by subject position (those without one
// first), keeping the order of equal positions.
func sortDiags(diags hcl.Diagnostics) hcl.Diagnostics {
	sort.SliceStable(diags, func(i, j int) bool {
		a, b := diags[i].Subject, diags[j].Subject
		switch {
		case a == nil || b == nil:
			return a == nil && b != nil
		}
		return rangeLess(*a, *b)
	})
	return diags
}

// indexKeys maps the range of `step.X` used as the collection of an index
// expression (step.X[each.key]) to the key expression, so that such a
// reference depends on one instance rather than all of them.
func indexKeys(n *Node) map[hcl.Range]hcl.Expression {
	out := map[hcl.Range]hcl.Expression{}
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
	keyed := indexKeys(n)
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

func (g *Graph) resolveRef(n *Node, t hcl.Traversal, keyed map[hcl.Range]hcl.Expression, keyScope *lang.Scope) (*reference, hcl.Diagnostics) {
	rng := t.SourceRange()
	fail := func(summary, detail string) (*reference, hcl.Diagnostics) {
		return nil, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: summary, Detail: detail, Subject: rng.Ptr()}}
	}
	name, ok := attrName(t, 1)
	if !ok {
		return fail("Invalid step reference", "A step reference names a step, like step.generate.outputs.n or step.generate.artifacts.embeddings.")
	}
	st, ok := g.Spec.Steps[name]
	if !ok {
		return fail("Reference to undeclared step", fmt.Sprintf("No step %q is declared in this spec.%s", name, configs.DidYouMean(name, g.Spec.SortedStepNames())))
	}
	if name == n.Name {
		return fail("Self-referential step", fmt.Sprintf("Step %q cannot refer to its own results: they exist only after it has run.", name))
	}
	ref := &reference{rng: rng, step: name}
	if g.failed[name] {
		// Its for_each/count is invalid (already reported): nothing to
		// check against.
		return ref, nil
	}
	kind := g.kinds[name]
	i := 2
	var key cty.Value = cty.NilVal
	if len(t) > 2 {
		if ix, isIndex := t[2].(hcl.TraverseIndex); isIndex {
			key, i = ix.Key, 3
		}
	}
	if key == cty.NilVal && len(t) == 2 && keyed != nil {
		if kexpr, found := keyed[rng]; found {
			if v, d := kexpr.Value(keyScope.EvalContext()); !d.HasErrors() && v.IsWhollyKnown() && !v.IsNull() {
				key = v
			}
		}
	}
	switch {
	case key != cty.NilVal && kind == single:
		return fail("Invalid step index", fmt.Sprintf("Step %q has neither for_each nor count, so it has no instances to index: use step.%s.outputs.NAME.", name, name))
	case key != cty.NilVal:
		inst := g.instanceByKey(name, kind, key)
		if inst == nil {
			return fail("Reference to unknown step instance", fmt.Sprintf("Step %q has no instance %s. Its instances are: %s.", name, keyString(key), g.instanceList(name)))
		}
		ref.targets = []int{inst.index}
	default:
		for _, inst := range g.byStep[name] {
			ref.targets = append(ref.targets, inst.index)
		}
		if kind != single && len(t) > 2 {
			if a, isAttr := t[2].(hcl.TraverseAttr); isAttr && (a.Name == "outputs" || a.Name == "artifacts") {
				example := `["key"]`
				if kind == countExp {
					example = "[0]"
				}
				return fail("Missing step instance key", fmt.Sprintf("Step %q is repeated with %s, so refer to one instance, like step.%s%s.%s..., or to all of them, like [for s in step.%s : s.%s...].",
					name, map[expansion]string{forEach: "for_each", countExp: "count"}[kind], name, example, a.Name, name, a.Name))
			}
		}
	}
	if len(t) <= i {
		return ref, nil
	}
	attr, ok := t[i].(hcl.TraverseAttr)
	if !ok || (attr.Name != "outputs" && attr.Name != "artifacts") {
		return fail("Unsupported step attribute", "A step instance has two attributes: outputs (values) and artifacts (absolute file paths), e.g. step.generate.outputs.n.")
	}
	ref.kind = attr.Name
	if len(t) <= i+1 {
		return ref, nil
	}
	item, ok := attrName(t, i+1)
	if !ok {
		if ix, isIndex := t[i+1].(hcl.TraverseIndex); isIndex && ix.Key.Type() == cty.String {
			item, ok = ix.Key.AsString(), true
		}
	}
	if !ok {
		return ref, nil
	}
	ref.name = item
	plugin := g.Spec.Plugins[st.Plugin]
	if _, known := g.schemas[st.Plugin]; !known || plugin == nil {
		return ref, nil
	}
	var declared []string
	schema := g.byStepSchema(name)
	if attr.Name == "outputs" {
		for _, o := range schema.Outputs {
			declared = append(declared, o.Name)
		}
	} else {
		for _, a := range schema.Artifacts {
			declared = append(declared, a.Name)
		}
	}
	for _, d := range declared {
		if d == item {
			return ref, nil
		}
	}
	singular := strings.TrimSuffix(attr.Name, "s")
	list := "none"
	if len(declared) > 0 {
		list = strings.Join(declared, ", ")
	}
	hint := configs.DidYouMean(item, declared)
	// The other kind may have it: an artifact referred to as an output.
	if attr.Name == "outputs" {
		for _, a := range schema.Artifacts {
			if a.Name == item {
				hint = fmt.Sprintf(" %q is an artifact (a file), not an output: use step.%s.artifacts.%s.", item, name, item)
			}
		}
	} else {
		for _, o := range schema.Outputs {
			if o.Name == item {
				hint = fmt.Sprintf(" %q is an output (a value), not an artifact: use step.%s.outputs.%s.", item, name, item)
			}
		}
	}
	return fail(fmt.Sprintf("Reference to undeclared %s", singular),
		fmt.Sprintf("Plugin %q (used by step %q) declares no %s %q. Its %s: %s.%s", st.Plugin, name, singular, item, attr.Name, list, hint))
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
		_, d := g.decodeConfig(n, ctx)
		diags = append(diags, withoutInside(d, badRanges)...)
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

func rangesOf(diags hcl.Diagnostics) []hcl.Range {
	var out []hcl.Range
	for _, d := range diags {
		if d.Subject != nil {
			out = append(out, *d.Subject)
		}
	}
	return out
}

// withoutInside drops diagnostics whose subject lies inside one of bad:
// those already explained by a reference error (evaluating an undeclared
// var.x would add "Unsupported attribute" at the same place).
func withoutInside(diags hcl.Diagnostics, bad []hcl.Range) hcl.Diagnostics {
	if len(bad) == 0 {
		return diags
	}
	var out hcl.Diagnostics
outer:
	for _, d := range diags {
		if d.Subject != nil {
			for _, r := range bad {
				if r.Filename == d.Subject.Filename && r.Start.Byte <= d.Subject.Start.Byte && d.Subject.End.Byte <= r.End.Byte {
					continue outer
				}
			}
		}
		out = append(out, d)
	}
	return out
}

// dedupe removes repeated diagnostics: instances of one step share their
// source, so the same mistake would otherwise be reported per instance.
func dedupe(diags hcl.Diagnostics) hcl.Diagnostics {
	seen := map[string]bool{}
	var out hcl.Diagnostics
	for _, d := range diags {
		key := fmt.Sprintf("%d|%s|%s", d.Severity, d.Summary, d.Detail)
		if d.Subject != nil {
			key += "|" + d.Subject.String()
		}
		if seen[key] {
			continue
		}
		seen[key] = true
		out = append(out, d)
	}
	return out
}
