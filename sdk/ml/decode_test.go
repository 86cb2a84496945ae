package ml

import (
	"fmt"
	"math"
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
)

// mixedPrompts are of different lengths, so they need padding in one batch.
var mixedPrompts = [][]int32{{1, 2, 3, 4, 5}, {7}, {3, 9, 2}, {10, 10}}

func prefixFor(cfg Config, n int) []int32 {
	if cfg.PrefixVocab == 0 {
		return nil
	}
	ids := make([]int32, n)
	for i := range ids {
		ids[i] = int32(i % cfg.PrefixVocab)
	}
	return ids
}

func argmax(x []float64) int32 {
	best := 0
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return int32(best)
}

// greedyNoCache decodes greedily by rerunning the full forward pass on the
// left-padded batch at every step (no KV cache; Inputs.Pad without a cache).
func greedyNoCache(t *testing.T, backend backends.Backend, m *Transformer, ctx *context.Context, prompts [][]int32, prefix []int32, n int) [][]int32 {
	t.Helper()
	fwd := context.MustNewExec(backend, ctx, func(ctx *context.Context, tok, pre, pad *graph.Node) *graph.Node {
		if m.Config.PrefixVocab == 0 {
			pre = nil
		}
		return m.Forward(ctx, Inputs{Tokens: tok, Prefix: pre, Pad: pad}).Logits
	})
	longest := 0
	for _, p := range prompts {
		longest = max(longest, len(p))
	}
	rows := make([][]int32, len(prompts))
	pad := make([]int32, len(prompts))
	for i, p := range prompts {
		pad[i] = int32(longest - len(p))
		rows[i] = append(make([]int32, pad[i]), p...)
	}
	pre := prefix
	if pre == nil {
		pre = make([]int32, len(prompts))
	}
	out := make([][]int32, len(prompts))
	v := m.Config.VocabSize
	for range n {
		s := len(rows[0])
		flat := make([]int32, 0, len(rows)*s)
		for _, r := range rows {
			flat = append(flat, r...)
		}
		logits := flat64(fwd.MustExec1(tensors.FromFlatDataAndDimensions(flat, len(rows), s), pre, pad))
		for i := range rows {
			last := logits[(i*s+s-1)*v : (i*s+s)*v]
			tok := argmax(last)
			rows[i] = append(rows[i], tok)
			out[i] = append(out[i], tok)
		}
	}
	return out
}

// TestMixedBatchGreedyMatchesAlone: prompts of different lengths decoded in
// one left-padded batch give, token for token, what each gives alone, with
// the KV cache and without (full forward passes over the padded batch and
// over the prompt alone); with and without a conditioning prefix.
func TestMixedBatchGreedyMatchesAlone(t *testing.T) {
	const n = 6
	for _, tc := range []struct {
		prefix bool
		dtype  string
	}{{false, "float64"}, {true, "float64"}, {true, "float32"}} {
		prefix := tc.prefix
		t.Run(fmt.Sprintf("prefix=%v/%s", prefix, tc.dtype), func(t *testing.T) {
			cfg := float64Config()
			cfg.DType = tc.dtype
			if prefix {
				cfg.PrefixVocab, cfg.PrefixLen = 3, 2
			}
			backend := openGo(t)
			m, ctx := newModel(t, cfg)
			dec, err := m.NewDecoder(backend, ctx)
			if err != nil {
				t.Fatal(err)
			}
			pre := prefixFor(cfg, len(mixedPrompts))
			batch, err := dec.Generate(mixedPrompts, DecodeOptions{MaxNewTokens: n, Prefix: pre})
			if err != nil {
				t.Fatal(err)
			}
			noCache := greedyNoCache(t, backend, m, ctx, mixedPrompts, pre, n)
			for i, p := range mixedPrompts {
				var alonePre []int32
				if pre != nil {
					alonePre = pre[i : i+1]
				}
				alone, err := dec.Generate([][]int32{p}, DecodeOptions{MaxNewTokens: n, Prefix: alonePre})
				if err != nil {
					t.Fatal(err)
				}
				aloneNoCache := greedyNoCache(t, backend, m, ctx, [][]int32{p}, alonePre, n)[0]
				if diff := cmp.Diff(alone[0].Tokens, batch[i].Tokens); diff != "" {
					t.Errorf("prompt %d: batch vs alone (-alone +batch):\n%s", i, diff)
				}
				if diff := cmp.Diff(aloneNoCache, batch[i].Tokens); diff != "" {
					t.Errorf("prompt %d: KV cache vs no cache, alone (-no cache +cache):\n%s", i, diff)
				}
				if diff := cmp.Diff(noCache[i], batch[i].Tokens); diff != "" {
					t.Errorf("prompt %d: KV cache vs no cache, padded batch (-no cache +cache):\n%s", i, diff)
				}
				if math.Abs(alone[0].LogProb-batch[i].LogProb) > 1e-5 {
					t.Errorf("prompt %d: log p %.9f in the batch, %.9f alone", i, batch[i].LogProb, alone[0].LogProb)
				}
				if len(batch[i].Tokens) != n || batch[i].Stop != nil {
					t.Errorf("prompt %d: %d tokens, stop %v; want %d, none", i, len(batch[i].Tokens), batch[i].Stop, n)
				}
			}
		})
	}
}

