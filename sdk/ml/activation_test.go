package ml

import (
	"math"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/graph"
)

// TestSiLUMulSaturates checks SiLUMul where e^−gate overflows float32 (the
// quotient form must give 0, not NaN) and where it vanishes, with gradients.
func TestSiLUMulSaturates(t *testing.T) {
	backend := openGo(t)
	e := graph.MustNewExec(backend, func(g, u *graph.Node) []*graph.Node {
		y := SiLUMul(g, u)
		return append([]*graph.Node{y}, graph.Gradient(graph.ReduceAllSum(y), g, u)...)
	})
	gate := []float32{-1000, -100, 0, 100, 1000}
	out := e.MustExec(gate, []float32{1, 1, 1, 1, 1})
	y, dg, du := out[0].Value().([]float32), out[1].Value().([]float32), out[2].Value().([]float32)
	want := [][3]float64{{0, 0, 0}, {0, 0, 0}, {0, 0.5, 0}, {100, 1, 100}, {1000, 1, 1000}} // y, dy/dgate, dy/dup
	for i := range gate {
		for j, got := range []float32{y[i], dg[i], du[i]} {
			if math.IsNaN(float64(got)) || math.Abs(float64(got)-want[i][j]) > 1e-4*(1+math.Abs(want[i][j])) {
				t.Errorf("gate=%v: output %d = %v, want %v", gate[i], j, got, want[i][j])
			}
		}
	}
}
