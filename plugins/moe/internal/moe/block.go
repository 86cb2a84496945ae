// Package moe holds the sparse mixture-of-experts feed-forward block that
// plugs into the sdk/ml transformer: a bias-free softmax router with top-k
// selection, dropless SwiGLU experts computed only on the tokens routed to
// them (block-sparse grouped matmul), a dense reference path, and OLMoE's
// auxiliary losses.
package moe

import (
	"fmt"
	"math"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" // dot import: staticcheck.conf allows it for GoMLX graph code only
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/shammie-ml/shammie/sdk/ml"
)

// Config of one MoE layer (all layers of a model share it).
type Config struct {
	DModel  int // model width
	Hidden  int // SwiGLU hidden width of one expert
	Experts int // E
	TopK    int // k active experts per token
	// Renormalize rescales the k selected probabilities to sum to 1.
	// OLMoE does not (norm_topk_prob = false), hence the default false.
	Renormalize bool
	// BlockSize is the row-block granularity of the sparse path: each
	// expert's token segment is padded to a multiple of it. Smaller blocks
	// waste fewer rows; larger ones make bigger matmuls. 0 picks a default.
	BlockSize int
	// Layers is the model depth; it scales the experts' down projection
	// like the dense transformer's (1/√(2L)) so residual growth matches.
	// 0: no scaling.
	Layers int
	// Dense computes every expert on every token and masks the output: the
	// reference path for tests (same math, E/k times the work).
	Dense bool
}

// Validate reports a configuration that cannot build a layer.
func (c Config) Validate() error {
	switch {
	case c.DModel <= 0 || c.Hidden <= 0:
		return fmt.Errorf("moe: d_model (%d) and expert hidden size (%d) must be positive", c.DModel, c.Hidden)
	case c.Experts < 1:
		return fmt.Errorf("moe: need at least one expert, got %d", c.Experts)
	case c.TopK < 1 || c.TopK > c.Experts:
		return fmt.Errorf("moe: top_k must be in [1, experts=%d], got %d", c.Experts, c.TopK)
	case c.BlockSize < 0:
		return fmt.Errorf("moe: block size must be >= 0, got %d", c.BlockSize)
	}
	return nil
}

// Routing is what the router decided for a batch of tokens, kept for the
// auxiliary losses and the analyses.
type Routing struct {
	Logits   *Node // [T, E] router logits (float)
	Probs    *Node // [T, E] softmax over experts
	TopIdx   *Node // [T, k] int32 selected experts, most probable first
	TopW     *Node // [T, k] combine weights (probabilities, renormalised if configured)
	Counts   *Node // [E] float, token-slot assignments per expert (no gradient)
	UsedRows *Node // scalar float: rows the sparse path actually fills (padded segments); Dense: E·T
}

// Variables of one layer, created in ctx's current scope:
//
//	router   [D, E]        (no bias, as in OLMoE)
//	w_gate   [E, D, H]     SwiGLU gate projection per expert
//	w_up     [E, D, H]     SwiGLU up projection per expert
//	w_down   [E, H, D]     down projection per expert
func weights(ctx *context.Context, g *Graph, c Config) (router, wGate, wUp, wDown *Node) {
	dt := dtypes.Float32
	// Fan-in scaled normal init (seeded per variable by sdk/ml, identical on
	// every backend).
	sD, sH := 1/math.Sqrt(float64(c.DModel)), 1/math.Sqrt(float64(c.Hidden))
	if c.Layers > 0 {
		sH /= math.Sqrt(2 * float64(c.Layers))
	}
	router = ml.Weight(ctx, "router", shapes.Make(dt, c.DModel, c.Experts), RouterInitStd).ValueGraph(g)
	wGate = ml.Weight(ctx, "w_gate", shapes.Make(dt, c.Experts, c.DModel, c.Hidden), sD).ValueGraph(g)
	wUp = ml.Weight(ctx, "w_up", shapes.Make(dt, c.Experts, c.DModel, c.Hidden), sD).ValueGraph(g)
	wDown = ml.Weight(ctx, "w_down", shapes.Make(dt, c.Experts, c.Hidden, c.DModel), sH).ValueGraph(g)
	return
}

