package ml

import (
	"fmt"
	"sync"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/ml/context"
)

// NamedNode is a graph value with a name (an auxiliary loss or a capture).
type NamedNode struct {
	Name string
	Node *graph.Node
}

// graphExtras collects, per graph, what model code adds besides the main
// output: auxiliary losses and captured tensors. It lives in a root-scope
// graph parameter of the context, so any scope finds it.
type graphExtras struct {
	mu       sync.Mutex
	aux      []NamedNode
	captures []NamedNode
	metrics  []NamedNode
}

const extrasParam = "shammie_graph_extras"

func extrasOf(ctx *context.Context, g *graph.Graph) *graphExtras {
	root := ctx.InAbsPath(context.RootScope)
	if v, ok := root.GetGraphParam(g, extrasParam); ok {
		return v.(*graphExtras)
	}
	e := &graphExtras{}
	root.SetGraphParam(g, extrasParam, e)
	return e
}

// AddAuxLoss adds a scalar auxiliary loss (already weighted by its
// coefficient) to the graph being built: the training loop adds it to the
// objective and reports it as the metric "aux/<name>". Names should be
// unique per graph, e.g. "load_balance/layer_3".
func AddAuxLoss(ctx *context.Context, name string, loss *graph.Node) {
	if loss.Rank() != 0 {
		panic(fmt.Sprintf("ml.AddAuxLoss(%q): loss must be a scalar, got %s", name, loss.Shape()))
	}
	e := extrasOf(ctx, loss.Graph())
	e.mu.Lock()
	defer e.mu.Unlock()
	e.aux = append(e.aux, NamedNode{name, loss})
}

// AuxLosses returns the auxiliary losses added to g so far.
func AuxLosses(ctx *context.Context, g *graph.Graph) []NamedNode {
	e := extrasOf(ctx, g)
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]NamedNode(nil), e.aux...)
}

// Capture exports a tensor of the graph being built (router top-k indices
// and probabilities, say) under name, so analysis code can return it as an
// extra output: after building, Captures(ctx, g) lists them in order.
//
// simplego v0.26 fails at execution ("index out of range") when every
// output of a graph was created before one of its parameter nodes (e.g. a
// variable first read after the captured layer): return the model's logits
// (or anything built last) among the outputs too.
func Capture(ctx *context.Context, name string, x *graph.Node) {
	e := extrasOf(ctx, x.Graph())
	e.mu.Lock()
	defer e.mu.Unlock()
	e.captures = append(e.captures, NamedNode{name, x})
}

// Captures returns the tensors captured in g so far.
func Captures(ctx *context.Context, g *graph.Graph) []NamedNode {
	e := extrasOf(ctx, g)
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]NamedNode(nil), e.captures...)
}

// AddMetric reports a scalar of the graph being built (reward accuracy, a
// DPO margin) without adding it to the objective: the trainer returns it in
// StepResult.Metrics and reports it as "train/<name>" each step (mean over
// micro-batches) and "eval/<name>" on evaluation. No gradient flows from it.
func AddMetric(ctx *context.Context, name string, x *graph.Node) {
	if x.Rank() != 0 {
		panic(fmt.Sprintf("ml.AddMetric(%q): the metric must be a scalar, got %s", name, x.Shape()))
	}
	e := extrasOf(ctx, x.Graph())
	e.mu.Lock()
	defer e.mu.Unlock()
	e.metrics = append(e.metrics, NamedNode{name, graph.StopGradient(x)})
}

// Metrics returns the metrics added to g so far.
func Metrics(ctx *context.Context, g *graph.Graph) []NamedNode {
	e := extrasOf(ctx, g)
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]NamedNode(nil), e.metrics...)
}
