package ml

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
)

// Decoder decodes with a KV cache: the prompts are run once (one chunk,
// left-padded to the longest), then one token per step, each step reading
// the cached keys and values instead of recomputing them. Graphs are
// compiled once per (batch, chunk length) and reused.
//
// Generate and Beam are built on the step-by-step API (Start, then
// Stream.LogProbs / Stream.Advance), which is also how several models decode
// in lockstep: one Stream per model, advanced with the same tokens.
type Decoder struct {
	m       *Transformer
	backend backends.Backend
	ctx     *context.Context
	first   *context.Exec // prompt chunk (with the prefix, if any)
	firstE  *context.Exec // prompt chunk with input embeddings added
	next    *context.Exec // one token per row
	reorder *context.Exec // one token per row, after picking cache rows (beams)
}

// NewDecoder prepares decoding with the model's variables in ctx.
func (m *Transformer) NewDecoder(backend backends.Backend, ctx *context.Context) (*Decoder, error) {
	d := &Decoder{m: m, backend: backend, ctx: ctx}
	n := m.Config.NumLayers
	var err error
	// Inputs: tokens [B,T], prefix [B] (ignored without a prefix), pad [B].
	d.first, err = context.NewExec(backend, ctx, func(ctx *context.Context, in []*graph.Node) []*graph.Node {
		return d.chunkGraph(ctx, in[0], nil, in[1], in[2], nil, nil, nil)
	})
	if err != nil {
		return nil, err
	}
	// Inputs: tokens [B,T], prefix [B], pad [B], embeddings [B,T,d_model].
	d.firstE, err = context.NewExec(backend, ctx, func(ctx *context.Context, in []*graph.Node) []*graph.Node {
		return d.chunkGraph(ctx, in[0], nil, in[1], in[2], nil, nil, in[3])
	})
	if err != nil {
		return nil, err
	}
	// Inputs: tokens [B,1], offset scalar, pad [B], K…, V….
	d.next, err = context.NewExec(backend, ctx, func(ctx *context.Context, in []*graph.Node) []*graph.Node {
		return d.chunkGraph(ctx, in[0], in[1], nil, in[2], nil, in[3:3+2*n], nil)
	})
	if err != nil {
		return nil, err
	}
	// Inputs: tokens [B',1], offset scalar, pad [B'] (already reordered),
	// parents [B'] (rows of the cache, whose batch B may differ), K…, V….
	d.reorder, err = context.NewExec(backend, ctx, func(ctx *context.Context, in []*graph.Node) []*graph.Node {
		return d.chunkGraph(ctx, in[0], in[1], nil, in[2], in[3], in[4:4+2*n], nil)
	})
	if err != nil {
		return nil, err
	}
	// One graph per batch size and padded prompt length: many more than
	// GoMLX's default limit of 32 over a long evaluation.
	for _, e := range []*context.Exec{d.first, d.firstE, d.next, d.reorder} {
		e.SetMaxCache(-1)
	}
	return d, nil
}

// chunkGraph runs one chunk and returns the next-token logits after the
// chunk's last position [B, vocab], then the new cache offset and caches.
func (d *Decoder) chunkGraph(ctx *context.Context, tokens, offset, prefix, pad, parents *graph.Node, kv []*graph.Node, emb *graph.Node) []*graph.Node {
	m := d.m
	g := tokens.Graph()
	batch := tokens.Shape().Dim(0)
	var cache *KVCache
	if kv == nil {
		cache = m.NewKVCache(g, batch)
	} else {
		n := m.Config.NumLayers
		cache = &KVCache{K: kv[:n], V: kv[n:], Offset: offset}
		if parents != nil {
			for l := range n {
				cache.K[l] = reorderBatch(cache.K[l], parents)
				cache.V[l] = reorderBatch(cache.V[l], parents)
			}
		}
	}
	var pre *graph.Node
	if kv == nil && m.Config.PrefixVocab > 0 {
		pre = prefix
	}
	out := m.Forward(ctx, Inputs{Tokens: tokens, Prefix: pre, Cache: cache, Pad: pad, Embeddings: emb})
	// The head runs on the last position only: Forward's logits for every
	// position feed no output, so the backend never computes them.
	hidden := out.Hidden
	if t := hidden.Shape().Dim(1); t > 1 {
		hidden = Split(hidden, 1, t-1, 1)[1]
	}
	last := m.Head(ctx, graph.Reshape(hidden, batch, m.Config.DModel))
	res := []*graph.Node{last, out.Cache.Offset}
	res = append(res, out.Cache.K...)
	return append(res, out.Cache.V...)
}

