package ml

import (
	"math"
	"testing"
	"time"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
)

func float64Config() Config {
	return Config{VocabSize: 11, DModel: 8, NumHeads: 2, NumLayers: 2, DFF: 12, MaxSeqLen: 16, QKNorm: true, DType: "float64"}
}

func newModel(t *testing.T, cfg Config) (*Transformer, *context.Context) {
	t.Helper()
	m, err := NewTransformer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.New()
	SetInitSeed(ctx, 3)
	return m, ctx
}

func flat64(t *tensors.Tensor) []float64 {
	if t.DType().String() == "Float32" {
		f := tensors.MustCopyFlatData[float32](t)
		out := make([]float64, len(f))
		for i, v := range f {
			out[i] = float64(v)
		}
		return out
	}
	return tensors.MustCopyFlatData[float64](t)
}

func closeSlices(t *testing.T, what string, got, want []float64, tol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range got {
		if math.Abs(got[i]-want[i]) > tol*(1+math.Abs(want[i])) {
			t.Fatalf("%s[%d] = %.12g, want %.12g", what, i, got[i], want[i])
		}
	}
}

// TestKVCacheMatchesFullForward decodes a sequence chunk by chunk through the
// cache and compares every next-token distribution with a full forward pass.
func TestKVCacheMatchesFullForward(t *testing.T) {
	for _, prefix := range []bool{false, true} {
		cfg := float64Config()
		if prefix {
			cfg.PrefixVocab, cfg.PrefixLen = 3, 2
		}
		backend := openGo(t)
		m, ctx := newModel(t, cfg)
		seq := []int32{1, 5, 2, 9, 3, 3, 7, 0}
		full := context.MustNewExec(backend, ctx, func(ctx *context.Context, tok, pre *graph.Node) *graph.Node {
			return graph.LogSoftmax(m.Forward(ctx, Inputs{Tokens: tok, Prefix: pre}).Logits, -1)
		})
		want := flat64(full.MustExec1(tensors.FromFlatDataAndDimensions(seq, 1, len(seq)), []int32{2}))
		dec, err := m.NewDecoder(backend, ctx)
		if err != nil {
			t.Fatal(err)
		}
		const promptLen = 3
		var pre []int32
		if prefix {
			pre = []int32{2}
		}
		st, err := dec.Start([][]int32{seq[:promptLen]}, pre)
		if err != nil {
			t.Fatal(err)
		}
		v := cfg.VocabSize
		for pos := promptLen - 1; pos < len(seq)-1; pos++ {
			got := make([]float64, v)
			for i, x := range st.LogProbs()[0] {
				got[i] = float64(x)
			}
			closeSlices(t, "next-token log-probs after position "+string(rune('0'+pos)), got, want[pos*v:(pos+1)*v], 1e-5)
			if err = st.Advance([]int32{seq[pos+1]}, nil); err != nil {
				t.Fatal(err)
			}
		}
		st.Close()
	}
}

// TestHooks checks the logit lens identity (final norm + head of the last
// residual = logits), that overwriting with an activation's own value changes
// nothing, and that patching position p changes nothing before p (causality)
// but changes p itself.
func TestHooks(t *testing.T) {
	backend := openGo(t)
	cfg := float64Config()
	m, ctx := newModel(t, cfg)
	last := HookPoint{cfg.NumLayers - 1, SiteResidOut}
	heads := HookPoint{0, SiteHeads}
	tok := tensors.FromFlatDataAndDimensions([]int32{1, 5, 2, 9, 3}, 1, 5)

	lens := context.MustNewExec(backend, ctx, func(ctx *context.Context, tok *graph.Node) []*graph.Node {
		h := NewHooks().Capture(last, heads)
		out := m.Forward(ctx, Inputs{Tokens: tok, Hooks: h})
		lensLogits := m.Head(ctx, m.FinalNorm(ctx, h.Captured(last)))
		return []*graph.Node{out.Logits, lensLogits, h.Captured(heads)}
	})
	outs := lens.MustExec(tok)
	closeSlices(t, "logit lens of the last residual", flat64(outs[1]), flat64(outs[0]), 1e-12)
	if got := outs[2].Shape().Dimensions; len(got) != 4 || got[2] != cfg.NumHeads {
		t.Fatalf("per-head capture shape %v, want [1 5 %d %d]", got, cfg.NumHeads, cfg.HeadDim())
	}
	base := flat64(outs[0])

	patched := func(value func(g *graph.Graph) *graph.Node, pos int) []float64 {
		e := context.MustNewExec(backend, ctx, func(ctx *context.Context, tok *graph.Node) *graph.Node {
			h := NewHooks().Overwrite(HookPoint{0, SiteResidMid}, []int{pos}, value(tok.Graph()))
			return m.Forward(ctx, Inputs{Tokens: tok, Hooks: h}).Logits
		})
		return flat64(e.MustExec1(tok))
	}
	v := cfg.VocabSize
	got := patched(func(g *graph.Graph) *graph.Node {
		return graph.Const(g, tensors.FromFlatDataAndDimensions(make([]float64, cfg.DModel), 1, 1, cfg.DModel))
	}, 2)
	closeSlices(t, "logits before the patched position", got[:2*v], base[:2*v], 1e-12)
	same := true
	for i := 2 * v; i < 3*v; i++ {
		same = same && got[i] == base[i]
	}
	if same {
		t.Fatal("zeroing the residual at position 2 left its logits unchanged")
	}
}

