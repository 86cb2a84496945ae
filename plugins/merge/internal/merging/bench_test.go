package merging

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/shammie-ml/shammie/plugins/merge/internal/operators"
	"github.com/shammie-ml/shammie/plugins/merge/internal/planted"
)

// BenchmarkTaskArithmetic merges a base and three 16 MiB checkpoints
// (warm page cache); go test -bench . -cpuprofile for where time goes.
func BenchmarkTaskArithmetic(b *testing.B) {
	dir := b.TempDir()
	set, err := planted.Generate(context.Background(), planted.Config{Dir: dir, Models: 3, Tensors: 16, Rows: 256, Cols: 1024, Density: 0.01, Signal: 0.1, Noise: 0.01, Seed: 1, NoIdeal: true})
	if err != nil {
		b.Fatal(err)
	}
	job := Job{Base: set.Base, Models: set.Models, Out: filepath.Join(dir, "out.safetensors"),
		Spec: operators.Spec{Method: operators.TaskArithmetic, Weights: []float64{1, 1, 1}, Scale: 1}}
	b.SetBytes(4 * set.Bytes)
	for b.Loop() {
		if _, err := Run(context.Background(), job); err != nil {
			b.Fatal(err)
		}
	}
}
