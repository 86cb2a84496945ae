package videoqa

import (
	"context"
	"encoding/json"
	"fmt"
	"math"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	gomlxctx "github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/shammie-ml/shammie/plugins/actionatlas/internal/clip"
	"github.com/shammie-ml/shammie/sdk/ml"
)

// TinyConfig sizes the tiny video-QA model: a CLIP-style dual encoder whose
// video tower is the kit encoder over frame patches (PatchEmbed, fixed
// SinCos2D patch positions, a 1-D sin-cos time position per frame,
// non-causal attention, EncoderOnly, NoRoPE) and whose text tower is the
// kit encoder over the bytes of each choice name. A choice's score is the
// scaled dot product of the mean-pooled, projected towers.
type TinyConfig struct {
	Size        int `json:"size"`         // frames are resized (nearest) to Size×Size
	Patch       int `json:"patch"`        // patch side; Size must be a multiple
	DModel      int `json:"d_model"`      // width of both towers
	Heads       int `json:"heads"`        // attention heads
	VideoLayers int `json:"video_layers"` // video tower depth
	TextLayers  int `json:"text_layers"`  // text tower depth
	MaxText     int `json:"max_text"`     // bytes of a choice name kept (longer ones are cut)
	// TimeScale maps a frame's relative time in its clip (0 … 1) to the
	// position fed to the sin-cos table: the planted clips' 16 frames are
	// positions 0 … 15.
	TimeScale float64 `json:"time_scale"`
}

// MetaKey is the safetensors metadata key holding the TinyConfig as JSON.
const MetaKey = "actionatlas.tiny"

// Check reports the first problem with the sizes.
func (c TinyConfig) Check() error {
	switch {
	case c.Size <= 0 || c.Patch <= 0 || c.Size%c.Patch != 0:
		return fmt.Errorf("frame size %d must be a positive multiple of the patch %d", c.Size, c.Patch)
	case c.DModel <= 0 || c.Heads <= 0 || c.DModel%c.Heads != 0 || c.DModel%4 != 0:
		return fmt.Errorf("d_model %d must be a positive multiple of 4 and of heads %d", c.DModel, c.Heads)
	case (c.DModel/c.Heads)%2 != 0:
		return fmt.Errorf("d_model/heads = %d must be even (the text tower's rotary positions)", c.DModel/c.Heads)
	case c.VideoLayers <= 0 || c.TextLayers <= 0:
		return fmt.Errorf("both towers need at least one layer")
	case c.MaxText <= 0:
		return fmt.Errorf("max_text must be positive")
	case !(c.TimeScale > 0):
		return fmt.Errorf("time_scale must be positive")
	}
	return nil
}

// Tiny is the model's graph builder.
type Tiny struct {
	Config      TinyConfig
	video, text *ml.Transformer
}

// NewTiny builds the towers.
func NewTiny(c TinyConfig) (*Tiny, error) {
	if err := c.Check(); err != nil {
		return nil, err
	}
	grid := c.Size / c.Patch
	video, err := ml.NewTransformer(ml.Config{DModel: c.DModel, NumHeads: c.Heads, NumLayers: c.VideoLayers,
		MaxSeqLen: 4096 * grid * grid, Bidirectional: true, EncoderOnly: true, NoRoPE: true})
	if err != nil {
		return nil, err
	}
	text, err := ml.NewTransformer(ml.Config{VocabSize: 256, DModel: c.DModel, NumHeads: c.Heads, NumLayers: c.TextLayers,
		MaxSeqLen: c.MaxText, Bidirectional: true, EncoderOnly: true})
	if err != nil {
		return nil, err
	}
	return &Tiny{Config: c, video: video, text: text}, nil
}

// Scores builds the choice scores [B, C] from frames [B, T, S, S, 3]
// (floats, centred), time positions [B, T, d_model], choice bytes
// [B·C, MaxText] int32 left-padded and the padding per row [B·C] int32.
func (m *Tiny) Scores(ctx *gomlxctx.Context, frames, tpos, tok, pad *graph.Node) *graph.Node {
	c := m.Config
	g := frames.Graph()
	b, t := frames.Shape().Dim(0), frames.Shape().Dim(1)
	grid := c.Size / c.Patch
	np := grid * grid
	d := c.DModel
	x := graph.Reshape(frames, b*t, c.Size, c.Size, 3)
	e := ml.PatchEmbed(ctx.In("video").In("patch"), x, c.Patch, d) // [B·T, np, d]
	pos := ml.PatchPositions(ctx.In("video"), g, grid, grid, d, dtypes.Float32, false)
	e = graph.Add(e, graph.BroadcastToDims(graph.ExpandAxes(pos, 0), b*t, np, d))
	e = graph.Reshape(e, b, t, np, d)
	e = graph.Add(e, graph.BroadcastToDims(graph.ExpandAxes(tpos, 2), b, t, np, d))
	e = graph.Reshape(e, b, t*np, d)
	h := m.video.Forward(ctx.In("video"), ml.Inputs{Embeddings: e}).Hidden
	v := ml.MatMul(graph.ReduceMean(h, 1), ml.Weight(ctx.In("video_proj"), "weights", shapes.Make(dtypes.Float32, d, d), 1/math.Sqrt(float64(d))).ValueGraph(g))

	th := m.text.Forward(ctx.In("text"), ml.Inputs{Tokens: tok, Pad: pad}).Hidden // [B·C, L, d]
	rows, l := tok.Shape().Dim(0), tok.Shape().Dim(1)
	keep := graph.GreaterOrEqual(graph.Iota(g, shapes.Make(dtypes.Int32, rows, l), 1), graph.BroadcastToDims(graph.ExpandAxes(pad, 1), rows, l))
	tv := graph.MaskedReduceMean(th, graph.BroadcastToDims(graph.ExpandAxes(keep, 2), rows, l, d), 1) // [B·C, d]
	tv = ml.MatMul(tv, ml.Weight(ctx.In("text_proj"), "weights", shapes.Make(dtypes.Float32, d, d), 1/math.Sqrt(float64(d))).ValueGraph(g))
	tv = graph.Reshape(tv, b, rows/b, d)
	// CLIP's score: cosine similarity times a temperature (CLIP learns it
	// from 1/0.07; fixed at LogitScale here).
	v = unit(v)
	tv = unit(tv)
	return graph.MulScalar(graph.Einsum("bd,bcd->bc", v, tv), LogitScale)
}

