package moe

import (
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" // dot import: staticcheck.conf allows it for GoMLX graph code only
	"github.com/shammie-ml/shammie/sdk/ml"
)

// Loss weights and conventions, OLMoE's defaults.
type LossConfig struct {
	LoadBalance float64 // w, default 0.01
	ZLoss       float64 // w_z, default 0.001
	// ZLossDivideByK divides the z-loss by k as the OLMoE fork of
	// megablocks does (its batched_router_zloss scales by 1/(L·k)). Off by
	// default: the z-loss is then w_z·mean_l mean_t logsumexp(logits)², the
	// formula of the ST-MoE paper averaged over layers.
	ZLossDivideByK bool
}

// DefaultLoss is OLMoE's setting.
var DefaultLoss = LossConfig{LoadBalance: 0.01, ZLoss: 0.001}

// LoadBalancingLoss is the MegaBlocks/OLMoE load-balancing loss over the
// layers' routings:
//
//	w · E/(L·T·k) · Σ_l Σ_e c_{l,e} · P̄_{l,e}
//
// c counts token-slot assignments (not differentiated), P̄ is the mean
// router probability over the T tokens. Whenever P̄ is uniform (1/E) it is
// exactly w, since Σ_e c_e = T·k.
func LoadBalancingLoss(c Config, routings []*Routing, w float64) *Node {
	var total *Node
	for _, r := range routings {
		T := r.Probs.Shape().Dimensions[0]
		pMean := ReduceMean(r.Probs, 0) // [E]
		term := MulScalar(ReduceSum(Mul(StopGradient(r.Counts), pMean)), float64(c.Experts)/float64(T*c.TopK))
		if total == nil {
			total = term
		} else {
			total = Add(total, term)
		}
	}
	return MulScalar(total, w/float64(len(routings)))
}

// LogSumExp over the last axis, stabilised by the (gradient-free) max.
func LogSumExp(x *Node) *Node {
	m := StopGradient(ReduceAndKeep(x, ReduceMax, -1))
	// Broadcasts as block copies (sdk/ml's broadcast.go).
	return Add(Squeeze(m, -1), Log(Squeeze(ml.SumLast(Exp(Sub(x, ml.ExpandLast(m, x.Shape().Dim(-1))))), -1)))
}

// RouterZLoss is w_z · mean over layers and tokens of logsumexp(logits)²,
// divided by k under the OLMoE-fork convention (see [LossConfig]).
func RouterZLoss(c Config, routings []*Routing, lc LossConfig) *Node {
	var total *Node
	for _, r := range routings {
		lse := LogSumExp(r.Logits)
		term := ReduceMean(Square(lse))
		if total == nil {
			total = term
		} else {
			total = Add(total, term)
		}
	}
	scale := lc.ZLoss / float64(len(routings))
	if lc.ZLossDivideByK {
		scale /= float64(c.TopK)
	}
	return ConvertDType(MulScalar(total, scale), dtypes.Float32)
}
