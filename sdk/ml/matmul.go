package ml

import (
	"fmt"
	"math"
	"slices"
	_ "unsafe" // for go:linkname dotHook

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/ml/context"
)

// DotGeneral is graph.DotGeneral (same arguments, same result: axes ordered
// batch…, lhs cross…, rhs cross…) with gradients computed as two more
// DotGenerals.
//
// Why: GoMLX v0.26's stock DotGeneral gradient multiplies the incoming
// gradient by a broadcast of the other operand, materialising a tensor of
// size batch×M×N×K, and then sums it; on the CPU backend that was 92% of a
// transformer training step. Here the forward product is wrapped so that the
// gradient reaching its output (dy) is captured by a custom-gradient identity,
// and the identities in front of the two operands return dy·rhsᵀ and lhsᵀ·dy
// directly. The stock VJP is still built by graph.Gradient but its result is
// never used, so no backend executes it (simplego only runs nodes that feed
// an output; XLA removes dead code).
//
// Reverse-mode autodiff in v0.26 visits nodes from the newest to the oldest,
// so the output identity (created last) always sees dy before the operand
// identities ask for it. Second derivatives are not supported.
func DotGeneral(lhs *graph.Node, lhsContracting, lhsBatch []int, rhs *graph.Node, rhsContracting, rhsBatch []int) *graph.Node {
	if dt, ok := mixedOperands(lhs, rhs); ok { // mixed precision (precision.go)
		out := lhs.DType()
		y := DotGeneral(graph.ConvertDType(lhs, dt), lhsContracting, lhsBatch, graph.ConvertDType(rhs, dt), rhsContracting, rhsBatch)
		return graph.ConvertDType(y, out)
	}
	lc, lb := normAxes(lhs.Rank(), lhsContracting), normAxes(lhs.Rank(), lhsBatch)
	rc, rb := normAxes(rhs.Rank(), rhsContracting), normAxes(rhs.Rank(), rhsBatch)
	if len(lc) != len(rc) || len(lb) != len(rb) {
		panic(fmt.Sprintf("ml.DotGeneral: %d/%d contracting and %d/%d batch axes do not pair up", len(lc), len(rc), len(lb), len(rb)))
	}
	lcross, rcross := crossAxes(lhs.Rank(), lc, lb), crossAxes(rhs.Rank(), rc, rb)
	nb, nlx, nrx := len(lb), len(lcross), len(rcross)

	dy := outputGrad{op: "ml.DotGeneral"}
	// The gradient products read the operands through lhsG/rhsG (not
	// lhs/rhs) so that each operand has a single consumer and simplego's
	// Identity can hand its buffer over instead of copying it.
	var lhsG, rhsG *graph.Node
	lhsG = graph.IdentityWithCustomGradient(lhs, func(_, _ *graph.Node) *graph.Node {
		// dy: [batch…, lhsCross…, rhsCross…]; contract its rhs-cross axes with
		// rhs's cross axes. Result: [batch…, lhsCross…, rhs's contracting axes
		// in increasing rhs order].
		g := DotGeneral0(dy.Get(), iota(nb+nlx, nrx), iota(0, nb), rhsG, rcross, rb)
		return transposeTo(g, slices.Concat(lb, lcross, pairedInOrder(rc, lc)))
	})
	rhsG = graph.IdentityWithCustomGradient(rhs, func(_, _ *graph.Node) *graph.Node {
		// Contract lhs's cross axes with dy's lhs-cross axes, lhs first, so
		// that a plain x[M,K]·w[K,N] gets dw = xᵀ·dy directly as [K, N].
		// Result: [batch…, lhs's contracting axes in increasing lhs order
		// (paired with rhs axes), rhsCross…].
		g := DotGeneral0(lhsG, lcross, lb, dy.Get(), iota(nb, nlx), iota(0, nb))
		return transposeTo(g, slices.Concat(rb, pairedInOrder(lc, rc), rcross))
	})
	return dy.Capture(DotGeneral0(lhsG, lc, lb, rhsG, rc, rb))
}

