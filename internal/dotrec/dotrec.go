// Package dotrec records the matrix products sdk/ml builds, so that this
// repository's benchmarks (tools/benchtrain, tools/benchdpo, plugins/moe's
// benchmoe) can time a graph of "just the step's matmuls" beside the whole
// step. It is internal to the repository: the hook it sets in sdk/ml is
// reached through go:linkname, not through the SDK's API.
package dotrec

import (
	"slices"
	"sync"
	_ "unsafe" // for go:linkname

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"

	_ "github.com/shammie-ml/shammie/sdk/ml" // defines dotHook
)

// dotHook is sdk/ml's unexported hook (see its declaration in
// sdk/ml/matmul.go); the type must stay identical to it.
//
//go:linkname dotHook github.com/shammie-ml/shammie/sdk/ml.dotHook
var dotHook func(lhs shapes.Shape, lc, lb []int, rhs shapes.Shape, rc, rb []int)

// DotShape records one product for the matmul-only benchmark graph.
type DotShape struct {
	LHS, RHS                                     shapes.Shape
	LHSContract, LHSBatch, RHSContract, RHSBatch []int
}

var mu sync.Mutex // serialises Record

// Record runs build (which constructs graphs with sdk/ml) and returns every
// product the backend will execute for them: forward products and the
// gradient products of ml.DotGeneral, but not the unused stock gradients.
// Not for concurrent use with other graph building.
func Record(build func()) []DotShape {
	mu.Lock()
	defer mu.Unlock()
	var (
		dmu  sync.Mutex
		dots []DotShape
	)
	dotHook = func(l shapes.Shape, lc, lb []int, r shapes.Shape, rc, rb []int) {
		dmu.Lock()
		defer dmu.Unlock()
		dots = append(dots, DotShape{l, r, lc, lb, rc, rb})
	}
	defer func() { dotHook = nil }()
	build()
	dmu.Lock()
	defer dmu.Unlock()
	return slices.Clone(dots)
}

// GraphFn returns a graph function computing exactly the given products
// on the given inputs (two per product: its lhs then its rhs), returning the
// sum of each product's first element so nothing big is copied out.
func GraphFn(dots []DotShape) func(inputs []*graph.Node) *graph.Node {
	return func(inputs []*graph.Node) *graph.Node {
		var total *graph.Node
		for i, d := range dots {
			p := graph.DotGeneral(inputs[2*i], d.LHSContract, d.LHSBatch, inputs[2*i+1], d.RHSContract, d.RHSBatch)
			first := graph.Reshape(graph.Slice(graph.Reshape(p, -1), graph.AxisRange(0, 1)))
			if total == nil {
				total = first
			} else {
				total = graph.Add(total, first)
			}
		}
		return total
	}
}
