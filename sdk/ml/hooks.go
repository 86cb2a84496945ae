package ml

import (
	"fmt"
	"slices"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
)

// Site names an activation inside a transformer block.
type Site string

// The hookable sites of block l. Shapes are for a forward pass over S stream
// positions (prefix included): position p of a hook is stream position p, so
// with a conditioning prefix of length P token t sits at P+t.
const (
	SiteResidIn  Site = "resid_in"  // residual stream entering the block [B, S, d_model]
	SiteHeads    Site = "heads"     // per-head attention outputs before the output projection [B, S, heads, d_head]
	SiteAttnOut  Site = "attn_out"  // attention sublayer output, before the residual add [B, S, d_model]
	SiteResidMid Site = "resid_mid" // residual stream after attention [B, S, d_model]
	SiteMLPOut   Site = "mlp_out"   // feed-forward output, before the residual add [B, S, d_model]
	SiteResidOut Site = "resid_out" // residual stream leaving the block [B, S, d_model]
)

// HookPoint is a site in a layer.
type HookPoint struct {
	Layer int
	Site  Site
}

func (p HookPoint) String() string { return fmt.Sprintf("layer_%d/%s", p.Layer, p.Site) }

// EditFn receives the activation at a hook point and returns its replacement
// (same shape and dtype).
type EditFn func(p HookPoint, x *graph.Node) *graph.Node

// Hooks reads and overwrites per-layer activations while a forward graph is
// built: the tool for logit lens, activation patching, steering. One Hooks
// value serves one graph construction; create a new one per graph.
type Hooks struct {
	capture  map[HookPoint]bool
	captured map[HookPoint]*graph.Node
	edits    map[HookPoint][]EditFn
}

// NewHooks returns empty hooks.
func NewHooks() *Hooks {
	return &Hooks{capture: map[HookPoint]bool{}, captured: map[HookPoint]*graph.Node{}, edits: map[HookPoint][]EditFn{}}
}

// Capture asks for the activation at each point (after any edit there) to be
// kept; read it with Captured once Forward has run.
func (h *Hooks) Capture(points ...HookPoint) *Hooks {
	for _, p := range points {
		h.capture[p] = true
	}
	return h
}

// Captured returns the activation captured at p, or nil if p was not asked
// for or not reached.
func (h *Hooks) Captured(p HookPoint) *graph.Node { return h.captured[p] }

// Edit registers fn to rewrite the activation at p. Several edits at one
// point run in registration order.
func (h *Hooks) Edit(p HookPoint, fn EditFn) *Hooks {
	h.edits[p] = append(h.edits[p], fn)
	return h
}

// Overwrite replaces the activation at p at the given stream positions with
// value, whose shape is the site's shape with the position axis (axis 1)
// sized len(positions): value[:, i] goes to position positions[i]. This is
// activation patching.
func (h *Hooks) Overwrite(p HookPoint, positions []int, value *graph.Node) *Hooks {
	pos := slices.Clone(positions)
	return h.Edit(p, func(_ HookPoint, x *graph.Node) *graph.Node {
		return overwritePositions(x, pos, value)
	})
}

func overwritePositions(x *graph.Node, positions []int, value *graph.Node) *graph.Node {
	g := x.Graph()
	s := x.Shape().Dim(1)
	want := x.Shape().Clone()
	want.Dimensions[1] = len(positions)
	if !value.Shape().Equal(want) {
		panic(fmt.Sprintf("ml.Hooks.Overwrite: value %s must be %s (x %s with %d positions)", value.Shape(), want, x.Shape(), len(positions)))
	}
	// src[p] is the row of value going to stream position p (0 when none),
	// mask[p] whether position p is overwritten.
	src := make([]int32, s)
	mask := make([]bool, s)
	for i, p := range positions {
		if p < 0 || p >= s {
			panic(fmt.Sprintf("ml.Hooks.Overwrite: position %d outside the stream [0, %d)", p, s))
		}
		src[p], mask[p] = int32(i), true
	}
	spread := graph.Gather(graph.TransposeAllAxes(value, swap01(value.Rank())...), graph.ExpandAxes(graph.Const(g, src), -1))
	spread = graph.TransposeAllAxes(spread, swap01(value.Rank())...) // [B, S, ...]
	m := graph.Const(g, mask)
	mshape := make([]int, x.Rank())
	for i := range mshape {
		mshape[i] = 1
	}
	mshape[1] = s
	m = graph.BroadcastToShape(graph.Reshape(m, mshape...), shapes.Make(dtypes.Bool, x.Shape().Dimensions...))
	return graph.Where(m, spread, x)
}

func swap01(rank int) []int {
	p := iota(0, rank)
	p[0], p[1] = 1, 0
	return p
}

// apply runs the edits at p and records a capture; nil hooks are a no-op.
func (h *Hooks) apply(p HookPoint, x *graph.Node) *graph.Node {
	if h == nil {
		return x
	}
	for _, fn := range h.edits[p] {
		y := fn(p, x)
		if !y.Shape().Equal(x.Shape()) {
			panic(fmt.Sprintf("ml.Hooks: edit at %s returned %s, want %s", p, y.Shape(), x.Shape()))
		}
		x = y
	}
	if h.capture[p] {
		h.captured[p] = x
	}
	return x
}
