package ml

import (
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
)

// TestHeadOutputs checks, for a model under a scope, that the per-head
// outputs sum over heads to the attention output and that head h's output
// equals the attention output of a forward pass in which every other head
// is zeroed (an independent route through the model's own projection).
func TestHeadOutputs(t *testing.T) {
	backend := openGo(t)
	cfg := float64Config()
	m, err := NewTransformer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.New()
	SetInitSeed(ctx, 5)
	const layer, keep = 1, 1
	tok := tensors.FromFlatDataAndDimensions([]int32{1, 5, 2, 9, 3, 4, 7, 8}, 2, 4)
	exec := context.MustNewExec(backend, ctx, func(ctx *context.Context, tok *graph.Node) []*graph.Node {
		sctx := ctx.In("ref")
		var outs []*graph.Node
		h := NewHooks()
		for l := range cfg.NumLayers {
			h.Capture(HookPoint{l, SiteHeads}, HookPoint{l, SiteAttnOut})
		}
		m.Forward(sctx, Inputs{Tokens: tok, Hooks: h})
		for l := range cfg.NumLayers {
			per := m.HeadOutputs(sctx, l, h.Captured(HookPoint{l, SiteHeads}))
			outs = append(outs, graph.ReduceSum(per, 2), h.Captured(HookPoint{l, SiteAttnOut}))
			if l == layer {
				outs = append(outs, graph.Squeeze(graph.Slice(per, graph.AxisRange(), graph.AxisRange(), graph.AxisElem(keep)), 2))
			}
		}
		// Only head `keep` of layer `layer` left: its attn_out is that head's output.
		h2 := NewHooks().Capture(HookPoint{layer, SiteAttnOut})
		h2.Edit(HookPoint{layer, SiteHeads}, func(_ HookPoint, x *graph.Node) *graph.Node {
			mask := make([]float64, cfg.NumHeads)
			mask[keep] = 1
			mk := graph.Reshape(graph.Const(x.Graph(), mask), 1, 1, cfg.NumHeads, 1)
			return graph.Mul(x, graph.BroadcastToShape(mk, shapes.Make(dtypes.Float64, x.Shape().Dimensions...)))
		})
		m.Forward(sctx, Inputs{Tokens: tok, Hooks: h2})
		return append(outs, h2.Captured(HookPoint{layer, SiteAttnOut}))
	})
	outs := exec.MustExec(tok)
	for l := range cfg.NumLayers {
		i := 2 * l
		if l > layer {
			i++
		}
		closeSlices(t, "sum over heads of HeadOutputs vs attn_out", flat64(outs[i]), flat64(outs[i+1]), 1e-12)
	}
	closeSlices(t, "HeadOutputs of one head vs attn_out with the others zeroed", flat64(outs[2*layer+2]), flat64(outs[len(outs)-1]), 1e-12)
}
