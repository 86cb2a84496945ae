// Package lang evaluates the expressions of a Shammie spec: the function
// table, the `path`, `var`, `local`, `each`, `count` and `step` objects, the
// resolution of variable values from -var, -var-file and SHAMMIE_VAR_*, and
// the evaluation of locals in dependency order.
package lang

import (
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/tryfunc"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// Functions returns the functions available in spec expressions. File and
// path functions resolve relative paths against baseDir (the spec's
// directory), so a spec means the same thing whatever the working directory.
//
// The set follows Terraform's core functions: go-cty's stdlib (strings,
// numbers, collections, sets, regex, format, csv/json decoding, dates) plus
// try/can, type conversions, encodings, hashes and file/path helpers. There
// is deliberately no timestamp() or uuid(): a spec must evaluate to the same
// configs every time, since step cache keys hash them.
func Functions(baseDir string) map[string]function.Function {
	fns := map[string]function.Function{
		// numeric
		"abs":      stdlib.AbsoluteFunc,
		"ceil":     stdlib.CeilFunc,
		"floor":    stdlib.FloorFunc,
		"log":      stdlib.LogFunc,
		"max":      stdlib.MaxFunc,
		"min":      stdlib.MinFunc,
		"parseint": stdlib.ParseIntFunc,
		"pow":      stdlib.PowFunc,
		"signum":   stdlib.SignumFunc,
		"sum":      sumFunc,
		// string
		"chomp":        stdlib.ChompFunc,
		"endswith":     endsWithFunc,
		"format":       stdlib.FormatFunc,
		"formatlist":   stdlib.FormatListFunc,
		"indent":       stdlib.IndentFunc,
		"join":         stdlib.JoinFunc,
		"lower":        stdlib.LowerFunc,
		"regex":        stdlib.RegexFunc,
		"regexall":     stdlib.RegexAllFunc,
		"replace":      stdlib.ReplaceFunc,
		"split":        stdlib.SplitFunc,
		"startswith":   startsWithFunc,
		"strcontains":  strContainsFunc,
		"strlen":       stdlib.StrlenFunc,
		"strrev":       stdlib.ReverseFunc,
		"substr":       stdlib.SubstrFunc,
		"title":        stdlib.TitleFunc,
		"trim":         stdlib.TrimFunc,
		"trimprefix":   stdlib.TrimPrefixFunc,
		"trimspace":    stdlib.TrimSpaceFunc,
		"trimsuffix":   stdlib.TrimSuffixFunc,
		"upper":        stdlib.UpperFunc,
		"regexreplace": stdlib.RegexReplaceFunc,
		// collection
		"chunklist":       stdlib.ChunklistFunc,
		"coalesce":        stdlib.CoalesceFunc,
		"coalescelist":    stdlib.CoalesceListFunc,
		"compact":         stdlib.CompactFunc,
		"concat":          stdlib.ConcatFunc,
		"contains":        stdlib.ContainsFunc,
		"distinct":        stdlib.DistinctFunc,
		"element":         stdlib.ElementFunc,
		"flatten":         stdlib.FlattenFunc,
		"index":           stdlib.IndexFunc,
		"keys":            stdlib.KeysFunc,
		"length":          stdlib.LengthFunc,
		"lookup":          stdlib.LookupFunc,
		"merge":           stdlib.MergeFunc,
		"range":           stdlib.RangeFunc,
		"reverse":         stdlib.ReverseListFunc,
		"setintersection": stdlib.SetIntersectionFunc,
		"setproduct":      stdlib.SetProductFunc,
		"setsubtract":     stdlib.SetSubtractFunc,
		"setunion":        stdlib.SetUnionFunc,
		"slice":           stdlib.SliceFunc,
		"sort":            stdlib.SortFunc,
		"values":          stdlib.ValuesFunc,
		"zipmap":          stdlib.ZipmapFunc,
		// encoding
		"base64decode": base64DecodeFunc,
		"base64encode": base64EncodeFunc,
		"csvdecode":    stdlib.CSVDecodeFunc,
		"jsondecode":   stdlib.JSONDecodeFunc,
		"jsonencode":   stdlib.JSONEncodeFunc,
		// hashes of strings
		"md5":    hashFunc(md5.New),
		"sha1":   hashFunc(sha1.New),
		"sha256": hashFunc(sha256.New),
		"sha512": hashFunc(sha512.New),
		// dates (of given timestamps only)
		"formatdate": stdlib.FormatDateFunc,
		"timeadd":    stdlib.TimeAddFunc,
		// type conversion and error handling
		"can":      tryfunc.CanFunc,
		"try":      tryfunc.TryFunc,
		"tobool":   stdlib.MakeToFunc(cty.Bool),
		"tolist":   stdlib.MakeToFunc(cty.List(cty.DynamicPseudoType)),
		"tomap":    stdlib.MakeToFunc(cty.Map(cty.DynamicPseudoType)),
		"tonumber": stdlib.MakeToFunc(cty.Number),
		"toset":    stdlib.MakeToFunc(cty.Set(cty.DynamicPseudoType)),
		"tostring": stdlib.MakeToFunc(cty.String),
		"convert":  typeexpr.ConvertFunc,
		// filesystem, relative to the spec's directory
		"abspath":    abspathFunc(baseDir),
		"basename":   basenameFunc,
		"dirname":    dirnameFunc,
		"file":       fileFunc(baseDir),
		"fileexists": fileExistsFunc(baseDir),
		"filesha256": fileHashFunc(baseDir, sha256.New),
		"pathexpand": pathExpandFunc,
	}
	// templatefile needs the table itself (templates may call functions,
	// except templatefile, to avoid unbounded recursion).
	fns["templatefile"] = templateFileFunc(baseDir, func() map[string]function.Function {
		inner := make(map[string]function.Function, len(fns))
		for k, v := range fns {
			if k != "templatefile" {
				inner[k] = v
			}
		}
		return inner
	})
	return fns
}

// resolvePath makes p absolute against baseDir after expanding "~".
func resolvePath(baseDir, p string) (string, error) {
	p, err := expandHome(p)
	if err != nil {
		return "", err
	}
	if !filepath.IsAbs(p) {
		p = filepath.Join(baseDir, p)
	}
	return filepath.Clean(p), nil
}

func expandHome(p string) (string, error) {
	if p != "~" && !strings.HasPrefix(p, "~/") {
		return p, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("cannot expand ~: %w", err)
	}
	return filepath.Join(home, strings.TrimPrefix(p, "~")), nil
}

func stringFunc(param string, fn func(string) (cty.Value, error), ret cty.Type) function.Function {
	return function.New(&function.Spec{
		Params: []function.Parameter{{Name: param, Type: cty.String}},
		Type:   function.StaticReturnType(ret),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			return fn(args[0].AsString())
		},
	})
}

