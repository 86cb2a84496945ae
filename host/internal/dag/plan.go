package dag

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/zclconf/go-cty/cty"

	"github.com/shammie-ml/shammie/host/internal/configs"
	"github.com/shammie-ml/shammie/host/internal/configschema"
	"github.com/shammie-ml/shammie/host/internal/lang"
	"github.com/shammie-ml/shammie/sdk"
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
		keyCache:   map[string]map[hcl.Range]hcl.Expression{},
		unknowns:   map[string]cty.Value{},
		funcs:      lang.Functions(spec.Dir),
	}
	locals, diags := lang.EvalLocals(spec, vars, opts.Cwd)
	g.Locals = locals
	g.base = lang.NewBase(&lang.Scope{BaseDir: spec.Dir, Cwd: opts.Cwd, Vars: vars, Locals: locals})

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
	diags = append(diags, g.checkMediaTypes()...)

	var valDiags hcl.Diagnostics
	for _, n := range g.nodes {
		valDiags = append(valDiags, g.validateNode(n, placeholders)...)
	}
	diags = append(diags, dedupe(valDiags)...)
	diags = append(diags, g.checkOutputs(placeholders)...)
	return g, diags
}
