// Package configs loads Shammie experiment specs (HCL native syntax in .hcl
// files, HCL JSON syntax in .shammie.json files) into a [Spec]: the declared
// variables, locals, plugins and steps, with every expression kept unevaluated
// and every problem reported as an hcl.Diagnostic with a source range.
// Evaluation lives in package lang, the step graph in package dag.
package configs

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/go-version"
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/zclconf/go-cty/cty"
)

// PluginBinaryPrefix is prepended to a plugin's source to name its binary.
const PluginBinaryPrefix = "shammie-plugin-"

// Spec is one loaded spec file.
type Spec struct {
	// Filename is the path the spec was loaded from, as given.
	Filename string
	// Dir is the absolute directory of the spec file: path.spec, and the
	// base of relative paths in file functions.
	Dir string
	// Source is the file's bytes (for run-record snapshots).
	Source []byte

	Variables map[string]*Variable
	Locals    map[string]*Local
	Plugins   map[string]*PluginDecl
	Steps     map[string]*Step
	Outputs   map[string]*Output
	// Resources is the top-level resources block (every step's default);
	// nil when absent.
	Resources *ResourcesBlock

	// Files holds every parsed file by name (the spec, var files, pseudo
	// files for -var values) so diagnostics can be rendered with snippets.
	Files map[string]*hcl.File
}

// Output is an `output "name" { value = ... }` block: a value computed
// from step results (and variables, locals) once the run ends.
type Output struct {
	Name        string
	Expr        hcl.Expression
	Description string
	Sensitive   bool
	DeclRange   hcl.Range
}

// SortedOutputNames returns the output names in order.
func (s *Spec) SortedOutputNames() []string { return SortedKeys(s.Outputs) }

// Variable is a `variable "name" { ... }` block.
type Variable struct {
	Name        string
	Description string
	// Type is the type constraint (cty.DynamicPseudoType when absent).
	Type cty.Type
	// TypeDefaults holds optional(type, default) defaults of object types.
	TypeDefaults *typeexpr.Defaults
	// Default is cty.NilVal when the variable is required.
	Default      cty.Value
	DefaultRange hcl.Range
	Sensitive    bool
	Validations  []*Validation
	DeclRange    hcl.Range
	// Invalid is set when the declaration itself had errors (already
	// reported); such a variable resolves to an unknown value silently.
	Invalid bool
}

// Required reports whether the variable has no default.
func (v *Variable) Required() bool { return v.Default == cty.NilVal }

// IsStringish reports whether values given on the command line or in the
// environment are taken verbatim (string type) rather than parsed as an HCL
// expression.
func (v *Variable) IsStringish() bool { return v.Type == cty.String }

// Validation is a `validation { condition, error_message }` block.
type Validation struct {
	Condition    hcl.Expression
	ErrorMessage hcl.Expression
	DeclRange    hcl.Range
}

// Local is one attribute of a `locals { ... }` block.
type Local struct {
	Name      string
	Expr      hcl.Expression
	DeclRange hcl.Range
}

// PluginDecl is a `plugin "name" { source, version }` block.
type PluginDecl struct {
	Name string
	// Source is the plugin's name on disk without the binary prefix; it
	// defaults to Name.
	Source string
	// Version is nil when no constraint was given (any version).
	Version       version.Constraints
	VersionString string
	VersionRange  hcl.Range
	DeclRange     hcl.Range
}

// BinaryName is the file name of the plugin's executable.
func (p *PluginDecl) BinaryName() string { return PluginBinaryPrefix + p.Source }

// Step is a `step "name" { ... }` block.
type Step struct {
	Name        string
	Plugin      string // the label of a declared plugin block
	PluginRange hcl.Range
	// Config is the body of the config block, decoded later with the
	// plugin's schema. When the step has no config block it is an empty
	// body whose missing-item range is the step's declaration.
	Config      hcl.Body
	ConfigRange hcl.Range
	HasConfig   bool
	DependsOn   []hcl.Traversal
	// ForEach, Count, Seed and Backend are nil when absent.
	ForEach hcl.Expression
	Count   hcl.Expression
	Seed    hcl.Expression
	Backend hcl.Expression
	// Resources is nil when the step has no resources block.
	Resources *ResourcesBlock
	DeclRange hcl.Range
}

// Expressions returns every expression of the step that may reference other
// steps (not the config body, which is walked with its schema).
func (s *Step) Expressions() []hcl.Expression {
	var out []hcl.Expression
	for _, e := range []hcl.Expression{s.ForEach, s.Count, s.Seed, s.Backend} {
		if e != nil {
			out = append(out, e)
		}
	}
	return out
}

// SortedStepNames returns step names in source order (by declaration
// position), which is what plan output follows.
func (s *Spec) SortedStepNames() []string {
	names := make([]string, 0, len(s.Steps))
	for n := range s.Steps {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool {
		return s.Steps[names[i]].DeclRange.Start.Byte < s.Steps[names[j]].DeclRange.Start.Byte
	})
	return names
}