// LogitScale multiplies the cosine similarities (CLIP's initial 1/0.07).
const LogitScale = 1 / 0.07

// unit scales the rows of x [..., d] to unit length.
func unit(x *graph.Node) *graph.Node {
	n := graph.Sqrt(graph.AddScalar(graph.ReduceAndKeep(graph.Square(x), graph.ReduceSum, -1), 1e-12))
	return graph.Div(x, n)
}

// Loss is the cross-entropy of the correct choice; batch = frames, tpos,
// tok, pad, answer [B] int32 (0-based). It reports train/accuracy.
func (m *Tiny) Loss(ctx *gomlxctx.Context, batch []*graph.Node) *graph.Node {
	s := m.Scores(ctx, batch[0], batch[1], batch[2], batch[3])
	c := s.Shape().Dim(1)
	onehot := graph.OneHot(batch[4], c, s.DType())
	ll := graph.ReduceSum(graph.Mul(graph.LogSoftmax(s, 1), onehot), 1)
	hit := graph.ConvertDType(graph.Equal(graph.ArgMax(s, 1, dtypes.Int32), batch[4]), s.DType())
	ml.AddMetric(ctx, "accuracy", graph.ReduceAllMean(hit))
	return graph.Neg(graph.ReduceAllMean(ll))
}

// Example is one question as the tiny model sees it.
type Example struct {
	Frames  clip.Clip // the sampled frames
	Times   []float64 // each frame's relative time in its clip, 0 … 1
	Choices []string  // choice names
	Answer  int       // 0-based; ignored when scoring
}

// Tensors builds the model's inputs for examples with equal frame and
// choice counts: frames, tpos, tok, pad, answer.
func (m *Tiny) Tensors(ex []Example) ([]*tensors.Tensor, error) {
	c := m.Config
	if len(ex) == 0 {
		return nil, fmt.Errorf("no examples")
	}
	t, nc := ex[0].Frames.T, len(ex[0].Choices)
	s, d := c.Size, c.DModel
	frames := make([]float32, 0, len(ex)*t*s*s*3)
	tpos := make([]float32, 0, len(ex)*t*d)
	tok := make([]int32, len(ex)*nc*c.MaxText)
	pad := make([]int32, len(ex)*nc)
	ans := make([]int32, len(ex))
	for i, e := range ex {
		if e.Frames.T != t || len(e.Choices) != nc || len(e.Times) != t {
			return nil, fmt.Errorf("example %d: %d frames, %d choices, %d times; the batch has %d frames and %d choices", i, e.Frames.T, len(e.Choices), len(e.Times), t, nc)
		}
		frames = appendResized(frames, e.Frames, s)
		for _, tm := range e.Times {
			tpos = append(tpos, SinCos1D(tm*c.TimeScale, d)...)
		}
		for j, name := range e.Choices {
			bs := []byte(name)
			if len(bs) > c.MaxText {
				bs = bs[:c.MaxText]
			}
			row := (i*nc + j) * c.MaxText
			p := c.MaxText - len(bs)
			pad[i*nc+j] = int32(p)
			for k, by := range bs {
				tok[row+p+k] = int32(by)
			}
		}
		ans[i] = int32(e.Answer)
	}
	return []*tensors.Tensor{
		tensors.FromFlatDataAndDimensions(frames, len(ex), t, s, s, 3),
		tensors.FromFlatDataAndDimensions(tpos, len(ex), t, d),
		tensors.FromFlatDataAndDimensions(tok, len(ex)*nc, c.MaxText),
		tensors.FromFlatDataAndDimensions(pad, len(ex)*nc),
		tensors.FromFlatDataAndDimensions(ans, len(ex)),
	}, nil
}

