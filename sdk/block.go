package sdk

import (
	"fmt"
	"reflect"
	"strconv"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
	"github.com/zclconf/go-cty/cty/gocty"
)

// BlockOf derives a config [Block] from a struct type, so that the struct
// [Config.Decode] fills is also the schema and nothing is written twice.
// Field tags:
//
//	cty:"name"        attribute or nested block name (untagged fields are skipped,
//	                  except embedded structs, whose fields join the outer block)
//	doc:"..."         description shown by `shammie plugins describe`
//	default:"expr"    default value, an HCL expression: 0.001, "adam", [1, 2], {a = 1}
//	optional:"true"   optional without a default (null: the field keeps its zero value)
//	sensitive:"true"  hidden in logs and plans
//	min:"1" max:"4"   item limits of a nested block list or map
//
// An attribute with neither default nor optional, and not a pointer, is
// required. A struct field (or pointer to struct) becomes a nested block
// that appears at most once, a slice of structs a block list, a map of
// structs a block map keyed by label. time.Duration is a string ("30s");
// cty.Value accepts any type.
func BlockOf(v any) (Block, error) {
	t := reflect.TypeOf(v)
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == nil || t.Kind() != reflect.Struct {
		return Block{}, fmt.Errorf("BlockOf needs a struct, got %T", v)
	}
	return blockOfType(t, nil)
}

// MustBlockOf is BlockOf for a package-level Schema: it panics on a
// malformed struct, which the plugin's first test then reports.
func MustBlockOf(v any) Block {
	b, err := BlockOf(v)
	if err != nil {
		panic(err)
	}
	return b
}

// embeddedStruct reports an anonymous struct field without a cty tag,
// whose fields count as the outer struct's own.
func embeddedStruct(f reflect.StructField) bool {
	return f.Anonymous && f.Tag.Get("cty") == "" && f.IsExported() && f.Type.Kind() == reflect.Struct && f.Type != ctyValueType
}

func structElem(t reflect.Type) (reflect.Type, bool) {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t, t.Kind() == reflect.Struct && t != ctyValueType
}

func blockOfType(t reflect.Type, at cty.Path) (Block, error) {
	var b Block
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		name := f.Tag.Get("cty")
		if embeddedStruct(f) {
			// An untagged embedded struct (e.g. ml.Settings) lends its
			// attributes and blocks to this block, flat.
			inner, err := blockOfType(f.Type, at)
			if err != nil {
				return Block{}, err
			}
			b.Attributes = append(b.Attributes, inner.Attributes...)
			b.Blocks = append(b.Blocks, inner.Blocks...)
			continue
		}
		if name == "" || name == "-" || !f.IsExported() {
			continue
		}
		p := at.GetAttr(name)
		doc := f.Tag.Get("doc")
		minItems, maxItems, err := itemLimits(f)
		if err != nil {
			return Block{}, fmt.Errorf("%s: %w", FormatPath(p), err)
		}
		var nest Nesting
		elem := f.Type
		switch {
		case f.Type.Kind() == reflect.Slice:
			if e, ok := structElem(f.Type.Elem()); ok {
				nest, elem = NestingList, e
			}
		case f.Type.Kind() == reflect.Map && f.Type.Key().Kind() == reflect.String:
			if e, ok := structElem(f.Type.Elem()); ok {
				nest, elem = NestingMap, e
			}
		default:
			if e, ok := structElem(f.Type); ok {
				nest, elem = NestingSingle, e
			}
		}
		if nest != 0 {
			if f.Tag.Get("default") != "" {
				return Block{}, fmt.Errorf("%s: a nested block cannot have a default", FormatPath(p))
			}
			inner, err := blockOfType(elem, p)
			if err != nil {
				return Block{}, err
			}
			b.Blocks = append(b.Blocks, NestedBlock{TypeName: name, Nesting: nest, Block: inner,
				MinItems: minItems, MaxItems: maxItems, Description: doc})
			continue
		}
		ty, err := impliedType(f.Type)
		if err != nil {
			return Block{}, fmt.Errorf("%s: %w", FormatPath(p), err)
		}
		a := Attribute{Name: name, Type: ty, Description: doc, Sensitive: f.Tag.Get("sensitive") == "true", Accepts: acceptsTag(f)}
		if def := f.Tag.Get("default"); def != "" {
			if a.Default, err = parseDefault(def, ty); err != nil {
				return Block{}, fmt.Errorf("%s: default %s: %w", FormatPath(p), def, err)
			}
		} else {
			a.Required = f.Type.Kind() != reflect.Pointer && f.Tag.Get("optional") != "true"
		}
		b.Attributes = append(b.Attributes, a)
	}
	return b, nil
}

