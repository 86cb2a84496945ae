package ml

import (
	"fmt"
	"math"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/ml/context"
)

// EmbedMode says how Inputs.Embeddings combine with the token embeddings.
type EmbedMode int

const (
	// EmbedAdd adds Embeddings to the token embeddings (Molmo adds image
	// features at the <im_patch> positions; zero rows elsewhere).
	EmbedAdd EmbedMode = 0
	// EmbedReplace feeds Embeddings alone (Tokens, if given, are ignored).
	EmbedReplace EmbedMode = 1
)

// embedInputs returns the input stream [batch, seq, d_model] of a forward
// pass: the token embeddings, Inputs.Embeddings, or their sum. ctx is at the
// model scope.
func (m *Transformer) embedInputs(ctx *context.Context, in Inputs) *graph.Node {
	c := m.Config
	dt := c.dtype()
	useTokens := in.Tokens != nil && !(in.Embeddings != nil && in.EmbedMode == EmbedReplace)
	if in.Tokens == nil && in.Embeddings == nil {
		panic("ml.Transformer.Forward: Inputs.Tokens and Inputs.Embeddings are both nil")
	}
	if in.Tokens != nil && in.Tokens.Rank() != 2 {
		panic(fmt.Sprintf("ml.Transformer.Forward: tokens must be [batch, seq], got %s", in.Tokens.Shape()))
	}
	if e := in.Embeddings; e != nil {
		if e.Rank() != 3 || e.Shape().Dim(2) != c.DModel {
			panic(fmt.Sprintf("ml.Transformer.Forward: embeddings must be [batch, seq, d_model=%d], got %s", c.DModel, e.Shape()))
		}
		if in.Tokens != nil && (e.Shape().Dim(0) != in.Tokens.Shape().Dim(0) || e.Shape().Dim(1) != in.Tokens.Shape().Dim(1)) {
			panic(fmt.Sprintf("ml.Transformer.Forward: embeddings %s do not match tokens %s", e.Shape(), in.Tokens.Shape()))
		}
	}
	var x *graph.Node
	if useTokens {
		if c.VocabSize == 0 {
			panic("ml.Transformer.Forward: the model has no vocabulary (vocab_size 0): feed Inputs.Embeddings only")
		}
		g := in.Tokens.Graph()
		table := Weight(ctx.In("embed"), "table", shapes.Make(dt, c.VocabSize, c.DModel), 0.02).ValueGraph(g)
		x = graph.Gather(table, graph.ExpandAxes(graph.ConvertDType(in.Tokens, dtypes.Int32), -1))
	}
	if in.Embeddings != nil {
		e := graph.ConvertDType(in.Embeddings, dt)
		if x == nil {
			x = e
		} else {
			x = graph.Add(x, e)
		}
	}
	return x
}

// Patchify cuts images [B, H, W, C] into non-overlapping patch×patch patches:
// [B, (H/patch)·(W/patch), patch·patch·C], patches in row-major order (row
// of patches first), each patch flattened as (y, x, channel). H and W must be
// multiples of patch.
func Patchify(images *graph.Node, patch int) *graph.Node {
	if images.Rank() != 4 {
		panic(fmt.Sprintf("ml.Patchify: images must be [B, H, W, C], got %s", images.Shape()))
	}
	b, h, w, ch := images.Shape().Dim(0), images.Shape().Dim(1), images.Shape().Dim(2), images.Shape().Dim(3)
	if patch <= 0 || h%patch != 0 || w%patch != 0 {
		panic(fmt.Sprintf("ml.Patchify: image %d×%d is not a multiple of the patch size %d", h, w, patch))
	}
	gh, gw := h/patch, w/patch
	x := graph.Reshape(images, b, gh, patch, gw, patch, ch)
	x = graph.TransposeAllAxes(x, 0, 1, 3, 2, 4, 5) // [B, gh, gw, py, px, C]
	return graph.Reshape(x, b, gh*gw, patch*patch*ch)
}

// PatchEmbed is a ViT's patch embedding: Patchify, then one bias-free
// projection ("weights" [patch·patch·C, dModel] in ctx's scope, y = x·W) with
// MatMul. images are [B, H, W, C] floats (already normalised); the result is
// [B, (H/patch)·(W/patch), dModel]. It equals a stride-patch convolution
// without bias.
func PatchEmbed(ctx *context.Context, images *graph.Node, patch, dModel int) *graph.Node {
	p := Patchify(images, patch)
	in := p.Shape().Dim(2)
	w := Weight(ctx, "weights", shapes.Make(images.DType(), in, dModel), 1/math.Sqrt(float64(in))).ValueGraph(images.Graph())
	return MatMul(p, w)
}

// SinCos2D returns the fixed 2-D sine-cosine position table [gh·gw, d] of a
// gh×gw patch grid (MAE, He et al. 2022): the first d/2 columns encode the
// row, the last d/2 the column, each half as [sin(p·ω_k) …, cos(p·ω_k) …]
// with ω_k = 10000^(-k/(d/4)), k < d/4. d must be a multiple of 4. Rows are
// in Patchify's order.
func SinCos2D(gh, gw, d int) []float64 {
	if d%4 != 0 {
		panic(fmt.Sprintf("ml.SinCos2D: width %d is not a multiple of 4", d))
	}
	q := d / 4
	out := make([]float64, gh*gw*d)
	for y := range gh {
		for x := range gw {
			row := out[(y*gw+x)*d:]
			for k := range q {
				om := math.Pow(10000, -float64(k)/float64(q))
				row[k], row[q+k] = math.Sin(float64(y)*om), math.Cos(float64(y)*om)
				row[2*q+k], row[3*q+k] = math.Sin(float64(x)*om), math.Cos(float64(x)*om)
			}
		}
	}
	return out
}

// PatchPositions returns 2-D patch positions [gh·gw, d] to add to
// PatchEmbed's output (broadcast over the batch). learned=false gives the
// fixed SinCos2D table (a constant: no parameters, and defined for every
// grid, so one model takes crops and tilings of any size); learned=true a
// variable "table" [gh·gw, d] in ctx's scope, initialised to SinCos2D (CLIP's
// learned absolute positions, as Molmo's ViT has; fixed to this grid).
func PatchPositions(ctx *context.Context, g *graph.Graph, gh, gw, d int, dt dtypes.DType, learned bool) *graph.Node {
	shape := shapes.Make(dt, gh*gw, d)
	table := tensorFromFloat64(shape, SinCos2D(gh, gw, d))
	if !learned {
		return graph.Const(g, table)
	}
	pctx := ctx.In("pos")
	if v := pctx.InspectVariableInScope("table"); v != nil {
		return v.ValueGraph(g)
	}
	checkNotLoaded(pctx, "table", shape)
	return pctx.VariableWithValue("table", table).ValueGraph(g)
}
