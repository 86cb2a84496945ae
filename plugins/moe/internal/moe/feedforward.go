package moe

import (
	"fmt"

	. "github.com/gomlx/gomlx/pkg/core/graph" // dot import: staticcheck.conf allows it for GoMLX graph code only
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/shammie-ml/shammie/sdk/ml"
)

// Names of the per-layer tensors the FeedForward captures (ml.Capture) and
// of the auxiliary losses it adds (ml.AddAuxLoss; the training loop reports
// them as "aux/<name>").
func CaptureTopK(layer int) string     { return fmt.Sprintf("moe/layer_%d/topk", layer) }
func CaptureCounts(layer int) string   { return fmt.Sprintf("moe/layer_%d/counts", layer) }
func CaptureUsedRows(layer int) string { return fmt.Sprintf("moe/layer_%d/used_rows", layer) }
func AuxLoadBalance(layer int) string  { return fmt.Sprintf("load_balance/layer_%d", layer) }
func AuxZLoss(layer int) string        { return fmt.Sprintf("router_z/layer_%d", layer) }

// FeedForward returns the MoE block as the sdk/ml transformer's pluggable
// feed-forward. The transformer hands it the normalised stream
// [batch, seq, d_model]; tokens are flattened (routing is per token). Each
// layer adds its share of the two auxiliary losses — the model-level
// losses are means over the numLayers layers, so layer l adds
// (w/L)·LB_l and (w_z/L)·Z_l — and captures its top-k choices, expert
// counts and the rows the sparse path filled.
func FeedForward(c Config, lc LossConfig, numLayers int) ml.FeedForward {
	return func(ctx *context.Context, layer int, x *Node) *Node {
		dims := x.Shape().Dimensions
		flat := Reshape(x, -1, c.DModel)
		y, r := Layer(ctx, c, flat)
		rs := []*Routing{r}
		if lc.LoadBalance != 0 {
			ml.AddAuxLoss(ctx, AuxLoadBalance(layer), LoadBalancingLoss(c, rs, lc.LoadBalance/float64(numLayers)))
		}
		if lc.ZLoss != 0 {
			per := lc
			per.ZLoss = lc.ZLoss / float64(numLayers)
			ml.AddAuxLoss(ctx, AuxZLoss(layer), RouterZLoss(c, rs, per))
		}
		ml.Capture(ctx, CaptureTopK(layer), r.TopIdx)
		ml.Capture(ctx, CaptureCounts(layer), r.Counts)
		ml.Capture(ctx, CaptureUsedRows(layer), r.UsedRows)
		return Reshape(y, dims...)
	}
}
