package ml

import (
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
)

// Loaded scopes. Weight creates a variable the first time a graph asks for
// it, which is what lets a model build itself lazily — and what used to let
// a checkpoint of another model load "successfully": every weight the file
// lacked was silently initialised at random. So LoadVariables and LoadModel
// record the scopes they filled, and Weight refuses to create a variable
// inside one of them, naming the file, the missing tensor and what the file
// has there instead.

const loadedParam = "shammie_loaded_scopes"

type loadedScopes struct {
	mu     sync.Mutex
	scopes map[string]*loadedScope
	// missing, when set (LoadModel's probe), collects the tensor names
	// Weight would have refused instead of panicking.
	missing *[]string
}

type loadedScope struct {
	path  string
	names []string // tensor names the file holds under the scope, sorted
}

func loadedOf(ctx *context.Context, create bool) *loadedScopes {
	root := ctx.InAbsPath(context.RootScope)
	if v, ok := root.GetParam(loadedParam); ok {
		if ls, ok := v.(*loadedScopes); ok {
			return ls
		}
	}
	if !create {
		return nil
	}
	ls := &loadedScopes{scopes: map[string]*loadedScope{}}
	root.SetParam(loadedParam, ls)
	return ls
}

// markLoaded records that the tensors names (already filtered to scope) of
// path now fill scope. Loading at the root marks each top-level scope the
// file has, so that a second model built next to a loaded one stays free.
func markLoaded(ctx *context.Context, path, scope string, names []string) {
	if len(names) == 0 {
		return
	}
	sorted := append([]string(nil), names...)
	sort.Strings(sorted)
	ls := loadedOf(ctx, true)
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if scope != context.RootScope {
		ls.scopes[scope] = &loadedScope{path: path, names: sorted}
		return
	}
	byTop := map[string][]string{}
	for _, n := range sorted {
		s, _ := splitTensorName(n)
		top := context.RootScope
		if parts := strings.SplitN(strings.TrimPrefix(s, context.ScopeSeparator), context.ScopeSeparator, 2); parts[0] != "" {
			top = context.ScopeSeparator + parts[0]
		}
		byTop[top] = append(byTop[top], n)
	}
	for top, ns := range byTop {
		if top != context.RootScope {
			ls.scopes[top] = &loadedScope{path: path, names: ns}
		}
	}
}

func underScope(scope, parent string) bool {
	return parent == context.RootScope || scope == parent || strings.HasPrefix(scope, parent+context.ScopeSeparator)
}

// checkNotLoaded is called by Weight before it creates variable name in
// ctx's scope: inside a loaded scope that is an error (or, during
// LoadModel's probe, a recorded missing tensor).
func checkNotLoaded(ctx *context.Context, name string, shape shapes.Shape) {
	ls := loadedOf(ctx, false)
	if ls == nil {
		return
	}
	ls.mu.Lock()
	defer ls.mu.Unlock()
	scope := ctx.Scope()
	for parent, rec := range ls.scopes {
		if !underScope(scope, parent) {
			continue
		}
		tname := tensorNameOf(scope, name)
		if ls.missing != nil {
			*ls.missing = append(*ls.missing, tname)
			return
		}
		// An error value: GoMLX's Exec turns error panics into returned errors.
		panic(fmt.Errorf("checkpoint %s has no tensor %s (variable %s %s, needed by the model being built): "+
			"the file was written for another model; the file has there instead: %s",
			rec.path, tname, context.JoinScope(scope, name), shape, listNames(nearby(rec.names, tname), 8)))
	}
}

// nearby returns the names sharing the longest scope prefix with tname.
func nearby(names []string, tname string) []string {
	parts := strings.Split(tname, ".")
	for k := len(parts) - 1; k >= 1; k-- {
		prefix := strings.Join(parts[:k], ".") + "."
		var out []string
		for _, n := range names {
			if strings.HasPrefix(n, prefix) {
				out = append(out, n)
			}
		}
		if len(out) > 0 {
			return out
		}
	}
	return names
}

func listNames(names []string, max int) string {
	if len(names) == 0 {
		return "(none)"
	}
	if len(names) <= max {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s, … (%d more)", strings.Join(names[:max], ", "), len(names)-max)
}

// tensorNameOf is TensorName for a variable not created yet.
func tensorNameOf(scope, name string) string {
	s := strings.ReplaceAll(strings.TrimPrefix(scope, context.ScopeSeparator), context.ScopeSeparator, ".")
	if s == "" {
		return name
	}
	return s + "." + name
}

// mismatchError names every missing and every unused tensor of a load.
func mismatchError(path string, missing, unused []string) error {
	sort.Strings(missing)
	sort.Strings(unused)
	var parts []string
	if len(missing) > 0 {
		parts = append(parts, fmt.Sprintf("missing tensors (the model has them, the file does not): %s", listNames(missing, 12)))
	}
	if len(unused) > 0 {
		parts = append(parts, fmt.Sprintf("unused tensors (the file has them, the model does not): %s", listNames(unused, 12)))
	}
	return fmt.Errorf("checkpoint %s does not fit the model (was it written for another model or config?): %s",
		path, strings.Join(parts, "; "))
}

// loadTensors sets the variables under scope from ts, read from path.
// fileName maps a variable to its name in ts (TensorName, or a name
// relative to a model's scope). Every existing variable under scope must be
// in ts with its shape; tensors without a variable are created, and scope
// is marked loaded (see checkNotLoaded).
func loadTensors(path string, ts map[string]*tensors.Tensor, ctx *context.Context, scope string,
	fileName func(*context.Variable) string, varPath func(tensorName string) (scope, name string)) error {
	var missing []string
	seen := map[string]bool{}
	for _, v := range VariablesUnder(ctx, scope) {
		name := fileName(v)
		t, ok := ts[name]
		if !ok {
			missing = append(missing, name)
			continue
		}
		if !t.Shape().Equal(v.Shape()) {
			return fmt.Errorf("checkpoint %s: tensor %q is %s but the model's variable is %s (was it written for another model config?)",
				path, name, t.Shape(), v.Shape())
		}
		if err := v.SetValue(t); err != nil {
			return fmt.Errorf("checkpoint %s: tensor %q: %w", path, name, err)
		}
		seen[name] = true
	}
	var fresh, inScope []string
	for name := range ts {
		vscope, _ := varPath(name)
		if !underScope(vscope, scope) {
			continue
		}
		inScope = append(inScope, name)
		if !seen[name] {
			fresh = append(fresh, name)
		}
	}
	if len(missing) > 0 {
		return mismatchError(path, missing, fresh)
	}
	sort.Strings(fresh)
	for _, name := range fresh {
		vscope, vname := varPath(name)
		ctx.InAbsPath(vscope).VariableWithValue(vname, ts[name])
	}
	markLoaded(ctx, path, scope, inScope)
	return nil
}
