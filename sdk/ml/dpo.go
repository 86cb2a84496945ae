package ml

import (
	"fmt"
	"math"
	"slices"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/ml/context"
)

// Divergence names the f-divergence that regularises f-DPO (Wang et al.
// 2023, "Beyond Reverse KL: Generalizing Direct Preference Optimization
// with Diverse Divergence Constraints"). With u = π_θ(y|x)/π_ref(y|x) the
// sequence-level likelihood ratio, the optimal policy of
// max E[r] − β·D_f(π_θ‖π_ref) satisfies r(x,y) = β·f′(u) + const(x), so the
// Bradley–Terry likelihood of a pair gives the loss
//
//	L = −log σ( β·f′(u_w) − β·f′(u_l) )        (w: chosen, l: rejected)
//
// The implied reward of a response is β·g(u) with g = f′ − f′(1) (zero when
// the policy equals the reference; constants cancel in L):
//
//	reverse KL (standard DPO)  f(u) = u log u                     g(u) = log u
//	forward KL                 f(u) = −log u                      g(u) = 1 − 1/u
//	Jensen–Shannon             f(u) = u log u − (u+1) log((u+1)/2) g(u) = log(2u/(1+u))
//	α-divergence (0 < α < 1)   f(u) = (u^{1−α} − (1−α)u − α)/(α(α−1))
//	                                                              g(u) = (1 − u^{−α})/α
//
// α → 0 recovers reverse KL and α → 1 forward KL.
type Divergence string

const (
	ReverseKL Divergence = "reverse_kl"
	ForwardKL Divergence = "forward_kl"
	JSD       Divergence = "jsd"
	Alpha     Divergence = "alpha"
)

// Divergences lists the valid Divergence names, for validation messages.
var Divergences = []Divergence{ReverseKL, ForwardKL, JSD, Alpha}

// DPOOptions configure DPOLoss.
type DPOOptions struct {
	Divergence Divergence // default ReverseKL
	Beta       float64    // strength of the divergence constraint (default 0.1)
	Alpha      float64    // α of the α-divergence, in (0, 1)
	// LogRatioClip bounds log u before the exponentials of forward KL and
	// α-divergence (default 30): outside it the gradient is zero instead of
	// overflowing float32.
	LogRatioClip float64
}

func (o DPOOptions) withDefaults() DPOOptions {
	if o.Divergence == "" {
		o.Divergence = ReverseKL
	}
	if o.Beta == 0 {
		o.Beta = 0.1
	}
	if o.LogRatioClip == 0 {
		o.LogRatioClip = 30
	}
	return o
}

// Validate reports options DPOLoss cannot use.
func (o DPOOptions) Validate() error {
	o = o.withDefaults()
	switch o.Divergence {
	case ReverseKL, ForwardKL, JSD:
	case Alpha:
		if !(o.Alpha > 0 && o.Alpha < 1) {
			return fmt.Errorf("dpo: α must be in (0, 1) for the α-divergence, got %g", o.Alpha)
		}
	default:
		return fmt.Errorf("dpo: unknown divergence %q (want one of %v)", o.Divergence, Divergences)
	}
	if !(o.Beta > 0) {
		return fmt.Errorf("dpo: β must be > 0, got %g", o.Beta)
	}
	return nil
}

// ImpliedReward is β·g(u) of the divergence for log u = logRatio (see
// Divergence), on the host: the reward the policy implies for a response.
func (o DPOOptions) ImpliedReward(logRatio float64) float64 {
	o = o.withDefaults()
	c := math.Max(-o.LogRatioClip, math.Min(o.LogRatioClip, logRatio))
	switch o.Divergence {
	case ForwardKL:
		return o.Beta * (1 - math.Exp(-c))
	case JSD:
		// log(2u/(1+u)) = log 2 + log u − softplus(log u)
		return o.Beta * (math.Ln2 + logRatio - softplus(logRatio))
	case Alpha:
		return o.Beta * (1 - math.Exp(-o.Alpha*c)) / o.Alpha
	default:
		return o.Beta * logRatio
	}
}

func softplus(x float64) float64 {
	if x > 30 {
		return x
	}
	return math.Log1p(math.Exp(x))
}

