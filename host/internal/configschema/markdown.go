package configschema

import (
	"fmt"
	"io"
	"strings"

	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/shammie-ml/shammie/sdk"
	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"
)

// Markdown writes b as a Markdown reference: one bullet per attribute with
// its type, whether it is required, its default and description, and one
// sub-section per nested block type. headingLevel is the level ("#" count)
// used for nested block sections.
func (b *Block) Markdown(w io.Writer, headingLevel int) error {
	var sb strings.Builder
	b.markdown(&sb, headingLevel, "config")
	_, err := io.WriteString(w, sb.String())
	return err
}

func (b *Block) markdown(sb *strings.Builder, level int, path string) {
	if len(b.Attributes) == 0 && len(b.BlockTypes) == 0 {
		sb.WriteString("_No attributes._\n")
		return
	}
	// Required attributes first: they are what a user must write.
	for _, pass := range []bool{true, false} {
		for _, name := range b.AttributeNames() {
			a := b.Attributes[name]
			if a.Required != pass {
				continue
			}
			fmt.Fprintf(sb, "- `%s` (%s, %s", name, TypeString(a.Type), requiredWord(a.Required))
			if a.Default != cty.NilVal {
				fmt.Fprintf(sb, ", default `%s`", ValueString(a.Default))
			}
			if a.Sensitive {
				sb.WriteString(", sensitive")
			}
			if len(a.Accepts) > 0 {
				sb.WriteString(", accepts " + strings.Join(a.Accepts, ", "))
			}
			sb.WriteString(")")
			if a.Description != "" {
				sb.WriteString(": " + oneLine(a.Description))
			}
			sb.WriteString("\n")
		}
	}
	for _, name := range b.BlockTypeNames() {
		nb := b.BlockTypes[name]
		sub := path + "." + name
		fmt.Fprintf(sb, "\n%s Block `%s`\n\n", strings.Repeat("#", max(level, 1)), sub)
		sb.WriteString(nestingSentence(name, nb) + "\n")
		if nb.Description != "" {
			sb.WriteString("\n" + nb.Description + "\n")
		}
		sb.WriteString("\n")
		nb.Block.markdown(sb, level+1, sub)
	}
}

func requiredWord(req bool) string {
	if req {
		return "required"
	}
	return "optional"
}

func nestingSentence(name string, nb *NestedBlock) string {
	var s string
	switch nb.Nesting {
	case sdk.NestingList:
		s = fmt.Sprintf("Repeatable: `%s { ... }` any number of times", name)
	case sdk.NestingMap:
		s = fmt.Sprintf("Repeatable with a unique label: `%s \"key\" { ... }`", name)
	default:
		s = fmt.Sprintf("At most one `%s { ... }`", name)
	}
	switch {
	case nb.MinItems > 0 && nb.MaxItems > 0:
		s += fmt.Sprintf(" (between %d and %d)", nb.MinItems, nb.MaxItems)
	case nb.MinItems > 0:
		s += fmt.Sprintf(" (at least %d)", nb.MinItems)
	case nb.MaxItems > 0:
		s += fmt.Sprintf(" (at most %d)", nb.MaxItems)
	}
	return s + "."
}

func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// TypeString renders a cty type as the type constraint a user would write
// in a variable block: number, list(string), object({a=number}).
func TypeString(t cty.Type) string { return typeexpr.TypeString(t) }

// ValueString renders a known value compactly as JSON (numbers, strings,
// lists, objects), which is also valid HCL for all of them.
func ValueString(v cty.Value) string {
	if v.IsNull() {
		return "null"
	}
	if !v.IsWhollyKnown() {
		return "(known after run)"
	}
	b, err := ctyjson.Marshal(v, v.Type())
	if err != nil {
		return v.GoString()
	}
	return string(b)
}

// SchemaMarkdown renders a whole plugin description (metadata, config,
// outputs, artifacts) for `shammie plugins describe`.
func SchemaMarkdown(w io.Writer, md sdk.Metadata, s sdk.Schema) error {
	var sb strings.Builder
	fmt.Fprintf(&sb, "# Plugin `%s` %s\n\n", md.Name, md.Version)
	switch {
	case md.SDKVersion != "":
		fmt.Fprintf(&sb, "Built with SDK %s, protocol %s.\n\n", md.SDKVersion, intsString(md.ProtocolVersions))
	case len(md.ProtocolVersions) > 0:
		fmt.Fprintf(&sb, "Protocol %s (not built with the Go SDK).\n\n", intsString(md.ProtocolVersions))
	}
	if md.Description != "" {
		sb.WriteString(md.Description + "\n\n")
	}
	if len(md.Backends) > 0 {
		fmt.Fprintf(&sb, "Backends: %s\n\n", "`"+strings.Join(md.Backends, "`, `")+"`")
	}
	sb.WriteString("## Config\n\n")
	FromSDK(s.Config).markdown(&sb, 3, "config")
	sb.WriteString("\n## Outputs\n\n")
	if len(s.Outputs) == 0 {
		sb.WriteString("_None._\n")
	}
	for _, o := range s.Outputs {
		fmt.Fprintf(&sb, "- `%s` (%s)", o.Name, TypeString(o.Type))
		if o.Description != "" {
			sb.WriteString(": " + oneLine(o.Description))
		}
		fmt.Fprintf(&sb, " — `step.NAME.outputs.%s`\n", o.Name)
	}
	sb.WriteString("\n## Artifacts\n\n")
	if len(s.Artifacts) == 0 {
		sb.WriteString("_None._\n")
	}
	shown := map[string]bool{} // families already listed: one row each
	for _, a := range s.Artifacts {
		name := a.Name
		if a.Family != "" {
			if shown[a.Family] {
				continue
			}
			shown[a.Family], name = true, a.Family
		}
		fmt.Fprintf(&sb, "- `%s`", name)
		if a.MediaType != "" {
			fmt.Fprintf(&sb, " (%s)", a.MediaType)
		}
		if a.Description != "" {
			sb.WriteString(": " + oneLine(a.Description))
		}
		if a.Family != "" {
			sb.WriteString(" — a family: one artifact per value in the braces, as far as the config goes")
		}
		fmt.Fprintf(&sb, " — `step.NAME.artifacts.%s` (absolute path)\n", name)
	}
	_, err := io.WriteString(w, sb.String())
	return err
}

// intsString renders protocol versions as "1" or "1,2" ("-" when none).
func intsString(xs []int) string {
	if len(xs) == 0 {
		return "-"
	}
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = fmt.Sprint(x)
	}
	return strings.Join(parts, ",")
}