// Layer applies the MoE feed-forward to x [T, D] (T tokens, any order) and
// returns the output [T, D] and the routing.
func Layer(ctx *context.Context, c Config, x *Node) (*Node, *Routing) {
	if err := c.Validate(); err != nil {
		panic(err)
	}
	if x.Rank() != 2 || x.Shape().Dimensions[1] != c.DModel {
		panic(fmt.Sprintf("moe.Layer: x must be [tokens, %d], got %s", c.DModel, x.Shape()))
	}
	g := x.Graph()
	router, wGate, wUp, wDown := weights(ctx, g, c)
	r := Route(c, x, router)
	var out *Node
	if c.Dense {
		out = denseExperts(c, x, r, wGate, wUp, wDown)
	} else {
		out = sparseExperts(c, x, r, wGate, wUp, wDown)
	}
	return out, r
}

// Route computes router logits, softmax probabilities and the top-k choice.
// Top-k is k rounds of ArgMax (GoMLX has no TopK/Sort op): ties go to the
// lower expert id, as torch.topk does on CPU.
func Route(c Config, x, router *Node) *Routing {
	g := x.Graph()
	T, E := x.Shape().Dimensions[0], c.Experts
	logits := ml.MatMul(x, router)
	probs := ml.SoftmaxLast(logits)
	remaining := StopGradient(probs)
	idxs := make([]*Node, c.TopK)
	ws := make([]*Node, c.TopK)
	for i := range c.TopK {
		idx := ArgMax(remaining, -1, dtypes.Int32) // [T]
		oh := OneHot(idx, E, dtypes.Float32)       // [T, E]
		idxs[i] = idx
		ws[i] = ReduceSum(Mul(probs, oh), -1) // differentiable through probs
		// Probabilities are in [0,1]: pushing chosen ones below 0 excludes them.
		remaining = Sub(remaining, MulScalar(oh, 2))
	}
	topIdx := Stack(idxs, -1) // [T, k]
	topW := Stack(ws, -1)     // [T, k]
	if c.Renormalize {
		topW = Div(topW, ReduceAndKeep(topW, ReduceSum, -1))
	}
	counts := ReduceSum(OneHot(Reshape(topIdx, T*c.TopK), E, dtypes.Float32), 0)
	_ = g
	return &Routing{Logits: logits, Probs: probs, TopIdx: topIdx, TopW: topW, Counts: counts}
}

// swiglu: silu(x·Wg) ⊙ (x·Wu) then ·Wd, batched over the leading axis.
func swiglu(x, wGate, wUp, wDown *Node) *Node {
	h := BatchMatMul(x, wGate)
	u := BatchMatMul(x, wUp)
	a := ml.SiLUMul(h, u) // gradient written out (sdk/ml)
	return BatchMatMul(a, wDown)
}

// denseExperts runs all E experts on all T tokens and combines with the
// (sparse) gate matrix: the reference the sparse path must match.
func denseExperts(c Config, x *Node, r *Routing, wGate, wUp, wDown *Node) *Node {
	T, D, E := x.Shape().Dimensions[0], c.DModel, c.Experts
	xb := BroadcastToDims(InsertAxes(x, 0), E, T, D)
	y := swiglu(xb, wGate, wUp, wDown) // [E, T, D]
	// gates[t, e] = Σ_i topW[t,i]·[topIdx[t,i]==e]
	gates := ReduceSum(Mul(OneHot(r.TopIdx, E, dtypes.Float32), InsertAxes(r.TopW, -1)), 1) // [T, E]
	r.UsedRows = Scalar(x.Graph(), dtypes.Float32, float64(E*T))
	return Einsum("et,etd->td", Transpose(gates, 0, 1), y)
}

// RouterInitStd is the router's initial weight scale: OLMoE's 0.02. A small
// router starts near-uniform and learns to route on directions the rest of
// the model has learned (a domain's shared features, say); a fan-in scaled
// one starts from sharp random token-level preferences that persist.
const RouterInitStd = 0.02
