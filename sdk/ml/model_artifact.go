package ml

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/ml/context"
)

// A model artifact is ONE safetensors file that rebuilds its model: the
// weights, and in the header's __metadata__ the key "shammie.model" holding
// ModelInfo as JSON (architecture, the full Config including the
// feed-forward kind — MoE experts, top-k, expert width — and the
// tokenizer). A plugin hands it to the next step as its "model" artifact;
// the next step calls LoadModel on step.X.artifacts.model.
//
// Tensor names are relative to the scope the model was built under, so a
// model trained at the root can be loaded as a reference under "/ref":
// "model.layer_0.attn.qkv.weights" and so on (see Transformer).

// ModelFormat is the "format" of a model artifact's metadata.
const ModelFormat = "shammie-ml/model/1"

// ModelMediaType is the media type plugins declare for a model artifact.
const ModelMediaType = "application/vnd.shammie.model+safetensors"

// ModelArchitecture is the one architecture the kit builds.
const ModelArchitecture = "decoder-transformer"

const modelMetaKey = "shammie.model"

// ModelInfo is what a model artifact says about itself.
type ModelInfo struct {
	Format       string        `json:"format"`
	Architecture string        `json:"architecture"`
	Config       Config        `json:"config"`
	Tokenizer    TokenizerSpec `json:"tokenizer"`
}

// TokenizerSpec names a tokenizer so that a model file carries it.
type TokenizerSpec struct {
	Kind string `json:"kind"` // "byte", or "none" (a vocab-0 encoder)
	EOS  bool   `json:"eos,omitempty"`
	// Special lists the byte tokenizer's special tokens (ids 257 on),
	// separated by spaces (a string keeps the spec comparable with ==).
	Special string `json:"special,omitempty"`
}

// TokenizerNone is the tokenizer kind of a model without a vocabulary (an
// encoder-only model with vocab_size 0, such as a ViT fed patch embeddings).
const TokenizerNone = "none"

// TokenizerSpecOf describes t; only tokenizers the kit defines can be saved.
// A nil t is kind "none".
func TokenizerSpecOf(t Tokenizer) (TokenizerSpec, error) {
	switch t := t.(type) {
	case nil:
		return TokenizerSpec{Kind: TokenizerNone}, nil
	case ByteTokenizer:
		return TokenizerSpec{Kind: "byte", EOS: t.WithEOS, Special: strings.Join(t.Special, " ")}, t.Validate()
	case *ByteTokenizer:
		return TokenizerSpec{Kind: "byte", EOS: t.WithEOS, Special: strings.Join(t.Special, " ")}, t.Validate()
	default:
		return TokenizerSpec{}, fmt.Errorf("tokenizer %T cannot be described in a model file (known: byte)", t)
	}
}

// New returns the tokenizer the spec names (nil for kind "none").
func (s TokenizerSpec) New() (Tokenizer, error) {
	switch s.Kind {
	case TokenizerNone:
		return nil, nil
	case "byte":
		t := ByteTokenizer{WithEOS: s.EOS, Special: strings.Fields(s.Special)}
		return t, t.Validate()
	default:
		return nil, fmt.Errorf("unknown tokenizer kind %q (known: byte)", s.Kind)
	}
}

// SaveModel writes the model built under ctx (its variables are under
// ctx's scope + "/model") and tok to path as one model artifact, atomically.
// meta adds free-form strings (the plugin and its version, say). The model's
// feed-forward must be rebuildable from its Config: a FeedForward set by hand
// on a Config whose FFN says SwiGLU is refused. A model without a
// vocabulary (encoder-only, vocab_size 0: a ViT) is saved with a nil tok, and
// only such a model may be.
func SaveModel(path string, ctx *context.Context, m *Transformer, tok Tokenizer, meta map[string]string) error {
	if m.FeedForward != nil && m.Config.FFN.IsSwiGLU() {
		return errors.New("ml.SaveModel: the model's FeedForward was set by hand but Config.FFN says SwiGLU, so the file could not rebuild it: " +
			"register the feed-forward with ml.RegisterFFN and name it in Config.FFN")
	}
	ts, err := TokenizerSpecOf(tok)
	if err != nil {
		return fmt.Errorf("ml.SaveModel: %w", err)
	}
	switch {
	case tok == nil && m.Config.VocabSize > 0:
		return fmt.Errorf("ml.SaveModel: a model with a vocabulary (%d ids) needs its tokenizer", m.Config.VocabSize)
	case tok != nil && m.Config.VocabSize == 0:
		return errors.New("ml.SaveModel: the model has no vocabulary (vocab_size 0): save it with a nil tokenizer")
	case tok != nil && tok.VocabSize() > m.Config.VocabSize:
		return fmt.Errorf("ml.SaveModel: the tokenizer has %d ids but the model only %d", tok.VocabSize(), m.Config.VocabSize)
	}
	info := ModelInfo{Format: ModelFormat, Architecture: ModelArchitecture, Config: m.Config, Tokenizer: ts}
	ib, err := json.Marshal(info)
	if err != nil {
		return err
	}
	md := map[string]string{}
	for k, v := range meta {
		md[k] = v
	}
	md["format"], md[modelMetaKey] = ModelFormat, string(ib)

	base := ctx.Scope()
	var out []NamedTensor
	for _, v := range VariablesUnder(ctx, context.JoinScope(base, ModelScope)) {
		val, err := v.Value()
		if err != nil {
			return fmt.Errorf("variable %s: %w", v.ScopeAndName(), err)
		}
		out = append(out, NamedTensor{relativeTensorName(base, v), val})
	}
	if len(out) == 0 {
		return fmt.Errorf("ml.SaveModel: no variables under %s: build (run) a graph of the model or load it first",
			context.JoinScope(base, ModelScope))
	}
	return WriteSafetensors(path, out, md)
}

