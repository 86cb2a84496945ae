package ml

import (
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
)

// expertsFF is a stand-in for moe's feed-forward: its variables
// (ff.router, ff.experts) are not the dense model's (ff.gate_up, ff.down).
func expertsFF(m *Transformer) FeedForward {
	return func(ctx *context.Context, _ int, x *graph.Node) *graph.Node {
		d := m.Config.DModel
		r := Weight(ctx.In("router"), "weights", shapes.Make(x.DType(), d, 2), 1/math.Sqrt(float64(d))).ValueGraph(x.Graph())
		e := Weight(ctx.In("experts"), "up", shapes.Make(x.DType(), d, d), 1/math.Sqrt(float64(d))).ValueGraph(x.Graph())
		gate := graph.ReduceAndKeep(MatMul(x, r), graph.ReduceMax, -1)
		return graph.Mul(MatMul(x, e), graph.Sigmoid(gate))
	}
}

func forwardOnce(t *testing.T, m *Transformer, ctx *context.Context) error {
	t.Helper()
	e, err := context.NewExec(openGo(t), ctx, func(ctx *context.Context, tok *graph.Node) *graph.Node {
		return m.Forward(ctx, Inputs{Tokens: tok}).Logits
	})
	if err != nil {
		return err
	}
	_, err = e.Exec(tensors.FromFlatDataAndDimensions([]int32{1, 2, 3}, 1, 3))
	return err
}

// TestLoadIntoAnotherModelFails loads an experts model's weights into a
// dense transformer of the same width: the lazy weights used to initialise
// the dense feed-forward at random and run. It must fail, naming the
// missing tensor and the file's tensors nothing uses.
func TestLoadIntoAnotherModelFails(t *testing.T) {
	cfg := Config{VocabSize: 16, DModel: 8, NumHeads: 2, NumLayers: 1, MaxSeqLen: 8}
	path := filepath.Join(t.TempDir(), "experts.safetensors")
	{
		m, ctx := newModel(t, cfg)
		m.FeedForward = expertsFF(m)
		if err := forwardOnce(t, m, ctx); err != nil {
			t.Fatal(err)
		}
		if err := SaveModelVariables(path, ctx, nil); err != nil {
			t.Fatal(err)
		}
	}
	dense, ctx := newModel(t, cfg)
	if err := LoadVariables(path, ctx, "/"+ModelScope); err != nil {
		t.Fatal(err)
	}
	err := forwardOnce(t, dense, ctx)
	if err == nil {
		t.Fatal("the dense model ran on an experts checkpoint (its feed-forward initialised at random)")
	}
	for _, want := range []string{path, "model.layer_0.ff.gate_up.weights", "model.layer_0.ff.experts.up", "model.layer_0.ff.router.weights"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not name %q:\n%v", want, err)
		}
	}

	// Into a context whose dense model already exists: every missing
	// tensor and every unused one is named at once.
	built, bctx := newModel(t, cfg)
	if err := forwardOnce(t, built, bctx); err != nil {
		t.Fatal(err)
	}
	err = LoadVariables(path, bctx, "/"+ModelScope)
	if err == nil {
		t.Fatal("loading an experts checkpoint into a built dense model succeeded")
	}
	for _, want := range []string{"model.layer_0.ff.gate_up.weights", "model.layer_0.ff.down.weights", "model.layer_0.ff.experts.up", "model.layer_0.ff.router.weights"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error does not name %q:\n%v", want, err)
		}
	}
}

// TestLoadedScopeLeavesOthersFree: loading a checkpoint at the root marks
// only the scopes the file fills; a second model built lazily elsewhere
// (a reference under /ref) still initialises.
func TestLoadedScopeLeavesOthersFree(t *testing.T) {
	cfg := Config{VocabSize: 16, DModel: 8, NumHeads: 2, NumLayers: 1, MaxSeqLen: 8}
	path := filepath.Join(t.TempDir(), "model.safetensors")
	m, ctx := newModel(t, cfg)
	if err := forwardOnce(t, m, ctx); err != nil {
		t.Fatal(err)
	}
	if err := SaveModelVariables(path, ctx, nil); err != nil {
		t.Fatal(err)
	}
	fresh := context.New()
	if err := LoadVariables(path, fresh, context.RootScope); err != nil {
		t.Fatal(err)
	}
	if err := forwardOnce(t, m, fresh); err != nil {
		t.Fatalf("the loaded model: %v", err)
	}
	if err := forwardOnce(t, m, fresh.In("ref")); err != nil {
		t.Fatalf("a fresh model under /ref next to a loaded one: %v", err)
	}
}
