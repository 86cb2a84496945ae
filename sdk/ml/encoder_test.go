package ml

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
)

func randFloats(seed uint64, n int) []float64 {
	r := rand.New(rand.NewPCG(seed, 7))
	v := make([]float64, n)
	for i := range v {
		v[i] = r.NormFloat64()
	}
	return v
}

// TestBidirectionalSeesFuture: changing the last token changes the first
// position's output with Bidirectional, and leaves it alone without.
func TestBidirectionalSeesFuture(t *testing.T) {
	backend := openGo(t)
	for _, bidi := range []bool{false, true} {
		cfg := float64Config()
		cfg.Bidirectional = bidi
		m, ctx := newModel(t, cfg)
		// (Logits too: simplego v0.26 fails when all outputs precede a parameter.)
		e := context.MustNewExec(backend, ctx, func(ctx *context.Context, tok *graph.Node) (*graph.Node, *graph.Node) {
			o := m.Forward(ctx, Inputs{Tokens: tok})
			return o.Hidden, o.Logits
		})
		a := flat64(e.MustExec(tensors.FromFlatDataAndDimensions([]int32{1, 5, 2, 9}, 1, 4))[0])
		b := flat64(e.MustExec(tensors.FromFlatDataAndDimensions([]int32{1, 5, 2, 3}, 1, 4))[0])
		diff := 0.0
		for i := range cfg.DModel { // position 0
			diff = math.Max(diff, math.Abs(a[i]-b[i]))
		}
		if bidi && diff < 1e-6 {
			t.Errorf("bidirectional: position 0 did not change when the last token did")
		}
		if !bidi && diff != 0 {
			t.Errorf("causal: position 0 changed by %g when the last token did", diff)
		}
	}
}

// TestBidirectionalPaddingMasked: a left-padded row of a bidirectional model
// computes what the row alone does (padding is still never attended to).
func TestBidirectionalPaddingMasked(t *testing.T) {
	backend := openGo(t)
	cfg := float64Config()
	cfg.Bidirectional = true
	m, ctx := newModel(t, cfg)
	e := context.MustNewExec(backend, ctx, func(ctx *context.Context, tok, pad *graph.Node) *graph.Node {
		return m.Forward(ctx, Inputs{Tokens: tok, Pad: pad}).Logits
	})
	v := cfg.VocabSize
	alone := flat64(e.MustExec1(tensors.FromFlatDataAndDimensions([]int32{1, 5, 2}, 1, 3), []int32{0}))
	padded := flat64(e.MustExec1(tensors.FromFlatDataAndDimensions([]int32{7, 7, 1, 5, 2}, 1, 5), []int32{2}))
	closeSlices(t, "padded row", padded[2*v:], alone, 1e-9)
}

// TestEmbeddingsPathEqualsTokens: feeding the token embeddings as
// Inputs.Embeddings (replace) gives the token path's logits; adding zeros
// changes nothing.
func TestEmbeddingsPathEqualsTokens(t *testing.T) {
	backend := openGo(t)
	cfg := float64Config()
	m, ctx := newModel(t, cfg)
	toks := []int32{1, 5, 2, 9, 3, 0}
	tokT := tensors.FromFlatDataAndDimensions(toks, 2, 3)
	want := flat64(context.MustNewExec(backend, ctx, func(ctx *context.Context, tok *graph.Node) *graph.Node {
		return m.Forward(ctx, Inputs{Tokens: tok}).Logits
	}).MustExec1(tokT))
	table := flat64(ctx.GetVariableByScopeAndName("/model/embed", "table").MustValue())
	d := cfg.DModel
	emb := make([]float64, 0, len(toks)*d)
	for _, id := range toks {
		emb = append(emb, table[int(id)*d:int(id+1)*d]...)
	}
	embT := tensors.FromFlatDataAndDimensions(emb, 2, 3, d)
	got := flat64(context.MustNewExec(backend, ctx, func(ctx *context.Context, e *graph.Node) *graph.Node {
		return m.Forward(ctx, Inputs{Embeddings: e}).Logits
	}).MustExec1(embT))
	closeSlices(t, "embeddings (tokens nil)", got, want, 1e-12)
	got = flat64(context.MustNewExec(backend, ctx, func(ctx *context.Context, tok, e *graph.Node) *graph.Node {
		return m.Forward(ctx, Inputs{Tokens: tok, Embeddings: e, EmbedMode: EmbedReplace}).Logits
	}).MustExec1(tensors.FromFlatDataAndDimensions([]int32{0, 0, 0, 0, 0, 0}, 2, 3), embT))
	closeSlices(t, "embeddings (replace)", got, want, 1e-12)
	got = flat64(context.MustNewExec(backend, ctx, func(ctx *context.Context, tok, e *graph.Node) *graph.Node {
		return m.Forward(ctx, Inputs{Tokens: tok, Embeddings: e}).Logits
	}).MustExec1(tokT, tensors.FromFlatDataAndDimensions(make([]float64, len(emb)), 2, 3, d)))
	closeSlices(t, "tokens + zero embeddings", got, want, 1e-12)
}