// DotGeneral0 is the backend's product without the custom gradient, recorded
// for the matmul-only benchmark graph.
func DotGeneral0(lhs *graph.Node, lc, lb []int, rhs *graph.Node, rc, rb []int) *graph.Node {
	recordDot(lhs.Shape(), normAxes(lhs.Rank(), lc), normAxes(lhs.Rank(), lb), rhs.Shape(), normAxes(rhs.Rank(), rc), normAxes(rhs.Rank(), rb))
	return graph.DotGeneral(lhs, lc, lb, rhs, rc, rb)
}

// MatMul multiplies x [..., K] by w [K, N] into [..., N], with matmul-shaped
// gradients (see DotGeneral). The leading axes of x are flattened into one so
// the backend sees a single large product.
func MatMul(x, w *graph.Node) *graph.Node {
	if w.Rank() != 2 {
		panic(fmt.Sprintf("ml.MatMul: weights must be [K, N], got %s", w.Shape()))
	}
	k, n := w.Shape().Dim(0), w.Shape().Dim(1)
	if x.Rank() < 1 || x.Shape().Dim(-1) != k {
		panic(fmt.Sprintf("ml.MatMul: x %s does not end in K=%d of w %s", x.Shape(), k, w.Shape()))
	}
	lead := slices.Clone(x.Shape().Dimensions[:x.Rank()-1])
	x2 := x
	if x.Rank() != 2 {
		x2 = graph.Reshape(x, -1, k)
	}
	y := DotGeneral(x2, []int{1}, nil, w, []int{0}, nil)
	if x.Rank() != 2 {
		y = graph.Reshape(y, append(lead, n)...)
	}
	return y
}

// Dense is a bias-free linear layer: a [in, out] weight variable named
// "weights" in ctx's current scope, applied with MatMul. Plugins use it (or
// MatMul on their own variables) for every learned projection.
func Dense(ctx *context.Context, x *graph.Node, out int) *graph.Node {
	in := x.Shape().Dim(-1)
	w := Weight(ctx, "weights", shapes.Make(x.DType(), in, out), 1/math.Sqrt(float64(in))).ValueGraph(x.Graph())
	return MatMul(x, w)
}

// normAxes turns negative axes into positive ones.
func normAxes(rank int, axes []int) []int {
	out := make([]int, len(axes))
	for i, a := range axes {
		if a < 0 {
			a += rank
		}
		out[i] = a
	}
	return out
}

// crossAxes are the axes in neither list, increasing: DotGeneral's output order.
func crossAxes(rank int, contracting, batch []int) []int {
	var out []int
	for a := range rank {
		if !slices.Contains(contracting, a) && !slices.Contains(batch, a) {
			out = append(out, a)
		}
	}
	return out
}

func iota(start, n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = start + i
	}
	return out
}

// pairedInOrder lists, for the axes of `mine` sorted increasingly, the axis
// of `theirs` each is paired with.
func pairedInOrder(mine, theirs []int) []int {
	idx := iota(0, len(mine))
	slices.SortFunc(idx, func(a, b int) int { return mine[a] - mine[b] })
	out := make([]int, len(idx))
	for i, j := range idx {
		out[i] = theirs[j]
	}
	return out
}

// transposeTo puts the axes of g, where position i holds operand axis
// order[i], back in operand order — skipping the no-op transpose, which
// GoMLX would otherwise execute as a full copy.
func transposeTo(g *graph.Node, order []int) *graph.Node {
	p := inversePerm(order)
	for i, a := range p {
		if i != a {
			return graph.TransposeAllAxes(g, p...)
		}
	}
	return g
}

// inversePerm: order[i] is the operand axis held at position i; the returned
// permutation p has p[axis] = i, as graph.TransposeAllAxes wants.
func inversePerm(order []int) []int {
	p := make([]int, len(order))
	for i, a := range order {
		p[a] = i
	}
	return p
}

// dotHook, when set, sees every product DotGeneral0 builds: the matmul-only
// benchmark graphs of this repository's benchmarks are made from them. It is
// set only by github.com/shammie-ml/shammie/internal/dotrec (with a linkname
// directive), so that the recording is not part of the SDK's API; that
// package's declaration must keep this exact type.
//
//go:linkname dotHook
var dotHook func(lhs shapes.Shape, lc, lb []int, rhs shapes.Shape, rc, rb []int)

func recordDot(l shapes.Shape, lc, lb []int, r shapes.Shape, rc, rb []int) {
	if h := dotHook; h != nil {
		h(l, lc, lb, r, rc, rb)
	}
}
