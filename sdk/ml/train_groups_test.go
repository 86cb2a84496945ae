package ml

import (
	gocontext "context"
	"math"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/google/go-cmp/cmp"
	"github.com/shammie-ml/shammie/sdk"
)

// twoModelLoss trains on the sum of the LM losses of the models under /a
// and /b; with metric it also reports their difference, which must not
// change training.
func twoModelLoss(m *Transformer, metric bool) LossFn {
	return func(ctx *context.Context, b []*graph.Node) *graph.Node {
		la := m.LMLoss(ctx.In("a"), b[0], nil, nil)
		lb := m.LMLoss(ctx.In("b"), b[0], nil, nil)
		if metric {
			AddMetric(ctx, "a_minus_b", graph.Sub(la, lb))
		}
		return graph.Add(la, lb)
	}
}

func maxAbsDelta(before, after map[string][]float32) float64 {
	var mx float64
	for k, v := range before {
		for i := range v {
			mx = math.Max(mx, math.Abs(float64(after[k][i]-v[i])))
		}
	}
	return mx
}

// TestTrainableScopesGroupsAndMetrics: a frozen scope stays bit-identical
// though the loss reads it; a learning-rate group scales the first Adam
// step (≈ lr·scale per weight); a metric is reported every step and leaves
// the weights exactly as without it.
func TestTrainableScopesGroupsAndMetrics(t *testing.T) {
	backend := openGo(t)
	cfg := Config{VocabSize: 256, DModel: 16, NumHeads: 2, NumLayers: 1, MaxSeqLen: 16}
	ids, _ := ByteTokenizer{}.Encode(strings.Repeat("groups and scopes. ", 10))
	w, _ := NewLMWindows(ids, 2, 8, 1)
	run := func(tc TrainConfig, metric bool, rep *recorder) (before, after map[string]map[string][]float32) {
		m, ctx := newModel(t, cfg)
		e := context.MustNewExec(backend, ctx, func(ctx *context.Context, b []*graph.Node) *graph.Node { return twoModelLoss(m, false)(ctx, b) })
		batch, _ := w.Batch(0)
		e.MustExec(batch[0])
		before = map[string]map[string][]float32{"a": weightsUnder(t, ctx, "/a"), "b": weightsUnder(t, ctx, "/b")}
		var r sdk.Reporter
		if rep != nil {
			r = rep
		}
		tr, err := NewTrainer(backend, ctx, twoModelLoss(m, metric), tc, r)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tr.Train(gocontext.Background(), w, nil); err != nil {
			t.Fatal(err)
		}
		after = map[string]map[string][]float32{"a": weightsUnder(t, ctx, "/a"), "b": weightsUnder(t, ctx, "/b")}
		return
	}
	for _, accum := range []int{1, 2} {
		before, after := run(TrainConfig{Steps: 2, LR: 1e-2, WeightDecay: 0.5, AccumSteps: accum, Trainable: []string{"/a"}}, false, nil)
		if diff := cmp.Diff(before["b"], after["b"]); diff != "" {
			t.Errorf("accum %d: frozen /b changed (-before +after):\n%.1000s", accum, diff)
		}
		if maxAbsDelta(before["a"], after["a"]) == 0 {
			t.Errorf("accum %d: trainable /a did not change", accum)
		}
	}
	// One step, constant lr: Adam's first update is ≈ lr·scale·sign(g).
	tc := TrainConfig{Steps: 1, LR: 1e-3, MinLRRatio: 1, LRGroups: []LRGroup{{"/b", 3}, {"/b/model/head", 0}}}
	before, after := run(tc, false, nil)
	da, db := maxAbsDelta(before["a"], after["a"]), maxAbsDelta(before["b"], after["b"])
	if math.Abs(da-1e-3) > 1e-5 || math.Abs(db-3e-3) > 3e-5 {
		t.Errorf("largest first-step change: /a %g (want 1e-3), /b %g (want 3e-3)", da, db)
	}
	if diff := cmp.Diff(before["b"]["b.model.head.weights"], after["b"]["b.model.head.weights"]); diff != "" {
		t.Errorf("the head under a scale-0 group changed:\n%.500s", diff)
	}

	// A metric: reported each step, not part of the objective.
	tc = TrainConfig{Steps: 3, LR: 1e-2, AccumSteps: 2}
	_, plain := run(tc, false, nil)
	rep := &recorder{}
	_, withMetric := run(tc, true, rep)
	if diff := cmp.Diff(plain, withMetric); diff != "" {
		t.Errorf("adding a metric changed training (-without +with):\n%.1000s", diff)
	}
	if n := len(rep.metrics["train/a_minus_b"]); n != 3 {
		t.Errorf("train/a_minus_b reported %d times, want 3 (metrics: %v)", n, rep.metrics)
	}
}
