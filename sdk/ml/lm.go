package ml

import (
	"fmt"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/ml/context"
)

// TokenLogProbs returns log p(targets[b,t] | ·) from logits [B, T, V] and
// int targets [B, T]: a [B, T] tensor, computed as the target's logit minus
// log-sum-exp — a gather of B·T values instead of a one-hot product and a
// full log-softmax over B·T·V.
//
// Its gradient is written out, d logits = dlp·(onehot(target) − softmax):
// one product e·(−dlp/Σe) over the logits and a scatter-add of dlp into it
// in place, where autodiff would broadcast a zero tensor of the logits' shape
// for the gather's gradient (simplego's slow broadcast iterator), add the
// two paths and rebuild the softmax from them.
func TokenLogProbs(logits, targets *graph.Node) *graph.Node {
	g := logits.Graph()
	b, t, v := logits.Shape().Dim(0), logits.Shape().Dim(1), logits.Shape().Dim(2)
	n := b * t
	dlp := outputGrad{op: "ml.TokenLogProbs"}
	var e, sum *graph.Node
	rows := graph.Iota(g, shapes.Make(dtypes.Int32, n, 1), 0)
	cols := graph.Reshape(graph.ConvertDType(targets, dtypes.Int32), n, 1)
	idx := graph.Concatenate([]*graph.Node{rows, cols}, 1)
	flat := graph.IdentityWithCustomGradient(graph.Reshape(logits, n, v), func(_, _ *graph.Node) *graph.Node {
		scale := ExpandLast(graph.Neg(graph.Div(graph.Reshape(dlp.Get(), n, 1), sum)), v)
		return graph.ScatterSum(graph.Mul(e, scale), idx, dlp.Get(), true, true)
	})
	mx := graph.StopGradient(graph.ReduceAndKeep(flat, graph.ReduceMax, -1))
	// Broadcasts as block copies (see broadcast.go).
	e = graph.Exp(graph.Sub(flat, ExpandLast(mx, v)))
	sum = SumLast(e) // [n, 1]
	lse := graph.Add(graph.Log(graph.Reshape(sum, n)), graph.Reshape(mx, n))
	picked := graph.Gather(flat, idx)
	return graph.Reshape(dlp.Capture(graph.Sub(picked, lse)), b, t)
}

// SequenceLogProbs runs the model on tokens [B, S] and returns the log
// probability of each token given the ones before it (and the prefix, if
// any): [B, S-1], entry t being log p(tokens[:, t+1] | tokens[:, ≤t]).
func (m *Transformer) SequenceLogProbs(ctx *context.Context, tokens, prefix *graph.Node) *graph.Node {
	s := tokens.Shape().Dim(1)
	if s < 2 {
		panic(fmt.Sprintf("ml.SequenceLogProbs: need at least 2 tokens, got %s", tokens.Shape()))
	}
	in := graph.Slice(tokens, graph.AxisRange(), graph.AxisRange(0, s-1))
	tgt := graph.Slice(tokens, graph.AxisRange(), graph.AxisRange(1, s))
	out := m.Forward(ctx, Inputs{Tokens: in, Prefix: prefix})
	return TokenLogProbs(out.Logits, tgt)
}

// ContinuationLogProbs returns, per sequence, the summed log probability of
// the tokens marked by mask: tokens [B, S] hold prompt+continuation(+pad),
// mask [B, S] (any numeric type) is 1 on continuation tokens and 0 elsewhere
// (mask[:, 0] is ignored: the first token has no prediction). This is what
// DPO, MOD and multiple-choice scoring need. Result: [B].
func (m *Transformer) ContinuationLogProbs(ctx *context.Context, tokens, mask, prefix *graph.Node) *graph.Node {
	lp := m.SequenceLogProbs(ctx, tokens, prefix)
	s := tokens.Shape().Dim(1)
	w := graph.ConvertDType(graph.Slice(mask, graph.AxisRange(), graph.AxisRange(1, s)), lp.DType())
	return graph.ReduceSum(graph.Mul(lp, w), -1)
}

// LMLoss is the mean next-token cross-entropy over windows [B, S+1]
// (inputs are the first S tokens, targets the last S). weights, optional
// [B, S+1] like the windows, weighs each target (0 masks padding); prefix is
// the optional conditioning ids [B].
func (m *Transformer) LMLoss(ctx *context.Context, windows, weights, prefix *graph.Node) *graph.Node {
	lp := m.SequenceLogProbs(ctx, windows, prefix)
	if weights == nil {
		return graph.Neg(graph.ReduceAllMean(lp))
	}
	s := windows.Shape().Dim(1)
	w := graph.ConvertDType(graph.Slice(weights, graph.AxisRange(), graph.AxisRange(1, s)), lp.DType())
	total := graph.ReduceAllSum(graph.Mul(lp, w))
	return graph.Neg(graph.Div(total, graph.MaxScalar(graph.ReduceAllSum(w), 1e-9)))
}
