package ml

import (
	"encoding/json"
	"fmt"
	"math"
	"os"

	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/ml/context"
)

// Config describes the decoder-only transformer. It is stored next to every
// checkpoint as config.json (the JSON field names are part of the format).
type Config struct {
	VocabSize int `json:"vocab_size"`
	DModel    int `json:"d_model"`
	NumHeads  int `json:"num_heads"`
	NumLayers int `json:"num_layers"`
	// DFF is the SwiGLU hidden width; 0 means 8/3·DModel rounded up to 32.
	DFF       int     `json:"d_ff"`
	MaxSeqLen int     `json:"max_seq_len"` // positions a KV cache holds (prefix included)
	RoPEBase  float64 `json:"rope_base"`   // 0 means 10000
	NormEps   float64 `json:"norm_eps"`    // RMSNorm epsilon; 0 means 1e-6
	QKNorm    bool    `json:"qk_norm"`     // RMSNorm on each head's q and k (after the projection, before RoPE)
	// PrefixVocab > 0 enables the conditioning prefix: PrefixLen learned
	// vectors per conditioning id (a ComPO community, say) are placed in front
	// of the tokens. 0 disables it.
	PrefixVocab int `json:"prefix_vocab"`
	PrefixLen   int `json:"prefix_len"`
	// DType of weights and activations: "float32" (default) or "float64"
	// (gradient checks).
	DType string `json:"dtype"`
	// ComputeDType is the dtype the matrix products run in: "" or "float32"
	// (the model's dtype), or "bfloat16" — mixed precision with DType's
	// weights as masters, see precision.go.
	ComputeDType string `json:"compute_dtype,omitempty"`
	// FFN selects the feed-forward sublayer: zero is SwiGLU of width DFF;
	// other kinds (MoE) come from RegisterFFN.
	FFN FFNSpec `json:"ffn,omitzero"`
	// Encoder pieces (encoder.go). Bidirectional makes attention non-causal
	// (every position sees every non-padding position; no KV cache).
	// NoRoPE drops the rotary positions: the caller adds positions to
	// Inputs.Embeddings (a ViT's 2-D patch positions). EncoderOnly drops the
	// vocabulary head: Outputs.Logits is nil, Outputs.Hidden is the result,
	// and VocabSize may be 0 (then only Inputs.Embeddings feed the model).
	Bidirectional bool `json:"bidirectional,omitempty"`
	NoRoPE        bool `json:"no_rope,omitempty"`
	EncoderOnly   bool `json:"encoder_only,omitempty"`
}

// WithDefaults fills the zero fields that have defaults.
func (c Config) WithDefaults() Config {
	if c.DFF == 0 && c.DModel > 0 {
		c.DFF = (8*c.DModel/3 + 31) / 32 * 32
	}
	if c.RoPEBase == 0 {
		c.RoPEBase = 10000
	}
	if c.NormEps == 0 {
		c.NormEps = 1e-6
	}
	if c.DType == "" {
		c.DType = "float32"
	}
	if c.PrefixVocab > 0 && c.PrefixLen == 0 {
		c.PrefixLen = 1
	}
	return c
}

// Validate reports the first problem with the configuration.
func (c Config) Validate() error {
	switch {
	case c.VocabSize < 0 || (c.VocabSize == 0 && !c.EncoderOnly):
		return fmt.Errorf("model config: vocab_size must be > 0, got %d", c.VocabSize)
	case c.DModel <= 0 || c.NumHeads <= 0 || c.DModel%c.NumHeads != 0:
		return fmt.Errorf("model config: d_model (%d) must be a positive multiple of num_heads (%d)", c.DModel, c.NumHeads)
	case !c.NoRoPE && (c.DModel/c.NumHeads)%2 != 0:
		return fmt.Errorf("model config: the head width d_model/num_heads = %d must be even for RoPE", c.DModel/c.NumHeads)
	case c.NumLayers <= 0:
		return fmt.Errorf("model config: num_layers must be > 0, got %d", c.NumLayers)
	case c.DFF <= 0:
		return fmt.Errorf("model config: d_ff must be > 0, got %d", c.DFF)
	case c.MaxSeqLen <= 0:
		return fmt.Errorf("model config: max_seq_len must be > 0, got %d", c.MaxSeqLen)
	case c.PrefixVocab < 0 || c.PrefixLen < 0:
		return fmt.Errorf("model config: prefix_vocab and prefix_len must be >= 0")
	case c.DType != "float32" && c.DType != "float64":
		return fmt.Errorf("model config: dtype must be \"float32\" or \"float64\", got %q", c.DType)
	}
	_, _, err := computeDTypeOf(c.ComputeDType)
	return err
}