// reorderBatch picks rows parents[b] of a cache [batch, …].
func reorderBatch(c, parents *graph.Node) *graph.Node {
	return graph.Gather(c, graph.ExpandAxes(graph.ConvertDType(parents, dtypes.Int32), -1))
}

// Stream is a batch of sequences being decoded, one token per row per step,
// with its KV cache on the device and its next-token logits on the host.
// Rows are independent: prompts of different lengths are left-padded, each
// row attending only to its own tokens at its own positions, so a row
// decodes exactly as it would alone. A Stream is not safe for concurrent
// use; Close releases its device memory.
type Stream struct {
	d      *Decoder
	pad    []int32   // left padding of each row
	logits []float32 // [batch·vocab], next-token logits
	lse    []float64 // per row log-sum-exp of logits; nil until needed
	offset *tensors.Tensor
	kv     []*tensors.Tensor
	used   int // cache slots written
}

// Start runs the prompts (one row each, of any non-empty lengths) through
// the model and returns the Stream positioned after them. prefix holds one
// conditioning id per prompt for a model with a conditioning prefix
// (prefix_vocab > 0) and must be nil for a model without.
func (d *Decoder) Start(prompts [][]int32, prefix []int32) (*Stream, error) {
	return d.start(prompts, prefix, nil, -1)
}

// StartEmbedded is Start with continuous input embeddings added to the
// prompts' token embeddings (EmbedAdd: image features at <im_patch> slots,
// say): emb[i] holds len(prompts[i])·d_model values, row-major, or is nil
// (zeros). Only the first chunk takes them; generated tokens do not.
func (d *Decoder) StartEmbedded(prompts [][]int32, prefix []int32, emb [][]float32) (*Stream, error) {
	return d.start(prompts, prefix, emb, -1)
}

// lengthBucket: Generate and Beam pad prompt chunks to a multiple of it
// (room permitting), so that a long evaluation compiles few graphs.
const lengthBucket = 8

// start is Start; with steps >= 0 it pads the prompts further, to a
// multiple of lengthBucket, as long as steps more Advances still fit.
func (d *Decoder) start(prompts [][]int32, prefix []int32, emb [][]float32, steps int) (*Stream, error) {
	if err := d.checkPrompts(prompts, prefix, max(steps, 0)); err != nil {
		return nil, err
	}
	dm := d.m.Config.DModel
	if emb != nil {
		if len(emb) != len(prompts) {
			return nil, fmt.Errorf("decode: %d embedding rows for %d prompts", len(emb), len(prompts))
		}
		for i, e := range emb {
			if e != nil && len(e) != len(prompts[i])*dm {
				return nil, fmt.Errorf("decode: prompt %d: %d embedding values, want %d tokens × d_model %d", i, len(e), len(prompts[i]), dm)
			}
		}
	}
	b, t := len(prompts), 0
	for _, p := range prompts {
		t = max(t, len(p))
	}
	if steps >= 0 {
		c := d.m.Config
		t = max(t, min((t+lengthBucket-1)/lengthBucket*lengthBucket, c.MaxSeqLen-c.PrefixPositions()-steps))
	}
	flat := make([]int32, b*t) // padding tokens are 0 (never attended to)
	pad := make([]int32, b)
	for i, p := range prompts {
		pad[i] = int32(t - len(p))
		copy(flat[i*t+t-len(p):], p)
	}
	pre := prefix
	if pre == nil {
		pre = make([]int32, b)
	}
	var outs []*tensors.Tensor
	var err error
	if emb == nil {
		outs, err = d.first.Exec(tensors.FromFlatDataAndDimensions(flat, b, t), pre, pad)
	} else {
		e := make([]float32, b*t*dm) // left-padded like the tokens
		for i, p := range prompts {
			copy(e[(i*t+t-len(p))*dm:], emb[i])
		}
		outs, err = d.firstE.Exec(tensors.FromFlatDataAndDimensions(flat, b, t), pre, pad,
			tensors.FromFlatDataAndDimensions(e, b, t, dm))
	}
	if err != nil {
		return nil, err
	}
	s := &Stream{d: d, pad: pad, used: d.m.Config.PrefixPositions() + t}
	s.take(outs)
	return s, nil
}

