// Package pipeline runs CopyBench's modes: planted (train a tiny model on
// synthetic books, then measure its copying) and evaluate (a model artifact
// on the real CopyBench files).
package pipeline

import (
	"fmt"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/shammie-ml/shammie/plugins/copybench/internal/benchdata"
	"github.com/shammie-ml/shammie/sdk"
	"github.com/shammie-ml/shammie/sdk/ml"
)

// Decoding holds the reference's decoding: greedy, repetition penalty 1.1,
// stop on "\n\n\n".
type Decoding struct {
	MaxNew            int
	RepetitionPenalty float64
	Batch             int
}

// generator decodes prompts of mixed lengths in batches with a loaded model.
type generator struct {
	tok ml.Tokenizer
	dec *ml.Decoder
	ctx int // the model's context length
	o   Decoding
}

func newGenerator(backend backends.Backend, ctx *context.Context, m *ml.Transformer, tok ml.Tokenizer, o Decoding) (*generator, error) {
	dec, err := m.NewDecoder(backend, ctx)
	if err != nil {
		return nil, err
	}
	return &generator{tok: tok, dec: dec, ctx: m.Config.MaxSeqLen, o: o}, nil
}

// generate returns one output per prompt. A prompt longer than the model's
// context less MaxNew loses its start (the task text at its end is kept).
func (g *generator) generate(prompts []string, rep sdk.Reporter, stage string) ([]string, error) {
	stop, err := g.tok.Encode(benchdata.Stop)
	if err != nil {
		return nil, err
	}
	keep := g.ctx - g.o.MaxNew
	if keep < 1 {
		return nil, fmt.Errorf("max_new_tokens %d leaves no room for the prompt in the model's context of %d", g.o.MaxNew, g.ctx)
	}
	out := make([]string, len(prompts))
	cut := 0
	for start := 0; start < len(prompts); start += g.o.Batch {
		end := min(start+g.o.Batch, len(prompts))
		ids := make([][]int32, 0, end-start)
		for _, p := range prompts[start:end] {
			t, err := g.tok.Encode(p)
			if err != nil {
				return nil, err
			}
			if len(t) > keep {
				t = t[len(t)-keep:]
				cut++
			}
			ids = append(ids, t)
		}
		gens, err := g.dec.Generate(ids, ml.DecodeOptions{MaxNewTokens: g.o.MaxNew,
			RepetitionPenalty: g.o.RepetitionPenalty, Stop: [][]int32{stop}})
		if err != nil {
			return nil, err
		}
		for i, gen := range gens {
			out[start+i] = g.tok.Decode(gen.Tokens)
		}
		rep.Progress(stage, int64(end), int64(len(prompts)), "prompts")
	}
	if cut > 0 {
		rep.Logf("%s: %d of %d prompts cut on the left to fit the model's context", stage, cut, len(prompts))
	}
	return out, nil
}
