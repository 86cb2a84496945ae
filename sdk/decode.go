package sdk

import (
	"fmt"
	"reflect"
	"time"

	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/gocty"
)

// Decode copies the config into target, a pointer to a struct whose fields
// are tagged with the attribute (or nested block) names:
//
//	type config struct {
//		LR     float64       `cty:"lr"`
//		Steps  int           `cty:"steps"`
//		Every  time.Duration `cty:"every"`  // from a string such as "30s"
//		Layers []layer       `cty:"layer"`  // a nested block list
//		Extra  *extra        `cty:"extra"`  // an optional nested block: nil when absent
//	}
//
// An untagged embedded struct's fields are read from the same object, as if
// they were the outer struct's own (BlockOf flattens it the same way).
//
// Null values leave the field at its zero value (nil for pointers), so
// optional attributes need no pointer unless "absent" must be told apart from
// zero. Unknown values (see [Config]: only ValidateConfig sees them) also
// leave the field at its zero value; use [Config.Known] or [Config.IsKnown]
// to tell them apart. Attributes without a tagged field are ignored; a field
// of type cty.Value receives the raw value. Errors name the attribute path,
// e.g. `layer[1].width: a number is required`.
func (c Config) Decode(target any) error {
	rv := reflect.ValueOf(target)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return fmt.Errorf("Config.Decode needs a non-nil pointer, got %T", target)
	}
	if c.Value == cty.NilVal {
		return fmt.Errorf("Config.Decode: the config is empty (cty.NilVal)")
	}
	return decodeValue(c.Value, rv.Elem(), nil)
}

var (
	ctyValueType = reflect.TypeOf(cty.Value{})
	durationType = reflect.TypeOf(time.Duration(0))
)

func pathErr(p cty.Path, format string, args ...any) error {
	return fmt.Errorf("%s: %s", FormatPath(p), fmt.Sprintf(format, args...))
}

func decodeValue(v cty.Value, rv reflect.Value, p cty.Path) error {
	if rv.Type() == ctyValueType {
		rv.Set(reflect.ValueOf(v))
		return nil
	}
	v, _ = v.UnmarkDeep()
	if !v.IsKnown() || v.IsNull() {
		rv.Set(reflect.Zero(rv.Type()))
		return nil
	}
	switch {
	case rv.Kind() == reflect.Pointer:
		elem := reflect.New(rv.Type().Elem())
		if err := decodeValue(v, elem.Elem(), p); err != nil {
			return err
		}
		rv.Set(elem)
		return nil
	case rv.Type() == durationType:
		if v.Type() != cty.String {
			return pathErr(p, "a duration string such as \"30s\" is required, got %s", v.Type().FriendlyName())
		}
		d, err := time.ParseDuration(v.AsString())
		if err != nil {
			return pathErr(p, "%v", err)
		}
		rv.SetInt(int64(d))
		return nil
	case rv.Kind() == reflect.Struct:
		ty := v.Type()
		if !ty.IsObjectType() && !ty.IsMapType() {
			return pathErr(p, "an object is required, got %s", ty.FriendlyName())
		}
		for i := 0; i < rv.NumField(); i++ {
			f := rv.Type().Field(i)
			name := f.Tag.Get("cty")
			if embeddedStruct(f) { // its attributes are this object's own
				if err := decodeValue(v, rv.Field(i), p); err != nil {
					return err
				}
				continue
			}
			if name == "" || name == "-" || !f.IsExported() {
				continue
			}
			var av cty.Value
			if ty.IsObjectType() {
				if !ty.HasAttribute(name) {
					continue
				}
				av = v.GetAttr(name)
			} else {
				k := cty.StringVal(name)
				if !v.HasIndex(k).True() {
					continue
				}
				av = v.Index(k)
			}
			if err := decodeValue(av, rv.Field(i), p.GetAttr(name)); err != nil {
				return err
			}
		}
		return nil
	case rv.Kind() == reflect.Slice && rv.Type().Elem().Kind() != reflect.Uint8:
		ty := v.Type()
		if !ty.IsListType() && !ty.IsTupleType() && !ty.IsSetType() {
			return pathErr(p, "a list is required, got %s", ty.FriendlyName())
		}
		out := reflect.MakeSlice(rv.Type(), v.LengthInt(), v.LengthInt())
		i := 0
		for it := v.ElementIterator(); it.Next(); i++ {
			_, ev := it.Element()
			if err := decodeValue(ev, out.Index(i), p.Index(cty.NumberIntVal(int64(i)))); err != nil {
				return err
			}
		}
		rv.Set(out)
		return nil
	case rv.Kind() == reflect.Map && rv.Type().Key().Kind() == reflect.String:
		ty := v.Type()
		if !ty.IsMapType() && !ty.IsObjectType() {
			return pathErr(p, "a map is required, got %s", ty.FriendlyName())
		}
		out := reflect.MakeMapWithSize(rv.Type(), v.LengthInt())
		for it := v.ElementIterator(); it.Next(); {
			k, ev := it.Element()
			elem := reflect.New(rv.Type().Elem()).Elem()
			if err := decodeValue(ev, elem, p.Index(k)); err != nil {
				return err
			}
			out.SetMapIndex(reflect.ValueOf(k.AsString()).Convert(rv.Type().Key()), elem)
		}
		rv.Set(out)
		return nil
	default:
		// Primitives: gocty checks ranges and integer-ness.
		if err := gocty.FromCtyValue(v, rv.Addr().Interface()); err != nil {
			return pathErr(p, "%s", trimPathError(err))
		}
		return nil
	}
}

// Known reports whether the value at path is wholly known (no unknown
// inside it). A path that does not exist in the config is reported as
// known: there is nothing to wait for. Use it in ValidateConfig to skip the
// checks on values that come from steps not run yet.
func (c Config) Known(path cty.Path) bool {
	if c.Value == cty.NilVal {
		return true
	}
	v, err := path.Apply(c.Value)
	if err != nil {
		// The path may cross an unknown collection; Apply cannot enter it.
		for i := range path {
			if pv, perr := path[:i].Apply(c.Value); perr == nil && !pv.IsKnown() {
				return false
			}
		}
		return true
	}
	return v.IsWhollyKnown()
}

// IsKnown is Known for a top-level attribute: c.IsKnown("lr") is
// c.Known(cty.GetAttrPath("lr")).
func (c Config) IsKnown(attr string) bool { return c.Known(cty.GetAttrPath(attr)) }

// trimPathError drops the (empty) path prefix gocty puts on its errors.
func trimPathError(err error) string {
	if pe, ok := err.(cty.PathError); ok {
		return pe.Error()
	}
	return err.Error()
}
