package ml

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
)

// testExpertsOptions are the options of the "test_experts" feed-forward.
type testExpertsOptions struct {
	Scale float64 `json:"scale"`
}

func init() {
	RegisterFFN("test_experts", func(cfg Config) (FeedForward, error) {
		var o testExpertsOptions
		if err := cfg.FFN.DecodeOptions(&o); err != nil {
			return nil, err
		}
		m := &Transformer{Config: cfg}
		ff := expertsFF(m)
		return func(ctx *context.Context, layer int, x *graph.Node) *graph.Node {
			return graph.MulScalar(ff(ctx, layer, x), o.Scale)
		}, nil
	})
}

func logitsOf(t *testing.T, m *Transformer, ctx *context.Context, ids []int32) []float64 {
	t.Helper()
	e := context.MustNewExec(openGo(t), ctx, func(ctx *context.Context, tok *graph.Node) *graph.Node {
		return m.Forward(ctx, Inputs{Tokens: tok}).Logits
	})
	return flat64(e.MustExec1(tensors.FromFlatDataAndDimensions(ids, 1, len(ids))))
}

// TestModelArtifactRoundTrip saves a dense and an experts model built at the
// root and loads each under /ref of a fresh context: one file rebuilds the
// model (feed-forward kind, options and tokenizer included) with identical
// logits.
func TestModelArtifactRoundTrip(t *testing.T) {
	tok := []int32{1, 5, 2, 9, 3, 256}
	opts, err := FFNOptions(testExpertsOptions{Scale: 0.5})
	if err != nil {
		t.Fatal(err)
	}
	for _, ffn := range []FFNSpec{{}, {Kind: "test_experts", Experts: 2, TopK: 1, ExpertHidden: 8, Options: opts}} {
		t.Run("ffn="+ffn.Kind, func(t *testing.T) {
			cfg := float64Config()
			cfg.VocabSize = 257
			cfg.FFN = ffn
			m, ctx := newModel(t, cfg)
			want := logitsOf(t, m, ctx, tok)
			path := filepath.Join(t.TempDir(), "model.safetensors")
			if err := SaveModel(path, ctx, m, ByteTokenizer{WithEOS: true}, map[string]string{"plugin": "test"}); err != nil {
				t.Fatal(err)
			}
			info, meta, err := ReadModelInfo(path)
			if err != nil {
				t.Fatal(err)
			}
			if info.Config != m.Config || info.Tokenizer != (TokenizerSpec{Kind: "byte", EOS: true}) || meta["plugin"] != "test" {
				t.Fatalf("info %+v meta %v, want config %+v", info, meta, m.Config)
			}
			fresh := context.New()
			lm, err := LoadModel(openGo(t), path, fresh.In("ref"))
			if err != nil {
				t.Fatal(err)
			}
			if lm.Tokenizer.EOS() != 256 {
				t.Errorf("tokenizer EOS %d, want 256", lm.Tokenizer.EOS())
			}
			got := logitsOf(t, lm.Transformer, fresh.In("ref"), tok)
			closeSlices(t, "logits of the loaded model", got, want, 0)
			for v := range fresh.IterVariables() {
				if !strings.HasPrefix(v.Scope(), "/ref/model/") {
					t.Errorf("variable %s outside /ref/model", v.ScopeAndName())
				}
			}
			// Saved again from /ref, the file names the same tensors.
			again := filepath.Join(t.TempDir(), "again.safetensors")
			if err := SaveModel(again, fresh.In("ref"), lm.Transformer, lm.Tokenizer, nil); err != nil {
				t.Fatal(err)
			}
			a, _, _ := ReadSafetensors(path)
			b, _, _ := ReadSafetensors(again)
			if len(a) != len(b) {
				t.Fatalf("%d tensors saved from /ref, %d from the root", len(b), len(a))
			}
			for name := range a {
				if _, ok := b[name]; !ok {
					t.Errorf("tensor %s missing when saved from /ref", name)
				}
			}
		})
	}
}

