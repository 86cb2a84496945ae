// Package dag turns a loaded spec into the graph of step instances the host
// runs: it expands for_each/count, resolves step references into edges,
// detects cycles, validates every instance's config statically against its
// plugin's schema (upstream results as unknown values of their declared
// types), and at run time evaluates a node's config from its upstream
// results.
//
// How the host uses the spec language, in order:
//
//	spec, diags := configs.LoadFile(path)             // syntax, structure, names
//	vars, d := lang.ResolveVariables(spec, cliVars, varFiles, os.Environ())
//	g, d := dag.Plan(spec, vars, schemasByPluginLabel, dag.Options{RunSeed: s, DefaultBackend: b})
//	for _, n := range g.TopoOrder() {                 // or schedule by g.Deps
//		cfg, seed, backend, d := g.EvalConfig(n, resultsByAddr)
//		// ... plugin ValidateConfig / Run with cfg ...
//		d = g.DiagnosticsFromPlugin(n, pluginDiags)
//	}
//	configs.WriteDiagnostics(os.Stderr, spec.Files, dag.CompactPluginDiagnostics(all))
//
// Plan is safe to call on a spec that loaded with errors (it is fuzzed
// that way), so a CLI may report load, variable and plan errors at once.
//
// Addresses: step.NAME for a single step, step.NAME["key"] for a for_each
// instance (map and set keys sorted, lists in their order), step.NAME[i]
// for a count instance. The seed of an instance without `seed` is
// [DefaultSeed].
package dag

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"math/big"
	"sort"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hcldec"
	"github.com/shammie-ml/shammie/host/internal/configs"
	"github.com/shammie-ml/shammie/host/internal/configschema"
	"github.com/shammie-ml/shammie/host/internal/lang"
	"github.com/shammie-ml/shammie/sdk"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
)

// DefaultBackend is used when neither the step nor Options sets one.
const DefaultBackend = "go"

// Options are the run-wide settings Plan needs.
type Options struct {
	// RunSeed derives the seeds of steps that set none (see DefaultSeed).
	RunSeed int64
	// DefaultBackend is the GoMLX backend of steps that set none
	// (--backend); "" means DefaultBackend.
	DefaultBackend string
	// Cwd is path.cwd; "" means the process's working directory.
	Cwd string
	// MaxInstances bounds the instances of one step; 0 means MaxInstances.
	MaxInstances int
}

// StepResult is what a finished step instance produced: its output values
// and its artifacts as absolute paths in the run store.
type StepResult struct {
	Outputs   map[string]cty.Value
	Artifacts map[string]string
}

// Node is one step instance: a step without for_each/count, or one key of
// an expanded step.
type Node struct {
	// Addr is the instance address: step.gen, step.sweep["a"], step.train[2].
	Addr string
	// Name is the step's name (the block label).
	Name   string
	Step   *configs.Step
	Plugin *configs.PluginDecl
	// Schema is the plugin's schema (zero when none was given to Plan).
	Schema sdk.Schema
	// Key is cty.NilVal for a single step, a string for a for_each
	// instance and a number for a count instance.
	Key cty.Value
	// Each is set for for_each instances; CountIndex for count instances.
	Each       *lang.EachValue
	CountIndex cty.Value

	index int
	refs  []reference
	// static is the config as Plan validated it (StaticConfig), kept so
	// that the runner's static validation does not decode it again.
	static  cty.Value
	badRefs []hcl.Range // step references reported as errors
}

func (n *Node) String() string { return n.Addr }

// Graph is the planned spec: nodes and the edges between them.
type Graph struct {
	Spec   *configs.Spec
	Vars   map[string]cty.Value
	Locals map[string]cty.Value

	opts    Options
	nodes   []*Node
	byAddr  map[string]*Node
	byStep  map[string][]*Node
	deps    [][]int // deps[i]: indexes of nodes node i depends on, sorted
	rdeps   [][]int
	schemas map[string]*configschema.Block // by plugin label
	// sdkSchemas are the schemas as given, by plugin label.
	sdkSchemas map[string]sdk.Schema
	decSpecs   map[string]hcldec.Spec // cache of schemas' DecoderSpec
	funcs      map[string]function.Function
	travCache  map[string][]hcl.Traversal              // by step name
	keyCache   map[string]map[hcl.Range]hcl.Expression // indexKeys by step name
	// unknowns is the value of an instance that has not run, by plugin
	// label: the same for every instance of the plugin's steps.
	unknowns map[string]cty.Value
	base     *lang.Base           // path, var, local: built once
	kinds    map[string]expansion // by step name
	failed   map[string]bool      // steps whose for_each/count failed
	topo     []*Node
}

// Nodes returns every step instance in spec order (steps by declaration,
// instances by key).
func (g *Graph) Nodes() []*Node { return append([]*Node(nil), g.nodes...) }