// impliedReward is ImpliedReward in a graph, elementwise on log u.
func (o DPOOptions) impliedReward(logRatio *graph.Node) *graph.Node {
	clip := func(x *graph.Node) *graph.Node {
		return graph.ClipScalar(x, -o.LogRatioClip, o.LogRatioClip)
	}
	var g *graph.Node
	switch o.Divergence {
	case ForwardKL:
		g = graph.OneMinus(graph.Exp(graph.Neg(clip(logRatio))))
	case JSD:
		g = graph.AddScalar(graph.Sub(logRatio, graph.Softplus(logRatio)), math.Ln2)
	case Alpha:
		g = graph.DivScalar(graph.OneMinus(graph.Exp(graph.MulScalar(clip(logRatio), -o.Alpha))), o.Alpha)
	default:
		g = logRatio
	}
	return graph.MulScalar(g, o.Beta)
}

// DPOObjective is the f-DPO loss from sequence log-probs: policy and ref
// [2B] with the chosen rows first (the PairBatches layout). It returns the
// mean loss and the implied rewards of the chosen and rejected rows ([B]
// each).
func DPOObjective(policy, ref *graph.Node, o DPOOptions) (loss, chosen, rejected *graph.Node) {
	o = o.withDefaults()
	if err := o.Validate(); err != nil {
		panic(err)
	}
	n := policy.Shape().Dim(0)
	if n%2 != 0 || policy.Rank() != 1 || !slices.Equal(ref.Shape().Dimensions, policy.Shape().Dimensions) {
		panic(fmt.Sprintf("ml.DPOObjective: policy %s and ref %s must both be [2B]", policy.Shape(), ref.Shape()))
	}
	r := o.impliedReward(graph.Sub(policy, graph.ConvertDType(ref, policy.DType())))
	parts := Split(r, 0, n/2, n/2) // graph.Slice's gradient needs Pad, which simplego lacks
	chosen, rejected = parts[0], parts[1]
	// −log σ(m) = softplus(−m)
	loss = graph.ReduceAllMean(graph.Softplus(graph.Neg(graph.Sub(chosen, rejected))))
	return loss, chosen, rejected
}

// DPOLoss is the f-DPO training loss of a PairBatches micro-batch
// (tokens, mask, ref[, prefix]): the policy scores both rows of every pair
// in one forward pass. It reports, through AddMetric (the trainer's
// "train/<name>" and "eval/<name>"), the implied rewards of every step:
//
//	rewards/chosen, rewards/rejected  mean implied reward β·g(u)
//	rewards/margin                    mean of chosen − rejected
//	rewards/accuracy                  share of pairs with a positive margin
func (m *Transformer) DPOLoss(ctx *context.Context, batch []*graph.Node, o DPOOptions) *graph.Node {
	if len(batch) < 3 {
		panic(fmt.Sprintf("ml.DPOLoss: want tokens, mask, ref[, prefix], got %d inputs", len(batch)))
	}
	var prefix *graph.Node
	if m.Config.PrefixVocab > 0 {
		if len(batch) < 4 {
			panic("ml.DPOLoss: the model has a prefix but the batch has no prefix ids (PairOptions.WithPrefix)")
		}
		prefix = batch[3]
	}
	policy := m.ContinuationLogProbs(ctx, batch[0], batch[1], prefix)
	loss, chosen, rejected := DPOObjective(policy, batch[2], o)
	margin := graph.Sub(chosen, rejected)
	AddMetric(ctx, "rewards/chosen", graph.ReduceAllMean(chosen))
	AddMetric(ctx, "rewards/rejected", graph.ReduceAllMean(rejected))
	AddMetric(ctx, "rewards/margin", graph.ReduceAllMean(margin))
	AddMetric(ctx, "rewards/accuracy", graph.ReduceAllMean(graph.ConvertDType(graph.GreaterThan(margin, graph.ScalarZero(margin.Graph(), margin.DType())), margin.DType())))
	return loss
}

// DPOLossFn adapts DPOLoss to the trainer.
func (m *Transformer) DPOLossFn(o DPOOptions) LossFn {
	return func(ctx *context.Context, batch []*graph.Node) *graph.Node { return m.DPOLoss(ctx, batch, o) }
}