// relativeTensorName is v's tensor name without the scope base.
func relativeTensorName(base string, v *context.Variable) string {
	return tensorNameOf(strings.TrimPrefix(v.Scope(), strings.TrimSuffix(base, context.ScopeSeparator)), v.Name())
}

// ReadModelInfo reads a model artifact's description (the header only).
func ReadModelInfo(path string) (ModelInfo, map[string]string, error) {
	meta, err := ReadSafetensorsMetadata(path)
	if err != nil {
		return ModelInfo{}, nil, err
	}
	info, err := parseModelInfo(path, meta)
	return info, meta, err
}

func parseModelInfo(path string, meta map[string]string) (ModelInfo, error) {
	var info ModelInfo
	if err := DecodeMetadataJSON(path, meta, modelMetaKey, "model artifact",
		"a file written by ml.SaveModel has it; plain weight files load with ml.LoadVariables", &info); err != nil {
		return info, err
	}
	if info.Format != ModelFormat {
		return info, fmt.Errorf("%s: model format %q, this kit reads %q", path, info.Format, ModelFormat)
	}
	if info.Architecture != ModelArchitecture {
		return info, fmt.Errorf("%s: architecture %q, this kit builds %q", path, info.Architecture, ModelArchitecture)
	}
	info.Config = info.Config.WithDefaults()
	if err := info.Config.Validate(); err != nil {
		return info, fmt.Errorf("%s: %w", path, err)
	}
	return info, nil
}

// Model is a model loaded from its artifact.
type Model struct {
	*Transformer
	Info      ModelInfo
	Tokenizer Tokenizer // nil for a model without a vocabulary
	// Meta is the file's whole metadata (SaveModel's meta included).
	Meta map[string]string
}

// LoadModel rebuilds the model of a model artifact under ctx's scope (its
// variables go to ctx's scope + "/model"; use ctx.In("ref") for a second
// model next to a first). It checks strictly that the file and the model
// agree: every weight the model needs must be in the file with its shape,
// and every tensor of the file must be used; the error names all missing
// and unused tensors. backend only builds (never runs) a probe graph.
func LoadModel(backend backends.Backend, path string, ctx *context.Context) (*Model, error) {
	ts, meta, err := ReadSafetensors(path)
	if err != nil {
		return nil, err
	}
	info, err := parseModelInfo(path, meta)
	if err != nil {
		return nil, err
	}
	tr, err := NewTransformer(info.Config)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	tok, err := info.Tokenizer.New()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if (tok == nil) != (info.Config.VocabSize == 0) {
		return nil, fmt.Errorf("%s: tokenizer %q does not fit vocab_size %d", path, info.Tokenizer.Kind, info.Config.VocabSize)
	}
	base := strings.TrimSuffix(ctx.Scope(), context.ScopeSeparator)
	modelScope := context.JoinScope(ctx.Scope(), ModelScope)
	varPath := func(name string) (string, string) {
		s, n := splitTensorName(name)
		return base + s, n
	}
	var outside []string
	for name := range ts {
		if !strings.HasPrefix(name, ModelScope+".") {
			outside = append(outside, name)
		}
	}
	if len(outside) > 0 {
		return nil, mismatchError(path, nil, outside)
	}
	if err := loadTensors(path, ts, ctx, modelScope, func(v *context.Variable) string { return relativeTensorName(ctx.Scope(), v) }, varPath); err != nil {
		return nil, err
	}
	if err := probeModel(backend, path, ctx, tr); err != nil {
		return nil, err
	}
	return &Model{Transformer: tr, Info: info, Tokenizer: tok, Meta: meta}, nil
}

// probeModel builds (without running) a forward graph of one token and
// compares the weights it asks for with what was loaded.
func probeModel(backend backends.Backend, path string, ctx *context.Context, m *Transformer) (err error) {
	ls := loadedOf(ctx, true)
	var missing []string
	ls.mu.Lock()
	ls.missing = &missing
	ls.mu.Unlock()
	g := graph.NewGraph(backend, "ml.LoadModel.probe")
	defer func() {
		ls.mu.Lock()
		ls.missing = nil
		ls.mu.Unlock()
		g.Finalize()
	}()
	func() {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("%s: building the model failed: %v", path, r)
			}
		}()
		in := Inputs{Tokens: graph.Zeros(g, shapes.Make(dtypes.Int32, 1, 1))}
		if m.Config.VocabSize == 0 { // an encoder fed embeddings only
			in = Inputs{Embeddings: graph.Zeros(g, shapes.Make(m.Config.dtype(), 1, 1, m.Config.DModel))}
		}
		if m.Config.PrefixVocab > 0 {
			in.Prefix = graph.Zeros(g, shapes.Make(dtypes.Int32, 1))
		}
		m.Forward(ctx, in)
	}()
	if err != nil {
		return err
	}
	base := strings.TrimSuffix(ctx.Scope(), context.ScopeSeparator)
	var unused []string
	for _, v := range VariablesUnder(ctx, context.JoinScope(ctx.Scope(), ModelScope)) {
		if !v.InUseByGraph(g) {
			unused = append(unused, relativeTensorName(ctx.Scope(), v))
		}
	}
	rel := make([]string, len(missing))
	for i, full := range missing {
		s, n := splitTensorName(full)
		rel[i] = tensorNameOf(strings.TrimPrefix(s, base), n)
		_ = ctx.DeleteVariable(s, n)
	}
	if len(rel)+len(unused) > 0 {
		return mismatchError(path, rel, unused)
	}
	return nil
}