// HeadDim is DModel/NumHeads.
func (c Config) HeadDim() int { return c.DModel / c.NumHeads }

// PrefixPositions is the number of stream positions the prefix occupies.
func (c Config) PrefixPositions() int {
	if c.PrefixVocab > 0 {
		return c.PrefixLen
	}
	return 0
}

func (c Config) dtype() dtypes.DType {
	if c.DType == "float64" {
		return dtypes.Float64
	}
	return dtypes.Float32
}

// SaveConfig writes c as indented JSON.
func SaveConfig(path string, c Config) error {
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	return writeFileAtomic(path, append(b, '\n'))
}

// LoadConfig reads a config.json written by SaveConfig.
func LoadConfig(path string) (Config, error) {
	var c Config
	b, err := os.ReadFile(path)
	if err != nil {
		return c, err
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("%s: %w", path, err)
	}
	c = c.WithDefaults()
	if err := c.Validate(); err != nil {
		return c, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// FeedForward is a transformer block's feed-forward sublayer. x is the
// RMS-normalised residual stream, [batch, seq, d_model]; the result must have
// the same shape and is added to the residual stream. ctx is already scoped
// to "layer_<layer>/ff", so variables created there are named
// model.layer_<layer>.ff.<...>. A FeedForward may call AddAuxLoss (its loss
// joins the training objective and is reported as a metric) and Capture (to
// export per-layer tensors such as router top-k choices as extra outputs).
type FeedForward func(ctx *context.Context, layer int, x *graph.Node) *graph.Node

// Transformer is the decoder-only model: token embedding, optional
// conditioning prefix, NumLayers pre-norm blocks (RMSNorm → causal
// multi-head attention with RoPE and optional QK-norm → residual; RMSNorm →
// feed-forward → residual), final RMSNorm and an untied output head.
//
// Variables live under the scope "/model" of the context:
//
//	model.embed.table            [vocab, d_model]
//	model.prefix.table           [prefix_vocab, prefix_len, d_model] (with a prefix)
//	model.layer_<i>.attn_norm.gain   [d_model]
//	model.layer_<i>.attn.qkv.weights [d_model, 3·d_model]  (columns: q | k | v, heads contiguous)
//	model.layer_<i>.attn.q_norm.gain [d_head] (QKNorm)
//	model.layer_<i>.attn.k_norm.gain [d_head] (QKNorm)
//	model.layer_<i>.attn.out.weights [d_model, d_model]
//	model.layer_<i>.ff_norm.gain     [d_model]
//	model.layer_<i>.ff.gate_up.weights [d_model, 2·d_ff] (columns: gate | up; SwiGLU)
//	model.layer_<i>.ff.down.weights    [d_ff, d_model]   (SwiGLU)
//	model.final_norm.gain        [d_model]
//	model.head.weights           [d_model, vocab]
//
// Every weight is stored as [in, out] (y = x·W), unlike PyTorch's nn.Linear.
// See TensorName for the variable → tensor-name rule.
type Transformer struct {
	Config Config
	// FeedForward is built from Config.FFN by NewTransformer (nil: SwiGLU).
	// Setting another one by hand works for experiments, but such a model
	// cannot be rebuilt from its saved file: register an FFNBuilder instead.
	FeedForward FeedForward
}

// NewTransformer validates cfg (after defaults) and returns the model, with
// the feed-forward cfg.FFN names (see RegisterFFN).
func NewTransformer(cfg Config) (*Transformer, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	ff, err := buildFFN(cfg)
	if err != nil {
		return nil, err
	}
	return &Transformer{Config: cfg, FeedForward: ff}, nil
}

// ModelScope is the context scope holding the transformer's variables.
const ModelScope = "model"

// Inputs of a forward pass.
type Inputs struct {
	// Tokens [batch, seq] int32; may be nil when Embeddings are given.
	Tokens *graph.Node
	// Embeddings [batch, seq, d_model], optional: continuous inputs (image
	// features), added to the token embeddings (EmbedAdd, the default; zero
	// rows leave a token alone) or in their place (EmbedReplace, or Tokens
	// nil). See encoder.go.
	Embeddings *graph.Node
	EmbedMode  EmbedMode
	// Prefix [batch] int32 conditioning ids; required iff the config has a
	// prefix. With a KV cache, pass it with the first chunk only (offset 0):
	// the prefix positions then sit in the cache like any other.
	Prefix *graph.Node
	// Hooks reads/overwrites activations; nil for none.
	Hooks *Hooks
	// Cache, when set, makes this a decoding chunk: keys/values of previous
	// positions come from it and the new ones are written into it.
	Cache *KVCache
	// Pad [batch] int32, optional: the number of padding tokens at the start
	// of each row's Tokens (left padding, so that prompts of different lengths
	// share a batch). Padding is never attended to, and each row's positions
	// (RoPE) skip it, so a padded row computes what it would alone. With a
	// prefix the padding sits between the prefix and the tokens. With a KV
	// cache, give the same Pad with every chunk: the padding stays in the
	// cache. Outputs at padding positions are meaningless.
	Pad *graph.Node
}

// Outputs of a forward pass.
type Outputs struct {
	// Logits [batch, seq, vocab] for the token positions (prefix positions are
	// dropped).
	Logits *graph.Node
	// Hidden is the final normalised stream [batch, seq, d_model] for the
	// token positions (logit lens applies Head to earlier residuals).
	Hidden *graph.Node
	// Cache is the updated cache (nil without one).
	Cache *KVCache
}

// KVCache holds keys and values of all layers for decoding: K[l] is
// [batch, heads, max_seq_len, d_head] and V[l] [batch, heads, d_head,
// max_seq_len], the layouts in which both attention products read them
// directly (simplego's DotGeneral would otherwise transpose the whole cache
// at every step, in every layer). Offset (scalar int32) is the number of
// positions already written; the slots from Offset on must be zero (as
// NewKVCache makes them), since a chunk is added into them with one scatter
// (simplego has no DynamicUpdateSlice, and a scatter-update costs a mask and
// a Where over the whole cache).
type KVCache struct {
	K, V   []*graph.Node
	Offset *graph.Node
}

// NewKVCache returns an empty cache for batch sequences in graph g.
func (m *Transformer) NewKVCache(g *graph.Graph, batch int) *KVCache {
	c := m.Config
	kShape := shapes.Make(c.dtype(), batch, c.NumHeads, c.MaxSeqLen, c.HeadDim())
	vShape := shapes.Make(c.dtype(), batch, c.NumHeads, c.HeadDim(), c.MaxSeqLen)
	kv := &KVCache{Offset: graph.Const(g, int32(0))}
	for range c.NumLayers {
		kv.K = append(kv.K, graph.Zeros(g, kShape))
		kv.V = append(kv.V, graph.Zeros(g, vShape))
	}
	return kv
}

// Forward builds the model's graph.
func (m *Transformer) Forward(ctx *context.Context, in Inputs) Outputs {
	c := m.Config
	ctx = ctx.In(ModelScope)
	x := m.embedInputs(ctx, in) // [batch, seq, d_model]
	g := x.Graph()
	if cdt, mixed, _ := computeDTypeOf(c.ComputeDType); mixed {
		SetComputeDType(g, cdt)
	}
	dt := c.dtype()
	seq := x.Shape().Dim(1)
	if c.Bidirectional && in.Cache != nil {
		panic("ml.Transformer.Forward: a bidirectional (non-causal) model cannot decode with a KV cache")
	}

	offset := graph.Const(g, int32(0))
	if in.Cache != nil {
		offset = in.Cache.Offset
	}
	prefixLen := 0
	if c.PrefixVocab > 0 && in.Prefix == nil && in.Cache == nil {
		panic("ml.Transformer.Forward: the model has a conditioning prefix (prefix_vocab > 0) but Inputs.Prefix is nil")
	}
	if c.PrefixVocab > 0 && in.Prefix != nil {
		ptab := Weight(ctx.In("prefix"), "table", shapes.Make(dt, c.PrefixVocab, c.PrefixLen, c.DModel), 0.02).ValueGraph(g)
		p := graph.Gather(ptab, graph.ExpandAxes(graph.ConvertDType(in.Prefix, dtypes.Int32), -1)) // [batch, prefix_len, d_model]
		x = graph.Concatenate([]*graph.Node{p, x}, 1)
		prefixLen = c.PrefixLen
	}
	total := seq + prefixLen
	cos, sin, bias := m.layout(g, in, offset, x.Shape().Dim(0), total)
	// With host-computed tables, the queries' 1/√d_head scale is folded into
	// a second pair of tables: no pass over q for it, and none for its
	// gradient (GoMLX's Mul gradient broadcasts the scalar to q's shape).
	var qcos, qsin *graph.Node
	if in.Pad == nil && in.Cache == nil && !c.NoRoPE {
		qcos, qsin = ropeConstTables(g, c, x.Shape().Dim(0), total, dt, 1/math.Sqrt(float64(c.HeadDim())))
	}

	var newCache *KVCache
	if in.Cache != nil {
		newCache = &KVCache{Offset: graph.AddScalar(offset, float64(total))}
	}
	for l := range c.NumLayers {
		lctx := ctx.In(fmt.Sprintf("layer_%d", l))
		x = in.Hooks.apply(HookPoint{l, SiteResidIn}, x)

		h := RMSNorm(lctx.In("attn_norm"), x, c.NormEps)
		var kc, vc *graph.Node
		if in.Cache != nil {
			kc, vc = in.Cache.K[l], in.Cache.V[l]
		}
		a, k2, v2 := m.attention(lctx.In("attn"), l, h, ropeTabs{cos, sin, qcos, qsin}, bias, offset, kc, vc, in.Hooks)
		if newCache != nil {
			newCache.K = append(newCache.K, k2)
			newCache.V = append(newCache.V, v2)
		}
		a = in.Hooks.apply(HookPoint{l, SiteAttnOut}, a)
		x = graph.Add(x, a)
		x = in.Hooks.apply(HookPoint{l, SiteResidMid}, x)

		h = RMSNorm(lctx.In("ff_norm"), x, c.NormEps)
		ff := m.FeedForward
		if ff == nil {
			ff = m.SwiGLU
		}
		f := ff(lctx.In("ff"), l, h)
		if !f.Shape().Equal(h.Shape()) {
			panic(fmt.Sprintf("ml.Transformer: feed-forward of layer %d returned %s, want %s", l, f.Shape(), h.Shape()))
		}
		f = in.Hooks.apply(HookPoint{l, SiteMLPOut}, f)
		x = graph.Add(x, f)
		x = in.Hooks.apply(HookPoint{l, SiteResidOut}, x)
	}
	if prefixLen > 0 {
		x = Split(x, 1, prefixLen, seq)[1]
	}
	hidden := m.finalNorm(ctx, x)
	if c.EncoderOnly {
		return Outputs{Hidden: hidden, Cache: newCache}
	}
	return Outputs{Logits: m.head(ctx, hidden), Hidden: hidden, Cache: newCache}
}

// Head applies the output projection to a [.., d_model] stream (already
// normalised: for the logit lens, apply FinalNorm first). ctx is the context
// given to Forward (the model's variables are under its scope + "/model"),
// so a model under "/ref" has its lens read "/ref/model/head".
func (m *Transformer) Head(ctx *context.Context, hidden *graph.Node) *graph.Node {
	return m.head(ctx.In(ModelScope), hidden)
}

// head is Head with ctx already at the model scope.
func (m *Transformer) head(ctx *context.Context, hidden *graph.Node) *graph.Node {
	w := Weight(ctx.In("head"), "weights", shapes.Make(m.Config.dtype(), m.Config.DModel, m.Config.VocabSize),
		1/math.Sqrt(float64(m.Config.DModel))).ValueGraph(hidden.Graph())
	return MatMul(hidden, w)
}

// FinalNorm applies the model's final RMSNorm to a residual stream, for the
// logit lens: Head(ctx, FinalNorm(ctx, resid)), with the ctx given to Forward.
func (m *Transformer) FinalNorm(ctx *context.Context, resid *graph.Node) *graph.Node {
	return m.finalNorm(ctx.In(ModelScope), resid)
}

func (m *Transformer) finalNorm(ctx *context.Context, resid *graph.Node) *graph.Node {
	return RMSNorm(ctx.In("final_norm"), resid, m.Config.NormEps)
}

// SwiGLU is the default feed-forward: down(silu(x·Wgate) ⊙ (x·Wup)), with
// gate and up fused into one [d_model, 2·d_ff] matmul.
func (m *Transformer) SwiGLU(ctx *context.Context, _ int, x *graph.Node) *graph.Node {
	c := m.Config
	g := x.Graph()
	wgu := Weight(ctx.In("gate_up"), "weights", shapes.Make(x.DType(), c.DModel, 2*c.DFF), 1/math.Sqrt(float64(c.DModel))).ValueGraph(g)
	gu := MatMul(x, wgu)
	parts := Split(gu, -1, c.DFF, c.DFF)
	gate, up := parts[0], parts[1]
	h := SiLUMul(gate, up)
	wd := Weight(ctx.In("down"), "weights", shapes.Make(x.DType(), c.DFF, c.DModel),
		1/math.Sqrt(float64(c.DFF))/math.Sqrt(2*float64(c.NumLayers))).ValueGraph(g)
	return MatMul(h, wd)
}

// RMSNorm normalises the last axis: x / sqrt(mean(x²) + eps) · gain, with a
// learned gain variable "gain" (initialised to ones) in ctx's scope.
func RMSNorm(ctx *context.Context, x *graph.Node, eps float64) *graph.Node {
	d := x.Shape().Dim(-1)
	gain := Weight(ctx, "gain", shapes.Make(x.DType(), d), -1).ValueGraph(x.Graph())
	// The same operations as ReduceMean and implicit broadcasting, with the
	// broadcasts as block copies (see broadcast.go).
	ms := graph.MulScalar(SumLast(graph.Square(x)), 1/float64(d))
	return graph.Mul(graph.Div(x, ExpandLast(graph.Sqrt(graph.AddScalar(ms, eps)), d)), ExpandTo(gain, x.Shape().Dimensions...))
}

// causalBias is the constant [seq, seq] additive mask: 0 where key j ≤ query
// i, -1e9 elsewhere (exp underflows to exactly 0).
func causalBias(g *graph.Graph, seq int, dt dtypes.DType) *graph.Node {
	v := make([]float64, seq*seq)
	for i := range seq {
		for j := i + 1; j < seq; j++ {
			v[i*seq+j] = -1e9
		}
	}
	return graph.Const(g, tensorFromFloat64(shapes.Make(dt, seq, seq), v))
}

// ropeTables returns cos and sin' (first half negated) [total, d_head] for
// positions offset…offset+total-1, computed in-graph because the offset of
// a KV-cache chunk is dynamic.
func ropeTables(g *graph.Graph, c Config, offset *graph.Node, total int, dt dtypes.DType) (cos, sin *graph.Node) {
	return ropeAt(c, graph.Add(graph.Iota(g, shapes.Make(dtypes.Int32, total), 0), offset), dt)
}

// ropeAt returns cos and sin' (first half negated) for int32 positions of
// any shape: [pos…, d_head].
func ropeAt(c Config, pos *graph.Node, dt dtypes.DType) (cos, sin *graph.Node) {
	g := pos.Graph()
	inv := ropeInvFreq(c)
	sign := make([]float64, len(inv))
	for i := range sign {
		sign[i] = 1
		if i < len(inv)/2 {
			sign[i] = -1
		}
	}
	row := func(v []float64) *graph.Node { // [1…, d_head]
		return graph.ExpandLeftToRank(graph.ConvertDType(graph.Const(g, v), dt), pos.Rank()+1)
	}
	ang := graph.Mul(graph.ExpandAxes(graph.ConvertDType(pos, dt), -1), row(inv))
	return graph.Cos(ang), graph.Mul(graph.Sin(ang), row(sign))
}

// applyRoPE rotates x [batch, seq, heads, d_head] in the rotate-half layout:
// x·cos + concat(x₂, x₁)·sin', where sin' is sin with its first half negated
// (so no separate Neg pass). cos and sin' are either [seq, d_head] tables or
// already broadcast to x's shape.
func applyRoPE(x, cos, sin *graph.Node) *graph.Node {
	dh := x.Shape().Dim(-1)
	half := dh / 2
	halves := Split(x, -1, half, dh-half)
	rot := graph.Concatenate([]*graph.Node{halves[1], halves[0]}, -1)
	if cos.Rank() == 2 {
		cos = graph.InsertAxes(cos, 0, 1) // [1, seq, 1, d_head]
		sin = graph.InsertAxes(sin, 0, 1)
	}
	return graph.Add(graph.Mul(x, cos), graph.Mul(rot, sin))
}

// ropeInvFreq: column i and i+d_head/2 rotate at base^(-2i/d_head).
func ropeInvFreq(c Config) []float64 {
	half := c.HeadDim() / 2
	inv := make([]float64, c.HeadDim())
	for i := range half {
		f := math.Pow(c.RoPEBase, -2*float64(i)/float64(c.HeadDim()))
		inv[i], inv[i+half] = f, f
	}
	return inv
}

// ropeConstTables returns cos and sin' (first half negated) for positions
// 0…total-1, broadcast to [batch, total, heads, d_head] and multiplied by
// scale, as constants.
func ropeConstTables(g *graph.Graph, c Config, batch, total int, dt dtypes.DType, scale float64) (cos, sin *graph.Node) {
	inv := ropeInvFreq(c)
	dh, nh := c.HeadDim(), c.NumHeads
	cv := make([]float64, batch*total*nh*dh)
	sv := make([]float64, len(cv))
	for p := range total {
		for i := range dh {
			a := float64(p) * inv[i]
			co, si := scale*math.Cos(a), scale*math.Sin(a)
			if i < dh/2 {
				si = -si
			}
			for b := range batch {
				for h := range nh {
					k := ((b*total+p)*nh+h)*dh + i
					cv[k], sv[k] = co, si
				}
			}
		}
	}
	shape := shapes.Make(dt, batch, total, nh, dh)
	return graph.Const(g, tensorFromFloat64(shape, cv)), graph.Const(g, tensorFromFloat64(shape, sv))
}

// layout returns the RoPE tables and the additive attention bias (0 where a
// query may see a key, -1e9 elsewhere: exp underflows to exactly 0) of a
// chunk of total stream positions starting at cache slot offset. The bias is
// [1 or batch, 1, total, keys], keys being total without a cache and
// max_seq_len with one; it is built once and shared by every layer.
func (m *Transformer) layout(g *graph.Graph, in Inputs, offset *graph.Node, batch, total int) (cos, sin, bias *graph.Node) {
	c := m.Config
	dt := c.dtype()
	if in.Pad != nil {
		return m.paddedLayout(g, in, offset, batch, total)
	}
	if in.Cache == nil {
		bias = graph.InsertAxes(causalBias(g, total, dt), 0, 0)
		if c.Bidirectional {
			bias = graph.Zeros(g, shapes.Make(dt, 1, 1, total, total))
		}
		if c.NoRoPE {
			return nil, nil, bias
		}
		// Positions are static: host-computed tables at the full q/k shape,
		// so the RoPE products are same-shape (no broadcasting) ops.
		cos, sin = ropeConstTables(g, c, batch, total, dt, 1)
		return cos, sin, bias
	}
	cos, sin = ropeTables(g, c, offset, total, dt)
	// Query i sits at slot offset+i and may see slot j iff j ≤ offset+i.
	qi := graph.Add(graph.Iota(g, shapes.Make(dtypes.Int32, total, c.MaxSeqLen), 0), offset)
	kj := graph.Iota(g, shapes.Make(dtypes.Int32, total, c.MaxSeqLen), 1)
	bias = graph.Where(graph.LessOrEqual(kj, qi), graph.Zeros(g, shapes.Make(dt, total, c.MaxSeqLen)),
		graph.Scalar(g, dt, -1e9))
	return cos, sin, graph.InsertAxes(bias, 0, 0)
}

// paddedLayout is layout for left-padded rows (Inputs.Pad): row b's padding
// occupies slots P…P+pad[b]-1 (P the prefix positions), which no query sees,
// and a slot s ≥ P has position s-pad[b], so RoPE angles are those of the row
// alone. cos and sin' are [batch, total, 1, d_head].
func (m *Transformer) paddedLayout(g *graph.Graph, in Inputs, offset *graph.Node, batch, total int) (cos, sin, bias *graph.Node) {
	c := m.Config
	dt := c.dtype()
	keys := total
	if in.Cache != nil {
		keys = c.MaxSeqLen
	}
	start := int32(c.PrefixPositions())
	pad := graph.ExpandAxes(graph.ConvertDType(in.Pad, dtypes.Int32), -1) // [batch, 1]
	slot := graph.ExpandAxes(graph.Add(graph.Iota(g, shapes.Make(dtypes.Int32, total), 0), offset), 0)
	afterPrefix := graph.ConvertDType(graph.GreaterOrEqual(slot, graph.Const(g, start)), dtypes.Int32)
	pos := graph.Sub(slot, graph.Mul(pad, afterPrefix)) // [batch, total]

	cos, sin = ropeAt(c, pos, dt)
	cos = graph.Reshape(cos, batch, total, 1, c.HeadDim())
	sin = graph.Reshape(sin, batch, total, 1, c.HeadDim())

	// Query at slot offset+i sees slot j iff j ≤ offset+i and j is not padding.
	qi := graph.Add(graph.Iota(g, shapes.Make(dtypes.Int32, 1, total, keys), 1), offset)
	kj := graph.Iota(g, shapes.Make(dtypes.Int32, 1, total, keys), 2)
	padLo := graph.Const(g, start)
	padHi := graph.Reshape(graph.AddScalar(pad, float64(start)), batch, 1, 1)
	isPad := graph.LogicalAnd(graph.BroadcastToDims(graph.GreaterOrEqual(kj, padLo), batch, total, keys),
		graph.LessThan(graph.BroadcastToDims(kj, batch, total, keys), graph.BroadcastToDims(padHi, batch, total, keys)))
	see := graph.LogicalNot(isPad)
	if !c.Bidirectional {
		see = graph.LogicalAnd(graph.BroadcastToDims(graph.LessOrEqual(kj, qi), batch, total, keys), see)
	}
	bias = graph.Where(see, graph.Zeros(g, shapes.Make(dt, batch, total, keys)), graph.Scalar(g, dt, -1e9))
	return cos, sin, graph.InsertAxes(bias, 1)
}

// addAt adds update into x at offset along axis; update's other dimensions
// are x's. It is one scatter-sum of update's elements, or of its rows when
// axis is not the last: simplego scatters correctly only windows of whole
// trailing axes (a window of the whole update lands at the wrong place).
func addAt(x, update, offset *graph.Node, axis int) *graph.Node {
	g := x.Graph()
	lead := update.Shape().Dimensions[:axis+1] // indexed axes: up to and including axis
	idxShape := shapes.Make(dtypes.Int32, append(append([]int(nil), lead...), 1)...)
	parts := make([]*graph.Node, len(lead))
	for a := range lead {
		parts[a] = graph.Iota(g, idxShape, a)
		if a == axis {
			parts[a] = graph.Add(parts[a], graph.ConvertDType(offset, dtypes.Int32))
		}
	}
	return graph.ScatterSum(x, graph.Concatenate(parts, -1), update, true, true)
}

// attention is causal multi-head self-attention on h [batch, seq, d_model].
// Scores are q·k/sqrt(d_head) plus bias (from layout: the causal and padding
// mask). With a cache (kc, vc non-nil) the new keys and values are written at
// offset and attention spans the whole cache.
// ropeTabs are the RoPE tables of a forward pass; qcos and qsin, when not
// nil, also carry the queries' 1/√d_head scale.
type ropeTabs struct{ cos, sin, qcos, qsin *graph.Node }

func (m *Transformer) attention(ctx *context.Context, layer int, h *graph.Node, rope ropeTabs, bias, offset, kc, vc *graph.Node, hooks *Hooks) (out, kOut, vOut *graph.Node) {
	c := m.Config
	g := h.Graph()
	batch, seq := h.Shape().Dim(0), h.Shape().Dim(1)
	nh, dh := c.NumHeads, c.HeadDim()
	wqkv := Weight(ctx.In("qkv"), "weights", shapes.Make(h.DType(), c.DModel, 3*c.DModel), 1/math.Sqrt(float64(c.DModel))).ValueGraph(g)
	qkv := graph.Reshape(MatMul(h, wqkv), batch, seq, 3, nh, dh)
	parts := Split(qkv, 2, 1, 1, 1)
	pick := func(i int) *graph.Node { return graph.Reshape(parts[i], batch, seq, nh, dh) }
	q, k, v := pick(0), pick(1), pick(2)
	if c.QKNorm {
		q = RMSNorm(ctx.In("q_norm"), q, c.NormEps)
		k = RMSNorm(ctx.In("k_norm"), k, c.NormEps)
	}
	if !c.NoRoPE {
		k = applyRoPE(k, rope.cos, rope.sin)
	}
	// Scale q (seq·d_model values) rather than the scores (seq²·heads).
	switch {
	case rope.qcos != nil:
		q = applyRoPE(q, rope.qcos, rope.qsin) // scale folded into the tables
	case !c.NoRoPE:
		q = graph.MulScalar(applyRoPE(q, rope.cos, rope.sin), 1/math.Sqrt(float64(dh)))
	default:
		q = graph.MulScalar(q, 1/math.Sqrt(float64(dh)))
	}

	var scores, ctxv *graph.Node // [batch, heads, seq, keys], [batch, heads, seq, d_head]
	if kc == nil {
		scores = DotGeneral(q, []int{3}, []int{0, 2}, k, []int{3}, []int{0, 2})
	} else {
		// Add the chunk into slots offset…offset+seq-1 (zero until now).
		kOut = addAt(kc, graph.TransposeAllAxes(k, 0, 2, 1, 3), offset, 2)
		vOut = addAt(vc, graph.TransposeAllAxes(v, 0, 2, 3, 1), offset, 3)
		// Decoding takes no gradients: the plain product (DotGeneral's
		// gradient identities would copy the cache, which is also an output).
		scores = DotGeneral0(graph.TransposeAllAxes(q, 0, 2, 1, 3), []int{3}, []int{0, 1}, kOut, []int{3}, []int{0, 1})
	}
	// An additive bias and a plain softmax cost fewer passes over the scores
	// than MaskedSoftmax's three Where()s.
	probs := SoftmaxLast(graph.Add(scores, ExpandTo(bias, scores.Shape().Dimensions...)))
	if kc == nil {
		ctxv = DotGeneral(probs, []int{3}, []int{0, 1}, v, []int{1}, []int{0, 2})
	} else {
		ctxv = DotGeneral0(probs, []int{3}, []int{0, 1}, vOut, []int{3}, []int{0, 1})
	}
	heads := graph.TransposeAllAxes(ctxv, 0, 2, 1, 3) // [batch, seq, heads, d_head]
	heads = hooks.apply(HookPoint{layer, SiteHeads}, heads)
	wo := Weight(ctx.In("out"), "weights", shapes.Make(h.DType(), c.DModel, c.DModel),
		1/math.Sqrt(float64(c.DModel))/math.Sqrt(2*float64(c.NumLayers))).ValueGraph(g)
	out = MatMul(graph.Reshape(heads, batch, seq, c.DModel), wo)
	return out, kOut, vOut
}
