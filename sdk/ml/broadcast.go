package ml

import (
	"fmt"
	"slices"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
)

// Broadcasting without simplego's broadcast iterator.
//
// Why: simplego v0.26 runs an element-wise op whose operands differ in shape
// (x[..., D] · s[..., 1], x · gain[D]) and every BroadcastInDim through a
// per-element index iterator, ≈8 ns per element on this machine against
// ≈0.8 ns for operands of equal shape; Concatenate and the prefix Broadcast
// are block copies. A transformer step runs such ops over every activation
// (RMSNorm, softmax, their gradients): measured at about a third of the
// non-matmul time of a training step. The helpers below build the broadcast
// operand with block copies and then use the equal-shape op; their
// gradients are the reductions GoMLX would build, attached by the same
// custom-gradient identities as DotGeneral (so no Slice/Concatenate VJP is
// ever executed). Broadcasts are bit-identical to the implicit ones; sums
// over the last axis run as products with ones (sumLastAxis), which add in
// another order (equal to float32 rounding).

// ExpandLast broadcasts x [..., 1] to [..., d] by repeated doubling with
// Concatenate. Its gradient is the sum over the last axis.
func ExpandLast(x *graph.Node, d int) *graph.Node {
	if x.Rank() == 0 || x.Shape().Dim(-1) != 1 || d < 1 {
		panic(fmt.Sprintf("ml.ExpandLast: x must end in an axis of size 1 and d ≥ 1, got %s and d=%d", x.Shape(), d))
	}
	return expandAxis(x, x.Rank()-1, d)
}

// expandAxis repeats x, whose axis has size 1, d times along that axis.
func expandAxis(x *graph.Node, axis, d int) *graph.Node {
	if d == 1 {
		return x
	}
	dy := outputGrad{op: "ml: broadcast"}
	xG := graph.IdentityWithCustomGradient(x, func(_, _ *graph.Node) *graph.Node {
		if axis == x.Rank()-1 {
			return sumLastAxis(dy.Get())
		}
		return graph.ReduceAndKeep(dy.Get(), graph.ReduceSum, axis)
	})
	// pieces[i] has width 2^i; d is the sum of the widths its bits select.
	pieces := []*graph.Node{xG}
	for w := 2; w <= d; w *= 2 {
		p := pieces[len(pieces)-1]
		pieces = append(pieces, graph.Concatenate([]*graph.Node{p, p}, axis))
	}
	var parts []*graph.Node
	for i := len(pieces) - 1; i >= 0; i-- {
		if d&(1<<i) != 0 {
			parts = append(parts, pieces[i])
		}
	}
	y := parts[0]
	if len(parts) > 1 {
		y = graph.Concatenate(parts, axis)
	}
	return dy.Capture(y)
}

// SumLast is ReduceAndKeep(x, ReduceSum, -1) ([..., 1]) whose gradient is
// broadcast with ExpandLast instead of a BroadcastInDim.
func SumLast(x *graph.Node) *graph.Node {
	d := x.Shape().Dim(-1)
	dy := outputGrad{op: "ml.SumLast"}
	xG := graph.IdentityWithCustomGradient(x, func(_, _ *graph.Node) *graph.Node {
		return ExpandLast(dy.Get(), d)
	})
	return dy.Capture(sumLastAxis(xG))
}

// ExpandTo broadcasts b to dims when b's shape is dims with leading axes of
// size 1 (a bias [1, 1, S, K] over scores [B, H, S, K], a gain [D] over
// [B, S, D]): the leading axes are repeated as one axis by Concatenate (block
// copies). Any other shape falls back to graph.BroadcastToDims.
func ExpandTo(b *graph.Node, dims ...int) *graph.Node {
	if slices.Equal(b.Shape().Dimensions, dims) {
		return b
	}
	bd := b.Shape().Dimensions
	if len(bd) > len(dims) {
		panic(fmt.Sprintf("ml.ExpandTo: cannot broadcast %s to %v", b.Shape(), dims))
	}
	bd = append(slices.Repeat([]int{1}, len(dims)-len(bd)), bd...)
	lead, n := 0, 1
	for lead < len(dims) && bd[lead] == 1 {
		n *= dims[lead]
		lead++
	}
	if !slices.Equal(bd[lead:], dims[lead:]) {
		return graph.BroadcastToDims(graph.Reshape(b, bd...), dims...)
	}
	flat := graph.Reshape(b, append([]int{1}, dims[lead:]...)...)
	return graph.Reshape(expandAxis(flat, 0, n), dims...)
}

// SoftmaxLast is graph.Softmax over the last axis (same operations: the
// max, not differentiated, is subtracted, then exp and normalisation) with
// its broadcasts done by ExpandLast, and its gradient written out:
// d logits = p·(dp − Σ dp·p), 4 passes over the logits and a reduction where
// autodiff of exp and the division builds 8 (attention scores are the
// largest activations of a transformer step).
func SoftmaxLast(logits *graph.Node) *graph.Node {
	d := logits.Shape().Dim(-1)
	dy := outputGrad{op: "ml.SoftmaxLast"}
	var p *graph.Node
	lG := graph.IdentityWithCustomGradient(logits, func(_, _ *graph.Node) *graph.Node {
		dot := sumLastAxis(graph.Mul(dy.Get(), p))
		return graph.Mul(graph.Sub(dy.Get(), ExpandLast(dot, d)), p)
	})
	m := graph.StopGradient(graph.ReduceAndKeep(lG, graph.ReduceMax, -1))
	e := graph.Exp(graph.Sub(lG, ExpandLast(m, d)))
	p = graph.Div(e, ExpandLast(SumLast(e), d))
	return dy.Capture(p)
}

// sumLastAxis is ReduceAndKeep(x, ReduceSum, -1) for float x, computed as a
// product with a vector of ones: simplego reduces through a per-element
// output-index iterator (≈4–10 ns per element here), while its small
// DotGeneral path sums contiguous rows in an unrolled loop (≈1–1.5 ns;
// microbenchmark at [8192,128], [16384,64] and [1024,256], one worker).
// The product is a plain graph.DotGeneral, not ml.DotGeneral: it is a
// reduction, not one of the model's matmuls (the benchmarks' matmul-only
// graphs leave it out), and it is never differentiated (every caller
// attaches its own gradient).
func sumLastAxis(x *graph.Node) *graph.Node {
	d := x.Shape().Dim(-1)
	dims := slices.Clone(x.Shape().Dimensions)
	dims[len(dims)-1] = 1
	if !x.DType().IsFloat() || d == 1 {
		return graph.ReduceAndKeep(x, graph.ReduceSum, -1)
	}
	ones := graph.Ones(x.Graph(), shapes.Make(x.DType(), d))
	return graph.Reshape(graph.DotGeneral(graph.Reshape(x, -1, d), []int{1}, nil, ones, []int{0}, nil), dims...)
}