func abspathFunc(baseDir string) function.Function {
	return stringFunc("path", func(p string) (cty.Value, error) {
		abs, err := resolvePath(baseDir, p)
		if err != nil {
			return cty.NilVal, function.NewArgError(0, err)
		}
		return cty.StringVal(filepath.ToSlash(abs)), nil
	}, cty.String)
}

var basenameFunc = stringFunc("path", func(p string) (cty.Value, error) {
	return cty.StringVal(filepath.Base(p)), nil
}, cty.String)

var dirnameFunc = stringFunc("path", func(p string) (cty.Value, error) {
	return cty.StringVal(filepath.Dir(p)), nil
}, cty.String)

var pathExpandFunc = stringFunc("path", func(p string) (cty.Value, error) {
	out, err := expandHome(p)
	if err != nil {
		return cty.NilVal, function.NewArgError(0, err)
	}
	return cty.StringVal(out), nil
}, cty.String)

func fileFunc(baseDir string) function.Function {
	return stringFunc("path", func(p string) (cty.Value, error) {
		abs, err := resolvePath(baseDir, p)
		if err != nil {
			return cty.NilVal, function.NewArgError(0, err)
		}
		b, err := os.ReadFile(abs)
		if err != nil {
			return cty.NilVal, function.NewArgErrorf(0, "cannot read %s: %s", abs, unwrapPathErr(err))
		}
		if !utf8.Valid(b) {
			return cty.NilVal, function.NewArgErrorf(0, "%s is not valid UTF-8; file() reads text (use filesha256 to refer to binary files)", abs)
		}
		return cty.StringVal(string(b)), nil
	}, cty.String)
}

func fileExistsFunc(baseDir string) function.Function {
	return stringFunc("path", func(p string) (cty.Value, error) {
		abs, err := resolvePath(baseDir, p)
		if err != nil {
			return cty.NilVal, function.NewArgError(0, err)
		}
		fi, err := os.Stat(abs)
		switch {
		case err == nil:
			if !fi.Mode().IsRegular() {
				return cty.NilVal, function.NewArgErrorf(0, "%s exists but is not a regular file", abs)
			}
			return cty.True, nil
		case os.IsNotExist(err):
			return cty.False, nil
		default:
			return cty.NilVal, function.NewArgErrorf(0, "cannot stat %s: %s", abs, unwrapPathErr(err))
		}
	}, cty.Bool)
}