// TestLoadModelStrict checks that LoadModel refuses files that do not
// rebuild their model, naming what is wrong.
func TestLoadModelStrict(t *testing.T) {
	dir := t.TempDir()
	opts, _ := FFNOptions(testExpertsOptions{Scale: 1})
	cfg := float64Config()
	cfg.VocabSize = 256
	cfg.FFN = FFNSpec{Kind: "test_experts", Experts: 2, TopK: 1, ExpertHidden: 8, Options: opts}
	m, ctx := newModel(t, cfg)
	logitsOf(t, m, ctx, []int32{1, 2})
	experts := filepath.Join(dir, "experts.safetensors")
	if err := SaveModel(experts, ctx, m, ByteTokenizer{}, nil); err != nil {
		t.Fatal(err)
	}
	// rewrite returns a copy of the experts file whose metadata edit changed.
	rewrite := func(name string, edit func(info map[string]any, ts map[string]*tensors.Tensor)) string {
		ts, meta, err := ReadSafetensors(experts)
		if err != nil {
			t.Fatal(err)
		}
		var info map[string]any
		if err := json.Unmarshal([]byte(meta[modelMetaKey]), &info); err != nil {
			t.Fatal(err)
		}
		edit(info, ts)
		b, _ := json.Marshal(info)
		meta[modelMetaKey] = string(b)
		var nts []NamedTensor
		for n, v := range ts {
			nts = append(nts, NamedTensor{n, v})
		}
		p := filepath.Join(dir, name)
		if err := WriteSafetensors(p, nts, meta); err != nil {
			t.Fatal(err)
		}
		return p
	}
	asDense := rewrite("dense.safetensors", func(info map[string]any, _ map[string]*tensors.Tensor) {
		delete(info["config"].(map[string]any), "ffn")
	})
	unknownKind := rewrite("unknown.safetensors", func(info map[string]any, _ map[string]*tensors.Tensor) {
		info["config"].(map[string]any)["ffn"].(map[string]any)["kind"] = "nope"
	})
	lacking := rewrite("lacking.safetensors", func(_ map[string]any, ts map[string]*tensors.Tensor) {
		delete(ts, "model.head.weights")
		ts["extra.bias"] = tensors.FromValue([]float32{1})
	})
	plain := filepath.Join(dir, "plain.safetensors")
	if err := SaveModelVariables(plain, ctx, nil); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path string
		want       []string
	}{
		{"experts weights in a dense config", asDense, []string{asDense, "missing tensors", "model.layer_0.ff.gate_up.weights", "model.layer_1.ff.down.weights",
			"unused tensors", "model.layer_0.ff.experts.up", "model.layer_0.ff.router.weights"}},
		{"feed-forward kind not registered", unknownKind, []string{unknownKind, `feed-forward kind "nope"`, "test_experts", "RegisterFFN"}},
		{"missing head, extra tensor", lacking, []string{lacking, "extra.bias"}},
		{"not a model artifact", plain, []string{plain, "not a model artifact"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := LoadModel(openGo(t), tc.path, context.New())
			if err == nil {
				t.Fatal("no error")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not mention %q:\n%v", w, err)
				}
			}
		})
	}
	// The head alone missing is named as missing.
	noHead := rewrite("nohead.safetensors", func(_ map[string]any, ts map[string]*tensors.Tensor) { delete(ts, "model.head.weights") })
	_, err := LoadModel(openGo(t), noHead, context.New())
	if err == nil || !strings.Contains(err.Error(), "missing tensors") || !strings.Contains(err.Error(), "model.head.weights") {
		t.Fatalf("missing head: %v", err)
	}
	// A hand-set feed-forward cannot be saved as a model.
	hand, hctx := newModel(t, float64Config())
	hand.FeedForward = expertsFF(hand)
	logitsOf(t, hand, hctx, []int32{1, 2})
	if err := SaveModel(filepath.Join(dir, "hand.safetensors"), hctx, hand, ByteTokenizer{}, nil); err == nil || !strings.Contains(err.Error(), "RegisterFFN") {
		t.Fatalf("hand-set feed-forward: %v", err)
	}
}

