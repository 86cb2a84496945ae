package planted

import (
	"context"
	"encoding/json"
	"os"

	"github.com/zclconf/go-cty/cty"

	"github.com/shammie-ml/shammie/plugins/fit/internal/dataset"
	"github.com/shammie-ml/shammie/sdk"
)

// Step is the plugin's generate mode: it generates the set c describes (the
// concepts and counts of countsCSV instead, when given) and reports the
// bundle and the truth as the step's artifacts and outputs.
func Step(ctx context.Context, run *sdk.Run, c Config, countsCSV string, cols dataset.Columns) error {
	if countsCSV != "" {
		counts, err := dataset.ReadCounts(countsCSV, cols.Concept, cols.Count)
		if err != nil {
			return err
		}
		c.Counts = counts
	}
	set, err := Generate(c)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := run.WriteArtifact("embeddings", "embeddings.safetensors", set.WriteBundle); err != nil {
		return err
	}
	truth := map[string]any{"planted_threshold": c.Threshold, "expected_threshold": set.Expected,
		"concepts": set.Names, "counts": set.Counts, "seed": run.Seed,
		"config": map[string]any{"prompts": c.Prompts, "train_images": c.TrainImages, "generated_images": c.GeneratedImages,
			"width": c.Width, "below": c.Below, "above": c.Above, "noise": c.Noise, "counts_csv": countsCSV}}
	if err := run.WriteArtifact("truth", "truth.json", func(path string) error {
		b, err := json.MarshalIndent(truth, "", "  ")
		if err != nil {
			return err
		}
		return os.WriteFile(path, append(b, '\n'), 0o644)
	}); err != nil {
		return err
	}
	run.Logf("generated %d concepts (%d prompts × %d images, %d training images, width %d); onset at %d, first count at or above it %d",
		len(set.Names), c.Prompts, c.GeneratedImages, c.TrainImages, c.Width, c.Threshold, set.Expected)
	return run.Outputs(map[string]cty.Value{
		"n_concepts":         cty.NumberIntVal(int64(len(set.Names))),
		"planted_threshold":  cty.NumberIntVal(c.Threshold),
		"expected_threshold": cty.NumberIntVal(set.Expected),
	})
}
