package dotrec

import (
	"slices"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/graph"

	"github.com/shammie-ml/shammie/sdk/ml"
)

// TestRecord checks the go:linkname hook end to end: the products of a
// DotGeneral and its two gradient products are recorded while Record runs,
// and nothing is recorded outside it.
func TestRecord(t *testing.T) {
	backend, err := ml.OpenBackend("go")
	if err != nil {
		t.Fatal(err)
	}
	defer backend.Finalize()
	build := func() {
		exec := graph.MustNewExec(backend, func(x, w *graph.Node) []*graph.Node {
			y := ml.DotGeneral(x, []int{1}, nil, w, []int{0}, nil)
			loss := graph.ReduceAllSum(y)
			return graph.Gradient(loss, x, w)
		})
		exec.MustExec([][]float32{{1, 2, 3, 4}, {5, 6, 7, 8}, {9, 10, 11, 12}}, [][]float32{{1, 2}, {3, 4}, {5, 6}, {7, 8}})
	}
	dots := Record(build)
	if len(dots) != 3 {
		t.Fatalf("recorded %d products, want 3 (forward + two gradients): %+v", len(dots), dots)
	}
	if d := dots[0]; !slices.Equal(d.LHS.Dimensions, []int{3, 4}) || !slices.Equal(d.RHS.Dimensions, []int{4, 2}) ||
		!slices.Equal(d.LHSContract, []int{1}) || !slices.Equal(d.RHSContract, []int{0}) {
		t.Errorf("forward product recorded as %+v, want [3 4]·[4 2] contracting 1 with 0", d)
	}
	build() // must not panic or record: the hook is cleared
	if again := Record(func() {}); len(again) != 0 {
		t.Errorf("an empty build recorded %d products", len(again))
	}
	// GraphFn computes the recorded products on inputs of their shapes.
	exec := graph.MustNewExec(backend, func(in []*graph.Node) *graph.Node { return GraphFn(dots[:1])(in) })
	got := exec.MustExec([][]float32{{1, 2, 3, 4}, {5, 6, 7, 8}, {9, 10, 11, 12}}, [][]float32{{1, 2}, {3, 4}, {5, 6}, {7, 8}})[0].Value().(float32)
	if got != 50 { // first element of the product: 1·1+2·3+3·5+4·7
		t.Errorf("GraphFn = %v, want 50", got)
	}
}
