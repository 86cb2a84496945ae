package dag

import (
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/shammie-ml/shammie/host/internal/configs"
	"github.com/shammie-ml/shammie/host/internal/configschema"
	"github.com/shammie-ml/shammie/sdk"
	"github.com/zclconf/go-cty/cty"
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

	ctx := g.scope(n, g.stepValues(results, g.referencedSteps(n))).EvalContext()
	val, d := g.decodeConfig(n, ctx)
	diags = append(diags, d...)
	if val == cty.NilVal {
		return cty.NilVal, 0, "", diags
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

func singularOf(kind string) string {
	if kind == "artifacts" {
		return "artifact"
	}
	return "output"
}

// DiagnosticsFromPlugin converts diagnostics a plugin returned for node n
// (from ValidateConfig or Run) into hcl diagnostics whose subject is the
// source range of the attribute, nested block or element named by each
// diagnostic's cty.Path in the step's config. A path that names nothing in
// the source (an attribute left to its default) points at the config block.
func (g *Graph) DiagnosticsFromPlugin(n *Node, in sdk.Diagnostics) hcl.Diagnostics {
	schema := g.schemas[n.Step.Plugin]
	var out hcl.Diagnostics
	for _, d := range in {
		sev := hcl.DiagError
		if d.Severity == sdk.SeverityWarning {
			sev = hcl.DiagWarning
		}
		rng := n.Step.ConfigRange
		if schema != nil {
			rng = RangeForPath(n.Step.Config, schema, d.Path, n.Step.ConfigRange)
		}
		extra := &PluginDiagnostic{Plugin: n.Step.Plugin, Addrs: []string{n.Addr}, BaseDetail: d.Detail}
		if len(d.Path) > 0 {
			extra.Path = "config." + configs.FormatCtyPath(d.Path)
		}
		out = append(out, &hcl.Diagnostic{Severity: sev, Summary: d.Summary, Detail: extra.detail(), Subject: rng.Ptr(), Extra: extra})
	}
	return out
}

// PluginDiagnostic is the Extra of diagnostics made by
// DiagnosticsFromPlugin: which plugin reported it for which instances.
type PluginDiagnostic struct {
	Plugin     string
	Addrs      []string
	Path       string // "config.a.b[0]", "" for the whole config
	BaseDetail string // the plugin's own detail
}

func (p *PluginDiagnostic) detail() string {
	d := p.BaseDetail
	if d != "" {
		d += "\n\n"
	}
	d += fmt.Sprintf("Reported by plugin %q for %s", p.Plugin, joinAddrs(p.Addrs))
	if p.Path != "" {
		d += " at " + p.Path
	}
	return d + "."
}

func joinAddrs(addrs []string) string {
	const shown = 5
	if len(addrs) <= shown {
		return strings.Join(addrs, ", ")
	}
	return fmt.Sprintf("%s and %d more instances", strings.Join(addrs[:shown], ", "), len(addrs)-shown)
}

// CompactPluginDiagnostics merges plugin diagnostics that differ only in
// the instance they were reported for (every instance of a sweep with
// the same bad setting), so the user reads each problem once with the
// list of instances. Other diagnostics pass through unchanged; order is
// kept (by first occurrence).
func CompactPluginDiagnostics(diags hcl.Diagnostics) hcl.Diagnostics {
	type key struct {
		sev                         hcl.DiagnosticSeverity
		summary, plugin, path, base string
		subject                     string
	}
	var out hcl.Diagnostics
	merged := map[key]*PluginDiagnostic{}
	for _, d := range diags {
		pd, ok := d.Extra.(*PluginDiagnostic)
		if !ok {
			out = append(out, d)
			continue
		}
		k := key{sev: d.Severity, summary: d.Summary, plugin: pd.Plugin, path: pd.Path, base: pd.BaseDetail}
		if d.Subject != nil {
			k.subject = d.Subject.String()
		}
		if m, seen := merged[k]; seen {
			m.Addrs = append(m.Addrs, pd.Addrs...)
			continue
		}
		cp := *pd
		cp.Addrs = append([]string(nil), pd.Addrs...)
		merged[k] = &cp
		nd := *d
		nd.Extra = &cp
		out = append(out, &nd)
	}
	for _, d := range out {
		if pd, ok := d.Extra.(*PluginDiagnostic); ok {
			d.Detail = pd.detail()
		}
	}
	return out
}

// RangeForPath finds the source range that path addresses inside body,
// which conforms to schema: attributes, nested blocks (by index for list
// nesting, by label for map nesting) and elements of list, tuple, map and
// object expressions. It stops at the deepest element it can find;
// fallback is returned when not even the first step is in the source.
func RangeForPath(body hcl.Body, schema *configschema.Block, path cty.Path, fallback hcl.Range) hcl.Range {
	if len(path) == 0 {
		return fallback
	}
	name, ok := stepName(path[0])
	if !ok {
		return fallback
	}
	content, _, _ := body.PartialContent(schema.BodySchema())
	if content == nil {
		return fallback
	}
	if attr, ok := content.Attributes[name]; ok {
		return exprRangeForPath(attr.Expr, path[1:])
	}
	nb, ok := schema.BlockTypes[name]
	if !ok {
		return fallback
	}
	var blocks []*hcl.Block
	for _, b := range content.Blocks {
		if b.Type == name {
			blocks = append(blocks, b)
		}
	}
	if len(blocks) == 0 {
		return fallback
	}
	rest := path[1:]
	switch nb.Nesting {
	case sdk.NestingList, sdk.NestingMap:
		if len(rest) == 0 {
			return blocks[0].DefRange
		}
		ix, ok := rest[0].(cty.IndexStep)
		if !ok || !ix.Key.IsKnown() || ix.Key.IsNull() {
			return blocks[0].DefRange
		}
		var chosen *hcl.Block
		if nb.Nesting == sdk.NestingList && ix.Key.Type() == cty.Number {
			i, acc := ix.Key.AsBigFloat().Int64()
			if acc == 0 && i >= 0 && int(i) < len(blocks) {
				chosen = blocks[i]
			}
		} else if nb.Nesting == sdk.NestingMap && ix.Key.Type() == cty.String {
			for _, b := range blocks {
				if len(b.Labels) > 0 && b.Labels[0] == ix.Key.AsString() {
					chosen = b
				}
			}
		}
		if chosen == nil {
			return blocks[0].DefRange
		}
		return RangeForPath(chosen.Body, &nb.Block, rest[1:], chosen.DefRange)
	default:
		return RangeForPath(blocks[0].Body, &nb.Block, rest, blocks[0].DefRange)
	}
}

func stepName(s cty.PathStep) (string, bool) {
	switch s := s.(type) {
	case cty.GetAttrStep:
		return s.Name, true
	case cty.IndexStep:
		if s.Key.Type() == cty.String && s.Key.IsKnown() && !s.Key.IsNull() {
			return s.Key.AsString(), true
		}
	}
	return "", false
}

func exprRangeForPath(expr hcl.Expression, path cty.Path) hcl.Range {
	if len(path) == 0 {
		return expr.Range()
	}
	if ix, ok := path[0].(cty.IndexStep); ok && ix.Key.IsKnown() && !ix.Key.IsNull() && ix.Key.Type() == cty.Number {
		items, diags := hcl.ExprList(expr)
		if diags.HasErrors() {
			return expr.Range()
		}
		i, acc := ix.Key.AsBigFloat().Int64()
		if acc != 0 || i < 0 || int(i) >= len(items) {
			return expr.Range()
		}
		return exprRangeForPath(items[i], path[1:])
	}
	name, ok := stepName(path[0])
	if !ok {
		return expr.Range()
	}
	pairs, diags := hcl.ExprMap(expr)
	if diags.HasErrors() {
		return expr.Range()
	}
	for _, p := range pairs {
		k, d := p.Key.Value(nil)
		if d.HasErrors() || !k.IsKnown() || k.IsNull() || k.Type() != cty.String {
			continue
		}
		if k.AsString() == name {
			return exprRangeForPath(p.Value, path[1:])
		}
	}
	return expr.Range()
}
