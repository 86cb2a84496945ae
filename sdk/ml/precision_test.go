package ml

import (
	gocontext "context"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/ml/context"
)

// TestMixedPrecisionMatMul: in a graph marked bfloat16 the product is
// computed from bf16-rounded operands (so it differs from the f32 product by
// bf16's rounding, and not more) and comes back as float32; its gradients
// too.
func TestMixedPrecisionMatMul(t *testing.T) {
	backend := openGo(t)
	rng := rand.New(rand.NewPCG(3, 4))
	x := make([][]float32, 8)
	for i := range x {
		x[i] = make([]float32, 16)
		for j := range x[i] {
			x[i][j] = float32(rng.NormFloat64())
		}
	}
	build := func(mixed bool) func(ctx *context.Context, xs *graph.Node) []*graph.Node {
		return func(ctx *context.Context, xs *graph.Node) []*graph.Node {
			g := xs.Graph()
			if mixed {
				SetComputeDType(g, dtypes.BFloat16)
			}
			w := Weight(ctx, "w", shapes.Make(dtypes.Float32, 16, 4), 1).ValueGraph(g)
			y := MatMul(xs, w)
			loss := graph.ReduceAllSum(graph.Mul(y, y))
			grad := graph.Gradient(loss, xs)[0]
			return []*graph.Node{y, grad}
		}
	}
	run := func(mixed bool) (y, dx [][]float32, dt dtypes.DType) {
		ctx := context.New()
		SetInitSeed(ctx, 1)
		out, err := context.ExecOnceN(backend, ctx, build(mixed), x)
		if err != nil {
			t.Fatal(err)
		}
		return out[0].Value().([][]float32), out[1].Value().([][]float32), out[0].DType()
	}
	y32, dx32, _ := run(false)
	y16, dx16, dt := run(true)
	if dt != dtypes.Float32 {
		t.Fatalf("mixed-precision product came back as %s, want float32 (the model's dtype)", dt)
	}
	maxRel := func(a, b [][]float32) (worst float64, same bool) {
		same = true
		var scale float64
		for i := range a {
			for j := range a[i] {
				scale = math.Max(scale, math.Abs(float64(a[i][j])))
				worst = math.Max(worst, math.Abs(float64(a[i][j]-b[i][j])))
				same = same && a[i][j] == b[i][j]
			}
		}
		return worst / scale, same
	}
	for _, c := range []struct {
		name string
		a, b [][]float32
	}{{"product", y32, y16}, {"gradient", dx32, dx16}} {
		rel, same := maxRel(c.a, c.b)
		t.Logf("%s: largest |f32 − bf16| / max|f32| = %.2g", c.name, rel)
		if same {
			t.Errorf("%s: bf16 compute gave bit-identical results: the products did not run in bfloat16", c.name)
		}
		if rel > 0.03 { // bf16 keeps 8 significant bits: ≈ 0.4 % per operand
			t.Errorf("%s: bf16 differs from f32 by %.3g of the largest value, want < 0.03", c.name, rel)
		}
	}
}

// TestMixedPrecisionTrains: the tiny model trained with bfloat16 products
// (float32 master weights, norms, softmax, loss) reaches a loss close to
// the float32 run's on the same data and seed, and its variables stay
// float32.
func TestMixedPrecisionTrains(t *testing.T) {
	if testing.Short() {
		t.Skip("trains two models")
	}
	backend := openGo(t)
	text := "the quick brown fox jumps over the lazy dog. pack my box with five dozen liquor jugs. "
	ids, _ := ByteTokenizer{}.Encode(text + text + text)
	w, err := NewLMWindows(ids, 4, 32, 1)
	if err != nil {
		t.Fatal(err)
	}
	train := func(compute string) (float64, *context.Context) {
		cfg := tinyConfig()
		cfg.ComputeDType = compute
		m, err := NewTransformer(cfg)
		if err != nil {
			t.Fatal(err)
		}
		ctx := context.New()
		SetInitSeed(ctx, 1)
		tr, err := NewTrainer(backend, ctx, lmLoss(m), TrainConfig{Steps: 25, LR: 1e-2, WarmupSteps: 5, ClipNorm: 1}, nil)
		if err != nil {
			t.Fatal(err)
		}
		res, err := tr.Train(gocontext.Background(), w, nil)
		if err != nil {
			t.Fatal(err)
		}
		return res.FinalLoss, ctx
	}
	l32, _ := train(ComputeFloat32)
	l16, ctx := train(ComputeBFloat16)
	t.Logf("final loss: float32 %.4f, bfloat16 products %.4f (start ≈ ln 256 = 5.55)", l32, l16)
	if !(l32 < 4.5) {
		t.Fatalf("the float32 run did not learn (loss %.3f); the comparison means nothing", l32)
	}
	if math.Abs(l16-l32) > 0.15+0.1*l32 {
		t.Errorf("bfloat16 run ends at loss %.4f vs float32 %.4f: further apart than bf16 rounding explains", l16, l32)
	}
	for v := range ctx.IterVariables() {
		if dt := v.Shape().DType; dt != dtypes.Float32 {
			t.Errorf("variable %s is %s: master weights and optimizer state must stay float32", v.ScopeAndName(), dt)
		}
	}
	if err := (Config{VocabSize: 4, DModel: 4, NumHeads: 1, NumLayers: 1, DFF: 4, MaxSeqLen: 4, DType: "float32", ComputeDType: "float16"}).Validate(); err == nil {
		t.Error("compute_dtype float16 was accepted")
	}
}
