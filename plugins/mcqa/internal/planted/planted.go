// Package planted is the mcqa plugin's planted truth: synthetic colour
// questions in the compact layout and a small transformer trained so that
// the answer can reach the last position only through the attention output
// of one known layer L*: training zeroes, at the last position, the
// attention output of every other layer and the MLP output from L* on
// (Mask), so before L* the last position's residual stream is a function of
// its own token alone and after it nothing but L*'s attention has written
// the answer; a penalty on what the mask zeroes makes the saved model, run
// without any mask, behave the same.
package planted

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	gomlxctx "github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/shammie-ml/shammie/plugins/mcqa/internal/task"
	"github.com/shammie-ml/shammie/sdk"
	"github.com/shammie-ml/shammie/sdk/ml"
)

// Colours are the planted task's answers, one byte each.
const Colours = "rgbk"

// Items draws n synthetic questions "c" (compact prompt "xA yB c") whose correct answer is the colour
// c and whose distractors are ways-1 other colours.
func Items(seed uint64, n, ways int) []task.Item {
	r := rand.New(rand.NewPCG(seed, 0x6d637161))
	out := make([]task.Item, n)
	for i := range out {
		perm := r.Perm(len(Colours))
		c := string(Colours[perm[0]])
		it := task.Item{Question: c, Correct: c}
		for _, j := range perm[1:ways] {
			it.Distractors = append(it.Distractors, string(Colours[j]))
		}
		out[i] = it
	}
	return out
}

// Prompts renders training prompts: random option orders, A/B or C/D.
func Prompts(seed uint64, n int) ([]task.Prompt, error) {
	r := rand.New(rand.NewPCG(seed, 0x70726f6d))
	items := Items(seed, n, 2)
	out := make([]task.Prompt, n)
	for i, it := range items {
		syms := task.SymbolsAB
		if r.IntN(2) == 1 {
			syms = task.SymbolsCD
		}
		p, err := task.Render(it, task.Rotate(2, r.IntN(2)), syms, task.Compact, nil)
		if err != nil {
			return nil, err
		}
		out[i] = p
	}
	return out, nil
}

// Options of the planted model.
type Options struct {
	Layer int // L*: the only layer whose last-position attention output is kept
	// Penalty weighs the masked activations' size in the loss at the end
	// of training (0: none); see penaltyAt.
	Penalty float64
	Model   ml.Config
	Train   ml.TrainConfig
	Batch   int
	Seed    int64
	Report  sdk.Reporter
}

// Mask returns the training-time edits at the last position: the attention
// output of every layer but keep and the MLP output of keep and every later
// layer are zeroed, so the loss can reach the answer only through layer
// keep's attention. The mask is not part of the saved model: each edit
// appends the activation it zeroed (the last position, [B, 1, d_model]) to
// leaks, and Train penalises their size, so that the model run as saved,
// without the mask, computes almost the same thing.
func Mask(layers, keep int, leaks *[]*graph.Node) *ml.Hooks {
	h := ml.NewHooks()
	zero := func(_ ml.HookPoint, x *graph.Node) *graph.Node {
		seq := x.Shape().Dim(1)
		if leaks != nil {
			*leaks = append(*leaks, ml.Split(x, 1, seq-1, 1)[1])
		}
		mask := make([]float32, seq)
		for i := range mask {
			mask[i] = 1
		}
		mask[seq-1] = 0
		m := graph.ConvertDType(graph.Reshape(graph.Const(x.Graph(), mask), 1, seq, 1), x.DType())
		return graph.Mul(x, graph.BroadcastToShape(m, shapes.Make(x.DType(), x.Shape().Dimensions...)))
	}
	for l := range layers {
		if l != keep {
			h.Edit(ml.HookPoint{Layer: l, Site: ml.SiteAttnOut}, zero)
		}
		if l >= keep {
			h.Edit(ml.HookPoint{Layer: l, Site: ml.SiteMLPOut}, zero)
		}
	}
	return h
}

// meanSquare is the mean of x² over all but the batch axis, per example [B].
func meanSquare(x *graph.Node) *graph.Node {
	axes := make([]int, x.Rank()-1)
	for i := range axes {
		axes[i] = i + 1
	}
	return graph.ReduceMean(graph.Square(x), axes...)
}