// TestEncoderOnlyHasNoHead: EncoderOnly with vocab_size 0 returns hidden
// states and no logits, and creates no head or embedding variables.
func TestEncoderOnlyHasNoHead(t *testing.T) {
	backend := openGo(t)
	cfg := float64Config()
	cfg.VocabSize, cfg.EncoderOnly, cfg.Bidirectional, cfg.NoRoPE = 0, true, true, true
	m, ctx := newModel(t, cfg)
	var logitsNil bool
	out := context.MustNewExec(backend, ctx, func(ctx *context.Context, e *graph.Node) *graph.Node {
		o := m.Forward(ctx, Inputs{Embeddings: e})
		logitsNil = o.Logits == nil
		return o.Hidden
	}).MustExec1(tensors.FromFlatDataAndDimensions(randFloats(1, 2*3*cfg.DModel), 2, 3, cfg.DModel))
	if !logitsNil {
		t.Error("EncoderOnly: Outputs.Logits is not nil")
	}
	if got := out.Shape().Dimensions; len(got) != 3 || got[0] != 2 || got[1] != 3 || got[2] != cfg.DModel {
		t.Errorf("hidden shape %v", got)
	}
	for _, v := range VariablesUnder(ctx, "/"+ModelScope) {
		if n := TensorName(v); n == "model.head.weights" || n == "model.embed.table" {
			t.Errorf("encoder-only model created %s", n)
		}
	}
	if _, err := NewTransformer(Config{DModel: 8, NumHeads: 2, NumLayers: 1, MaxSeqLen: 4}); err == nil {
		t.Error("vocab_size 0 without encoder_only was accepted")
	}
}

// TestPatchEmbedMatchesLoop compares PatchEmbed with a naive per-patch loop.
func TestPatchEmbedMatchesLoop(t *testing.T) {
	backend := openGo(t)
	const B, H, W, C, P, D = 2, 4, 6, 3, 2, 5
	img := randFloats(2, B*H*W*C)
	ctx := context.New()
	SetInitSeed(ctx, 1)
	got := flat64(context.MustNewExec(backend, ctx, func(ctx *context.Context, x *graph.Node) *graph.Node {
		return PatchEmbed(ctx.In("patch"), x, P, D)
	}).MustExec1(tensors.FromFlatDataAndDimensions(img, B, H, W, C)))
	w := flat64(ctx.GetVariableByScopeAndName("/patch", "weights").MustValue()) // [P·P·C, D]
	var want []float64
	for b := range B {
		for py := range H / P {
			for px := range W / P {
				for d := range D {
					s := 0.0
					for y := range P {
						for x := range P {
							for c := range C {
								in := ((y*P)+x)*C + c
								s += img[((b*H+py*P+y)*W+px*P+x)*C+c] * w[in*D+d]
							}
						}
					}
					want = append(want, s)
				}
			}
		}
	}
	closeSlices(t, "PatchEmbed", got, want, 1e-12)
}

// TestSinCos2D checks the table's layout on a few entries.
func TestSinCos2D(t *testing.T) {
	tab := SinCos2D(2, 3, 8)            // q = 2, ω = 1, 0.01
	row := tab[(1*3+2)*8 : (1*3+2)*8+8] // y=1, x=2
	want := []float64{math.Sin(1), math.Sin(0.01), math.Cos(1), math.Cos(0.01), math.Sin(2), math.Sin(0.02), math.Cos(2), math.Cos(0.02)}
	closeSlices(t, "SinCos2D[y=1,x=2]", row, want, 1e-12)
}