// TestModelArtifactEncoderOnly saves a vocab-0 encoder (a ViT fed patch
// embeddings) with a nil tokenizer and loads it back under /ref: the file
// says tokenizer "none", the loaded model has no tokenizer and gives the
// same hidden states; a tokenizer with such a model, or none with a
// vocabulary, is refused.
func TestModelArtifactEncoderOnly(t *testing.T) {
	backend := openGo(t)
	cfg := float64Config()
	cfg.VocabSize, cfg.EncoderOnly, cfg.Bidirectional, cfg.NoRoPE = 0, true, true, true
	m, ctx := newModel(t, cfg)
	in := tensors.FromFlatDataAndDimensions(randFloats(4, 3*cfg.DModel), 1, 3, cfg.DModel)
	hidden := func(m *Transformer, ctx *context.Context) []float64 {
		return flat64(context.MustNewExec(backend, ctx, func(ctx *context.Context, e *graph.Node) *graph.Node {
			return m.Forward(ctx, Inputs{Embeddings: e}).Hidden
		}).MustExec1(in))
	}
	want := hidden(m, ctx)
	path := filepath.Join(t.TempDir(), "vit.safetensors")
	if err := SaveModel(path, ctx, m, ByteTokenizer{}, nil); err == nil {
		t.Error("a tokenizer for a vocab-0 model was accepted")
	}
	if err := SaveModel(path, ctx, m, nil, map[string]string{"plugin": "test"}); err != nil {
		t.Fatal(err)
	}
	info, _, err := ReadModelInfo(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Tokenizer.Kind != TokenizerNone || info.Config != m.Config {
		t.Errorf("info %+v", info)
	}
	fresh := context.New()
	lm, err := LoadModel(backend, path, fresh.In("ref"))
	if err != nil {
		t.Fatal(err)
	}
	if lm.Tokenizer != nil {
		t.Errorf("tokenizer %v, want none", lm.Tokenizer)
	}
	closeSlices(t, "hidden states of the loaded encoder", hidden(lm.Transformer, fresh.In("ref")), want, 0)

	dec := float64Config()
	dm, dctx := newModel(t, dec)
	logitsOf(t, dm, dctx, []int32{1, 2})
	if err := SaveModel(filepath.Join(t.TempDir(), "lm.safetensors"), dctx, dm, nil, nil); err == nil {
		t.Error("a model with a vocabulary was saved without a tokenizer")
	}
}

// TestDecodeMetadataJSON: the one strict reader of a JSON configuration
// in safetensors metadata (the kit's model artifacts, vlm, actionatlas).
func TestDecodeMetadataJSON(t *testing.T) {
	type conf struct{ Layers int }
	cases := []struct {
		name string
		meta map[string]string
		want conf
		err  string
	}{
		{"good", map[string]string{"k": `{"Layers": 3}`}, conf{3}, ""},
		{"missing key", map[string]string{"other": "{}"}, conf{}, `f.safetensors: not a thing: its safetensors metadata has no "k"; try x`},
		{"unknown field", map[string]string{"k": `{"Layers": 3, "Heads": 2}`}, conf{3}, `f.safetensors: metadata "k": json: unknown field "Heads"`},
		{"not JSON", map[string]string{"k": `{`}, conf{}, `f.safetensors: metadata "k": unexpected EOF`},
	}
	for _, tc := range cases {
		var got conf
		err := DecodeMetadataJSON("f.safetensors", tc.meta, "k", "thing", "try x", &got)
		if msg := fmt.Sprint(err); tc.err == "" && err != nil || tc.err != "" && msg != tc.err {
			t.Errorf("%s: error %v, want %q", tc.name, err, tc.err)
		}
		if got != tc.want {
			t.Errorf("%s: decoded %+v, want %+v", tc.name, got, tc.want)
		}
	}
}
