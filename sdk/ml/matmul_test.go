package ml

import (
	"math"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// TestDotGeneralGradientMatchesStock compares ml.DotGeneral's custom
// gradients with GoMLX's own (slow but straightforward) DotGeneral gradient,
// for layouts with batch axes, several contracting axes and transposed
// operands, in float64.
func TestDotGeneralGradientMatchesStock(t *testing.T) {
	backend, err := OpenBackend("go")
	if err != nil {
		t.Fatal(err)
	}
	defer backend.Finalize()
	cases := []struct {
		name    string
		lhsDims []int
		lc, lb  []int
		rhsDims []int
		rc, rb  []int
	}{
		{"matmul", []int{3, 4}, []int{1}, nil, []int{4, 5}, []int{0}, nil},
		{"transposed rhs", []int{3, 4}, []int{1}, nil, []int{5, 4}, []int{1}, nil},
		{"transposed lhs", []int{4, 3}, []int{0}, nil, []int{4, 5}, []int{0}, nil},
		{"attention scores", []int{2, 5, 3, 4}, []int{3}, []int{0, 2}, []int{2, 6, 3, 4}, []int{3}, []int{0, 2}},
		{"attention values", []int{2, 3, 5, 6}, []int{3}, []int{0, 1}, []int{2, 6, 3, 4}, []int{1}, []int{0, 2}},
		{"two contracting", []int{2, 3, 4}, []int{0, 2}, nil, []int{4, 5, 2}, []int{2, 0}, nil},
		{"batch last", []int{3, 4, 2}, []int{1}, []int{2}, []int{2, 4, 5}, []int{1}, []int{0}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			run := func(custom bool) []*tensors.Tensor {
				exec := graph.MustNewExec(backend, func(lhs, rhs *graph.Node) []*graph.Node {
					var y *graph.Node
					if custom {
						y = DotGeneral(lhs, tc.lc, tc.lb, rhs, tc.rc, tc.rb)
					} else {
						y = graph.DotGeneral(lhs, tc.lc, tc.lb, rhs, tc.rc, tc.rb)
					}
					// A non-uniform weighting so every output element's gradient differs.
					w := graph.Sin(graph.IotaFull(lhs.Graph(), y.Shape()))
					loss := graph.ReduceAllSum(graph.Mul(y, w))
					grads := graph.Gradient(loss, lhs, rhs)
					return []*graph.Node{y, grads[0], grads[1]}
				})
				l := seqTensor(tc.lhsDims, 0.1)
				r := seqTensor(tc.rhsDims, -0.07)
				return exec.MustExec(l, r)
			}
			want, got := run(false), run(true)
			for i, label := range []string{"output", "d lhs", "d rhs"} {
				if !want[i].Shape().Equal(got[i].Shape()) {
					t.Fatalf("%s: shape %s, want %s", label, got[i].Shape(), want[i].Shape())
				}
				w, g := tensors.MustCopyFlatData[float64](want[i]), tensors.MustCopyFlatData[float64](got[i])
				for j := range w {
					if math.Abs(w[j]-g[j]) > 1e-9*(1+math.Abs(w[j])) {
						t.Fatalf("%s[%d] = %v, want %v", label, j, g[j], w[j])
					}
				}
			}
		})
	}
}

// seqTensor fills a float64 tensor with a deterministic, non-repeating pattern.
func seqTensor(dims []int, scale float64) *tensors.Tensor {
	n := 1
	for _, d := range dims {
		n *= d
	}
	v := make([]float64, n)
	for i := range v {
		v[i] = math.Cos(float64(i)*1.3+scale*10) * (1 + scale*float64(i%7))
	}
	return tensors.FromFlatDataAndDimensions(v, dims...)
}