// TestForwardPadMatchesAlone: a left-padded row's logits at its real
// positions equal those of the row run alone.
func TestForwardPadMatchesAlone(t *testing.T) {
	backend := openGo(t)
	cfg := float64Config()
	cfg.PrefixVocab, cfg.PrefixLen = 2, 2
	m, ctx := newModel(t, cfg)
	fwd := context.MustNewExec(backend, ctx, func(ctx *context.Context, tok, pre, pad *graph.Node) *graph.Node {
		return m.Forward(ctx, Inputs{Tokens: tok, Prefix: pre, Pad: pad}).Logits
	})
	plain := context.MustNewExec(backend, ctx, func(ctx *context.Context, tok, pre *graph.Node) *graph.Node {
		return m.Forward(ctx, Inputs{Tokens: tok, Prefix: pre}).Logits
	})
	padded := []int32{0, 0, 0, 4, 1, 8, 1, 2, 3, 4, 5, 6}
	got := flat64(fwd.MustExec1(tensors.FromFlatDataAndDimensions(padded, 2, 6), []int32{1, 0}, []int32{3, 0}))
	v := cfg.VocabSize
	for row, toks := range [][]int32{{4, 1, 8}, {1, 2, 3, 4, 5, 6}} {
		want := flat64(plain.MustExec1(tensors.FromFlatDataAndDimensions(toks, 1, len(toks)), []int32{int32(1 - row)}))
		start := (row*6 + 6 - len(toks)) * v
		closeSlices(t, fmt.Sprintf("row %d logits", row), got[start:start+len(toks)*v], want, 1e-12)
	}
}

// TestDecodeOptionsZeroValueDoesNotStop: a model whose greedy choice is
// always token 0 (zero head: all logits equal) runs to MaxNewTokens with the
// zero-valued options. (The old Stop int32 stopped on token 0 by default.)
func TestDecodeOptionsZeroValueDoesNotStop(t *testing.T) {
	backend := openGo(t)
	cfg := float64Config()
	m, ctx := newModel(t, cfg)
	ctx.In(ModelScope).In("head").VariableWithValue("weights", tensors.FromShape(shapes.Make(cfg.dtype(), cfg.DModel, cfg.VocabSize)))
	dec, err := m.NewDecoder(backend, ctx)
	if err != nil {
		t.Fatal(err)
	}
	gens, err := dec.Generate([][]int32{{3, 4}}, DecodeOptions{MaxNewTokens: 5})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]int32{0, 0, 0, 0, 0}, gens[0].Tokens); diff != "" {
		t.Errorf("zero-valued options (-want +got):\n%s", diff)
	}
	beams, err := dec.Beam([]int32{3, 4}, 2, DecodeOptions{MaxNewTokens: 3})
	if err != nil {
		t.Fatal(err)
	}
	if len(beams[0].Tokens) != 3 {
		t.Errorf("beam search with zero-valued options stopped early: %+v", beams)
	}
}

