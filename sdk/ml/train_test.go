package ml

import (
	gocontext "context"
	"math"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/google/go-cmp/cmp"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/ml/context"
)

func openGo(t testing.TB) backends.Backend {
	t.Helper()
	b, err := OpenBackend("go")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Finalize)
	return b
}

func tinyConfig() Config {
	return Config{VocabSize: 256, DModel: 32, NumHeads: 2, NumLayers: 2, MaxSeqLen: 64}
}

func lmLoss(m *Transformer) LossFn {
	return func(ctx *context.Context, batch []*graph.Node) *graph.Node {
		return m.LMLoss(ctx, batch[0], nil, nil)
	}
}

// TestOverfitTinyText trains a tiny model on one short text until it has
// memorised it: the loss must fall from ~ln(256) to near zero.
func TestOverfitTinyText(t *testing.T) {
	backend := openGo(t)
	m, err := NewTransformer(tinyConfig())
	if err != nil {
		t.Fatal(err)
	}
	text := "the quick brown fox jumps over the lazy dog. "
	ids, _ := ByteTokenizer{}.Encode(text + text)
	w, err := NewLMWindows(ids, 4, 16, 1)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.New()
	SetInitSeed(ctx, 1)
	rec := &recorder{}
	tr, err := NewTrainer(backend, ctx, lmLoss(m), TrainConfig{Steps: 150, LR: 1e-2, WarmupSteps: 10, ClipNorm: 1, EvalEvery: 50,
		Probe: func(step int) ([]NamedValue, error) { return []NamedValue{{"probed_at", float64(step)}}, nil }}, rec)
	if err != nil {
		t.Fatal(err)
	}
	eval, _ := w.Batch(0)
	res, err := tr.Train(gocontext.Background(), w, [][]*tensors.Tensor{eval})
	if got := len(rec.metrics["eval/loss"]); got != 3 || len(rec.metrics["train/loss"]) != 150 {
		t.Errorf("%d eval/loss and %d train/loss metrics, want 3 (every 50 steps) and 150", got, len(rec.metrics["train/loss"]))
	}
	if diff := cmp.Diff([]float64{50, 100, 150}, rec.metrics["eval/probed_at"]); diff != "" {
		t.Errorf("Probe's eval/probed_at values (-want +got):\n%s", diff)
	}
	if !(res.EvalLoss < 0.1) {
		t.Errorf("eval loss %v on memorised windows, want < 0.1", res.EvalLoss)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("final loss %.4f, step time %v", res.FinalLoss, res.StepTime)
	if res.FinalLoss > 0.1 {
		t.Fatalf("final loss %.4f, want < 0.1 after memorising %d windows", res.FinalLoss, w.NumWindows())
	}

	// The memorised text comes back from greedy decoding with the KV cache,
	// from beam search, and from low-temperature sampling.
	dec, err := m.NewDecoder(backend, ctx)
	if err != nil {
		t.Fatal(err)
	}
	prompt, _ := ByteTokenizer{}.Encode("the quick ")
	want := "brown fox"
	gens, err := dec.Generate([][]int32{prompt, prompt[:4]}, DecodeOptions{MaxNewTokens: len(want)})
	if err != nil {
		t.Fatal(err)
	}
	if got := (ByteTokenizer{}).Decode(gens[0].Tokens); got != want {
		t.Errorf("greedy continuation of %q = %q, want %q", "the quick ", got, want)
	}
	if got := (ByteTokenizer{}).Decode(gens[1].Tokens); got != "quick bro" {
		t.Errorf("greedy continuation of %q = %q, want %q", "the ", got, "quick bro")
	}
	beams, err := dec.Beam(prompt, 3, DecodeOptions{MaxNewTokens: len(want)})
	if err != nil {
		t.Fatal(err)
	}
	if got := (ByteTokenizer{}).Decode(beams[0].Tokens); got != want || beams[0].LogProb < gens[0].LogProb-1e-4 {
		t.Errorf("best beam %q (log p %.4f), want %q scoring at least greedy's %.4f", got, beams[0].LogProb, want, gens[0].LogProb)
	}
	if len(beams) != 3 || beams[1].LogProb > beams[0].LogProb {
		t.Errorf("beams not sorted best first: %+v", beams)
	}
	sampled, err := dec.Generate([][]int32{prompt}, DecodeOptions{MaxNewTokens: len(want), Temperature: 0.05, TopK: 5, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	if got := (ByteTokenizer{}).Decode(sampled[0].Tokens); got != want {
		t.Errorf("sampling at temperature 0.05: %q, want %q", got, want)
	}
}

// TestNonFiniteLossFailsWithStep makes the loss infinite from the third step
// on and expects the trainer to stop there, naming the step.
func TestNonFiniteLossFailsWithStep(t *testing.T) {
	backend := openGo(t)
	m, err := NewTransformer(tinyConfig())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.New()
	ids := make([]int32, 400)
	for i := range ids {
		ids[i] = int32(i % 97)
	}
	w, _ := NewLMWindows(ids, 2, 8, 1)
	// The batch carries a scale: 1 for the first two steps, +Inf afterwards.
	scaled := BatchFunc(func(i int) ([]*tensors.Tensor, error) {
		b, err := w.Batch(i)
		scale := float32(1)
		if i >= 2 {
			scale = float32(math.Inf(1))
		}
		return append(b, tensors.FromValue(scale)), err
	})
	loss := func(ctx *context.Context, b []*graph.Node) *graph.Node {
		return graph.Mul(m.LMLoss(ctx, b[0], nil, nil), b[1])
	}
	tr, err := NewTrainer(backend, ctx, loss, TrainConfig{Steps: 5}, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := tr.Train(gocontext.Background(), scaled, nil)
	if err == nil || !strings.Contains(err.Error(), "step 3:") || res.Steps != 2 {
		t.Fatalf("Train: steps=%d err=%v, want a failure at step 3 after 2 good steps", res.Steps, err)
	}
}