// TestAuxLossAndCapture plugs in a feed-forward that registers an auxiliary
// loss and a capture, and checks the trainer adds and reports the loss.
func TestAuxLossAndCapture(t *testing.T) {
	backend := openGo(t)
	cfg := tinyConfig()
	m, ctx := newModel(t, cfg)
	m.FeedForward = func(ctx *context.Context, layer int, x *graph.Node) *graph.Node {
		y := m.SwiGLU(ctx, layer, x)
		AddAuxLoss(ctx, "ff_l2/layer_"+string(rune('0'+layer)), graph.MulScalar(graph.ReduceAllMean(graph.Square(y)), 0.5))
		Capture(ctx, "ff_out", y)
		return y
	}
	rec := &recorder{}
	ids := make([]int32, 200)
	for i := range ids {
		ids[i] = int32(i * 7 % 256)
	}
	w, _ := NewLMWindows(ids, 2, 8, 1)
	tr, err := NewTrainer(backend, ctx, lmLoss(m), TrainConfig{Steps: 2}, rec)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tr.Step(1, w); err != nil {
		t.Fatal(err)
	}
	sr, err := tr.Step(2, w)
	if err != nil {
		t.Fatal(err)
	}
	if len(sr.Aux) != 2 || sr.Aux[0].Name != "ff_l2/layer_0" || !(sr.Aux[0].Value > 0) {
		t.Fatalf("aux losses %+v, want two positive ff_l2/layer_N values", sr.Aux)
	}
	// Captures come back as graph outputs.
	e := context.MustNewExec(backend, ctx, func(ctx *context.Context, tok *graph.Node) []*graph.Node {
		logits := m.Forward(ctx, Inputs{Tokens: tok}).Logits
		outs := []*graph.Node{logits}
		for _, c := range Captures(ctx, tok.Graph()) {
			outs = append(outs, c.Node)
		}
		return outs
	})
	outs, err := e.Exec(tensors.FromFlatDataAndDimensions([]int32{1, 2, 3}, 1, 3))
	if err != nil {
		t.Fatalf("%+v", err)
	}
	if len(outs) != 1+cfg.NumLayers || outs[1].Shape().Dim(2) != cfg.DModel {
		t.Fatalf("captures: %d outputs (%v), want logits + %d of [1 3 %d]", len(outs), outs[1].Shape(), cfg.NumLayers, cfg.DModel)
	}
}

type recorder struct {
	metrics map[string][]float64
}

func (r *recorder) Progress(string, int64, int64, string) {}
func (r *recorder) Logf(string, ...any)                   {}
func (r *recorder) Metric(name string, _ int64, v float64) {
	if r.metrics == nil {
		r.metrics = map[string][]float64{}
	}
	r.metrics[name] = append(r.metrics[name], v)
}

func timeAfter(seconds int) <-chan time.Time { return time.After(time.Duration(seconds) * time.Second) }

// TestScorerMatchesDecoder scores pairs of different lengths in one padded
// batch and compares each with the sum of the decoder's next-token
// log-probabilities (an independent path: KV cache, one pair at a time).
func TestScorerMatchesDecoder(t *testing.T) {
	backend := openGo(t)
	cfg := float64Config()
	cfg.PrefixVocab, cfg.PrefixLen = 2, 1
	m, ctx := newModel(t, cfg)
	prompts := [][]int32{{1, 2, 3}, {4}, {7, 7}}
	conts := [][]int32{{5, 6}, {9, 10, 0, 3}, {}}
	prefix := []int32{1, 0, 1}
	sc, err := m.NewScorer(backend, ctx)
	if err != nil {
		t.Fatal(err)
	}
	got, err := sc.Score(prompts, conts, prefix)
	if err != nil {
		t.Fatal(err)
	}
	dec, err := m.NewDecoder(backend, ctx)
	if err != nil {
		t.Fatal(err)
	}
	for i := range prompts {
		want := 0.0
		st, err := dec.Start([][]int32{prompts[i]}, prefix[i:i+1])
		if err != nil {
			t.Fatal(err)
		}
		for _, tok := range conts[i] {
			want += st.LogProb(0, tok)
			if err = st.Advance([]int32{tok}, nil); err != nil {
				t.Fatal(err)
			}
		}
		st.Close()
		if math.Abs(got[i]-want) > 1e-5*(1+math.Abs(want)) {
			t.Errorf("pair %d: scorer %.8f, decoder %.8f", i, got[i], want)
		}
	}
	if got[2] != 0 {
		t.Errorf("empty continuation scored %v, want 0", got[2])
	}
}