// TestEncoderGradientsMatchFiniteDifferences: a tiny ViT (PatchEmbed +
// learned 2-D positions + bidirectional encoder-only transformer without
// RoPE) and a decoder fed tokens plus added embeddings; gradients of every
// variable against central finite differences, in float64.
func TestEncoderGradientsMatchFiniteDifferences(t *testing.T) {
	backend := openGo(t)
	vit := float64Config()
	vit.VocabSize, vit.EncoderOnly, vit.Bidirectional, vit.NoRoPE, vit.NumLayers = 0, true, true, true, 1
	vm, err := NewTransformer(vit)
	if err != nil {
		t.Fatal(err)
	}
	lm, err := NewTransformer(float64Config())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.New()
	SetInitSeed(ctx, 5)
	const B, H, W, C, P = 2, 4, 4, 2, 2
	d := vit.DModel
	img := tensors.FromFlatDataAndDimensions(randFloats(3, B*H*W*C), B, H, W, C)
	mix := tensors.FromFlatDataAndDimensions(randFloats(4, B*4*d), B, 4, d)
	toks := tensors.FromFlatDataAndDimensions([]int32{1, 5, 2, 9, 3, 3, 7, 0}, B, 4)
	sel := tensors.FromFlatDataAndDimensions(randFloats(6, B*4*11), B, 4, 11)
	loss := func(ctx *context.Context, x, r, w, s *graph.Node) *graph.Node {
		v := ctx.In("vit")
		e := graph.Add(PatchEmbed(v.In("patch"), x, P, d), graph.ExpandAxes(PatchPositions(v, x.Graph(), H/P, W/P, d, x.DType(), true), 0))
		h := vm.Forward(v, Inputs{Embeddings: e}).Hidden // [B, 4, d]
		// Condition the LM: the image features are added to the token embeddings.
		logits := lm.Forward(ctx.In("lm"), Inputs{Tokens: w, Embeddings: graph.Mul(h, r)}).Logits
		return graph.MulScalar(graph.ReduceAllSum(graph.Mul(graph.LogSoftmax(logits, -1), s)), 0.1)
	}
	lossExec := context.MustNewExec(backend, ctx, loss)
	lossExec.MustExec(img, mix, toks, sel)
	vars := VariablesUnder(ctx, context.RootScope)
	gradExec := context.MustNewExec(backend, ctx, func(ctx *context.Context, x, r, w, s *graph.Node) []*graph.Node {
		l := loss(ctx, x, r, w, s)
		nodes := make([]*graph.Node, len(vars))
		for i, v := range vars {
			nodes[i] = v.ValueGraph(x.Graph())
		}
		return graph.Gradient(l, nodes...)
	})
	grads := gradExec.MustExec(img, mix, toks, sel)
	lossAt := func() float64 { return flat64(lossExec.MustExec(img, mix, toks, sel)[0])[0] }
	const h = 1e-5
	for i, v := range vars {
		g := flat64(grads[i])
		orig := flat64(v.MustValue())
		dims := v.Shape().Dimensions
		for _, k := range []int{0, len(g) / 3, len(g) - 1} {
			vals := append([]float64(nil), orig...)
			vals[k] += h
			setValue(t, v, tensors.FromFlatDataAndDimensions(vals, dims...))
			up := lossAt()
			vals[k] -= 2 * h
			setValue(t, v, tensors.FromFlatDataAndDimensions(vals, dims...))
			down := lossAt()
			setValue(t, v, tensors.FromFlatDataAndDimensions(orig, dims...))
			num := (up - down) / (2 * h)
			if math.Abs(num-g[k]) > 1e-6+1e-5*math.Abs(num) {
				t.Errorf("d loss / d %s[%d]: autodiff %.10g, finite differences %.10g", v.ScopeAndName(), k, g[k], num)
			}
		}
	}
	if len(vars) < 20 {
		t.Fatalf("only %d variables checked", len(vars))
	}
}