// appendResized appends the clip's frames resized (nearest neighbour) to
// s×s, each frame standardised (zero mean, unit variance over its values):
// the object, not the background level, is what the patch embedding sees.
func appendResized(dst []float32, c clip.Clip, s int) []float32 {
	for t := range c.T {
		f := c.Frame(t)
		start := len(dst)
		for y := range s {
			sy := y * c.H / s
			for x := range s {
				sx := x * c.W / s
				p := (sy*c.W + sx) * 3
				for ch := range 3 {
					dst = append(dst, float32(f[p+ch]))
				}
			}
		}
		standardise(dst[start:])
	}
	return dst
}

func standardise(v []float32) {
	var sum, sq float64
	for _, x := range v {
		sum += float64(x)
	}
	mean := sum / float64(len(v))
	for _, x := range v {
		sq += (float64(x) - mean) * (float64(x) - mean)
	}
	std := math.Sqrt(sq/float64(len(v))) + 1e-3
	for i, x := range v {
		v[i] = float32((float64(x) - mean) / std)
	}
}

// SinCos1D is the 1-D sine-cosine position of p in d dimensions: [sin(p·ω_k)
// …, cos(p·ω_k) …], ω_k = 10000^(-k/(d/2)).
func SinCos1D(p float64, d int) []float32 {
	h := d / 2
	out := make([]float32, d)
	for k := range h {
		om := math.Pow(10000, -float64(k)/float64(h))
		out[k], out[h+k] = float32(math.Sin(p*om)), float32(math.Cos(p*om))
	}
	return out
}

// Scorer runs a trained Tiny: one compiled graph per input shape.
type Scorer struct {
	M    *Tiny
	Ctx  *gomlxctx.Context
	exec *gomlxctx.Exec
}

// NewScorer prepares scoring with the variables in ctx.
func NewScorer(backend backends.Backend, m *Tiny, ctx *gomlxctx.Context) (*Scorer, error) {
	exec, err := gomlxctx.NewExec(backend, ctx, func(ctx *gomlxctx.Context, frames, tpos, tok, pad *graph.Node) *graph.Node {
		return m.Scores(ctx, frames, tpos, tok, pad)
	})
	if err != nil {
		return nil, err
	}
	return &Scorer{M: m, Ctx: ctx, exec: exec}, nil
}

// Score returns each example's choice scores.
func (s *Scorer) Score(ex []Example) ([][]float32, error) {
	in, err := s.M.Tensors(ex)
	if err != nil {
		return nil, err
	}
	defer finalize(in)
	out, err := s.exec.Exec(in[0], in[1], in[2], in[3])
	if err != nil {
		return nil, err
	}
	defer finalize(out)
	flat := tensors.MustCopyFlatData[float32](out[0])
	nc := len(ex[0].Choices)
	res := make([][]float32, len(ex))
	for i := range res {
		res[i] = flat[i*nc : (i+1)*nc]
	}
	return res, nil
}

func finalize(ts []*tensors.Tensor) {
	for _, t := range ts {
		t.FinalizeAll()
	}
}

// Save writes the model's variables and config (metadata MetaKey) to path.
func Save(path string, m *Tiny, ctx *gomlxctx.Context, meta map[string]string) error {
	b, err := json.Marshal(m.Config)
	if err != nil {
		return err
	}
	all := map[string]string{MetaKey: string(b)}
	for k, v := range meta {
		all[k] = v
	}
	return ml.SaveModelVariables(path, ctx, all)
}

// Load reads a model written by Save into a fresh context.
func Load(path string) (*Tiny, *gomlxctx.Context, error) {
	meta, err := ml.ReadSafetensorsMetadata(path)
	if err != nil {
		return nil, nil, err
	}
	var c TinyConfig
	if err := ml.DecodeMetadataJSON(path, meta, MetaKey, "actionatlas tiny model", "", &c); err != nil {
		return nil, nil, err
	}
	m, err := NewTiny(c)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	ctx := gomlxctx.New()
	if err := ml.LoadVariables(path, ctx, gomlxctx.RootScope); err != nil {
		return nil, nil, err
	}
	return m, ctx, nil
}

// Answer implements Model: the number (1-based) of the best-scored choice,
// as a model told to "only output the choice number" would answer.
// Queries of equal frame and choice counts are scored together.
func (s *Scorer) Answer(_ context.Context, qs []Query) ([]string, error) {
	out := make([]string, len(qs))
	for start := 0; start < len(qs); {
		end := start + 1
		for end < len(qs) && qs[end].Frames.T == qs[start].Frames.T && len(qs[end].Choices) == len(qs[start].Choices) {
			end++
		}
		ex := make([]Example, end-start)
		for i, q := range qs[start:end] {
			ex[i] = Example{Frames: q.Frames, Times: q.Times(), Choices: q.Choices}
		}
		scores, err := s.Score(ex)
		if err != nil {
			return nil, err
		}
		for i, sc := range scores {
			best := 0
			for j, v := range sc {
				if v > sc[best] {
					best = j
				}
			}
			out[start+i] = fmt.Sprint(best + 1)
		}
		start = end
	}
	return out, nil
}
