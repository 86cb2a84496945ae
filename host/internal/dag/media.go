package dag

import (
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"

	"github.com/shammie-ml/shammie/host/internal/configs"
	"github.com/shammie-ml/shammie/host/internal/configschema"
	"github.com/shammie-ml/shammie/host/internal/lang"
	"github.com/shammie-ml/shammie/sdk"
)

// checkMediaTypes checks, once per step, that every step.X.artifacts.Y
// used in a config attribute whose schema lists accepted media types
// names an artifact declared with one of them, so that a .json fed where a
// model is expected fails at the spec line instead of inside the plugin.
func (g *Graph) checkMediaTypes() hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, name := range g.Spec.SortedStepNames() {
		st := g.Spec.Steps[name]
		schema, ok := g.schemas[st.Plugin]
		if !ok {
			continue
		}
		if body, ok := st.Config.(*hclsyntax.Body); ok {
			diags = append(diags, g.checkBodyMedia(name, body, schema, "")...)
		}
	}
	return diags
}

func (g *Graph) checkBodyMedia(step string, body *hclsyntax.Body, schema *configschema.Block, prefix string) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, an := range configs.SortedKeys(body.Attributes) {
		attr := body.Attributes[an]
		as, ok := schema.Attributes[an]
		if !ok || len(as.Accepts) == 0 {
			continue
		}
		for _, t := range attr.Expr.Variables() {
			from, art, ok := artifactRef(t)
			if !ok {
				continue
			}
			fromStep, ok := g.Spec.Steps[from]
			if !ok {
				continue // reported as a missing step
			}
			mt, ok := g.artifactMediaType(fromStep.Plugin, art)
			if !ok || sdk.MediaTypeAccepted(mt, as.Accepts) {
				continue
			}
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagError,
				Summary:  "Artifact of the wrong media type",
				Detail: fmt.Sprintf("Attribute %s%s of step %q accepts %s, but step.%s.artifacts.%s is declared as %s by plugin %q.",
					prefix, an, step, strings.Join(as.Accepts, " or "), from, art, mt, fromStep.Plugin),
				Subject: t.SourceRange().Ptr(),
				Context: attr.Expr.Range().Ptr(),
			})
		}
	}
	for _, blk := range body.Blocks {
		nb, ok := schema.BlockTypes[blk.Type]
		if !ok {
			continue
		}
		diags = append(diags, g.checkBodyMedia(step, blk.Body, &nb.Block, prefix+blk.Type+".")...)
	}
	return diags
}

// artifactRef reads step.X.artifacts.Y or step.X[k].artifacts.Y.
func artifactRef(t hcl.Traversal) (step, artifact string, ok bool) {
	if t.RootName() != lang.RootStep || len(t) < 4 {
		return "", "", false
	}
	s, ok := t[1].(hcl.TraverseAttr)
	if !ok {
		return "", "", false
	}
	i := 2
	if _, isIndex := t[i].(hcl.TraverseIndex); isIndex {
		i++
	}
	if len(t) < i+2 {
		return "", "", false
	}
	if a, ok := t[i].(hcl.TraverseAttr); !ok || a.Name != "artifacts" {
		return "", "", false
	}
	switch y := t[i+1].(type) {
	case hcl.TraverseAttr:
		return s.Name, y.Name, true
	case hcl.TraverseIndex:
		if y.Key.Type().FriendlyName() == "string" && y.Key.IsKnown() && !y.Key.IsNull() {
			return s.Name, y.Key.AsString(), true
		}
	}
	return "", "", false
}

// artifactMediaType is the media type plugin declares for artifact name;
// false when the plugin or the artifact is unknown or has none.
func (g *Graph) artifactMediaType(plugin, name string) (string, bool) {
	s, ok := g.sdkSchemas[plugin]
	if !ok {
		return "", false
	}
	for _, a := range s.Artifacts {
		if a.Name == name && a.MediaType != "" {
			return a.MediaType, true
		}
	}
	return "", false
}