// TestDecoderStartEmbedded: the first chunk's input embeddings condition
// decoding exactly as a full forward pass with Inputs.Embeddings does, for
// left-padded prompts of different lengths; a nil entry equals Start.
func TestDecoderStartEmbedded(t *testing.T) {
	backend := openGo(t)
	cfg := float64Config()
	m, ctx := newModel(t, cfg)
	d := cfg.DModel
	prompts := [][]int32{{1, 5, 2, 9}, {3, 7}}
	emb := [][]float32{make([]float32, 4*d), nil}
	for i, v := range randFloats(9, 4*d) {
		emb[0][i] = float32(v)
	}
	full := context.MustNewExec(backend, ctx, func(ctx *context.Context, tok, e *graph.Node) *graph.Node {
		return m.Forward(ctx, Inputs{Tokens: tok, Embeddings: e}).Logits
	})
	dec, err := m.NewDecoder(backend, ctx)
	if err != nil {
		t.Fatal(err)
	}
	st, err := dec.StartEmbedded(prompts, nil, emb)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	plain, err := dec.Start(prompts[1:], nil)
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	v := cfg.VocabSize
	for i, p := range prompts {
		e := make([]float64, len(p)*d)
		for k := range emb[i] {
			e[k] = float64(emb[i][k])
		}
		want := flat64(full.MustExec1(tensors.FromFlatDataAndDimensions(p, 1, len(p)), tensors.FromFlatDataAndDimensions(e, 1, len(p), d)))
		want = want[(len(p)-1)*v:]
		got := make([]float64, v)
		for k, x := range st.Logits(i) {
			got[k] = float64(x)
		}
		closeSlices(t, "embedded start logits", got, want, 1e-5)
	}
	a, b := st.Logits(1), plain.Logits(0)
	for k := range a {
		if math.Abs(float64(a[k]-b[k])) > 1e-6 {
			t.Fatalf("nil embeddings differ from Start at %d: %v vs %v", k, a[k], b[k])
		}
	}
	if _, err := dec.StartEmbedded(prompts, nil, [][]float32{make([]float32, 3), nil}); err == nil {
		t.Error("embeddings of the wrong length accepted")
	}
	// Generate takes them too; with zero embeddings it equals plain decoding.
	g1, err := dec.Generate(prompts, DecodeOptions{MaxNewTokens: 3, Embeddings: [][]float32{make([]float32, 4*d), nil}})
	if err != nil {
		t.Fatal(err)
	}
	g2, err := dec.Generate(prompts, DecodeOptions{MaxNewTokens: 3})
	if err != nil {
		t.Fatal(err)
	}
	for i := range g1 {
		if len(g1[i].Tokens) != len(g2[i].Tokens) || math.Abs(g1[i].LogProb-g2[i].LogProb) > 1e-6 {
			t.Errorf("prompt %d: %+v vs %+v", i, g1[i], g2[i])
		}
	}
}

// TestScoreEmbedded: the Scorer with input embeddings equals summing the
// continuation's log-probs from a full Forward with Inputs.Embeddings, and
// zero embeddings equal Score.
func TestScoreEmbedded(t *testing.T) {
	backend := openGo(t)
	cfg := float64Config()
	m, ctx := newModel(t, cfg)
	d := cfg.DModel
	prompt, cont := []int32{1, 5, 2}, []int32{9, 3}
	emb := make([]float32, len(prompt)*d)
	for i, v := range randFloats(11, len(emb)) {
		emb[i] = float32(v)
	}
	sc, err := m.NewScorer(backend, ctx)
	if err != nil {
		t.Fatal(err)
	}
	got, err := sc.ScoreEmbedded([][]int32{prompt, prompt}, [][]int32{cont, cont}, nil, [][]float32{emb, nil})
	if err != nil {
		t.Fatal(err)
	}
	plain, err := sc.Score([][]int32{prompt}, [][]int32{cont}, nil)
	if err != nil {
		t.Fatal(err)
	}
	seq := append(append([]int32(nil), prompt...), cont...)
	e := make([]float64, len(seq)*d)
	for i, v := range emb {
		e[i] = float64(v)
	}
	lp := flat64(context.MustNewExec(backend, ctx, func(ctx *context.Context, tok, e *graph.Node) *graph.Node {
		return graph.LogSoftmax(m.Forward(ctx, Inputs{Tokens: tok, Embeddings: e}).Logits, -1)
	}).MustExec1(tensors.FromFlatDataAndDimensions(seq, 1, len(seq)), tensors.FromFlatDataAndDimensions(e, 1, len(seq), d)))
	want := 0.0
	v := cfg.VocabSize
	for j := len(prompt); j < len(seq); j++ {
		want += lp[(j-1)*v+int(seq[j])]
	}
	closeSlices(t, "ScoreEmbedded", got[:1], []float64{want}, 1e-6)
	closeSlices(t, "ScoreEmbedded nil row", got[1:], plain, 1e-9)
	if math.Abs(got[0]-got[1]) < 1e-9 {
		t.Error("embeddings changed nothing")
	}
}
