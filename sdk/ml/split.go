package ml

import (
	"fmt"

	"github.com/gomlx/gomlx/pkg/core/graph"
)

// Split cuts x along axis into consecutive parts of the given sizes (which
// must add up to the axis' dimension). Its gradient concatenates the parts'
// gradients (zeros for parts that receive none): GoMLX's own Slice gradient
// needs the Pad op, which the simplego backend does not implement in v0.26,
// and one Concatenate is also cheaper than one Pad per part plus the sum.
// It uses the same captured-gradient technique as DotGeneral.
func Split(x *graph.Node, axis int, sizes ...int) []*graph.Node {
	if axis < 0 {
		axis += x.Rank()
	}
	total := 0
	for _, s := range sizes {
		total += s
	}
	if total != x.Shape().Dim(axis) {
		panic(fmt.Sprintf("ml.Split: sizes %v do not add up to axis %d of %s", sizes, axis, x.Shape()))
	}
	dys := make([]*graph.Node, len(sizes))
	parts := make([]*graph.Node, len(sizes))
	xg := graph.IdentityWithCustomGradient(x, func(_, _ *graph.Node) *graph.Node {
		pieces := make([]*graph.Node, len(sizes))
		for i, dy := range dys {
			if dy == nil {
				shape := x.Shape().Clone()
				shape.Dimensions[axis] = sizes[i]
				dy = graph.Zeros(x.Graph(), shape)
			}
			pieces[i] = dy
		}
		if len(pieces) == 1 {
			return pieces[0]
		}
		return graph.Concatenate(pieces, axis)
	})
	// Each part is the slice of xg seen through a custom-gradient identity
	// that records the part's gradient and passes NOTHING back to the
	// slice, so GoMLX never builds Slice's own (Pad-based) gradient. A zero
	// made from one gathered element of xg (O(1) work) is added to every
	// part (any of them may be the only one used): that is the path along
	// which graph.Gradient reaches xg,
	// whose custom gradient then assembles the recorded part gradients.
	// Nodes are visited newest first, so the parts' identities run before
	// xg's. Only x's single consumer is xg, so simplego need not copy x.
	z := graph.MulScalar(graph.Gather(xg, graph.Const(x.Graph(), make([]int32, x.Rank()))), 0)
	start := 0
	for i, s := range sizes {
		specs := make([]graph.SliceAxisSpec, x.Rank())
		for a := range specs {
			specs[a] = graph.AxisRange()
		}
		specs[axis] = graph.AxisRange(start, start+s)
		parts[i] = graph.Add(graph.IdentityWithCustomGradient(graph.Slice(xg, specs...), func(_, v *graph.Node) *graph.Node {
			dys[i] = v
			return nil
		}), z)
		start += s
	}
	return parts
}