func itemLimits(f reflect.StructField) (lo, hi int, err error) {
	for _, l := range []struct {
		tag string
		dst *int
	}{{"min", &lo}, {"max", &hi}} {
		if s := f.Tag.Get(l.tag); s != "" {
			if *l.dst, err = strconv.Atoi(s); err != nil {
				return 0, 0, fmt.Errorf("tag %s:%q is not an integer", l.tag, s)
			}
		}
	}
	return lo, hi, nil
}

func impliedType(t reflect.Type) (cty.Type, error) {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch {
	case t == ctyValueType:
		return cty.DynamicPseudoType, nil
	case t == durationType:
		return cty.String, nil
	}
	ty, err := gocty.ImpliedType(reflect.Zero(t).Interface())
	if err != nil {
		return cty.NilType, fmt.Errorf("no cty type for Go type %s: %w", t, err)
	}
	return ty, nil
}

// parseDefault evaluates an HCL expression without variables and converts
// it to the attribute's type.
func parseDefault(src string, ty cty.Type) (cty.Value, error) {
	expr, diags := hclsyntax.ParseExpression([]byte(src), "default", hcl.InitialPos)
	if diags.HasErrors() {
		return cty.NilVal, diags
	}
	v, diags := expr.Value(nil)
	if diags.HasErrors() {
		return cty.NilVal, diags
	}
	return convert.Convert(v, ty)
}

// ImpliedType is the cty type of a config conforming to b: an object with
// one attribute per attribute and nested block (single: object, list: list
// of objects, map: map of objects).
func (b Block) ImpliedType() cty.Type {
	attrs := make(map[string]cty.Type, len(b.Attributes)+len(b.Blocks))
	for _, a := range b.Attributes {
		attrs[a.Name] = a.Type
	}
	for _, nb := range b.Blocks {
		inner := nb.Block.ImpliedType()
		switch nb.Nesting {
		case NestingList:
			attrs[nb.TypeName] = cty.List(inner)
		case NestingMap:
			attrs[nb.TypeName] = cty.Map(inner)
		default:
			attrs[nb.TypeName] = inner
		}
	}
	return cty.Object(attrs)
}

// Coerce conforms v (an object or map, as a user would write the config)
// to b: it converts each attribute to its declared type, fills defaults,
// sets absent optional attributes to null, and reports missing required
// attributes, unexpected attributes and block count violations, each at its
// path. The result has type b.ImpliedType() (up to dynamic attributes).
func (b Block) Coerce(v cty.Value) (cty.Value, Diagnostics) {
	return b.coerce(v, nil)
}

func (b Block) coerce(v cty.Value, at cty.Path) (cty.Value, Diagnostics) {
	var diags Diagnostics
	if v == cty.NilVal || v.IsNull() {
		v = cty.EmptyObjectVal
	}
	ty := v.Type()
	if !ty.IsObjectType() && !ty.IsMapType() {
		return cty.NilVal, Diagnostics{Errorf(at, "Object required", "got "+ty.FriendlyName())}
	}
	given := map[string]cty.Value{}
	if v.IsKnown() {
		for it := v.ElementIterator(); it.Next(); {
			k, ev := it.Element()
			given[k.AsString()] = ev
		}
	}
	out := map[string]cty.Value{}
	for _, a := range b.Attributes {
		p := at.GetAttr(a.Name)
		av, ok := given[a.Name]
		delete(given, a.Name)
		switch {
		case ok && !av.IsNull():
			cv, err := convert.Convert(av, a.Type)
			if err != nil {
				diags = append(diags, Errorf(p, "Incorrect attribute value type", err.Error()))
				cv = cty.UnknownVal(a.Type)
			}
			out[a.Name] = cv
		case a.Required:
			diags = append(diags, Errorf(p, "Missing required attribute", fmt.Sprintf("The attribute %q is required.", a.Name)))
			out[a.Name] = cty.UnknownVal(a.Type)
		case a.Default != cty.NilVal && !a.Default.IsNull():
			cv, err := convert.Convert(a.Default, a.Type)
			if err != nil {
				diags = append(diags, Errorf(p, "Invalid default in schema", err.Error()))
				cv = cty.UnknownVal(a.Type)
			}
			out[a.Name] = cv
		default:
			out[a.Name] = cty.NullVal(a.Type)
		}
	}
	for _, nb := range b.Blocks {
		p := at.GetAttr(nb.TypeName)
		bv, ok := given[nb.TypeName]
		delete(given, nb.TypeName)
		if !ok {
			bv = cty.NullVal(cty.DynamicPseudoType)
		}
		cv, ds := nb.coerce(bv, p)
		diags = append(diags, ds...)
		out[nb.TypeName] = cv
	}
	for name := range given {
		diags = append(diags, Errorf(at.GetAttr(name), "Unsupported argument", fmt.Sprintf("An argument named %q is not expected here.", name)))
	}
	return cty.ObjectVal(out), diags
}

