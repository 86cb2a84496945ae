package model

import (
	"encoding/json"
	"fmt"
	"math"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/shammie-ml/shammie/sdk/ml"
	"github.com/shammie-ml/shammie/sdk/tiling"
)

// Config is the whole model; a model artifact carries it.
type Config struct {
	Tiling tiling.Config `json:"tiling"`
	// ViT is the image encoder: encoder-only, bidirectional, no vocabulary,
	// no RoPE (learned absolute 2-D patch positions are added).
	ViT ml.Config `json:"vit"`
	// FeatureLayers are the two ViT blocks (0-based) whose outputs are
	// concatenated into the connector's features (Molmo: two inner layers
	// of CLIP).
	FeatureLayers [2]int    `json:"feature_layers"`
	PoolHeads     int       `json:"pool_heads"`  // attention-pooling heads
	ProjHidden    int       `json:"proj_hidden"` // SwiGLU projector width
	LM            ml.Config `json:"lm"`
}

// Scopes of the model's parts, under the context given to the graphs.
const (
	Root      = "vlm"
	ViTScope  = "vit"
	ConnScope = "connector"
	LMScope   = "lm"
)

// Tokenizer is the byte tokenizer with Molmo's image tokens.
func Tokenizer() ml.ByteTokenizer {
	return ml.ByteTokenizer{WithEOS: true, Special: ml.VisionTokens}
}

// Validate checks the configuration as a whole.
func (c Config) Validate() error {
	if err := CheckTiling(c.Tiling); err != nil {
		return err
	}
	if !c.ViT.EncoderOnly || c.ViT.VocabSize != 0 || !c.ViT.Bidirectional || !c.ViT.NoRoPE {
		return fmt.Errorf("vit: must be encoder-only, bidirectional, without vocabulary or RoPE")
	}
	if err := c.ViT.Validate(); err != nil {
		return fmt.Errorf("vit: %w", err)
	}
	if err := c.LM.Validate(); err != nil {
		return fmt.Errorf("lm: %w", err)
	}
	for _, l := range c.FeatureLayers {
		if l < 0 || l >= c.ViT.NumLayers {
			return fmt.Errorf("feature layer %d is not a ViT layer (0–%d)", l, c.ViT.NumLayers-1)
		}
	}
	if c.ViT.DModel%4 != 0 {
		return fmt.Errorf("vit d_model %d must be a multiple of 4 (2-D sine-cosine positions)", c.ViT.DModel)
	}
	if c.PoolHeads <= 0 || (2*c.ViT.DModel)%c.PoolHeads != 0 {
		return fmt.Errorf("pool heads %d must divide the feature width %d", c.PoolHeads, 2*c.ViT.DModel)
	}
	if c.ProjHidden <= 0 {
		return fmt.Errorf("projector width %d must be positive", c.ProjHidden)
	}
	if tok := Tokenizer(); c.LM.VocabSize < tok.VocabSize() {
		return fmt.Errorf("lm vocabulary %d is smaller than the tokenizer's %d", c.LM.VocabSize, tok.VocabSize())
	}
	return nil
}

// Model is a built VLM.
type Model struct {
	Config  Config
	ViT, LM *ml.Transformer
	Tok     ml.ByteTokenizer
}

// New builds the model of c.
func New(c Config) (*Model, error) {
	c.ViT, c.LM = c.ViT.WithDefaults(), c.LM.WithDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	vit, err := ml.NewTransformer(c.ViT)
	if err != nil {
		return nil, fmt.Errorf("vit: %w", err)
	}
	lm, err := ml.NewTransformer(c.LM)
	if err != nil {
		return nil, fmt.Errorf("lm: %w", err)
	}
	return &Model{Config: c, ViT: vit, LM: lm, Tok: Tokenizer()}, nil
}

// FeatureWidth is the connector's input width: two ViT layers.
func (m *Model) FeatureWidth() int { return 2 * m.Config.ViT.DModel }

