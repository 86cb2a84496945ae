package pipeline

import (
	"math"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestSimplex(t *testing.T) {
	for _, tc := range []struct {
		k    int
		step float64
		n    int
	}{{1, 0.1, 1}, {2, 0.1, 11}, {3, 0.1, 66}, {4, 0.1, 286}, {2, 0.5, 3}} {
		ws := Simplex(tc.k, tc.step)
		if len(ws) != tc.n {
			t.Errorf("Simplex(%d, %g): %d vectors, want %d", tc.k, tc.step, len(ws), tc.n)
		}
		for _, w := range ws {
			var s float64
			for _, x := range w {
				s += x
				if x < 0 {
					t.Fatalf("negative weight in %v", w)
				}
			}
			if math.Abs(s-1) > 1e-12 {
				t.Fatalf("%v sums to %g", w, s)
			}
		}
	}
	if d := cmp.Diff([][]float64{{1, 0}, {0.5, 0.5}, {0, 1}}, Simplex(2, 0.5)); d != "" {
		t.Errorf("Simplex(2, 0.5) (-want +got):\n%s", d)
	}
}

func TestFront(t *testing.T) {
	pts := [][]float64{{1, 0}, {0, 1}, {0.5, 0.5}, {0.4, 0.4}, {1, 0}}
	if d := cmp.Diff([]int{0, 1, 2, 4}, Front(pts)); d != "" {
		t.Errorf("Front (-want +got):\n%s", d)
	}
	if Dominates([]float64{1, 0}, []float64{1, 0}) || !Dominates([]float64{1, 1}, []float64{1, 0}) {
		t.Error("Dominates: equal points do not dominate; (1,1) dominates (1,0)")
	}
}
