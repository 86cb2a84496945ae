package ml

import (
	"fmt"
	"math"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/ml/context"
)

// HeadOutputs projects the per-head attention outputs of layer layer
// (heads [B, S, H, Dh], as captured at SiteHeads) through that layer's
// output projection one head at a time: the result [B, S, H, d_model] holds
// each head's contribution to the residual stream, and its sum over the
// head axis is SiteAttnOut. ctx is the context given to Forward, as for
// Head and FinalNorm, so the per-head logit lens of a model under a scope is
// m.Head(ctx, m.FinalNorm(ctx, m.HeadOutputs(ctx, l, heads))).
func (m *Transformer) HeadOutputs(ctx *context.Context, layer int, heads *graph.Node) *graph.Node {
	c := m.Config
	if layer < 0 || layer >= c.NumLayers {
		panic(fmt.Sprintf("ml.Transformer.HeadOutputs: layer %d outside [0, %d)", layer, c.NumLayers))
	}
	dh := c.HeadDim()
	if heads.Rank() != 4 || heads.Shape().Dim(2) != c.NumHeads || heads.Shape().Dim(3) != dh {
		panic(fmt.Sprintf("ml.Transformer.HeadOutputs: heads must be [batch, seq, %d, %d], got %s", c.NumHeads, dh, heads.Shape()))
	}
	// The same variable (and initial std) the attention's output projection uses.
	wctx := ctx.In(ModelScope).In(fmt.Sprintf("layer_%d", layer)).In("attn").In("out")
	wo := Weight(wctx, "weights", shapes.Make(heads.DType(), c.DModel, c.DModel),
		1/math.Sqrt(float64(c.DModel))/math.Sqrt(2*float64(c.NumLayers))).ValueGraph(heads.Graph())
	// Rows of W_O are head-major (heads are reshaped [H·Dh] before it).
	w := graph.Reshape(wo, c.NumHeads, dh, c.DModel)
	out := DotGeneral(heads, []int{3}, []int{2}, w, []int{1}, []int{0}) // [H, B, S, d_model]
	return graph.TransposeAllAxes(out, 1, 2, 0, 3)
}