// ViTRows runs the ViT on crops [N, crop, crop, 3] and returns the
// concatenated features of the two feature layers, one row per patch:
// [N·patches, 2·vit_d_model]. ctx is the model's root scope (…/vlm).
func (m *Model) ViTRows(ctx *context.Context, crops *graph.Node) *graph.Node {
	c := m.Config
	vctx := ctx.In(ViTScope)
	n := c.Tiling.Crop / c.Tiling.Patch
	x := ml.PatchEmbed(vctx.In("patch"), crops, c.Tiling.Patch, c.ViT.DModel)
	x = graph.Add(x, graph.ExpandAxes(ml.PatchPositions(vctx, crops.Graph(), n, n, c.ViT.DModel, x.DType(), true), 0))
	a, b := ml.HookPoint{Layer: c.FeatureLayers[0], Site: ml.SiteResidOut}, ml.HookPoint{Layer: c.FeatureLayers[1], Site: ml.SiteResidOut}
	h := ml.NewHooks().Capture(a, b)
	m.ViT.Forward(vctx, ml.Inputs{Embeddings: x, Hooks: h})
	f := graph.Concatenate([]*graph.Node{h.Captured(a), h.Captured(b)}, -1)
	return graph.Reshape(f, -1, m.FeatureWidth())
}

// Connector pools and projects: rows [R, F] (ViTRows of a batch's crops),
// pool [B, T, 4] int32 (rows of each window's 2×2 patches), frac [B, T, 4]
// (image share of each patch), pos [T, F] (Layout.Pos) → image tokens
// [B, T, lm_d_model].
// Padding: Molmo's "pad_and_partial_pad" — a learned embedding is added to
// every fully padded patch, another to every partially padded one. Each
// window's features also get its fixed 2-D place in its grid (a deviation
// from Molmo, whose CLIP features alone carry the position: with a ViT
// trained from scratch for a few hundred steps the pointing digits did not
// come off a plateau without it).
func (m *Model) Connector(ctx *context.Context, rows, pool, frac, pos *graph.Node) *graph.Node {
	c := m.Config
	cctx := ctx.In(ConnScope)
	g := rows.Graph()
	dt := rows.DType()
	F := m.FeatureWidth()
	B, T := pool.Shape().Dim(0), pool.Shape().Dim(1)
	// Gathered as one flat list: GoMLX's Gather refuses index tensors of a
	// rank above the operand's + 1.
	x := graph.Reshape(graph.Gather(rows, graph.Reshape(graph.ConvertDType(pool, dtypes.Int32), B*T*4, 1)), B, T, 4, F)
	frac = graph.ConvertDType(graph.Reshape(frac, B, T, 4, 1), dt)
	allPad := graph.ConvertDType(graph.LessOrEqual(frac, graph.ScalarZero(g, dt)), dt)
	partial := graph.ConvertDType(graph.LogicalAnd(graph.GreaterThan(frac, graph.ScalarZero(g, dt)), graph.LessThan(frac, graph.ScalarOne(g, dt))), dt)
	pad := ml.Weight(cctx.In("pad"), "embeddings", shapes.Make(dt, 2, F), 0.02).ValueGraph(g)
	pads := ml.Split(pad, 0, 1, 1)
	x = graph.Add(x, graph.Add(graph.Mul(allPad, graph.Reshape(pads[0], 1, 1, 1, F)), graph.Mul(partial, graph.Reshape(pads[1], 1, 1, 1, F))))
	x = graph.Add(x, graph.Reshape(graph.ConvertDType(pos, dt), 1, T, 1, F))

	// Attention pooling: the window's mean asks, its 4 patches answer.
	H := c.PoolHeads
	dh := F / H
	pctx := cctx.In("pool")
	q := graph.Reshape(ml.Dense(pctx.In("q"), graph.ReduceMean(x, 2), F), B, T, 1, H, dh)
	k := graph.Reshape(ml.Dense(pctx.In("k"), x, F), B, T, 4, H, dh)
	v := graph.Reshape(ml.Dense(pctx.In("v"), x, F), B, T, 4, H, dh)
	s := graph.MulScalar(graph.ReduceSum(graph.Mul(q, k), -1), 1/math.Sqrt(float64(dh))) // [B,T,4,H]
	p := graph.ExpandAxes(graph.Softmax(s, 2), -1)
	o := graph.Reshape(graph.ReduceSum(graph.Mul(p, v), 2), B, T, F)
	o = ml.Dense(pctx.In("o"), o, F)

	// SwiGLU projector into the LM's embedding space.
	jctx := cctx.In("proj")
	gate := ml.Dense(jctx.In("gate"), o, c.ProjHidden)
	up := ml.Dense(jctx.In("up"), o, c.ProjHidden)
	return ml.Dense(jctx.In("down"), graph.Mul(graph.Mul(gate, graph.Sigmoid(gate)), up), c.LM.DModel)
}

