package pipeline

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/shammie-ml/shammie/plugins/copybench/internal/planted"
	"github.com/shammie-ml/shammie/sdk"
	"github.com/shammie-ml/shammie/sdk/ml"
)

// plantedSettings is a model small enough for the test budget that still
// memorises six books.
var plantedSettings = ml.Settings{Layers: 2, DModel: 64, Heads: 4, Seq: 144, Batch: 12, Steps: 200,
	LR: 0.01, Warmup: 20, MinLRRatio: 0.1, WeightDecay: 0, Clip: 1, AccumSteps: 1}

// The planted truth: the model copies the books it was trained on,
// literally and non-literally, and not the held-out ones.
//
// It trains for minutes on 2 shared cores (9.5 min wall, 4.5 CPU-min
// measured), beyond the module's test budget: it runs when
// COPYBENCH_PLANTED=1 (make test-copybench-planted).
func TestPlantedMemorisation(t *testing.T) {
	if os.Getenv("COPYBENCH_PLANTED") == "" {
		t.Skip("planted memorisation trains for minutes: set COPYBENCH_PLANTED=1 (make test-copybench-planted)")
	}
	backend, release, err := ml.AcquireBackend("go")
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	books := planted.Make(planted.Config{Books: 6, HeldOut: 3, PrefixWords: 5, ContWords: 8, Seed: 1})
	start := time.Now()
	r, err := Planted(context.Background(), backend, books, plantedSettings,
		Decoding{MaxNew: 90, RepetitionPenalty: 1.1, Batch: 16}, filepath.Join(t.TempDir(), "m.safetensors"), "test", sdk.Discard)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%v; loss %.3f; trained %+v; held out %+v", time.Since(start).Round(time.Second), r.FinalLoss, r.Trained, r.HeldOut)
	for _, s := range r.Samples {
		t.Logf("%s %s trained=%v: %q", s.ID, s.Task, s.Trained, s.Output)
	}
	if r.Trained.LiteralRate < 0.8 || r.Trained.CharRate < 0.8 || r.Trained.EventRate < 0.8 {
		t.Errorf("trained books not copied: %+v", r.Trained)
	}
	if r.HeldOut.LiteralRate > 0 || r.HeldOut.CharRate > 0 || r.HeldOut.EventRate > 0 || r.HeldOut.MeanRouge > 0.2 {
		t.Errorf("held-out books copied: %+v", r.HeldOut)
	}
}