// Batch is the number of rows.
func (s *Stream) Batch() int { return len(s.pad) }

// Room is how many more times Advance can be called before the cache
// (max_seq_len positions, prefix and padding included) is full.
func (s *Stream) Room() int { return s.d.m.Config.MaxSeqLen - s.used }

// Logits returns row b's next-token logits (a view, valid until Advance).
func (s *Stream) Logits(b int) []float32 {
	v := s.d.m.Config.VocabSize
	return s.logits[b*v : (b+1)*v]
}

// LogProb is log p(token | row b so far).
func (s *Stream) LogProb(b int, token int32) float64 {
	return float64(s.Logits(b)[token]) - s.logSumExp(b)
}

// LogProbs returns the next-token log-probabilities [batch][vocab] (newly
// allocated): what lockstep decoding combines across models.
func (s *Stream) LogProbs() [][]float32 {
	out := make([][]float32, s.Batch())
	for b := range out {
		lse := s.logSumExp(b)
		row := s.Logits(b)
		out[b] = make([]float32, len(row))
		for i, x := range row {
			out[b][i] = float32(float64(x) - lse)
		}
	}
	return out
}

func (s *Stream) logSumExp(b int) float64 {
	if s.lse == nil {
		s.lse = make([]float64, s.Batch())
		for r := range s.lse {
			row := s.Logits(r)
			mx := math.Inf(-1)
			for _, x := range row {
				mx = math.Max(mx, float64(x))
			}
			var sum float64
			for _, x := range row {
				sum += math.Exp(float64(x) - mx)
			}
			s.lse[r] = mx + math.Log(sum)
		}
	}
	return s.lse[b]
}

// Advance appends tokens[b] to row parents[b] (nil parents: to row b),
// reordering the KV cache for beam search. len(tokens) is the new batch
// size; with parents it may differ from the old one (parents [0,0,0] turns
// one row into three beams).
func (s *Stream) Advance(tokens, parents []int32) error {
	if s.offset == nil {
		return errors.New("decode: the stream is closed (or a previous Advance failed)")
	}
	if s.Room() < 1 {
		return fmt.Errorf("decode: the KV cache is full (max_seq_len %d)", s.d.m.Config.MaxSeqLen)
	}
	if parents == nil && len(tokens) != s.Batch() {
		return fmt.Errorf("decode: %d tokens for %d rows", len(tokens), s.Batch())
	}
	if parents != nil && len(parents) != len(tokens) {
		return fmt.Errorf("decode: %d tokens but %d parents", len(tokens), len(parents))
	}
	for i, t := range tokens {
		if t < 0 || int(t) >= s.d.m.Config.VocabSize {
			return fmt.Errorf("decode: token %d of row %d outside the vocabulary [0, %d)", t, i, s.d.m.Config.VocabSize)
		}
	}
	identity := len(tokens) == s.Batch()
	for i, p := range parents {
		if p < 0 || int(p) >= s.Batch() {
			return fmt.Errorf("decode: parent %d of row %d outside [0, %d)", p, i, s.Batch())
		}
		identity = identity && int(p) == i
	}
	tok := tensors.FromFlatDataAndDimensions(tokens, len(tokens), 1)
	// The old caches are donated: the backend may then write the new
	// positions in place instead of copying every cache at every step.
	kv := make([]any, len(s.kv))
	for i, t := range s.kv {
		var err error
		if kv[i], err = graph.DonateTensorBuffer(t, s.d.backend, 0); err != nil {
			return err
		}
	}
	s.kv = nil
	var outs []*tensors.Tensor
	var err error
	if identity {
		outs, err = s.d.next.Exec(append([]any{tok, s.offset, s.pad}, kv...)...)
	} else {
		pad := make([]int32, len(parents))
		for i, p := range parents {
			pad[i] = s.pad[p]
		}
		outs, err = s.d.reorder.Exec(append([]any{tok, s.offset, pad, parents}, kv...)...)
		s.pad = pad
	}
	s.offset.FinalizeAll()
	s.offset = nil
	if err != nil {
		return err
	}
	s.used++
	s.take(outs)
	return nil
}

