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

// Decoder generates continuations with a KV cache: the prompt is run once
// (one chunk), then one token per step, each step reading the cached keys
// and values instead of recomputing them. Graphs are compiled once per
// (batch, chunk length) and reused.
type Decoder struct {
	m       *Transformer
	backend backends.Backend
	ctx     *context.Context
	first   *context.Exec // prompt chunk (with the prefix, if any)
	next    *context.Exec // later chunks, optional beam reordering
}

// NewDecoder prepares decoding with the model's variables in ctx.
func (m *Transformer) NewDecoder(backend backends.Backend, ctx *context.Context) (*Decoder, error) {
	d := &Decoder{m: m, backend: backend, ctx: ctx}
	var err error
	// Inputs: tokens [B,T], prefix [B] (ignored without a prefix), then K…, V….
	d.first, err = context.NewExec(backend, ctx, func(ctx *context.Context, in []*graph.Node) []*graph.Node {
		return d.chunkGraph(ctx, in[0], nil, in[1], nil, nil)
	})
	if err != nil {
		return nil, err
	}
	// Inputs: tokens [B,T], offset scalar, parents [B], K…, V….
	d.next, err = context.NewExec(backend, ctx, func(ctx *context.Context, in []*graph.Node) []*graph.Node {
		n := m.Config.NumLayers
		return d.chunkGraph(ctx, in[0], in[1], nil, in[2], in[3:3+2*n])
	})
	return d, err
}

// chunkGraph runs one chunk; returns the log-probabilities of the next token
// after the chunk's last position [B, vocab], then the new caches.
func (d *Decoder) chunkGraph(ctx *context.Context, tokens, offset, prefix, parents *graph.Node, kv []*graph.Node) []*graph.Node {
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
	out := m.Forward(ctx, Inputs{Tokens: tokens, Prefix: pre, Cache: cache})
	t := out.Logits.Shape().Dim(1)
	last := graph.Reshape(Split(out.Logits, 1, t-1, 1)[1], batch, m.Config.VocabSize)
	res := []*graph.Node{graph.LogSoftmax(last, -1), out.Cache.Offset}
	res = append(res, out.Cache.K...)
	return append(res, out.Cache.V...)
}

// reorderBatch picks rows parents[b] of a cache [max_seq, batch, heads, d_head].
func reorderBatch(c, parents *graph.Node) *graph.Node {
	t := graph.TransposeAllAxes(c, 1, 0, 2, 3)
	t = graph.Gather(t, graph.ExpandAxes(graph.ConvertDType(parents, dtypes.Int32), -1))
	return graph.TransposeAllAxes(t, 1, 0, 2, 3)
}

// DecodeOptions controls Generate.
type DecodeOptions struct {
	MaxNewTokens int
	// Temperature 0 decodes greedily; > 0 samples from softmax(logits/T).
	Temperature float64
	// TopK > 0 samples only among the K most likely tokens.
	TopK int
	// Seed of the sampler (Temperature > 0).
	Seed int64
	// Stop ends a sequence when generated (e.g. the tokenizer's EOS); -1: none.
	Stop int32
	// Prefix is the conditioning id of every prompt (models with a prefix).
	Prefix int32
}

// Generation is one generated continuation.
type Generation struct {
	Tokens  []int32
	LogProb float64 // sum of the chosen tokens' log-probabilities
}

// state is a running batch: the last outputs of the graph.
type decodeState struct {
	logp   [][]float32 // [B][vocab]
	offset *tensors.Tensor
	kv     []*tensors.Tensor
}

func (d *Decoder) runFirst(prompts [][]int32, prefix int32) (*decodeState, error) {
	b, t := len(prompts), len(prompts[0])
	flat := make([]int32, 0, b*t)
	for _, p := range prompts {
		flat = append(flat, p...)
	}
	pre := make([]int32, b)
	for i := range pre {
		pre[i] = prefix
	}
	outs, err := d.first.Exec(tensors.FromFlatDataAndDimensions(flat, b, t), pre)
	if err != nil {
		return nil, err
	}
	return newDecodeState(outs), nil
}

