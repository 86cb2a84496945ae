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
	// The slices read a gradient-stopped x, so GoMLX never builds Slice's
	// own (Pad-based) gradient. Each part is linked to xg through z, a zero
	// made from one gathered element of xg (O(1) work, and a gradient path to
	// x), so graph.Gradient still visits xg, whose custom gradient assembles
	// the captured part gradients.
	z := graph.MulScalar(graph.Gather(xg, graph.Const(x.Graph(), make([]int32, x.Rank()))), 0)
	sx := graph.StopGradient(x)
	start := 0
	for i, s := range sizes {
		specs := make([]graph.SliceAxisSpec, x.Rank())
		for a := range specs {
			specs[a] = graph.AxisRange()
		}
		specs[axis] = graph.AxisRange(start, start+s)
		p := graph.Add(graph.Slice(sx, specs...), z)
		parts[i] = graph.IdentityWithCustomGradient(p, func(_, v *graph.Node) *graph.Node {
			dys[i] = v
			return v
		})
		start += s
	}
	return parts
}