// Close releases the cache. A Stream whose Advance failed holds none.
func (s *Stream) Close() {
	if s.offset != nil {
		s.offset.FinalizeAll()
	}
	finalize(s.kv)
	s.offset, s.kv = nil, nil
}

// take stores a graph's outputs: logits [B, vocab], offset, K…, V….
func (s *Stream) take(outs []*tensors.Tensor) {
	s.offset, s.kv, s.lse = outs[1], outs[2:], nil
	lp := outs[0]
	if lp.DType() == dtypes.Float64 {
		f := tensors.MustCopyFlatData[float64](lp)
		s.logits = make([]float32, len(f))
		for i, x := range f {
			s.logits[i] = float32(x)
		}
	} else {
		s.logits = tensors.MustCopyFlatData[float32](lp)
	}
	lp.FinalizeAll()
}

func (d *Decoder) checkPrompts(prompts [][]int32, prefix []int32, maxNew int) error {
	if len(prompts) == 0 {
		return errors.New("decode: no prompts")
	}
	c := d.m.Config
	switch {
	case c.PrefixVocab > 0 && len(prefix) != len(prompts):
		return fmt.Errorf("decode: the model has a conditioning prefix: want one prefix id per prompt (%d), got %d", len(prompts), len(prefix))
	case c.PrefixVocab == 0 && prefix != nil:
		return fmt.Errorf("decode: prefix ids given but the model has no conditioning prefix (prefix_vocab 0)")
	}
	for i, id := range prefix {
		if id < 0 || int(id) >= c.PrefixVocab {
			return fmt.Errorf("decode: prefix id %d of prompt %d outside [0, %d)", id, i, c.PrefixVocab)
		}
	}
	longest := 0
	for i, p := range prompts {
		if len(p) == 0 {
			return fmt.Errorf("decode: prompt %d is empty", i)
		}
		longest = max(longest, len(p))
		for _, id := range p {
			if id < 0 || int(id) >= c.VocabSize {
				return fmt.Errorf("decode: prompt %d: token %d outside the vocabulary [0, %d)", i, id, c.VocabSize)
			}
		}
	}
	// Rows share cache slots: the longest prompt sets everyone's length.
	if need := c.PrefixPositions() + longest + maxNew; need > c.MaxSeqLen {
		return fmt.Errorf("decode: %d prefix + %d (longest prompt) + %d new tokens exceed max_seq_len %d",
			c.PrefixPositions(), longest, maxNew, c.MaxSeqLen)
	}
	return nil
}