// Node returns the instance at addr, or nil.
func (g *Graph) Node(addr string) *Node { return g.byAddr[addr] }

// StepInstances returns the instances of the named step (none when a
// for_each collection is empty or count is 0).
func (g *Graph) StepInstances(step string) []*Node {
	return append([]*Node(nil), g.byStep[step]...)
}

// Deps returns the nodes n depends on directly, in spec order.
func (g *Graph) Deps(n *Node) []*Node { return g.pick(g.deps[n.index]) }

// Dependents returns the nodes that depend directly on n, in spec order.
func (g *Graph) Dependents(n *Node) []*Node { return g.pick(g.rdeps[n.index]) }

func (g *Graph) pick(idx []int) []*Node {
	out := make([]*Node, len(idx))
	for i, j := range idx {
		out[i] = g.nodes[j]
	}
	return out
}

// TopoOrder returns the nodes so that every node comes after its deps;
// ties keep spec order.
func (g *Graph) TopoOrder() []*Node { return append([]*Node(nil), g.topo...) }

// Backend returns the default backend of the graph's options.
func (g *Graph) defaultBackend() string {
	if g.opts.DefaultBackend != "" {
		return g.opts.DefaultBackend
	}
	return DefaultBackend
}

// DefaultSeed is the seed of a step instance that sets no seed: the first
// 8 bytes of sha256("shammie-seed/<runSeed>/<addr>"), big-endian, with the
// sign bit cleared. Every instance of a sweep gets its own seed, the same
// in every run with the same run seed.
func DefaultSeed(runSeed int64, addr string) int64 {
	sum := sha256.Sum256([]byte(fmt.Sprintf("shammie-seed/%d/%s", runSeed, addr)))
	return int64(binary.BigEndian.Uint64(sum[:8]) >> 1)
}

// InstanceAddr renders the address of a step instance for key (cty.NilVal:
// single step; string: for_each; number: count).
func InstanceAddr(step string, key cty.Value) string {
	switch {
	case key == cty.NilVal:
		return "step." + step
	case key.Type() == cty.String:
		return fmt.Sprintf("step.%s[%q]", step, key.AsString())
	default:
		return "step." + step + "[" + numberKey(key) + "]"
	}
}

// numberKey is a count key as written in an address: an integer in
// decimal (formatting the big.Float behind it costs a tenth of a 10⁵
// instance plan).
func numberKey(key cty.Value) string {
	bf := key.AsBigFloat()
	if i, acc := bf.Int64(); acc == big.Exact {
		return strconv.FormatInt(i, 10)
	}
	return bf.Text('f', -1)
}

// WriteText writes the graph in topological order, one line per node with
// its plugin and direct dependencies; annotate (optional) appends text to
// each line, e.g. the cache status.
func (g *Graph) WriteText(w io.Writer, annotate func(*Node) string) error {
	var sb strings.Builder
	width := 0
	for _, n := range g.topo {
		width = max(width, len(n.Addr))
	}
	for _, n := range g.topo {
		fmt.Fprintf(&sb, "%-*s  %s", width, n.Addr, pluginLabel(n))
		if deps := g.Deps(n); len(deps) > 0 {
			names := make([]string, len(deps))
			for i, d := range deps {
				names[i] = d.Addr
			}
			fmt.Fprintf(&sb, "  <- %s", strings.Join(names, ", "))
		}
		if annotate != nil {
			if a := annotate(n); a != "" {
				sb.WriteString("  " + a)
			}
		}
		sb.WriteString("\n")
	}
	_, err := io.WriteString(w, sb.String())
	return err
}

func pluginLabel(n *Node) string {
	if n.Plugin == nil {
		return "plugin " + n.Step.Plugin
	}
	s := "plugin " + n.Plugin.Name
	if n.Plugin.Source != n.Plugin.Name {
		s += " (" + n.Plugin.Source + ")"
	}
	return s
}

// DOT renders the graph in Graphviz syntax; edges point from a dependency
// to its dependent (data flow). annotate (optional) adds a label line.
func (g *Graph) DOT(annotate func(*Node) string) string {
	var sb strings.Builder
	sb.WriteString("digraph shammie {\n  rankdir=LR;\n  node [shape=box];\n")
	for _, n := range g.nodes {
		label := n.Addr + "\n" + pluginLabel(n)
		if annotate != nil {
			if a := annotate(n); a != "" {
				label += "\n" + a
			}
		}
		fmt.Fprintf(&sb, "  %q [label=%q];\n", n.Addr, label)
	}
	for _, n := range g.nodes {
		for _, d := range g.Deps(n) {
			fmt.Fprintf(&sb, "  %q -> %q;\n", d.Addr, n.Addr)
		}
	}
	sb.WriteString("}\n")
	return sb.String()
}

func sortedInts(m map[int]bool) []int {
	out := make([]int, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Ints(out)
	return out
}