func fileHashFunc(baseDir string, h func() hash.Hash) function.Function {
	return stringFunc("path", func(p string) (cty.Value, error) {
		abs, err := resolvePath(baseDir, p)
		if err != nil {
			return cty.NilVal, function.NewArgError(0, err)
		}
		f, err := os.Open(abs)
		if err != nil {
			return cty.NilVal, function.NewArgErrorf(0, "cannot read %s: %s", abs, unwrapPathErr(err))
		}
		defer f.Close()
		sum := h()
		if _, err := io.Copy(sum, f); err != nil {
			return cty.NilVal, function.NewArgErrorf(0, "cannot read %s: %s", abs, err)
		}
		return cty.StringVal(hex.EncodeToString(sum.Sum(nil))), nil
	}, cty.String)
}

func unwrapPathErr(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

func templateFileFunc(baseDir string, funcs func() map[string]function.Function) function.Function {
	return function.New(&function.Spec{
		Params: []function.Parameter{
			{Name: "path", Type: cty.String},
			{Name: "vars", Type: cty.DynamicPseudoType},
		},
		Type: function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			abs, err := resolvePath(baseDir, args[0].AsString())
			if err != nil {
				return cty.NilVal, function.NewArgError(0, err)
			}
			src, err := os.ReadFile(abs)
			if err != nil {
				return cty.NilVal, function.NewArgErrorf(0, "cannot read %s: %s", abs, unwrapPathErr(err))
			}
			tmpl, diags := hclsyntax.ParseTemplate(src, abs, hcl.InitialPos)
			if diags.HasErrors() {
				return cty.NilVal, function.NewArgErrorf(0, "template %s: %s", abs, diags.Error())
			}
			vars := args[1]
			if vars.IsNull() || !(vars.Type().IsObjectType() || vars.Type().IsMapType()) {
				return cty.NilVal, function.NewArgErrorf(1, "vars must be an object or map of template variables")
			}
			if !vars.IsWhollyKnown() {
				return cty.UnknownVal(cty.String), nil
			}
			ctx := &hcl.EvalContext{Variables: vars.AsValueMap(), Functions: funcs()}
			for _, t := range tmpl.Variables() {
				if _, ok := ctx.Variables[t.RootName()]; !ok {
					rng := t.SourceRange()
					return cty.NilVal, function.NewArgErrorf(1, "template %s:%d references %q, which is not in vars", abs, rng.Start.Line, t.RootName())
				}
			}
			v, diags := tmpl.Value(ctx)
			if diags.HasErrors() {
				return cty.NilVal, function.NewArgErrorf(0, "template %s: %s", abs, diags.Error())
			}
			return v, nil
		},
	})
}

var base64EncodeFunc = stringFunc("str", func(s string) (cty.Value, error) {
	return cty.StringVal(base64.StdEncoding.EncodeToString([]byte(s))), nil
}, cty.String)

var base64DecodeFunc = stringFunc("str", func(s string) (cty.Value, error) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return cty.NilVal, function.NewArgErrorf(0, "invalid base64: %s", err)
	}
	if !utf8.Valid(b) {
		return cty.NilVal, function.NewArgErrorf(0, "the decoded bytes are not valid UTF-8")
	}
	return cty.StringVal(string(b)), nil
}, cty.String)

func hashFunc(h func() hash.Hash) function.Function {
	return stringFunc("str", func(s string) (cty.Value, error) {
		sum := h()
		sum.Write([]byte(s))
		return cty.StringVal(hex.EncodeToString(sum.Sum(nil))), nil
	}, cty.String)
}

func twoStringsBool(fn func(a, b string) bool, p1, p2 string) function.Function {
	return function.New(&function.Spec{
		Params: []function.Parameter{{Name: p1, Type: cty.String}, {Name: p2, Type: cty.String}},
		Type:   function.StaticReturnType(cty.Bool),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			return cty.BoolVal(fn(args[0].AsString(), args[1].AsString())), nil
		},
	})
}

var (
	startsWithFunc  = twoStringsBool(strings.HasPrefix, "str", "prefix")
	endsWithFunc    = twoStringsBool(strings.HasSuffix, "str", "suffix")
	strContainsFunc = twoStringsBool(strings.Contains, "str", "substr")
)

var sumFunc = function.New(&function.Spec{
	Params: []function.Parameter{{Name: "list", Type: cty.List(cty.Number)}},
	Type:   function.StaticReturnType(cty.Number),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		total := cty.Zero
		for it := args[0].ElementIterator(); it.Next(); {
			_, v := it.Element()
			if v.IsNull() {
				return cty.NilVal, function.NewArgErrorf(0, "sum cannot add a null element")
			}
			total = total.Add(v)
		}
		return total, nil
	},
})
