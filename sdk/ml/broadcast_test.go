package ml

import (
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// TestBroadcastHelpersMatchGoMLX checks ExpandLast, SumLast, ExpandTo,
// SoftmaxLast and SiLUMul against GoMLX's implicit broadcasting, graph.Softmax
// and autodiff of x·σ(x)·u:
// values and gradients (with respect to every input) equal to 1e-6 (SiLUMul
// and SoftmaxLast: 1e-5, their written-out derivatives sum and round in
// another order), for
// widths that are and are not powers of two.
func TestBroadcastHelpersMatchGoMLX(t *testing.T) {
	backend := openGo(t)
	rng := rand.New(rand.NewPCG(5, 6))
	randT := func(dims ...int) *tensors.Tensor {
		n := 1
		for _, d := range dims {
			n *= d
		}
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(rng.NormFloat64())
		}
		return tensors.FromFlatDataAndDimensions(v, dims...)
	}
	type fn func(x, s, b *graph.Node) *graph.Node
	for _, d := range []int{1, 2, 7, 8, 176} {
		x, s, b := randT(3, 5, d), randT(3, 5, 1), randT(1, 1, d)
		cases := []struct {
			name       string
			ours, want fn
		}{
			{"ExpandLast", func(x, s, _ *graph.Node) *graph.Node { return graph.Mul(x, ExpandLast(s, d)) },
				func(x, s, _ *graph.Node) *graph.Node { return graph.Mul(x, s) }},
			{"SumLast", func(x, s, _ *graph.Node) *graph.Node { return graph.Mul(SumLast(graph.Square(x)), s) },
				func(x, s, _ *graph.Node) *graph.Node {
					return graph.Mul(graph.ReduceAndKeep(graph.Square(x), graph.ReduceSum, -1), s)
				}},
			{"ExpandTo", func(x, _, b *graph.Node) *graph.Node { return graph.Mul(x, ExpandTo(b, 3, 5, d)) },
				func(x, _, b *graph.Node) *graph.Node { return graph.Mul(x, b) }},
			{"ExpandToRank1", func(x, _, b *graph.Node) *graph.Node { return graph.Mul(x, ExpandTo(graph.Reshape(b, d), 3, 5, d)) },
				func(x, _, b *graph.Node) *graph.Node {
					return graph.Mul(x, graph.ExpandLeftToRank(graph.Reshape(b, d), 3))
				}},
			{"SoftmaxLast", func(x, s, b *graph.Node) *graph.Node {
				return graph.Mul(SoftmaxLast(graph.Add(x, ExpandTo(b, 3, 5, d))), x)
			},
				func(x, s, b *graph.Node) *graph.Node { return graph.Mul(graph.Softmax(graph.Add(x, b), -1), x) }},
			{"SiLUMul", func(x, s, b *graph.Node) *graph.Node { return SiLUMul(x, graph.Add(graph.Mul(x, s), b)) },
				func(x, s, b *graph.Node) *graph.Node {
					return graph.Mul(graph.Mul(x, graph.Sigmoid(x)), graph.Add(graph.Mul(x, s), b))
				}},
		}
		for _, c := range cases {
			run := func(f fn) []*tensors.Tensor {
				e := graph.MustNewExec(backend, func(x, s, b *graph.Node) []*graph.Node {
					y := f(x, s, b)
					// A loss that weighs every output differently.
					w := graph.Iota(x.Graph(), y.Shape(), y.Rank()-1)
					loss := graph.ReduceAllSum(graph.Mul(y, graph.AddScalar(w, 1)))
					return append([]*graph.Node{y}, graph.Gradient(loss, x, s, b)...)
				})
				return e.MustExec(x, s, b)
			}
			got, want := run(c.ours), run(c.want)
			for i, name := range []string{"value", "d/dx", "d/ds", "d/db"} {
				g, w := got[i].Value(), want[i].Value()
				gf, wf := flatF32(g), flatF32(w)
				if len(gf) != len(wf) {
					t.Fatalf("%s d=%d %s: %d values, want %d", c.name, d, name, len(gf), len(wf))
				}
				tol := float32(1e-6)
				if c.name == "SiLUMul" || c.name == "SoftmaxLast" {
					tol = 1e-5 // the same derivative, summed and rounded in another order
				}
				for k := range gf {
					if diff := gf[k] - wf[k]; diff > tol*(1+abs32(wf[k])) || -diff > tol*(1+abs32(wf[k])) {
						t.Errorf("%s d=%d %s[%d] = %g, GoMLX gives %g", c.name, d, name, k, gf[k], wf[k])
						break
					}
				}
			}
		}
	}
}

func flatF32(v any) []float32 {
	var out []float32
	var walk func(any)
	walk = func(v any) {
		switch t := v.(type) {
		case float32:
			out = append(out, t)
		case []float32:
			out = append(out, t...)
		case [][]float32:
			for _, r := range t {
				walk(r)
			}
		case [][][]float32:
			for _, r := range t {
				walk(r)
			}
		}
	}
	walk(v)
	return out
}

func abs32(x float32) float32 {
	if x < 0 {
		return -x
	}
	return x
}
