package videoqa

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	gomlxctx "github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/shammie-ml/shammie/plugins/actionatlas/internal/planted"
	"github.com/shammie-ml/shammie/sdk/ml"
)

type logReporter struct{ t testing.TB }

func (r logReporter) Progress(string, int64, int64, string) {}
func (r logReporter) Metric(name string, step int64, v float64) {
	if (name == "train/loss" || name == "train/accuracy" || name == "train/grad_norm") && step%20 == 0 {
		fmt.Fprintf(os.Stderr, "step %d %s %.3f\n", step, name, v)
	}
}
func (r logReporter) Logf(f string, a ...any) { r.t.Logf(f, a...) }

func TestExperiment(t *testing.T) {
	if os.Getenv("ATLAS_EXP") == "" {
		t.Skip()
	}
	steps, _ := strconv.Atoi(os.Getenv("ATLAS_EXP"))
	backend, release, err := ml.AcquireBackend("go")
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	cfg := TinyConfig{Size: 8, Patch: 8, DModel: 32, Heads: 2, VideoLayers: 2, TextLayers: 1, MaxText: 8, TimeScale: 15}
	for seed := uint64(1); seed <= 2; seed++ {
		start := time.Now()
		gctx := gomlxctx.New()
		m, loss, err := Train(context.Background(), backend, gctx, TrainOptions{Model: cfg, Train: ml.TrainConfig{Steps: steps, LR: 5e-3, WarmupSteps: 10, ClipNorm: 1},
			Batch: 16, Counts: []int{2, 4, 8, 16}, Seed: seed, Report: logReporter{t}})
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("seed %d: trained in %v, loss %.3f", seed, time.Since(start), loss)
		sc, err := NewScorer(backend, m, gctx)
		if err != nil {
			t.Fatal(err)
		}
		items, _ := planted.Generate(999+seed, 200, 8)
		var line []string
		for _, k := range []int{1, 2, 4, 8, 16} {
			ex, _ := PlantedExamples(items, k)
			s, err := sc.Score(ex)
			if err != nil {
				t.Fatal(err)
			}
			hit := 0
			for i, row := range s {
				b := 0
				for j := range row {
					if row[j] > row[b] {
						b = j
					}
				}
				if b == ex[i].Answer {
					hit++
				}
			}
			line = append(line, fmt.Sprintf("%d:%.2f", k, float64(hit)/float64(len(ex))))
		}
		fmt.Fprintf(os.Stderr, "seed %d: %s (%v)\n", seed, strings.Join(line, " "), time.Since(start))
	}
}
