package ml

import (
	"fmt"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
)

// Scorer computes log p(continuation | prompt[, prefix]) for batches of
// (prompt, continuation) pairs of any lengths — DPO, MOD and multiple-choice
// evaluation — padding each batch on the right to its longest pair rounded
// up to a multiple of 16 (causal attention makes the padding invisible to
// real tokens, and padding never counts) and compiling one graph per batch
// size and padded length.
type Scorer struct {
	m     *Transformer
	exec  *context.Exec
	execE *context.Exec // with input embeddings
}

// NewScorer prepares scoring with the model's variables in ctx.
func (m *Transformer) NewScorer(backend backends.Backend, ctx *context.Context) (*Scorer, error) {
	e, err := context.NewExec(backend, ctx, func(ctx *context.Context, tokens, mask, prefix *graph.Node) *graph.Node {
		var pre *graph.Node
		if m.Config.PrefixVocab > 0 {
			pre = prefix
		}
		return m.ContinuationLogProbs(ctx, tokens, mask, pre)
	})
	if err != nil {
		return nil, err
	}
	ee, err := context.NewExec(backend, ctx, func(ctx *context.Context, tokens, mask, prefix, emb *graph.Node) *graph.Node {
		var pre *graph.Node
		if m.Config.PrefixVocab > 0 {
			pre = prefix
		}
		sq := tokens.Shape().Dim(1)
		in := graph.Slice(tokens, graph.AxisRange(), graph.AxisRange(0, sq-1))
		tgt := graph.Slice(tokens, graph.AxisRange(), graph.AxisRange(1, sq))
		e := graph.Slice(emb, graph.AxisRange(), graph.AxisRange(0, sq-1), graph.AxisRange())
		lp := TokenLogProbs(m.Forward(ctx, Inputs{Tokens: in, Prefix: pre, Embeddings: e}).Logits, tgt)
		w := graph.ConvertDType(graph.Slice(mask, graph.AxisRange(), graph.AxisRange(1, sq)), lp.DType())
		return graph.ReduceSum(graph.Mul(lp, w), -1)
	})
	if err != nil {
		return nil, err
	}
	// One graph per batch size and padded length: many more than GoMLX's
	// default limit of 32 over a long evaluation.
	e.SetMaxCache(-1)
	ee.SetMaxCache(-1)
	return &Scorer{m: m, exec: e, execE: ee}, nil
}

// scoreBucket: batches are padded to a multiple of it, so that pairs of
// many lengths compile few graphs.
const scoreBucket = 16

// Score returns, for each i, the summed log-probability of continuations[i]
// following prompts[i] (prefix[i] is the conditioning id; nil without a
// prefix). Prompts must be non-empty.
func (s *Scorer) Score(prompts, continuations [][]int32, prefix []int32) ([]float64, error) {
	return s.score(prompts, continuations, prefix, nil)
}

// ScoreEmbedded is Score with input embeddings added to the prompts' token
// embeddings (image features): emb[i] holds len(prompts[i])·d_model values,
// or is nil (zeros).
func (s *Scorer) ScoreEmbedded(prompts, continuations [][]int32, prefix []int32, emb [][]float32) ([]float64, error) {
	if emb == nil {
		emb = make([][]float32, len(prompts))
	}
	if len(emb) != len(prompts) {
		return nil, fmt.Errorf("score: %d embedding rows for %d prompts", len(emb), len(prompts))
	}
	for i, e := range emb {
		if e != nil && len(e) != len(prompts[i])*s.m.Config.DModel {
			return nil, fmt.Errorf("score: prompt %d: %d embedding values, want %d tokens × d_model %d", i, len(e), len(prompts[i]), s.m.Config.DModel)
		}
	}
	return s.score(prompts, continuations, prefix, emb)
}

func (s *Scorer) score(prompts, continuations [][]int32, prefix []int32, emb [][]float32) ([]float64, error) {
	if len(prompts) != len(continuations) || (prefix != nil && len(prefix) != len(prompts)) {
		return nil, fmt.Errorf("score: %d prompts, %d continuations, %d prefix ids", len(prompts), len(continuations), len(prefix))
	}
	if len(prompts) == 0 {
		return nil, nil
	}
	c := s.m.Config
	maxLen := 0
	for i := range prompts {
		if len(prompts[i]) == 0 {
			return nil, fmt.Errorf("score: prompt %d is empty (the first token has no prediction)", i)
		}
		n := len(prompts[i]) + len(continuations[i])
		if n+c.PrefixPositions() > c.MaxSeqLen {
			return nil, fmt.Errorf("score: pair %d has %d tokens (+%d prefix), more than max_seq_len %d", i, n, c.PrefixPositions(), c.MaxSeqLen)
		}
		maxLen = max(maxLen, n)
	}
	maxLen = max(maxLen, min((maxLen+scoreBucket-1)/scoreBucket*scoreBucket, c.MaxSeqLen-c.PrefixPositions()), 2)
	b := len(prompts)
	tok := make([]int32, b*maxLen)
	mask := make([]float32, b*maxLen)
	for i := range prompts {
		row := append(append([]int32(nil), prompts[i]...), continuations[i]...)
		for j, t := range row {
			if t < 0 || int(t) >= c.VocabSize {
				return nil, fmt.Errorf("score: pair %d: token %d outside the vocabulary [0, %d)", i, t, c.VocabSize)
			}
			tok[i*maxLen+j] = t
			if j >= len(prompts[i]) {
				mask[i*maxLen+j] = 1
			}
		}
	}
	pre := prefix
	if pre == nil {
		pre = make([]int32, b)
	}
	var out []*tensors.Tensor
	var err error
	if emb == nil {
		out, err = s.exec.Exec(tensors.FromFlatDataAndDimensions(tok, b, maxLen),
			tensors.FromFlatDataAndDimensions(mask, b, maxLen), pre)
	} else {
		dm := c.DModel
		e := make([]float32, b*maxLen*dm) // rows start at position 0, like the tokens
		for i := range emb {
			copy(e[i*maxLen*dm:], emb[i])
		}
		out, err = s.execE.Exec(tensors.FromFlatDataAndDimensions(tok, b, maxLen),
			tensors.FromFlatDataAndDimensions(mask, b, maxLen), pre, tensors.FromFlatDataAndDimensions(e, b, maxLen, dm))
	}
	if err != nil {
		return nil, err
	}
	defer out[0].FinalizeAll()
	return flat64Of(out[0]), nil
}

func flat64Of(t *tensors.Tensor) []float64 {
	if t.DType().String() == "Float64" {
		return tensors.MustCopyFlatData[float64](t)
	}
	f := tensors.MustCopyFlatData[float32](t)
	out := make([]float64, len(f))
	for i, v := range f {
		out[i] = float64(v)
	}
	return out
}