func (d *Decoder) runNext(st *decodeState, tokens []int32, parents []int32) (*decodeState, error) {
	args := []any{tensors.FromFlatDataAndDimensions(tokens, len(tokens), 1), st.offset, parents}
	for _, t := range st.kv {
		args = append(args, t)
	}
	outs, err := d.next.Exec(args...)
	if err != nil {
		return nil, err
	}
	for _, t := range st.kv {
		t.FinalizeAll()
	}
	return newDecodeState(outs), nil
}

func newDecodeState(outs []*tensors.Tensor) *decodeState {
	st := &decodeState{offset: outs[1], kv: outs[2:]}
	lp := outs[0]
	b, v := lp.Shape().Dim(0), lp.Shape().Dim(1)
	st.logp = make([][]float32, b)
	f64 := lp.DType() == dtypes.Float64
	flat32 := []float32{}
	if f64 {
		for _, x := range tensors.MustCopyFlatData[float64](lp) {
			flat32 = append(flat32, float32(x))
		}
	} else {
		flat32 = tensors.MustCopyFlatData[float32](lp)
	}
	for i := range b {
		st.logp[i] = flat32[i*v : (i+1)*v]
	}
	lp.FinalizeAll()
	return st
}

func (d *Decoder) checkPrompts(prompts [][]int32, maxNew int) error {
	if len(prompts) == 0 {
		return errors.New("no prompts")
	}
	c := d.m.Config
	for i, p := range prompts {
		if len(p) == 0 {
			return fmt.Errorf("prompt %d is empty", i)
		}
		if need := c.PrefixPositions() + len(p) + maxNew; need > c.MaxSeqLen {
			return fmt.Errorf("prompt %d: %d prefix + %d prompt + %d new tokens exceed max_seq_len %d",
				i, c.PrefixPositions(), len(p), maxNew, c.MaxSeqLen)
		}
		for _, id := range p {
			if id < 0 || int(id) >= c.VocabSize {
				return fmt.Errorf("prompt %d: token %d outside the vocabulary [0, %d)", i, id, c.VocabSize)
			}
		}
	}
	return nil
}

// Generate continues each prompt greedily (Temperature 0) or by sampling.
// Prompts of different lengths run in separate batches (one per length).
func (d *Decoder) Generate(prompts [][]int32, opt DecodeOptions) ([]Generation, error) {
	if err := d.checkPrompts(prompts, opt.MaxNewTokens); err != nil {
		return nil, err
	}
	byLen := map[int][]int{}
	for i, p := range prompts {
		byLen[len(p)] = append(byLen[len(p)], i)
	}
	lens := make([]int, 0, len(byLen))
	for l := range byLen {
		lens = append(lens, l)
	}
	sort.Ints(lens)
	out := make([]Generation, len(prompts))
	rng := rand.New(rand.NewPCG(uint64(opt.Seed), 0x5eed))
	for _, l := range lens {
		idx := byLen[l]
		group := make([][]int32, len(idx))
		for j, i := range idx {
			group[j] = prompts[i]
		}
		gens, err := d.generateBatch(group, opt, rng)
		if err != nil {
			return nil, err
		}
		for j, i := range idx {
			out[i] = gens[j]
		}
	}
	return out, nil
}