// Train trains the planted model in ctx and returns it with its final
// training loss. The loss is the cross-entropy of the answer symbol at the
// last position of compact 2-way prompts (all of one length), run with
// Mask, plus (aux loss "leak") a weight (penaltyAt) times the masked
// activations' summed mean square relative to that of the last position's
// final residual stream (held constant): the leak the mask hides, which the
// saved model runs with.
func Train(goctx context.Context, backend backends.Backend, ctx *gomlxctx.Context, o Options) (*ml.Transformer, float64, error) {
	if o.Layer < 0 || o.Layer >= o.Model.NumLayers {
		return nil, 0, fmt.Errorf("planted layer %d outside [0, %d)", o.Layer, o.Model.NumLayers)
	}
	m, err := ml.NewTransformer(o.Model)
	if err != nil {
		return nil, 0, err
	}
	ml.SetInitSeed(ctx, o.Seed)
	final := ml.HookPoint{Layer: o.Model.NumLayers - 1, Site: ml.SiteResidOut}
	loss := func(ctx *gomlxctx.Context, b []*graph.Node) *graph.Node {
		tok, target := b[0], b[1]
		seq := tok.Shape().Dim(1)
		var leaks []*graph.Node
		h := Mask(o.Model.NumLayers, o.Layer, &leaks).Capture(final)
		out := m.Forward(ctx, ml.Inputs{Tokens: tok, Hooks: h})
		last := graph.Squeeze(ml.Split(out.Logits, 1, seq-1, 1)[1], 1) // [B, V]; ml.Split has a gradient simplego runs
		lp := graph.LogSoftmax(last)
		oh := graph.OneHot(target, o.Model.VocabSize, lp.DType())
		ce := graph.Neg(graph.ReduceAllMean(graph.ReduceSum(graph.Mul(lp, oh), -1)))
		r := h.Captured(final)
		scale := graph.StopGradient(meanSquare(ml.Split(r, 1, seq-1, 1)[1]))
		leak := graph.ZerosLike(scale)
		for _, x := range leaks {
			leak = graph.Add(leak, meanSquare(x))
		}
		rel := graph.ReduceAllMean(graph.Div(leak, graph.AddScalar(scale, 1e-6)))
		ml.AddAuxLoss(ctx, "leak", graph.Mul(rel, graph.ConvertDType(b[2], rel.DType())))
		return ce
	}
	tr, err := ml.NewTrainer(backend, ctx, loss, o.Train, o.Report)
	if err != nil {
		return nil, 0, err
	}
	batches := ml.BatchFunc(func(i int) ([]*tensors.Tensor, error) {
		ps, err := Prompts(uint64(o.Seed)*1_000_003+uint64(i), o.Batch)
		if err != nil {
			return nil, err
		}
		tok, target := Encode(ps)
		return []*tensors.Tensor{tok, target, tensors.FromScalar(float32(o.penaltyAt(i)))}, nil
	})
	res, err := tr.Train(goctx, batches, nil)
	if err != nil {
		return nil, 0, err
	}
	return m, res.FinalLoss, nil
}

// penaltyAt is the leak penalty's weight for batch i: none while the
// circuit forms (the first 30% of the steps; from the start it keeps the
// model at chance), then a linear ramp to Penalty at 60%.
func (o Options) penaltyAt(i int) float64 {
	n := float64(o.Train.Steps)
	return o.Penalty * math.Min(1, math.Max(0, (float64(i)-0.3*n)/(0.3*n)))
}

// Encode turns prompts of one length into tokens [N, S] (bytes) and the
// answer symbols' bytes [N].
func Encode(ps []task.Prompt) (*tensors.Tensor, *tensors.Tensor) {
	s := len(ps[0].Text)
	tok := make([]int32, 0, len(ps)*s)
	target := make([]int32, len(ps))
	for i, p := range ps {
		for _, c := range []byte(p.Text) {
			tok = append(tok, int32(c))
		}
		target[i] = int32(p.AnswerSymbol()[0])
	}
	return tensors.FromFlatDataAndDimensions(tok, len(ps), s), tensors.FromFlatDataAndDimensions(target, len(ps))
}

// DefaultOptions is the planted model of the tests and the default run:
// 4 layers, d_model 32, 2 heads, 2-way compact prompts.
func DefaultOptions(layer int, seed int64) Options {
	return Options{
		Layer: layer, Seed: seed, Batch: 32, Penalty: 3,
		Model: ml.Config{VocabSize: 256, DModel: 32, NumHeads: 2, NumLayers: 4, MaxSeqLen: 16},
		Train: ml.TrainConfig{Steps: 400, LR: 5e-3, WarmupSteps: 40, MinLRRatio: 0.1, WeightDecay: 0.01, ClipNorm: 1},
	}
}

// MetaKey is the model file's metadata key recording L* (provenance only:
// the probes never read it and run the model without a mask).
const MetaKey = "mcqa.planted_layer"