// SortedVariableNames returns variable names sorted alphabetically.
func (s *Spec) SortedVariableNames() []string {
	names := make([]string, 0, len(s.Variables))
	for n := range s.Variables {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// IsJSONFilename reports whether a spec file uses HCL's JSON syntax.
func IsJSONFilename(name string) bool {
	return strings.HasSuffix(name, ".json")
}

// LoadFile reads and decodes a spec file. The returned Spec is never nil,
// so its Files can render the diagnostics even when loading failed.
func LoadFile(path string) (*Spec, hcl.Diagnostics) {
	src, err := readSpec(path)
	if err != nil {
		spec := newSpec(path, nil)
		return spec, hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Cannot read spec file",
			Detail:   fmt.Sprintf("%s. Check the path given on the command line.", err),
		}}
	}
	return LoadSource(path, src)
}

// Bounds on what is parsed as a spec: a typo naming a binary, /dev/zero or
// a FIFO must fail at once, not grow without limit or block.
const (
	MaxSpecBytes   = 16 << 20
	MaxNesting     = 200 // brackets and braces; HCL's parser recurses per level
	MaxDiagnostics = 100
)

// readSpec reads a regular file of at most MaxSpecBytes.
func readSpec(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file (%s)", path, fi.Mode().Type())
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	src, err := io.ReadAll(io.LimitReader(f, MaxSpecBytes+1))
	if err != nil {
		return nil, err
	}
	if len(src) > MaxSpecBytes {
		return nil, fmt.Errorf("%s is larger than %d MiB: is it really a spec?", path, MaxSpecBytes>>20)
	}
	return src, nil
}

// LoadSource decodes spec source as if read from filename (whose suffix
// picks the syntax: .json for HCL JSON, anything else HCL native).
func LoadSource(filename string, src []byte) (*Spec, hcl.Diagnostics) {
	spec := newSpec(filename, src)
	if d := checkSource(filename, src); d != nil {
		return spec, d
	}
	file, diags := parseFile(filename, src)
	if file == nil {
		return spec, CapDiagnostics(diags)
	}
	spec.Files[filename] = file
	diags = append(diags, decodeSpec(spec, file.Body)...)
	return spec, CapDiagnostics(diags)
}

// checkSource refuses binary files and nesting deep enough to exhaust the
// parser's stack, before parsing.
func checkSource(filename string, src []byte) hcl.Diagnostics {
	fail := func(line int, summary, detail string) hcl.Diagnostics {
		pos := hcl.Pos{Line: line, Column: 1, Byte: 0}
		return hcl.Diagnostics{{Severity: hcl.DiagError, Summary: summary, Detail: detail,
			Subject: &hcl.Range{Filename: filename, Start: pos, End: pos}}}
	}
	if i := bytes.IndexByte(src, 0); i >= 0 {
		return fail(bytes.Count(src[:i], []byte{'\n'})+1, "Spec file is not text",
			fmt.Sprintf("%s contains a NUL byte: it looks like a binary file, not an HCL spec. Check the path given on the command line.", filename))
	}
	depth, line := 0, 1
	inString, escaped := false, false
	for _, c := range src {
		switch {
		case c == '\n':
			line++
			inString = false // HCL strings do not span lines; heredocs hold no brackets that matter
		case inString:
			switch {
			case escaped:
				escaped = false
			case c == '\\':
				escaped = true
			case c == '"':
				inString = false
			}
		case c == '"':
			inString = true
		case c == '{' || c == '[' || c == '(':
			depth++
			if depth > MaxNesting {
				return fail(line, "Spec nested too deeply", fmt.Sprintf("Brackets and braces nest more than %d levels deep here; no spec needs that many.", MaxNesting))
			}
		case c == '}' || c == ']' || c == ')':
			depth--
		}
	}
	return nil
}

// CapDiagnostics keeps the first MaxDiagnostics diagnostics and says how
// many more there were.
func CapDiagnostics(diags hcl.Diagnostics) hcl.Diagnostics {
	if len(diags) <= MaxDiagnostics {
		return diags
	}
	more := len(diags) - MaxDiagnostics
	out := append(hcl.Diagnostics{}, diags[:MaxDiagnostics]...)
	return append(out, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Too many errors",
		Detail: fmt.Sprintf("%d more diagnostics were not shown; fix the ones above first.", more)})
}

func newSpec(filename string, src []byte) *Spec {
	dir := filepath.Dir(filename)
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	return &Spec{
		Filename:  filename,
		Dir:       dir,
		Source:    src,
		Variables: map[string]*Variable{},
		Locals:    map[string]*Local{},
		Plugins:   map[string]*PluginDecl{},
		Steps:     map[string]*Step{},
		Outputs:   map[string]*Output{},
		Files:     map[string]*hcl.File{},
	}
}