func (d *Decoder) generateBatch(prompts [][]int32, opt DecodeOptions, rng *rand.Rand) ([]Generation, error) {
	b := len(prompts)
	gens := make([]Generation, b)
	done := make([]bool, b)
	st, err := d.runFirst(prompts, opt.Prefix)
	if err != nil {
		return nil, err
	}
	parents := make([]int32, b)
	for i := range parents {
		parents[i] = int32(i)
	}
	for step := range opt.MaxNewTokens {
		next := make([]int32, b)
		for i := range b {
			tok := pickToken(st.logp[i], opt, rng)
			next[i] = tok
			if !done[i] {
				gens[i].Tokens = append(gens[i].Tokens, tok)
				gens[i].LogProb += float64(st.logp[i][tok])
				if opt.Stop >= 0 && tok == opt.Stop {
					done[i] = true
				}
			}
		}
		allDone := true
		for _, x := range done {
			allDone = allDone && x
		}
		if allDone || step == opt.MaxNewTokens-1 {
			break
		}
		if st, err = d.runNext(st, next, parents); err != nil {
			return nil, err
		}
	}
	return gens, nil
}

func pickToken(logp []float32, opt DecodeOptions, rng *rand.Rand) int32 {
	if opt.Temperature <= 0 {
		best := 0
		for i, v := range logp {
			if v > logp[best] {
				best = i
			}
		}
		return int32(best)
	}
	idx := make([]int, len(logp))
	for i := range idx {
		idx[i] = i
	}
	if opt.TopK > 0 && opt.TopK < len(idx) {
		sort.SliceStable(idx, func(a, b int) bool { return logp[idx[a]] > logp[idx[b]] })
		idx = idx[:opt.TopK]
	}
	maxv := math.Inf(-1)
	for _, i := range idx {
		maxv = math.Max(maxv, float64(logp[i])/opt.Temperature)
	}
	w := make([]float64, len(idx))
	var sum float64
	for j, i := range idx {
		w[j] = math.Exp(float64(logp[i])/opt.Temperature - maxv)
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

// Beam runs beam search from one prompt and returns the beams best first,
// scored by total log-probability (finished beams keep their score).
func (d *Decoder) Beam(prompt []int32, beams int, opt DecodeOptions) ([]Generation, error) {
	if beams < 1 {
		return nil, fmt.Errorf("beam width must be >= 1, got %d", beams)
	}
	if err := d.checkPrompts([][]int32{prompt}, opt.MaxNewTokens); err != nil {
		return nil, err
	}
	prompts := make([][]int32, beams)
	for i := range prompts {
		prompts[i] = prompt
	}
	st, err := d.runFirst(prompts, opt.Prefix)
	if err != nil {
		return nil, err
	}
	type beam struct {
		toks  []int32
		score float64
		done  bool
	}
	live := []beam{{score: 0}} // identical rows at first: expand only row 0
	var finished []beam
	for step := range opt.MaxNewTokens {
		type cand struct {
			parent int
			tok    int32
			score  float64
		}
		var cands []cand
		for r, bm := range live {
			for tok, lp := range st.logp[r] {
				cands = append(cands, cand{r, int32(tok), bm.score + float64(lp)})
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
			toks := append(append([]int32(nil), live[c.parent].toks...), c.tok)
			if opt.Stop >= 0 && c.tok == opt.Stop {
				finished = append(finished, beam{toks, c.score, true})
				continue
			}
			nextLive = append(nextLive, beam{toks: toks, score: c.score})
			parents = append(parents, int32(c.parent))
			tokens = append(tokens, c.tok)
		}
		if len(nextLive) == 0 || step == opt.MaxNewTokens-1 {
			live = nextLive
			break
		}
		// Pad to the batch size with copies of the last beam (never expanded).
		for len(parents) < beams {
			parents = append(parents, parents[len(parents)-1])
			tokens = append(tokens, tokens[len(tokens)-1])
		}
		if st, err = d.runNext(st, tokens, parents); err != nil {
			return nil, err
		}
		live = nextLive
	}
	all := append(finished, live...)
	sort.SliceStable(all, func(a, b int) bool { return all[a].score > all[b].score })
	if len(all) > beams {
		all = all[:beams]
	}
	out := make([]Generation, len(all))
	for i, bm := range all {
		out[i] = Generation{Tokens: bm.toks, LogProb: bm.score}
	}
	return out, nil
}
