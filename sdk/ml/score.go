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
	m    *Transformer
	exec *context.Exec
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
	// One graph per batch size and padded length: many more than GoMLX's
	// default limit of 32 over a long evaluation.
	e.SetMaxCache(-1)
	return &Scorer{m: m, exec: e}, nil
}

// scoreBucket: batches are padded to a multiple of it, so that pairs of
// many lengths compile few graphs.
const scoreBucket = 16

// Score returns, for each i, the summed log-probability of continuations[i]
// following prompts[i] (prefix[i] is the conditioning id; nil without a
// prefix). Prompts must be non-empty.
func (s *Scorer) Score(prompts, continuations [][]int32, prefix []int32) ([]float64, error) {
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
	out, err := s.exec.Exec(tensors.FromFlatDataAndDimensions(tok, b, maxLen),
		tensors.FromFlatDataAndDimensions(mask, b, maxLen), pre)
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
