package ml

import (
	"math"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
)

// TestAdamWMatchesReference checks the trainer's folded AdamW update against
// the textbook formulas in float64: clipping to the global norm, bias
// corrections, warmup and cosine schedule, decay of rank-2 weights only, and
// an LR group scaling both the step and the decay. The loss
// Σ c⊙w + Σ b² has the gradients c and 2b, so the reference needs no autodiff.
func TestAdamWMatchesReference(t *testing.T) {
	backend := openGo(t)
	w0 := []float64{0.5, -1, 2, 0.1, 0.3, -0.7}
	c := []float64{3, -2, 0.5, 1, -4, 2.5}
	b0 := []float64{1, -0.5, 2}
	cfg := TrainConfig{Steps: 5, LR: 0.05, WarmupSteps: 2, WeightDecay: 0.1, ClipNorm: 1,
		LRGroups: []LRGroup{{Scope: "/g", Scale: 0.5}}}
	ctx := context.New()
	ctx.In("w").VariableWithValue("w", tensorFromFloat64(shapes.Make(dtypes.Float32, 2, 3), w0))
	ctx.In("g").VariableWithValue("b", tensorFromFloat64(shapes.Make(dtypes.Float32, 3), b0))
	tr, err := NewTrainer(backend, ctx, func(ctx *context.Context, batch []*graph.Node) *graph.Node {
		g := batch[0].Graph()
		w := Weight(ctx.In("w"), "w", shapes.Make(dtypes.Float32, 2, 3), 0).ValueGraph(g)
		b := Weight(ctx.In("g"), "b", shapes.Make(dtypes.Float32, 3), 0).ValueGraph(g)
		cw := graph.Const(g, tensorFromFloat64(shapes.Make(dtypes.Float32, 2, 3), c))
		zero := graph.MulScalar(graph.ConvertDType(graph.ReduceAllSum(batch[0]), dtypes.Float32), 0)
		return graph.Add(graph.Add(graph.ReduceAllSum(graph.Mul(w, cw)), graph.ReduceAllSum(graph.Square(b))), zero)
	}, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	windows, err := NewLMWindows(make([]int32, 64), 1, 4, 1)
	if err != nil {
		t.Fatal(err)
	}

	// Reference.
	def := cfg.withDefaults()
	w, b := append([]float64(nil), w0...), append([]float64(nil), b0...)
	mw, vw, mb, vb := make([]float64, 6), make([]float64, 6), make([]float64, 3), make([]float64, 3)
	adam := func(p, m, v, grad []float64, scale, lr float64, decay bool, step int) {
		bc1, bc2 := 1-math.Pow(def.Beta1, float64(step)), 1-math.Pow(def.Beta2, float64(step))
		for i := range p {
			gi := grad[i] * scale
			m[i] = def.Beta1*m[i] + (1-def.Beta1)*gi
			v[i] = def.Beta2*v[i] + (1-def.Beta2)*gi*gi
			upd := (m[i] / bc1) / (math.Sqrt(v[i]/bc2) + def.Eps)
			if decay {
				upd += def.WeightDecay * p[i]
			}
			p[i] -= lr * upd
		}
	}
	for step := 1; step <= cfg.Steps; step++ {
		gb := make([]float64, 3)
		sq := 0.0
		for i := range c {
			sq += c[i] * c[i]
		}
		for i := range b {
			gb[i] = 2 * b[i]
			sq += gb[i] * gb[i]
		}
		norm := math.Sqrt(sq)
		scale := math.Min(1, def.ClipNorm/(norm+1e-6))
		lr := cfg.LRAt(step)
		adam(w, mw, vw, c, scale, lr, true, step)
		adam(b, mb, vb, gb, scale, 0.5*lr, false, step)

		res, err := tr.Step(step, windows)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(res.GradNorm-norm) > 1e-5*norm {
			t.Errorf("step %d: gradient norm %v, want %v", step, res.GradNorm, norm)
		}
	}
	got := map[string][]float32{}
	for _, v := range VariablesUnder(ctx, "/w") {
		got["w"] = tensors.MustCopyFlatData[float32](v.MustValue())
	}
	for _, v := range VariablesUnder(ctx, "/g") {
		got["b"] = tensors.MustCopyFlatData[float32](v.MustValue())
	}
	for name, want := range map[string][]float64{"w": w, "b": b} {
		if len(got[name]) != len(want) {
			t.Fatalf("%s: got %d values, want %d", name, len(got[name]), len(want))
		}
		for i := range want {
			if math.Abs(float64(got[name][i])-want[i]) > 1e-6 {
				t.Errorf("%s[%d] after %d steps = %v, want %v (textbook AdamW)", name, i, cfg.Steps, got[name][i], want[i])
			}
		}
	}
}