// DecodeOptions controls Generate and Beam. The zero value decodes greedily,
// with no stop sequence, no penalty and no prefix.
type DecodeOptions struct {
	MaxNewTokens int
	// Temperature 0 decodes greedily; > 0 samples from softmax(logits/T).
	Temperature float64
	// TopK > 0 samples only among the K most likely tokens.
	TopK int
	// Seed of the sampler (Temperature > 0).
	Seed int64
	// Stop lists stop sequences of token ids (the tokenizer's EOS as
	// {eos}, or "\n\n\n" as three byte ids); nil: none. A sequence ends as
	// soon as its generated tokens end with one of them; the stop sequence
	// is not part of Generation.Tokens (it is in Generation.Stop).
	Stop [][]int32
	// RepetitionPenalty p (CTRL, Keskar et al. 2019, with Hugging Face's
	// semantics): before choosing each token, the logit of every distinct
	// token id already in the row (its prompt and the tokens generated so
	// far; not the padding, not the prefix) is divided by p if positive and
	// multiplied by p if negative. p > 1 discourages repeats; 0 or 1: none.
	RepetitionPenalty float64
	// Prefix holds one conditioning id per prompt, for a model with a
	// conditioning prefix (prefix_vocab > 0); nil for a model without.
	Prefix []int32
	// Embeddings, optional: one entry per prompt (Beam: one), each
	// len(prompt)·d_model values added to the prompt's token embeddings
	// (see Decoder.StartEmbedded), nil entries meaning zeros.
	Embeddings [][]float32
}

func (o DecodeOptions) check() error {
	switch {
	case o.MaxNewTokens < 0:
		return fmt.Errorf("decode: max_new_tokens must be >= 0, got %d", o.MaxNewTokens)
	case o.Temperature < 0 || math.IsNaN(o.Temperature):
		return fmt.Errorf("decode: temperature must be >= 0, got %v", o.Temperature)
	case o.RepetitionPenalty < 0 || math.IsNaN(o.RepetitionPenalty):
		return fmt.Errorf("decode: repetition penalty must be > 0 (or 0 for none), got %v", o.RepetitionPenalty)
	}
	for i, s := range o.Stop {
		if len(s) == 0 {
			return fmt.Errorf("decode: stop sequence %d is empty", i)
		}
	}
	return nil
}

func (o DecodeOptions) penalised() bool { return o.RepetitionPenalty > 0 && o.RepetitionPenalty != 1 }

// stopAt returns the stop sequence toks ends with, or nil.
func (o DecodeOptions) stopAt(toks []int32) []int32 {
	for _, s := range o.Stop {
		if len(toks) >= len(s) && equalTokens(toks[len(toks)-len(s):], s) {
			return s
		}
	}
	return nil
}

