package ml

import (
	"math"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
)

// TestGradientsMatchFiniteDifferences checks, in float64, the gradient of the
// LM loss with respect to every variable of the model — so every block:
// embedding, conditioning prefix, RMSNorms, q|k|v projection with QK-norm and
// RoPE, causal attention, output projection, SwiGLU, head — against central
// finite differences at a few coordinates each.
func TestGradientsMatchFiniteDifferences(t *testing.T) {
	backend := openGo(t)
	cfg := float64Config()
	cfg.PrefixVocab, cfg.PrefixLen = 3, 2
	m, ctx := newModel(t, cfg)
	windows := tensors.FromFlatDataAndDimensions([]int32{1, 5, 2, 9, 3, 3, 7, 0, 4, 4, 10, 6, 1, 2}, 2, 7)
	prefix := []int32{2, 0}
	loss := func(ctx *context.Context, w, p *graph.Node) *graph.Node {
		return m.LMLoss(ctx, w, nil, p)
	}
	lossExec := context.MustNewExec(backend, ctx, loss)
	lossExec.MustExec(windows, prefix) // creates the variables
	vars := VariablesUnder(ctx, "/"+ModelScope)
	gradExec := context.MustNewExec(backend, ctx, func(ctx *context.Context, w, p *graph.Node) []*graph.Node {
		l := loss(ctx, w, p)
		nodes := make([]*graph.Node, len(vars))
		for i, v := range vars {
			nodes[i] = v.ValueGraph(w.Graph())
		}
		return graph.Gradient(l, nodes...)
	})
	grads := gradExec.MustExec(windows, prefix)
	lossAt := func() float64 { return flat64(lossExec.MustExec(windows, prefix)[0])[0] }

	const h = 1e-5
	for i, v := range vars {
		t.Run(TensorName(v), func(t *testing.T) {
			g := flat64(grads[i])
			orig := flat64(v.MustValue())
			dims := v.Shape().Dimensions
			n := len(g)
			for _, k := range []int{0, n / 3, n - 1} {
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
					t.Errorf("d loss / d %s[%d]: autodiff %.10g, finite differences %.10g", TensorName(v), k, g[k], num)
				}
			}
		})
	}
	if len(vars) < 12 {
		t.Fatalf("only %d variables checked", len(vars))
	}
}

// TestGoBackendManyParallelMatmuls runs a graph with many independent
// batched matmuls (the shape that deadlocked simplego's default settings) and
// must finish.
func TestGoBackendManyParallelMatmuls(t *testing.T) {
	backend := openGo(t)
	done := make(chan error, 1)
	go func() {
		e := graph.MustNewExec(backend, func(x *graph.Node) *graph.Node {
			var sum *graph.Node
			for i := range 24 {
				y := graph.DotGeneral(graph.AddScalar(x, float64(i)), []int{2}, []int{0}, x, []int{1}, []int{0})
				s := graph.ReduceAllSum(y)
				if sum == nil {
					sum = s
				} else {
					sum = graph.Add(sum, s)
				}
			}
			return sum
		})
		x := make([]float32, 16*64*64)
		for i := range x {
			x[i] = float32(i%7) / 7
		}
		_, err := e.Exec(tensors.FromFlatDataAndDimensions(x, 16, 64, 64))
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-timeAfter(60):
		t.Fatal("simplego did not finish 24 independent batched matmuls in 60 s: deadlock?")
	}
}

// setValue sets a variable's value, failing the test on an error.
func setValue(t testing.TB, v *context.Variable, value *tensors.Tensor) {
	t.Helper()
	if err := v.SetValue(value); err != nil {
		t.Fatal(err)
	}
}
