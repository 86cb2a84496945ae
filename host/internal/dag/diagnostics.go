package dag

import (
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/shammie-ml/shammie/host/internal/configs"
	"github.com/shammie-ml/shammie/host/internal/configschema"
	"github.com/shammie-ml/shammie/sdk"
)

// Diagnostics: plugin diagnostics mapped back to spec ranges, ordering,
// deduplication and suppression of follow-on errors.

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