func equalTokens(a, b []int32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// ApplyRepetitionPenalty applies DecodeOptions.RepetitionPenalty to logits
// in place: every id marked in seen has its logit divided by penalty if
// positive, multiplied if negative.
func ApplyRepetitionPenalty(logits []float32, seen []bool, penalty float64) {
	for i, s := range seen {
		if !s {
			continue
		}
		if x := float64(logits[i]); x > 0 {
			logits[i] = float32(x / penalty)
		} else {
			logits[i] = float32(x * penalty)
		}
	}
}

// Generation is one generated continuation.
type Generation struct {
	// Tokens are the generated tokens, without the stop sequence.
	Tokens []int32
	// Stop is the stop sequence that ended the generation (nil: it ran to
	// MaxNewTokens, or for a beam, still running when decoding ended).
	Stop []int32
	// LogProb is the model's log-probability of Tokens followed by Stop
	// (before temperature and penalty): what Scorer.Score gives the pair
	// (prompt, Tokens+Stop).
	LogProb float64
}

// rowState is a row's history for the repetition penalty and stop sequences.
type rowState struct {
	seen []bool  // ids in the prompt or generated (only with a penalty)
	gen  []int32 // generated so far, stop sequence included
	logp float64
	stop []int32
}

func newRowState(prompt []int32, vocab int, penalty bool) rowState {
	r := rowState{}
	if penalty {
		r.seen = make([]bool, vocab)
		for _, t := range prompt {
			r.seen[t] = true
		}
	}
	return r
}

func (r rowState) extend(tok int32, logp float64) rowState {
	n := rowState{gen: append(append(make([]int32, 0, len(r.gen)+1), r.gen...), tok), logp: r.logp + logp}
	if r.seen != nil {
		n.seen = append([]bool(nil), r.seen...)
		n.seen[tok] = true
	}
	return n
}

func (r rowState) generation() Generation {
	return Generation{Tokens: r.gen[:len(r.gen)-len(r.stop)], Stop: r.stop, LogProb: r.logp}
}

// scores are the logits the choice is made from (penalised if asked).
func (r rowState) scores(logits []float32, opt DecodeOptions) []float32 {
	if r.seen == nil {
		return logits
	}
	out := append([]float32(nil), logits...)
	ApplyRepetitionPenalty(out, r.seen, opt.RepetitionPenalty)
	return out
}

// Generate continues each prompt greedily (Temperature 0) or by sampling.
// All prompts run in one batch, whatever their lengths (left-padded): each
// result is the one the prompt would get alone (greedy decoding; sampling
// draws from one generator in row order).
func (d *Decoder) Generate(prompts [][]int32, opt DecodeOptions) ([]Generation, error) {
	if err := opt.check(); err != nil {
		return nil, err
	}
	if err := d.checkPrompts(prompts, opt.Prefix, opt.MaxNewTokens); err != nil {
		return nil, err
	}
	out := make([]Generation, len(prompts))
	if opt.MaxNewTokens == 0 {
		return out, nil
	}
	s, err := d.start(prompts, opt.Prefix, opt.Embeddings, opt.MaxNewTokens-1)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	rows := make([]rowState, len(prompts))
	for i, p := range prompts {
		rows[i] = newRowState(p, d.m.Config.VocabSize, opt.penalised())
	}
	done := make([]bool, len(prompts))
	rng := rand.New(rand.NewPCG(uint64(opt.Seed), 0x5eed))
	next := make([]int32, len(prompts))
	for step := range opt.MaxNewTokens {
		live := 0
		for i := range rows {
			if done[i] {
				continue // keeps feeding its last token; never read again
			}
			tok := pickToken(rows[i].scores(s.Logits(i), opt), opt, rng)
			next[i] = tok
			rows[i] = rows[i].extend(tok, s.LogProb(i, tok))
			if rows[i].stop = opt.stopAt(rows[i].gen); rows[i].stop != nil {
				done[i] = true
			} else {
				live++
			}
		}
		if live == 0 || step == opt.MaxNewTokens-1 {
			break
		}
		if err := s.Advance(next, nil); err != nil {
			return nil, err
		}
	}
	for i := range rows {
		out[i] = rows[i].generation()
	}
	return out, nil
}

// pickToken chooses from scores (logits): the first maximum when greedy,
// else a draw from softmax(scores/T) over the TopK best.
func pickToken(scores []float32, opt DecodeOptions, rng *rand.Rand) int32 {
	if opt.Temperature <= 0 {
		best := 0
		for i, v := range scores {
			if v > scores[best] {
				best = i
			}
		}
		return int32(best)
	}
	idx := make([]int, len(scores))
	for i := range idx {
		idx[i] = i
	}
	if opt.TopK > 0 && opt.TopK < len(idx) {
		sort.SliceStable(idx, func(a, b int) bool { return scores[idx[a]] > scores[idx[b]] })
		idx = idx[:opt.TopK]
	}
	maxv := math.Inf(-1)
	for _, i := range idx {
		maxv = math.Max(maxv, float64(scores[i])/opt.Temperature)
	}
	w := make([]float64, len(idx))
	var sum float64
	for j, i := range idx {
		w[j] = math.Exp(float64(scores[i])/opt.Temperature - maxv)
		sum += w[j]
	}
	u := rng.Float64() * sum
	for j, i := range idx {
		u -= w[j]
		if u <= 0 {
			return int32(i)
		}
	}
	return int32(idx[len(idx)-1])
}

// logSoftmax of scores in float64.
func logSoftmax(scores []float32) []float64 {
	mx := math.Inf(-1)
	for _, x := range scores {
		mx = math.Max(mx, float64(x))
	}
	var sum float64
	for _, x := range scores {
		sum += math.Exp(float64(x) - mx)
	}
	lse := mx + math.Log(sum)
	out := make([]float64, len(scores))
	for i, x := range scores {
		out[i] = float64(x) - lse
	}
	return out
}

// Beam runs beam search from one prompt (opt.Prefix: nil or one id) and
// returns up to beams results, best first. Beams are ranked by the summed
// log-probabilities of their tokens under the (penalised, if asked) model;
// a beam that ends with a stop sequence is finished and keeps its score.
// Search ends after MaxNewTokens, or once beams finished results score at
// least as well as every running beam (scores only fall). Temperature and
// TopK are ignored.
func (d *Decoder) Beam(prompt []int32, beams int, opt DecodeOptions) ([]Generation, error) {
	if beams < 1 {
		return nil, fmt.Errorf("decode: beam width must be >= 1, got %d", beams)
	}
	if err := opt.check(); err != nil {
		return nil, err
	}
	if err := d.checkPrompts([][]int32{prompt}, opt.Prefix, opt.MaxNewTokens); err != nil {
		return nil, err
	}
	if opt.MaxNewTokens == 0 {
		return []Generation{{}}, nil
	}
	var emb [][]float32
	if opt.Embeddings != nil {
		emb = opt.Embeddings[:1]
	}
	s, err := d.start([][]int32{prompt}, opt.Prefix, emb, opt.MaxNewTokens-1)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	type beam struct {
		row   rowState
		score float64
	}
	live := []beam{{row: newRowState(prompt, d.m.Config.VocabSize, opt.penalised())}}
	var finished []beam
	for step := range opt.MaxNewTokens {
		type cand struct {
			parent int
			tok    int32
			score  float64
		}
		var cands []cand
		for r, bm := range live {
			for tok, lp := range logSoftmax(bm.row.scores(s.Logits(r), opt)) {
				cands = append(cands, cand{r, int32(tok), bm.score + lp})
			}
		}
		sort.SliceStable(cands, func(a, b int) bool { return cands[a].score > cands[b].score })
		var nextLive []beam
		parents := make([]int32, 0, beams)
		tokens := make([]int32, 0, beams)
		for _, c := range cands {
			if len(nextLive) == beams {
				break
			}
			row := live[c.parent].row.extend(c.tok, s.LogProb(c.parent, c.tok))
			if row.stop = opt.stopAt(row.gen); row.stop != nil {
				finished = append(finished, beam{row, c.score})
				continue
			}
			nextLive = append(nextLive, beam{row, c.score})
			parents = append(parents, int32(c.parent))
			tokens = append(tokens, c.tok)
		}
		live = nextLive
		sort.SliceStable(finished, func(a, b int) bool { return finished[a].score > finished[b].score })
		settled := len(finished) >= beams && (len(live) == 0 || finished[beams-1].score >= live[0].score)
		if len(live) == 0 || settled || step == opt.MaxNewTokens-1 {
			break
		}
		// Fill the batch with copies of the last beam (never expanded), so
		// that its shape, and the compiled graph, stay the same.
		for len(parents) < beams {
			parents = append(parents, parents[len(parents)-1])
			tokens = append(tokens, tokens[len(tokens)-1])
		}
		if err := s.Advance(tokens, parents); err != nil {
			return nil, err
		}
	}
	all := append(finished, live...)
	sort.SliceStable(all, func(a, b int) bool { return all[a].score > all[b].score })
	if len(all) > beams {
		all = all[:beams]
	}
	out := make([]Generation, len(all))
	for i, bm := range all {
		out[i] = bm.row.generation()
	}
	return out, nil
}
