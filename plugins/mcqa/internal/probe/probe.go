// Package probe localises where a transformer decides the answer symbol:
// the logit lens (vocabulary projection) of the residual stream, attention
// output, MLP output and each head at the last token, and activation
// patching of base/contrast pairs at the last token, layer by layer.
package probe

import (
	"fmt"
	"math"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	gomlxctx "github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/shammie-ml/shammie/sdk/ml"
)

// Components the lens reads and patching overwrites; Resid is the residual
// stream leaving the layer (resid_out).
const (
	Resid = "resid"
	Attn  = "attn"
	MLP   = "mlp"
)

// Components in report order.
var Components = []string{Resid, Attn, MLP}

func site(c string) ml.Site {
	switch c {
	case Resid:
		return ml.SiteResidOut
	case Attn:
		return ml.SiteAttnOut
	case MLP:
		return ml.SiteMLPOut
	}
	panic("probe: unknown component " + c)
}

// Model is a transformer with the context its variables live in (the ctx
// given to Forward).
type Model struct {
	M       *ml.Transformer
	Ctx     *gomlxctx.Context
	Backend backends.Backend
}

func encode(texts []string) (*tensors.Tensor, error) {
	s := len(texts[0])
	tok := make([]int32, 0, len(texts)*s)
	for _, t := range texts {
		if len(t) != s {
			return nil, fmt.Errorf("prompts of one batch must have one length: %d and %d bytes", s, len(t))
		}
		for _, c := range []byte(t) {
			tok = append(tok, int32(c))
		}
	}
	return tensors.FromFlatDataAndDimensions(tok, len(texts), s), nil
}

func lastPos(x *graph.Node) *graph.Node {
	s := x.Shape().Dim(1)
	return graph.Slice(x, graph.AxisRange(), graph.AxisRange(s-1, s)) // [B, 1, ...]
}

func rows(t *tensors.Tensor) [][]float64 {
	d := t.Shape().Dimensions
	n, v := d[0], d[len(d)-1]
	inner := t.Shape().Size() / n / v
	var flat []float64
	if t.DType().String() == "Float32" {
		for _, x := range tensors.MustCopyFlatData[float32](t) {
			flat = append(flat, float64(x))
		}
	} else {
		flat = tensors.MustCopyFlatData[float64](t)
	}
	out := make([][]float64, n*inner)
	for i := range out {
		out[i] = flat[i*v : (i+1)*v]
	}
	return out
}

// SymbolScores are one vocabulary projection read at the symbols.
type SymbolScores struct {
	Prob, Logit, RR []float64 // per symbol: softmax probability over the whole vocabulary, logit, 1/rank
}

func score(logits []float64, symbols []int) SymbolScores {
	mx := math.Inf(-1)
	for _, l := range logits {
		mx = math.Max(mx, l)
	}
	z := 0.0
	for _, l := range logits {
		z += math.Exp(l - mx)
	}
	var s SymbolScores
	for _, id := range symbols {
		rank := 1
		for _, l := range logits {
			if l > logits[id] {
				rank++
			}
		}
		s.Prob = append(s.Prob, math.Exp(logits[id]-mx)/z)
		s.Logit = append(s.Logit, logits[id])
		s.RR = append(s.RR, 1/float64(rank))
	}
	return s
}