// TestStopSequences: generation ends at the first occurrence of a
// multi-token stop sequence, which is left out of Tokens, kept in Stop and
// counted in LogProb (checked against the Scorer); the other rows go on.
func TestStopSequences(t *testing.T) {
	backend := openGo(t)
	cfg := float64Config()
	m, ctx := newModel(t, cfg)
	dec, err := m.NewDecoder(backend, ctx)
	if err != nil {
		t.Fatal(err)
	}
	const n = 8
	free, err := dec.Generate(mixedPrompts, DecodeOptions{MaxNewTokens: n})
	if err != nil {
		t.Fatal(err)
	}
	// Stop on row 0's tokens 2 and 3: row 0 ends there (or earlier, if
	// they occurred before); rows without the pair run to n.
	stop := append([]int32(nil), free[0].Tokens[2:4]...)
	other := []int32{int32(cfg.VocabSize - 1), int32(cfg.VocabSize - 1), int32(cfg.VocabSize - 1), 0}
	gens, err := dec.Generate(mixedPrompts, DecodeOptions{MaxNewTokens: n, Stop: [][]int32{other, stop}})
	if err != nil {
		t.Fatal(err)
	}
	sc, err := m.NewScorer(backend, ctx)
	if err != nil {
		t.Fatal(err)
	}
	var conts [][]int32
	for i, g := range gens {
		want := Generation{Tokens: free[i].Tokens}
		for end := 2; end <= n; end++ {
			if equalTokens(free[i].Tokens[end-2:end], stop) {
				want = Generation{Tokens: free[i].Tokens[:end-2], Stop: stop}
				break
			}
		}
		if diff := cmp.Diff(want.Tokens, g.Tokens); diff != "" {
			t.Errorf("row %d tokens (-want +got):\n%s", i, diff)
		}
		if diff := cmp.Diff(want.Stop, g.Stop); diff != "" {
			t.Errorf("row %d stop (-want +got):\n%s", i, diff)
		}
		conts = append(conts, append(append([]int32(nil), g.Tokens...), g.Stop...))
	}
	if gens[0].Stop == nil {
		t.Fatal("row 0 did not stop")
	}
	scores, err := sc.Score(mixedPrompts, conts, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, g := range gens {
		if math.Abs(scores[i]-g.LogProb) > 1e-5*(1+math.Abs(g.LogProb)) {
			t.Errorf("row %d: LogProb %.9f, Scorer %.9f", i, g.LogProb, scores[i])
		}
	}
}

// TestRepetitionPenalty: the penalty's arithmetic (Hugging Face's), and
// Generate with a penalty equals a step-by-step loop over the Stream API
// that applies it by hand, and changes what a repetitive model says.
func TestRepetitionPenalty(t *testing.T) {
	logits := []float32{2, -2, 0, 3}
	ApplyRepetitionPenalty(logits, []bool{true, true, true, false}, 2)
	if diff := cmp.Diff([]float32{1, -4, 0, 3}, logits); diff != "" {
		t.Errorf("penalised logits (-want +got):\n%s", diff)
	}

	backend := openGo(t)
	cfg := float64Config()
	m, ctx := newModel(t, cfg)
	dec, err := m.NewDecoder(backend, ctx)
	if err != nil {
		t.Fatal(err)
	}
	const n, p = 8, 3.0
	gens, err := dec.Generate(mixedPrompts, DecodeOptions{MaxNewTokens: n, RepetitionPenalty: p})
	if err != nil {
		t.Fatal(err)
	}
	plain, err := dec.Generate(mixedPrompts, DecodeOptions{MaxNewTokens: n})
	if err != nil {
		t.Fatal(err)
	}
	for i, prompt := range mixedPrompts {
		s, err := dec.Start([][]int32{prompt}, nil)
		if err != nil {
			t.Fatal(err)
		}
		seen := make([]bool, cfg.VocabSize)
		for _, tok := range prompt {
			seen[tok] = true
		}
		var want []int32
		for range n {
			l := append([]float32(nil), s.Logits(0)...)
			ApplyRepetitionPenalty(l, seen, p)
			tok := pickToken(l, DecodeOptions{}, nil)
			want, seen[tok] = append(want, tok), true
			if err := s.Advance([]int32{tok}, nil); err != nil {
				t.Fatal(err)
			}
		}
		s.Close()
		if diff := cmp.Diff(want, gens[i].Tokens); diff != "" {
			t.Errorf("prompt %d (-by hand +Generate):\n%s", i, diff)
		}
	}
	distinct := func(g []Generation) (n int) {
		for _, x := range g {
			set := map[int32]bool{}
			for _, tok := range x.Tokens {
				set[tok] = true
			}
			n += len(set)
		}
		return n
	}
	if distinct(gens) <= distinct(plain) {
		t.Errorf("penalty %v: %d distinct tokens per row in all, no more than without (%d)", p, distinct(gens), distinct(plain))
	}
}

// TestLockstepStreams decodes with two models in lockstep, choosing each
// token from the sum of their log-probabilities (the MOD pattern), with a
// beam-style reordering and batch growth on the way; every step's
// log-probabilities must equal a full forward pass over the row's tokens.
func TestLockstepStreams(t *testing.T) {
	backend := openGo(t)
	cfg := float64Config()
	type model struct {
		m   *Transformer
		ctx *context.Context
		dec *Decoder
		fwd *context.Exec
		st  *Stream
	}
	var ms []*model
	for seed := range int64(2) {
		m, ctx := newModel(t, cfg)
		SetInitSeed(ctx, 10+seed)
		dec, err := m.NewDecoder(backend, ctx)
		if err != nil {
			t.Fatal(err)
		}
		fwd := context.MustNewExec(backend, ctx, func(ctx *context.Context, tok *graph.Node) *graph.Node {
			return graph.LogSoftmax(m.Forward(ctx, Inputs{Tokens: tok}).Logits, -1)
		})
		st, err := dec.Start(mixedPrompts[:3], nil)
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		ms = append(ms, &model{m, ctx, dec, fwd, st})
	}
	rows := make([][]int32, 3)
	for i := range rows {
		rows[i] = append([]int32(nil), mixedPrompts[i]...)
	}
	v := cfg.VocabSize
	// Step plan: plain, swap rows 0 and 2, grow to 4 rows, shrink to 2.
	plans := [][]int32{nil, {2, 1, 0}, {0, 0, 1, 2}, {3, 1}, nil}
	for step, parents := range plans {
		lps := make([][][]float32, len(ms))
		for k, md := range ms {
			lps[k] = md.st.LogProbs()
			for r, toks := range rows {
				want := flat64(md.fwd.MustExec1(tensors.FromFlatDataAndDimensions(toks, 1, len(toks))))
				got := make([]float64, v)
				for i, x := range lps[k][r] {
					got[i] = float64(x)
				}
				closeSlices(t, fmt.Sprintf("model %d step %d row %d", k, step, r), got, want[(len(toks)-1)*v:], 1e-5)
			}
		}
		// Tokens for the next rows: argmax of the summed log-probs of each parent.
		if parents == nil {
			parents = make([]int32, len(rows))
			for i := range parents {
				parents[i] = int32(i)
			}
		}
		tokens := make([]int32, len(parents))
		next := make([][]int32, len(parents))
		for i, p := range parents {
			sum := make([]float64, v)
			for k := range ms {
				for j := range sum {
					sum[j] += float64(lps[k][p][j])
				}
			}
			tokens[i] = (argmax(sum) + int32(i)) % int32(v) // vary the rows
			next[i] = append(append([]int32(nil), rows[p]...), tokens[i])
		}
		for _, md := range ms {
			if err := md.st.Advance(tokens, parents); err != nil {
				t.Fatal(err)
			}
		}
		rows = next
	}
	if got := ms[0].st.Batch(); got != 2 {
		t.Errorf("batch %d after the plan, want 2", got)
	}
}

// TestDecodeErrors: bad prompts, prefixes and options are refused with a
// message naming the problem.
func TestDecodeErrors(t *testing.T) {
	backend := openGo(t)
	cfg := float64Config()
	m, ctx := newModel(t, cfg)
	dec, err := m.NewDecoder(backend, ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		prompts [][]int32
		opt     DecodeOptions
		want    string
	}{
		{"no prompts", nil, DecodeOptions{}, "decode: no prompts"},
		{"empty prompt", [][]int32{{1}, {}}, DecodeOptions{}, "decode: prompt 1 is empty"},
		{"bad token", [][]int32{{1, 11}}, DecodeOptions{}, "decode: prompt 0: token 11 outside the vocabulary [0, 11)"},
		{"too long", [][]int32{{1}, {1, 2, 3}}, DecodeOptions{MaxNewTokens: 14}, "decode: 0 prefix + 3 (longest prompt) + 14 new tokens exceed max_seq_len 16"},
		{"prefix without one", [][]int32{{1}}, DecodeOptions{Prefix: []int32{0}}, "decode: prefix ids given but the model has no conditioning prefix (prefix_vocab 0)"},
		{"empty stop", [][]int32{{1}}, DecodeOptions{Stop: [][]int32{{1}, {}}}, "decode: stop sequence 1 is empty"},
		{"negative penalty", [][]int32{{1}}, DecodeOptions{RepetitionPenalty: -1}, "decode: repetition penalty must be > 0 (or 0 for none), got -1"},
	} {
		_, err := dec.Generate(tc.prompts, tc.opt)
		if err == nil || err.Error() != tc.want {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.want)
		}
	}
	s, err := dec.Start([][]int32{{1, 2}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Advance([]int32{1}, []int32{1}); err == nil || err.Error() != "decode: parent 1 of row 0 outside [0, 1)" {
		t.Errorf("bad parent: %v", err)
	}
	for s.Room() > 0 {
		if err := s.Advance([]int32{1}, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Advance([]int32{1}, nil); err == nil || err.Error() != "decode: the KV cache is full (max_seq_len 16)" {
		t.Errorf("full cache: %v", err)
	}
}

// TestBeamIsExhaustiveWhenWide: with as many beams as the vocabulary, two
// steps of beam search keep exactly the best two-token continuations, as an
// enumeration of all of them through the Scorer ranks them; beam width 1 is
// greedy decoding.
func TestBeamIsExhaustiveWhenWide(t *testing.T) {
	backend := openGo(t)
	cfg := float64Config()
	m, ctx := newModel(t, cfg)
	dec, err := m.NewDecoder(backend, ctx)
	if err != nil {
		t.Fatal(err)
	}
	prompt := []int32{4, 1, 8}
	v := cfg.VocabSize
	beams, err := dec.Beam(prompt, v, DecodeOptions{MaxNewTokens: 2})
	if err != nil {
		t.Fatal(err)
	}
	sc, err := m.NewScorer(backend, ctx)
	if err != nil {
		t.Fatal(err)
	}
	var prompts, conts [][]int32
	for a := range int32(v) {
		for b := range int32(v) {
			prompts, conts = append(prompts, prompt), append(conts, []int32{a, b})
		}
	}
	scores, err := sc.Score(prompts, conts, nil)
	if err != nil {
		t.Fatal(err)
	}
	order := make([]int, len(scores))
	for i := range order {
		order[i] = i
	}
	sort.SliceStable(order, func(a, b int) bool { return scores[order[a]] > scores[order[b]] })
	if len(beams) != v {
		t.Fatalf("%d beams, want %d", len(beams), v)
	}
	for i, bm := range beams {
		want := order[i]
		if diff := cmp.Diff(conts[want], bm.Tokens); diff != "" {
			t.Errorf("beam %d (-enumeration +beam):\n%s", i, diff)
		}
		if math.Abs(bm.LogProb-scores[want]) > 1e-5 {
			t.Errorf("beam %d: log p %.9f, Scorer %.9f", i, bm.LogProb, scores[want])
		}
	}
	one, err := dec.Beam(prompt, 1, DecodeOptions{MaxNewTokens: 5})
	if err != nil {
		t.Fatal(err)
	}
	greedy, err := dec.Generate([][]int32{prompt}, DecodeOptions{MaxNewTokens: 5})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(greedy[0].Tokens, one[0].Tokens); diff != "" {
		t.Errorf("beam width 1 vs greedy (-greedy +beam):\n%s", diff)
	}
}

// TestManyBatchShapes decodes and scores batches of 40 different sizes:
// more graphs than GoMLX's default per-Exec limit of 32.
func TestManyBatchShapes(t *testing.T) {
	backend := openGo(t)
	cfg := float64Config()
	m, ctx := newModel(t, cfg)
	dec, err := m.NewDecoder(backend, ctx)
	if err != nil {
		t.Fatal(err)
	}
	sc, err := m.NewScorer(backend, ctx)
	if err != nil {
		t.Fatal(err)
	}
	for b := 1; b <= 40; b++ {
		prompts := make([][]int32, b)
		for i := range prompts {
			prompts[i] = mixedPrompts[i%len(mixedPrompts)]
		}
		gens, err := dec.Generate(prompts, DecodeOptions{MaxNewTokens: 2})
		if err != nil {
			t.Fatalf("batch %d: %v", b, err)
		}
		conts := make([][]int32, b)
		for i, g := range gens {
			conts[i] = g.Tokens
		}
		if _, err := sc.Score(prompts, conts, nil); err != nil {
			t.Fatalf("score batch %d: %v", b, err)
		}
	}
}

// TestForwardCacheChunks: Forward with a KV cache and no padding, in two
// chunks inside one graph, gives the logits of one full forward pass.
func TestForwardCacheChunks(t *testing.T) {
	backend := openGo(t)
	cfg := float64Config()
	m, ctx := newModel(t, cfg)
	tok := tensors.FromFlatDataAndDimensions([]int32{1, 5, 2, 9, 3, 3}, 2, 3)
	e := context.MustNewExec(backend, ctx, func(ctx *context.Context, tok *graph.Node) []*graph.Node {
		full := m.Forward(ctx, Inputs{Tokens: tok}).Logits
		parts := Split(tok, 1, 2, 1)
		a := m.Forward(ctx, Inputs{Tokens: parts[0], Cache: m.NewKVCache(tok.Graph(), 2)})
		b := m.Forward(ctx, Inputs{Tokens: parts[1], Cache: a.Cache})
		return []*graph.Node{full, graph.Concatenate([]*graph.Node{a.Logits, b.Logits}, 1)}
	})
	outs := e.MustExec(tok)
	closeSlices(t, "chunked logits", flat64(outs[1]), flat64(outs[0]), 1e-12)
}
