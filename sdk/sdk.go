// Package sdk is what a Shammie plugin author imports.
//
// A plugin implements [Plugin] and calls [Serve] from main. The host launches
// the binary through hashicorp/go-plugin, asks for its [Metadata] and [Schema],
// validates each step's config against the schema before anything runs, calls
// [Plugin.ValidateConfig] for semantic checks, and finally [Plugin.Run], during
// which the plugin reports progress, metrics, logs, artifacts and outputs
// through the [Run] it is handed.
//
// Big data never travels through the protocol: write files into [Run.WorkDir]
// and announce them with [Run.Artifact].
package sdk

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/zclconf/go-cty/cty"

	"github.com/shammie-ml/shammie/sdk/internal/handshake"
)

// ProtocolVersion is the plugin protocol this SDK speaks (proto package
// shammie.plugin.v1).
const ProtocolVersion = handshake.ProtocolVersion

// Plugin is the interface a plugin binary implements.
type Plugin interface {
	// Metadata describes the plugin. It must be cheap and constant.
	Metadata() Metadata
	// Schema describes the step config, the output values and artifacts.
	Schema() Schema
	// ValidateConfig performs semantic checks beyond what the schema expresses
	// (ranges, combinations, files that must exist). Diagnostics carry a
	// cty.Path to the offending attribute; the host maps it back to the spec's
	// source range.
	ValidateConfig(ctx context.Context, cfg Config) Diagnostics
	// Run executes one step. ctx is cancelled when the host asks the step to
	// stop; Run should then return promptly (ctx.Err() is fine to return).
	// A returned error fails the step; a returned Diagnostics (see
	// [Diagnostics.Err]) is reported with attribute paths.
	Run(ctx context.Context, run *Run) error
}

// Metadata describes a plugin binary.
type Metadata struct {
	// Name without the "shammie-plugin-" prefix.
	Name string
	// Version is the plugin's semantic version, e.g. "0.3.1".
	Version string
	// Description is one line shown by `shammie plugins list`.
	Description string
	// Backends lists the GoMLX backends the plugin can compute on, e.g.
	// []string{"go", "xla:cuda"}. A plugin that computes nothing on GoMLX
	// lists "go" only.
	Backends []string
	// ProtocolVersions the binary speaks. Filled in by the SDK when the
	// metadata crosses the wire; a plugin leaves it empty.
	ProtocolVersions []int
	// SDKVersion is the version of this SDK the plugin was built with.
	// Filled in by the SDK when the metadata crosses the wire.
	SDKVersion string
}

// Schema is the config schema of a plugin plus its declared outputs.
type Schema struct {
	Config    Block
	Outputs   []OutputDecl
	Artifacts []ArtifactDecl
}

// Block is a set of attributes and nested blocks: the body of `config { ... }`.
type Block struct {
	Attributes []Attribute
	Blocks     []NestedBlock
}

// Attribute is one config attribute.
type Attribute struct {
	Name        string
	Type        cty.Type
	Required    bool
	Default     cty.Value // cty.NilVal or a null value: no default
	Description string
	Sensitive   bool
	// Accepts lists the media types of artifacts a file attribute takes
	// (struct tag accepts:"type/a,type/b"; "type/*" and "*/*" match
	// families); see MediaTypeAccepted. Empty: any.
	Accepts []string
}

// Nesting says how often a nested block may appear.
type Nesting int

const (
	NestingSingle Nesting = iota + 1 // at most one block, decoded as an object
	NestingList                      // any number, decoded as a list of objects
	NestingMap                       // one label per block, decoded as a map of objects
)

// NestedBlock is a block type allowed inside a Block.
type NestedBlock struct {
	TypeName    string
	Nesting     Nesting
	Block       Block
	MinItems    int
	MaxItems    int // 0: unlimited
	Description string
}

// OutputDecl declares a named output value of a step, referable from other
// steps as step.NAME.outputs.OUTPUT.
type OutputDecl struct {
	Name        string
	Type        cty.Type
	Description string
}

// ArtifactDecl declares a named artifact (a file) a step produces. Other
// steps refer to it as step.NAME.artifacts.ARTIFACT, which evaluates to the
// absolute path of the file in the host's content-addressed store.
type ArtifactDecl struct {
	Name string
	// MediaType is what [Run.WriteArtifact] announces the file as.
	MediaType   string
	Description string
	// Family is set on the members of a bounded family declared with
	// [ArtifactFamily]: the family's pattern, e.g. "layer_{0..79}_png".
	Family string
}

// ArtifactFamily declares a bounded family of artifacts whose number
// depends on the config (one plot per layer, say): the names are pattern
// with "{i}" replaced by 0 … max-1, each member is an ordinary declared
// artifact other steps can refer to, and `shammie plugins describe` shows
// the family as one row, "layer_{0..79}_png". max is the bound the schema
// allows (the config's largest legal value); a step announces only the
// members its config produces.
//
//	Artifacts: append([]sdk.ArtifactDecl{ ... },
//		sdk.ArtifactFamily("layer_{i}_experts_png", maxLayers, "image/png", "expert load of layer i")...),
func ArtifactFamily(pattern string, max int, mediaType, description string) []ArtifactDecl {
	if !strings.Contains(pattern, "{i}") {
		panic(fmt.Sprintf("sdk.ArtifactFamily: pattern %q has no {i}", pattern))
	}
	family := strings.Replace(pattern, "{i}", fmt.Sprintf("{0..%d}", max-1), 1)
	out := make([]ArtifactDecl, max)
	for i := range out {
		out[i] = ArtifactDecl{Name: FamilyMember(pattern, i), MediaType: mediaType, Description: description, Family: family}
	}
	return out
}

// FamilyMember is the name of member i of the family pattern ("{i}"
// replaced by i), for announcing it.
func FamilyMember(pattern string, i int) string {
	return strings.Replace(pattern, "{i}", strconv.Itoa(i), 1)
}

// Severity of a diagnostic.
type Severity int

const (
	SeverityError Severity = iota + 1
	SeverityWarning
)

// Diagnostic is a problem found in a config, pointing at an attribute.
type Diagnostic struct {
	Severity Severity
	Summary  string
	Detail   string
	Path     cty.Path
}

// Diagnostics is a list of diagnostics.
type Diagnostics []Diagnostic

// Errorf returns an error diagnostic at path.
func Errorf(path cty.Path, summary, detail string) Diagnostic {
	return Diagnostic{Severity: SeverityError, Summary: summary, Detail: detail, Path: path}
}

// HasErrors reports whether any diagnostic is an error.
func (d Diagnostics) HasErrors() bool {
	for _, x := range d {
		if x.Severity == SeverityError {
			return true
		}
	}
	return false
}

// Config is a step's evaluated config, conforming to the plugin's schema.
//
// In ValidateConfig some values may be unknown: the host validates every
// step instance before anything runs, so an attribute that refers to
// step.X.outputs.* or step.X.artifacts.* has no value yet (it has its
// declared type). Checks must skip unknown attributes and still run on the
// known ones; the host calls ValidateConfig again on the full config right
// before the step runs. Two helpers make that easy:
//
//	var cfg config
//	_ = c.Decode(&cfg)          // unknown attributes stay at their zero value
//	if c.IsKnown("penalty") && cfg.Penalty < 0 { ... }
//
// Run always receives a wholly known config (Serve refuses any other).
type Config struct {
	Value cty.Value
}
