package lang

import (
	"fmt"
	"os"

	"github.com/hashicorp/hcl/v2"
	"github.com/shammie-ml/shammie/host/internal/configs"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
)

// Scope is what an expression in a spec can see. A nil map means the root
// name is not available in that position (locals cannot see steps, a
// variable validation sees only its own variable, and so on).
type Scope struct {
	// BaseDir is the spec's directory (path.spec; base of file functions).
	BaseDir string
	// Cwd is path.cwd; empty means the process's working directory.
	Cwd string

	Vars   map[string]cty.Value
	Locals map[string]cty.Value
	// Steps maps a step name to its value: an object {outputs, artifacts}
	// for a single step, a map of such objects (for_each) or a tuple
	// (count) for an expanded one. nil: steps cannot be referenced here.
	Steps map[string]cty.Value
	// Each is set inside a for_each step instance.
	Each *EachValue
	// CountIndex is set inside a count step instance (cty.NilVal otherwise).
	CountIndex cty.Value

	// Functions is the function table; nil means Functions(BaseDir).
	// Callers evaluating many scopes share one table to save the work.
	Functions map[string]function.Function

	// Base, when set, holds the values of path, var and local built once
	// (NewBase) for the many scopes of one spec: a plan evaluates 10⁵
	// instance configs, and rebuilding these objects (and asking the OS
	// for the working directory) per instance was a tenth of its time.
	// BaseDir, Cwd, Vars and Locals are then only used by CheckReferences.
	Base *Base
}

// Base is the part of an evaluation context shared by every scope of a
// spec: path, var and local.
type Base struct {
	path, vars, locals cty.Value // vars, locals: cty.NilVal when not available
}

// NewBase builds the shared values of scope s (see Scope.Base).
func NewBase(s *Scope) *Base {
	b := &Base{path: PathValue(s.BaseDir, s.Cwd), vars: cty.NilVal, locals: cty.NilVal}
	if s.Vars != nil {
		b.vars = objectOrEmpty(s.Vars)
	}
	if s.Locals != nil {
		b.locals = objectOrEmpty(s.Locals)
	}
	return b
}

// EachValue is each.key / each.value of a for_each instance.
type EachValue struct {
	Key   cty.Value
	Value cty.Value
}

// Root names an expression may start with.
const (
	RootVar   = "var"
	RootLocal = "local"
	RootPath  = "path"
	RootStep  = "step"
	RootEach  = "each"
	RootCount = "count"
)

// PathValue is the `path` object: path.spec (the spec file's directory) and
// path.cwd (the working directory of the host).
func PathValue(specDir, cwd string) cty.Value {
	if cwd == "" {
		cwd, _ = os.Getwd()
	}
	return cty.ObjectVal(map[string]cty.Value{
		"spec": cty.StringVal(specDir),
		"cwd":  cty.StringVal(cwd),
	})
}

// EvalContext builds the hcl evaluation context of the scope.
func (s *Scope) EvalContext() *hcl.EvalContext {
	if s.Functions == nil {
		s.Functions = Functions(s.BaseDir)
	}
	base := s.Base
	if base == nil {
		base = NewBase(s)
	}
	vars := make(map[string]cty.Value, 6)
	vars[RootPath] = base.path
	if base.vars != cty.NilVal {
		vars[RootVar] = base.vars
	}
	if base.locals != cty.NilVal {
		vars[RootLocal] = base.locals
	}
	if s.Steps != nil {
		vars[RootStep] = objectOrEmpty(s.Steps)
	}
	if s.Each != nil {
		vars[RootEach] = cty.ObjectVal(map[string]cty.Value{"key": s.Each.Key, "value": s.Each.Value})
	}
	if s.CountIndex != cty.NilVal {
		vars[RootCount] = cty.ObjectVal(map[string]cty.Value{"index": s.CountIndex})
	}
	return &hcl.EvalContext{Variables: vars, Functions: s.Functions}
}

func objectOrEmpty(m map[string]cty.Value) cty.Value {
	if len(m) == 0 {
		return cty.EmptyObjectVal
	}
	return cty.ObjectVal(m)
}

// CheckReferences reports references in traversals that the scope cannot
// satisfy, with messages that say what is allowed where. Step references
// (step.*) are only checked for being allowed at all: their names are
// checked by package dag, which knows the plugins' declared outputs.
// where names the position for messages, e.g. "a local value".
func (s *Scope) CheckReferences(spec *configs.Spec, traversals []hcl.Traversal, where string) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, t := range traversals {
		rng := t.SourceRange()
		bad := func(summary, detail string) {
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary, Detail: detail, Subject: rng.Ptr()})
		}
		switch root := t.RootName(); root {
		case RootVar, RootLocal, RootPath:
			if root == RootVar && s.Vars == nil || root == RootLocal && s.Locals == nil {
				bad("Reference not allowed here", fmt.Sprintf("%s cannot refer to %s values.", where, root))
				continue
			}
			name, ok := attrAt(t, 1)
			if !ok {
				bad("Invalid reference", fmt.Sprintf("A reference to %s must name an attribute, like %s.name.", root, root))
				continue
			}
			switch root {
			case RootVar:
				if _, declared := spec.Variables[name]; !declared {
					bad("Reference to undeclared input variable",
						fmt.Sprintf("No variable %q is declared. Declare it with a variable %q { ... } block.%s", name, name, configs.DidYouMean(name, configs.SortedKeys(spec.Variables))))
				}
			case RootLocal:
				if _, declared := spec.Locals[name]; !declared {
					bad("Reference to undeclared local value",
						fmt.Sprintf("No local value %q is declared in a locals block.%s", name, configs.DidYouMean(name, configs.SortedKeys(spec.Locals))))
				}
			case RootPath:
				if name != "spec" && name != "cwd" {
					bad("Invalid path attribute", fmt.Sprintf("path has the attributes spec (the spec file's directory) and cwd (the working directory), not %q.", name))
				}
			}
		case RootStep:
			if s.Steps == nil {
				bad("Reference not allowed here", fmt.Sprintf("%s is evaluated before any step runs, so it cannot refer to step results.", where))
			}
		case RootEach:
			if s.Each == nil {
				bad("each is not available here", "each.key and each.value exist only inside a step that sets for_each.")
				continue
			}
			if name, ok := attrAt(t, 1); !ok || (name != "key" && name != "value") {
				bad("Invalid each attribute", "each has the attributes key and value.")
			}
		case RootCount:
			if s.CountIndex == cty.NilVal {
				bad("count is not available here", "count.index exists only inside a step that sets count.")
				continue
			}
			if name, ok := attrAt(t, 1); !ok || name != "index" {
				bad("Invalid count attribute", "count has the attribute index.")
			}
		default:
			bad("Unknown reference", fmt.Sprintf("%q is not a known name. References start with var., local., path., step., each. or count.%s",
				root, configs.DidYouMean(root, []string{RootVar, RootLocal, RootPath, RootStep, RootEach, RootCount})))
		}
	}
	return diags
}

func attrAt(t hcl.Traversal, i int) (string, bool) {
	if len(t) <= i {
		return "", false
	}
	switch s := t[i].(type) {
	case hcl.TraverseAttr:
		return s.Name, true
	}
	return "", false
}
