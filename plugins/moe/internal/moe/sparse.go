package moe

import (
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph" // dot import: staticcheck.conf allows it for GoMLX graph code only
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/shammie-ml/shammie/sdk/ml"
)

// The sparse path is a dropless block-sparse grouped matmul (the MegaBlocks
// formulation) expressed with static shapes:
//
//  1. The T·k token-slots (slot s = t·k + i) are laid out expert by expert
//     in a row buffer; each expert's segment is padded up to a multiple of
//     the block size B, so every block of B rows belongs to one expert.
//     A slot's row is offset[expert] + (its rank among the slots of that
//     expert), computed with exclusive cumulative sums — no sort needed.
//  2. The buffer has a static number of blocks NB = ⌊(T·k + E·(B−1))/B⌋,
//     enough for any routing since Σ_e ⌈c_e/B⌉ ≤ that bound; unused rows
//     point at a zero row.
//  3. Per-block expert weights are gathered ([NB, D, H], a copy of 1/B of
//     the matmul's work) and the experts run as one batched matmul
//     [NB, B, D]×[NB, D, H]; rows are gathered back to their slots and
//     combined with the router weights.
//
// Work: NB·B rows instead of the dense path's E·T, i.e. ≈ k/E of it plus at
// most E·(B−1) padding rows.

// BlockSizeFor picks the block size for T tokens: about a quarter of an
// expert's expected share of slots, a power of two in [8, 128], so padding
// costs at most ~25% and the blocks stay big enough for the matmul kernel.
func BlockSizeFor(c Config, T int) int {
	if c.BlockSize > 0 {
		return c.BlockSize
	}
	avg := T * c.TopK / c.Experts
	b := 8
	for b*2 <= avg/4 && b < 128 {
		b *= 2
	}
	return b
}

// NumBlocks is the static block count of the sparse buffer for T tokens.
func NumBlocks(c Config, T int) int {
	B := BlockSizeFor(c, T)
	nb := (T*c.TopK + c.Experts*(B-1)) / B
	// No expert receives more than T slots (top-k picks distinct experts).
	if perExpert := c.Experts * ((T + B - 1) / B); perExpert < nb {
		nb = perExpert
	}
	return nb
}

// exclusiveCumSum0 is the exclusive cumulative sum over axis 0 of an int32
// [S, E] tensor, as a Hillis–Steele scan: ⌈log₂ S⌉ rounds of "add the
// tensor shifted down by 2^r". GoMLX's CumSum is a full-width window sum
// (O(S²) work, and simplego's ReduceWindow is slow); the scan is O(S·log S)
// in a few cheap element-wise ops.
func exclusiveCumSum0(x *Node) *Node {
	S, E := x.Shape().Dimensions[0], x.Shape().Dimensions[1]
	y := x
	for d := 1; d < S; d *= 2 {
		shifted := Concatenate([]*Node{Zeros(x.Graph(), shapes.Make(x.DType(), d, E)), Slice(y, AxisRange(0, S-d))}, 0)
		y = Add(y, shifted)
	}
	return Sub(y, x)
}

// sparseExperts computes only the selected experts (see the file comment).
func sparseExperts(c Config, x *Node, r *Routing, wGate, wUp, wDown *Node) *Node {
	g := x.Graph()
	T, D, E, K := x.Shape().Dimensions[0], c.DModel, c.Experts, c.TopK
	S := T * K
	B := BlockSizeFor(c, T)
	NB := NumBlocks(c, T)
	R := NB * B

	expertOf := Reshape(r.TopIdx, S)                    // [S] int32
	oh := OneHot(expertOf, E, dtypes.Int32)             // [S, E]
	rank := ReduceSum(Mul(exclusiveCumSum0(oh), oh), 1) // [S] position within its expert
	counts := ReduceSum(oh, 0)                          // [E]
	bI := Scalar(g, dtypes.Int32, B)
	padded := Mul(Div(Add(counts, Scalar(g, dtypes.Int32, B-1)), bI), bI) // ⌈c/B⌉·B
	offset := Squeeze(exclusiveCumSum0(InsertAxes(padded, -1)), -1)       // [E] exclusive
	end := Add(offset, padded)
	pos := Add(ReduceSum(Mul(oh, InsertAxes(offset, 0)), 1), rank) // [S] row of each slot
	r.UsedRows = ConvertDType(ReduceSum(padded), dtypes.Float32)

	// Expert of each block: the number of experts whose segment ends at or
	// before the block's first row. Trailing unused blocks would get E:
	// clamp (their rows are zeros, any weights do).
	blockStart := MulScalar(Iota(g, shapes.Make(dtypes.Int32, NB, 1), 0), float64(B))
	blockExpert := ReduceSum(ConvertDType(LessOrEqual(InsertAxes(end, 0), blockStart), dtypes.Int32), 1) // [NB]
	blockExpert = MinScalar(blockExpert, float64(E-1))

	// Token feeding each row; T (the appended zero row) for padding rows.
	tokenOf := DivScalar(Iota(g, shapes.Make(dtypes.Int32, S), 0), float64(K))
	rowToken := AddScalar(Scatter(InsertAxes(pos, -1), SubScalar(tokenOf, float64(T)),
		shapes.Make(dtypes.Int32, R), false, true), float64(T))

	xz := Concatenate([]*Node{x, Zeros(g, shapes.Make(x.DType(), 1, D))}, 0)
	xRows := Reshape(Gather(xz, InsertAxes(rowToken, -1)), NB, B, D)
	be := InsertAxes(blockExpert, -1)
	yRows := swiglu(xRows, Gather(wGate, be), Gather(wUp, be), Gather(wDown, be)) // [NB, B, D]
	ySlots := Reshape(Gather(Reshape(yRows, R, D), InsertAxes(pos, -1)), T, K, D)
	return ReduceSum(Mul(ySlots, ml.ExpandLast(InsertAxes(r.TopW, -1), D)), 1)
}
