package ml

import (
	gocontext "context"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/google/go-cmp/cmp"
)

// weightsUnder copies every variable under scope.
func weightsUnder(t *testing.T, ctx *context.Context, scope string) map[string][]float32 {
	t.Helper()
	out := map[string][]float32{}
	for _, v := range VariablesUnder(ctx, scope) {
		out[TensorName(v)] = tensors.MustCopyFlatData[float32](v.MustValue())
	}
	return out
}

// TestSecondModelUntouchedByTraining trains a policy under /policy next to
// a reference under /ref that the loss never reads, with AdamW weight decay,
// without and with gradient accumulation: the reference must stay bit for
// bit what it was (decay used to shrink it when AccumSteps > 1).
func TestSecondModelUntouchedByTraining(t *testing.T) {
	backend := openGo(t)
	cfg := Config{VocabSize: 256, DModel: 16, NumHeads: 2, NumLayers: 1, MaxSeqLen: 16}
	ids, _ := ByteTokenizer{}.Encode(strings.Repeat("frozen means frozen. ", 10))
	w, _ := NewLMWindows(ids, 2, 8, 1)
	for _, accum := range []int{1, 2} {
		m, ctx := newModel(t, cfg)
		// Build the reference's variables.
		ref := context.MustNewExec(backend, ctx, func(ctx *context.Context, tok *graph.Node) *graph.Node {
			return m.Forward(ctx.In("ref"), Inputs{Tokens: tok}).Logits
		})
		ref.MustExec(tensors.FromFlatDataAndDimensions([]int32{1, 2}, 1, 2))
		before := weightsUnder(t, ctx, "/ref")
		if len(before) == 0 {
			t.Fatal("no reference variables")
		}
		tr, err := NewTrainer(backend, ctx, func(ctx *context.Context, b []*graph.Node) *graph.Node {
			return m.LMLoss(ctx.In("policy"), b[0], nil, nil)
		}, TrainConfig{Steps: 2, LR: 1e-2, WeightDecay: 0.5, AccumSteps: accum}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tr.Train(gocontext.Background(), w, nil); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(before, weightsUnder(t, ctx, "/ref")); diff != "" {
			t.Errorf("accum_steps=%d: training the policy changed the reference (-before +after):\n%.1500s", accum, diff)
		}
		for v := range ctx.IterVariables() {
			if strings.HasPrefix(v.Scope(), OptimizerScope+"/") && strings.Contains(v.Scope(), "/ref/") {
				t.Errorf("accum_steps=%d: optimizer state %s for the reference", accum, v.ScopeAndName())
			}
		}
	}
}
