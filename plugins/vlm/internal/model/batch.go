package model

import (
	"fmt"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/shammie-ml/shammie/sdk/ml"
)

// Example is one prompt/answer pair about an image.
type Example struct {
	Image          Image
	Prompt, Answer string
}

// Encode returns the example's window (image tokens ‖ prompt ‖ answer ‖
// EOS) and its loss weights (1 on the answer and EOS).
func (m *Model) Encode(l *Layout, prompt, answer string) ([]int32, []float32, error) {
	p, err := m.Tok.Encode(prompt)
	if err != nil {
		return nil, nil, err
	}
	a, err := m.Tok.Encode(answer)
	if err != nil {
		return nil, nil, err
	}
	toks := append(append(append(append([]int32{}, l.Tokens...), p...), a...), m.Tok.EOS())
	w := make([]float32, len(toks))
	for i := len(l.Tokens) + len(p); i < len(toks); i++ {
		w[i] = 1
	}
	return toks, w, nil
}

// Batch builds the loss's tensors for examples of one image size, windows
// padded to seq+1 tokens: crops, pool, frac, slots, windows, weights, pos.
func (m *Model) Batch(l *Layout, exs []Example, seq int) ([]*tensors.Tensor, error) {
	c := m.Config.Tiling
	B, T := len(exs), l.Pooled
	per := (c.Crop / c.Patch) * (c.Crop / c.Patch)
	crops := make([]float32, 0, B*l.Crops*c.Crop*c.Crop*3)
	pool := make([]int32, 0, B*T*4)
	frac := make([]float32, 0, B*T*4)
	slots := make([]int32, B*seq)
	win := make([]int32, B*(seq+1))
	wts := make([]float32, B*(seq+1))
	F := m.FeatureWidth()
	pos := make([]float32, 0, T*F)
	for _, r := range l.Pos {
		for _, v := range r {
			pos = append(pos, float32(v))
		}
	}
	for b, ex := range exs {
		crops = l.AppendCrops(crops, ex.Image, c.Crop)
		for _, r := range l.Pool {
			pool = append(pool, r+int32(b*l.Crops*per))
		}
		frac = append(frac, l.Frac...)
		toks, w, err := m.Encode(l, ex.Prompt, ex.Answer)
		if err != nil {
			return nil, err
		}
		if len(toks) > seq+1 {
			return nil, fmt.Errorf("example of %d tokens (%d image tokens) exceeds the window of %d: %q", len(toks), len(l.Tokens), seq+1, ex.Prompt)
		}
		copy(win[b*(seq+1):], toks)
		copy(wts[b*(seq+1):], w)
		for i := range seq {
			slots[b*seq+i] = int32(T)
			if i < len(l.Slots) && l.Slots[i] >= 0 {
				slots[b*seq+i] = l.Slots[i]
			}
		}
	}
	return []*tensors.Tensor{
		tensors.FromFlatDataAndDimensions(crops, B*l.Crops, c.Crop, c.Crop, 3),
		tensors.FromFlatDataAndDimensions(pool, B, T, 4),
		tensors.FromFlatDataAndDimensions(frac, B, T, 4),
		tensors.FromFlatDataAndDimensions(slots, B, seq),
		tensors.FromFlatDataAndDimensions(win, B, seq+1),
		tensors.FromFlatDataAndDimensions(wts, B, seq+1),
		tensors.FromFlatDataAndDimensions(pos, T, F),
	}, nil
}

// Answerer generates answers about images with a trained model.
type Answerer struct {
	m      *Model
	images *context.Exec
	dec    *ml.Decoder
}

// NewAnswerer prepares the image-token graph and the LM's decoder; ctx is
// the model root.
func (m *Model) NewAnswerer(backend backends.Backend, ctx *context.Context) (*Answerer, error) {
	e, err := context.NewExec(backend, ctx, func(ctx *context.Context, in []*graph.Node) *graph.Node {
		return m.ImageTokens(ctx, in[0], in[1], in[2], in[3])
	})
	if err != nil {
		return nil, err
	}
	e.SetMaxCache(-1)
	d, err := m.LM.NewDecoder(backend, ctx.In(LMScope))
	if err != nil {
		return nil, err
	}
	return &Answerer{m: m, images: e, dec: d}, nil
}

// Answer greedily answers each prompt about its image (one image size per
// call), at most maxNew tokens each.
func (a *Answerer) Answer(l *Layout, exs []Example, maxNew int) ([]string, error) {
	m := a.m
	// Only the image tensors of a batch are used here: prompts alone, in
	// a window that holds the longest.
	bare := make([]Example, len(exs))
	seq := 0
	for i, ex := range exs {
		bare[i] = Example{Image: ex.Image, Prompt: ex.Prompt}
		seq = max(seq, len(l.Tokens)+len(ex.Prompt)+1)
	}
	bt, err := m.Batch(l, bare, seq)
	if err != nil {
		return nil, err
	}
	defer func() {
		for _, t := range bt {
			t.FinalizeAll()
		}
	}()
	out, err := a.images.Exec(bt[0], bt[1], bt[2], bt[6])
	if err != nil {
		return nil, err
	}
	img := out[0].Value().([][][]float32) // [B, T, D]
	out[0].FinalizeAll()
	D := m.Config.LM.DModel
	prompts := make([][]int32, len(exs))
	emb := make([][]float32, len(exs))
	for i, ex := range exs {
		p, err := m.Tok.Encode(ex.Prompt)
		if err != nil {
			return nil, err
		}
		prompts[i] = append(append([]int32{}, l.Tokens...), p...)
		e := make([]float32, len(prompts[i])*D)
		for s, t := range l.Slots {
			if t >= 0 {
				copy(e[s*D:], img[i][t])
			}
		}
		emb[i] = e
	}
	gens, err := a.dec.Generate(prompts, ml.DecodeOptions{MaxNewTokens: maxNew, Stop: [][]int32{{m.Tok.EOS()}}, Embeddings: emb})
	if err != nil {
		return nil, err
	}
	ans := make([]string, len(gens))
	for i, g := range gens {
		ans[i] = m.Tok.Decode(g.Tokens)
	}
	return ans, nil
}