// PlaceTokens puts image tokens [B, T, D] at the LM positions slots [B, S]
// int32 name (index < T; T for a position without an image token, which
// gets zeros): [B, S, D], the Inputs.Embeddings added to the token
// embeddings.
func PlaceTokens(img, slots *graph.Node) *graph.Node {
	B, T, D := img.Shape().Dim(0), img.Shape().Dim(1), img.Shape().Dim(2)
	S := slots.Shape().Dim(1)
	g := img.Graph()
	padded := graph.Concatenate([]*graph.Node{img, graph.Zeros(g, shapes.Make(img.DType(), B, 1, D))}, 1)
	flat := graph.Reshape(padded, B*(T+1), D)
	base := graph.MulScalar(graph.Iota(g, shapes.Make(dtypes.Int32, B, S), 0), float64(T+1))
	idx := graph.Add(base, graph.ConvertDType(slots, dtypes.Int32))
	return graph.Gather(flat, graph.Reshape(idx, B, S, 1))
}

// ImageTokens is ViTRows then Connector: crops [B·crops, C, C, 3] → [B, T, D].
func (m *Model) ImageTokens(ctx *context.Context, crops, pool, frac, pos *graph.Node) *graph.Node {
	return m.Connector(ctx, m.ViTRows(ctx, crops), pool, frac, pos)
}

// Loss is the response cross-entropy of a batch (Batch.Tensors' order):
// crops, pool, frac, slots [B,S], windows [B,S+1], weights [B,S+1], pos.
func (m *Model) Loss(ctx *context.Context, b []*graph.Node) *graph.Node {
	crops, pool, frac, slots, windows, weights := b[0], b[1], b[2], b[3], b[4], b[5]
	img := m.ImageTokens(ctx, crops, pool, frac, b[6])
	S := slots.Shape().Dim(1)
	in := graph.Slice(windows, graph.AxisRange(), graph.AxisRange(0, S))
	tgt := graph.Slice(windows, graph.AxisRange(), graph.AxisRange(1, S+1))
	out := m.LM.Forward(ctx.In(LMScope), ml.Inputs{Tokens: in, Embeddings: PlaceTokens(img, slots)})
	lp := ml.TokenLogProbs(out.Logits, tgt)
	w := graph.ConvertDType(graph.Slice(weights, graph.AxisRange(), graph.AxisRange(1, S+1)), lp.DType())
	return graph.Neg(graph.Div(graph.ReduceAllSum(graph.Mul(lp, w)), graph.MaxScalar(graph.ReduceAllSum(w), 1e-9)))
}

// MetaKey holds the Config as JSON in a model artifact's metadata.
const MetaKey = "shammie.vlm"

// Format of the artifact.
const Format = "shammie-vlm/1"

// Save writes the model's variables (under ctx's scope, the model root) and
// its Config to one safetensors file, atomically.
func (m *Model) Save(path string, ctx *context.Context, meta map[string]string) error {
	b, err := json.Marshal(m.Config)
	if err != nil {
		return err
	}
	md := map[string]string{"format": Format, MetaKey: string(b)}
	for k, v := range meta {
		md[k] = v
	}
	return ml.SaveVariables(path, ctx, ctx.Scope(), md)
}

// Load rebuilds the model of an artifact under ctx (the model root, e.g.
// root.In(Root)); a graph that asks for a weight the file lacks fails
// naming it (ml.LoadVariables).
func Load(path string, ctx *context.Context) (*Model, map[string]string, error) {
	meta, err := ml.ReadSafetensorsMetadata(path)
	if err != nil {
		return nil, nil, err
	}
	var c Config
	if err := ml.DecodeMetadataJSON(path, meta, MetaKey, "vlm model artifact", "", &c); err != nil {
		return nil, nil, err
	}
	m, err := New(c)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := ml.LoadVariables(path, ctx, ctx.Scope()); err != nil {
		return nil, nil, err
	}
	return m, meta, nil
}

// Layout is NewLayout for this model.
func (m *Model) Layout(h, w int) (*Layout, error) {
	return NewLayout(m.Config.Tiling, m.Tok, m.FeatureWidth(), h, w)
}