func (nb NestedBlock) coerce(v cty.Value, p cty.Path) (cty.Value, Diagnostics) {
	inner := nb.Block.ImpliedType()
	var diags Diagnostics
	count := 0
	var result cty.Value
	switch nb.Nesting {
	case NestingSingle:
		if v.IsNull() {
			result = cty.NullVal(inner)
		} else {
			count = 1
			result, diags = nb.Block.coerce(v, p)
		}
	case NestingList:
		var elems []cty.Value
		if !v.IsNull() {
			if !v.Type().IsListType() && !v.Type().IsTupleType() && !v.Type().IsSetType() {
				return cty.UnknownVal(cty.List(inner)), Diagnostics{Errorf(p, "List of blocks required", "got "+v.Type().FriendlyName())}
			}
			for it := v.ElementIterator(); it.Next(); {
				k, ev := it.Element()
				cv, ds := nb.Block.coerce(ev, p.Index(k))
				diags = append(diags, ds...)
				elems = append(elems, cv)
			}
		}
		count = len(elems)
		result = listOf(inner, elems, diags)
	case NestingMap:
		elems := map[string]cty.Value{}
		if !v.IsNull() {
			if !v.Type().IsMapType() && !v.Type().IsObjectType() {
				return cty.UnknownVal(cty.Map(inner)), Diagnostics{Errorf(p, "Map of blocks required", "got "+v.Type().FriendlyName())}
			}
			for it := v.ElementIterator(); it.Next(); {
				k, ev := it.Element()
				cv, ds := nb.Block.coerce(ev, p.Index(k))
				diags = append(diags, ds...)
				elems[k.AsString()] = cv
			}
		}
		count = len(elems)
		switch {
		case diags.HasErrors():
			result = cty.UnknownVal(cty.Map(inner))
		case len(elems) == 0:
			result = cty.MapValEmpty(inner)
		case !sameTypes(mapValues(elems)):
			// Dynamic attributes holding different types: a map cannot
			// hold them, an object can (as HCL's own decoder does).
			result = cty.ObjectVal(elems)
		default:
			result = cty.MapVal(elems)
		}
	}
	if count < nb.MinItems {
		diags = append(diags, Errorf(p, "Too few blocks", fmt.Sprintf("At least %d %q block(s) are required, got %d.", nb.MinItems, nb.TypeName, count)))
	}
	if nb.MaxItems > 0 && count > nb.MaxItems {
		diags = append(diags, Errorf(p, "Too many blocks", fmt.Sprintf("At most %d %q block(s) are allowed, got %d.", nb.MaxItems, nb.TypeName, count)))
	}
	return result, diags
}

// listOf builds a list, falling back to an unknown list when an element
// failed to coerce (elements then may not share one type).
func listOf(inner cty.Type, elems []cty.Value, diags Diagnostics) cty.Value {
	if diags.HasErrors() {
		return cty.UnknownVal(cty.List(inner))
	}
	if len(elems) == 0 {
		return cty.ListValEmpty(inner)
	}
	if !sameTypes(elems) {
		// Dynamic attributes holding different types: a tuple, as HCL's
		// own decoder produces.
		return cty.TupleVal(elems)
	}
	return cty.ListVal(elems)
}

func sameTypes(vs []cty.Value) bool {
	for _, v := range vs[1:] {
		if !v.Type().Equals(vs[0].Type()) {
			return false
		}
	}
	return true
}

func mapValues(m map[string]cty.Value) []cty.Value {
	out := make([]cty.Value, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}
