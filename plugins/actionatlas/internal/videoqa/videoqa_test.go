package videoqa

import (
	"context"
	"fmt"
	"testing"

	gomlxctx "github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/shammie-ml/shammie/plugins/actionatlas/internal/planted"
	"github.com/shammie-ml/shammie/plugins/actionatlas/internal/protocol"
	"github.com/shammie-ml/shammie/sdk/ml"
)

type quietReporter struct{ t testing.TB }

func (quietReporter) Progress(string, int64, int64, string) {}
func (quietReporter) Metric(string, int64, float64)         {}
func (r quietReporter) Logf(f string, a ...any)             { r.t.Logf(f, a...) }

// TestPlantedCurve is the reduced planted experiment: tiny models trained
// on planted clips (2 seeds, 260 steps; specs/actionatlas.hcl runs 3 seeds
// longer) answer through the harness (direct prompt, parsed numbers) with
// 1, 2, 4 and 8 frames sampled. One middle frame and the first/last pair
// show only the centre: chance. Four frames show two of the four quadrant
// visits (two classes share them: ≈ 80 %), eight show all (≈ 100 %; the
// reduced run's bar is lower).
func TestPlantedCurve(t *testing.T) {
	if testing.Short() {
		t.Skip("trains two small models")
	}
	backend, release, err := ml.AcquireBackend("go")
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	cfg := TinyConfig{Size: 8, Patch: 8, DModel: 32, Heads: 2, VideoLayers: 2, TextLayers: 1, MaxText: 8, TimeScale: 15}
	counts := []int{1, 2, 4, 8}
	mean := make([]float64, len(counts))
	const seeds = 2
	for seed := uint64(1); seed <= seeds; seed++ {
		gctx := gomlxctx.New()
		m, loss, err := Train(context.Background(), backend, gctx, TrainOptions{Model: cfg,
			Train: ml.TrainConfig{Steps: 260, LR: 5e-3, WarmupSteps: 10, ClipNorm: 1}, Batch: 16, Counts: []int{2, 4, 8, 16}, Seed: seed, Report: quietReporter{t}})
		if err != nil {
			t.Fatal(err)
		}
		sc, err := NewScorer(backend, m, gctx)
		if err != nil {
			t.Fatal(err)
		}
		items, err := planted.Generate(1000+seed, 150, cfg.Size)
		if err != nil {
			t.Fatal(err)
		}
		qa := make([]Item, len(items))
		for i, it := range items {
			qa[i] = plantedItem(i, it)
		}
		var line []string
		for j, k := range counts {
			res, err := Evaluate(context.Background(), sc, qa, Options{Format: protocol.Direct, Sampling: Sampling{Frames: k}, Batch: 50, Samples: 100, Seed: seed})
			if err != nil {
				t.Fatal(err)
			}
			mean[j] += res.Interval.Accuracy / seeds
			line = append(line, fmt.Sprintf("%d:%.2f", k, res.Interval.Accuracy))
		}
		t.Logf("seed %d: final loss %.3f, accuracy by frames %v", seed, loss, line)
	}
	t.Logf("mean accuracy by frames %v: %.3f", counts, mean)
	const tol = 0.1 // 150 questions × 2 seeds: the standard error at 20 % is ≈ 0.023
	for j, k := range counts[:2] {
		if mean[j] < 0.2-tol || mean[j] > 0.2+tol {
			t.Errorf("%d frame(s): mean accuracy %.3f, want chance 0.2 ± %.1f", k, mean[j], tol)
		}
	}
	if mean[2] < mean[1]+0.3 {
		t.Errorf("4 frames: %.3f, not clearly above 2 frames (%.3f)", mean[2], mean[1])
	}
	if mean[3] < 0.8 || mean[3] < mean[2]-0.05 {
		t.Errorf("8 frames: %.3f, want ≥ 0.8 and no lower than 4 frames (%.3f)", mean[3], mean[2])
	}
}
