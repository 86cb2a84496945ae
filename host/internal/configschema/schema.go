// Package configschema is the host's view of a plugin's config schema: the
// sdk.Block a plugin declares, turned into an hcldec spec so that a step's
// `config { ... }` body is type-checked, defaulted and decoded before any
// plugin runs, and rendered as documentation for `shammie plugins describe`.
package configschema

import (
	"fmt"
	"sort"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/shammie-ml/shammie/sdk"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// Block is a set of attributes and nested block types, keyed by name.
type Block struct {
	Attributes map[string]*Attribute
	BlockTypes map[string]*NestedBlock
}

// Attribute is one attribute of a Block.
type Attribute struct {
	Type     cty.Type
	Required bool
	// Default is the value used when the attribute is absent or null;
	// cty.NilVal when there is none. It is already converted to Type.
	Default     cty.Value
	Description string
	Sensitive   bool
	// Accepts: the media types of artifacts a file attribute takes
	// (sdk.MediaTypeAccepted); empty accepts any.
	Accepts []string
}

// NestedBlock is a block type allowed inside a Block.
type NestedBlock struct {
	Block
	Nesting     sdk.Nesting
	MinItems    int
	MaxItems    int // 0: unlimited
	Description string
}

// FromSDK converts the schema a plugin sent into the host's form. A default
// that does not convert to its attribute's type is dropped here; use
// [Validate] to report such schema bugs.
func FromSDK(b sdk.Block) *Block {
	out := &Block{
		Attributes: make(map[string]*Attribute, len(b.Attributes)),
		BlockTypes: make(map[string]*NestedBlock, len(b.Blocks)),
	}
	for _, a := range b.Attributes {
		ty := a.Type
		if ty == cty.NilType {
			ty = cty.DynamicPseudoType
		}
		def := cty.NilVal
		if a.Default != cty.NilVal && !a.Default.IsNull() {
			if v, err := convert.Convert(a.Default, ty); err == nil {
				def = v
			}
		}
		out.Attributes[a.Name] = &Attribute{
			Type:        ty,
			Required:    a.Required,
			Default:     def,
			Description: a.Description,
			Sensitive:   a.Sensitive,
			Accepts:     a.Accepts,
		}
	}
	for _, nb := range b.Blocks {
		nesting := nb.Nesting
		if nesting == 0 {
			nesting = sdk.NestingSingle
		}
		out.BlockTypes[nb.TypeName] = &NestedBlock{
			Block:       *FromSDK(nb.Block),
			Nesting:     nesting,
			MinItems:    nb.MinItems,
			MaxItems:    nb.MaxItems,
			Description: nb.Description,
		}
	}
	return out
}

// Validate reports mistakes in a plugin's schema itself (as opposed to a
// spec's use of it): names used twice, defaults of the wrong type, a
// required attribute with a default, unknown nesting modes.
func Validate(b sdk.Block) []error {
	var errs []error
	validateBlock(b, "config", &errs)
	return errs
}

func validateBlock(b sdk.Block, where string, errs *[]error) {
	seen := map[string]bool{}
	for _, a := range b.Attributes {
		if !hclsyntax.ValidIdentifier(a.Name) {
			*errs = append(*errs, fmt.Errorf("%s: attribute name %q is not a valid identifier", where, a.Name))
		}
		if seen[a.Name] {
			*errs = append(*errs, fmt.Errorf("%s: name %q declared twice", where, a.Name))
		}
		seen[a.Name] = true
		if a.Type == cty.NilType {
			*errs = append(*errs, fmt.Errorf("%s.%s: no type", where, a.Name))
			continue
		}
		if a.Default != cty.NilVal && !a.Default.IsNull() {
			if a.Required {
				*errs = append(*errs, fmt.Errorf("%s.%s: required attribute has a default", where, a.Name))
			}
			if _, err := convert.Convert(a.Default, a.Type); err != nil {
				*errs = append(*errs, fmt.Errorf("%s.%s: default does not fit type %s: %v", where, a.Name, a.Type.FriendlyName(), err))
			}
		}
	}
	for _, nb := range b.Blocks {
		if !hclsyntax.ValidIdentifier(nb.TypeName) {
			*errs = append(*errs, fmt.Errorf("%s: block type %q is not a valid identifier", where, nb.TypeName))
		}
		if seen[nb.TypeName] {
			*errs = append(*errs, fmt.Errorf("%s: name %q declared twice", where, nb.TypeName))
		}
		seen[nb.TypeName] = true
		switch nb.Nesting {
		case 0, sdk.NestingSingle, sdk.NestingList, sdk.NestingMap:
		default:
			*errs = append(*errs, fmt.Errorf("%s.%s: unknown nesting mode %d", where, nb.TypeName, nb.Nesting))
		}
		if nb.MaxItems > 0 && nb.MinItems > nb.MaxItems {
			*errs = append(*errs, fmt.Errorf("%s.%s: min_items %d > max_items %d", where, nb.TypeName, nb.MinItems, nb.MaxItems))
		}
		validateBlock(nb.Block, where+"."+nb.TypeName, errs)
	}
}

// AttributeNames returns the attribute names in sorted order.
func (b *Block) AttributeNames() []string {
	names := make([]string, 0, len(b.Attributes))
	for n := range b.Attributes {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// BlockTypeNames returns the nested block type names in sorted order.
func (b *Block) BlockTypeNames() []string {
	names := make([]string, 0, len(b.BlockTypes))
	for n := range b.BlockTypes {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// DecoderSpec returns the hcldec spec that decodes a body conforming to b
// into a value of b.ImpliedType(), applying defaults to absent attributes.
// Unknown attributes and block types in the body are errors.
func (b *Block) DecoderSpec() hcldec.Spec {
	spec := hcldec.ObjectSpec{}
	if b == nil {
		return spec
	}
	for name, a := range b.Attributes {
		var s hcldec.Spec = &hcldec.AttrSpec{Name: name, Type: a.Type, Required: a.Required}
		if a.Default != cty.NilVal {
			s = &hcldec.DefaultSpec{Primary: s, Default: &hcldec.LiteralSpec{Value: a.Default}}
		}
		spec[name] = s
	}
	for name, nb := range b.BlockTypes {
		nested := nb.Block.DecoderSpec()
		switch nb.Nesting {
		case sdk.NestingList:
			if nb.Block.ImpliedType().HasDynamicTypes() {
				// A list needs one element type; blocks whose attributes
				// may differ in type per block decode as a tuple.
				spec[name] = &hcldec.BlockTupleSpec{TypeName: name, Nested: nested, MinItems: nb.MinItems, MaxItems: nb.MaxItems}
			} else {
				spec[name] = &hcldec.BlockListSpec{TypeName: name, Nested: nested, MinItems: nb.MinItems, MaxItems: nb.MaxItems}
			}
		case sdk.NestingMap:
			if nb.Block.ImpliedType().HasDynamicTypes() {
				spec[name] = &hcldec.BlockObjectSpec{TypeName: name, LabelNames: []string{"key"}, Nested: nested}
			} else {
				spec[name] = &hcldec.BlockMapSpec{TypeName: name, LabelNames: []string{"key"}, Nested: nested}
			}
		default:
			spec[name] = &hcldec.BlockSpec{TypeName: name, Nested: nested, Required: nb.MinItems > 0}
		}
	}
	return spec
}

// ImpliedType is the type of the value DecoderSpec produces.
func (b *Block) ImpliedType() cty.Type {
	return hcldec.ImpliedType(b.DecoderSpec())
}

// BodySchema is the shallow hcl schema of b (attribute names and block
// types with their labels), for walking a body without decoding it.
func (b *Block) BodySchema() *hcl.BodySchema {
	s := &hcl.BodySchema{}
	for _, n := range b.AttributeNames() {
		s.Attributes = append(s.Attributes, hcl.AttributeSchema{Name: n})
	}
	for _, n := range b.BlockTypeNames() {
		hs := hcl.BlockHeaderSchema{Type: n}
		if b.BlockTypes[n].Nesting == sdk.NestingMap {
			hs.LabelNames = []string{"key"}
		}
		s.Blocks = append(s.Blocks, hs)
	}
	return s
}
