package main

import (
	"context"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"

	"github.com/zclconf/go-cty/cty"

	"github.com/shammie-ml/shammie/plugins/fit/internal/dataset"
	"github.com/shammie-ml/shammie/plugins/fit/internal/demo"
	"github.com/shammie-ml/shammie/sdk"
	"github.com/shammie-ml/shammie/sdk/ml"
)

// Version is the plugin's semantic version.
const Version = "0.1.0"

// Plugin implements sdk.Plugin.
type Plugin struct{}

// Config is the step config; its tags are also the schema (sdk.BlockOf).
type Config struct {
	Mode string `cty:"mode" default:"\"estimate\"" doc:"\"estimate\": find the imitation threshold of a score table or embedding set. \"generate\": write a demo embedding set with a planted onset."`

	// estimate
	Scores        string  `cty:"scores" optional:"true" doc:"estimate: score table, .csv (with a header) or .jsonl; columns/fields concept, count, score and optionally prompt (several rows per concept, one per prompt, are averaged and their spread kept). Give exactly one of scores and embeddings."`
	Embeddings    string  `cty:"embeddings" optional:"true" doc:"estimate: embeddings to score, either a .safetensors bundle (tensors train/<concept> [images, width] and generated/<concept> [prompts, images, width], metadata count/<concept>; what generate mode writes) or a .csv manifest with columns concept, count, train, generated (one row per prompt; paths relative to the manifest; .npy or single-tensor .safetensors)."`
	ConceptColumn string  `cty:"concept_column" default:"\"concept\"" doc:"Name of the concept column in scores (and in counts_csv)."`
	CountColumn   string  `cty:"count_column" default:"\"count\"" doc:"Name of the image-count column in scores (and in counts_csv)."`
	ScoreColumn   string  `cty:"score_column" default:"\"score\"" doc:"Name of the imitation-score column in scores."`
	PromptColumn  string  `cty:"prompt_column" default:"\"prompt\"" doc:"Name of the optional prompt column in scores; a repeated (concept, prompt) pair is an error."`
	DropInvalid   bool    `cty:"drop_invalid" default:"false" doc:"Leave malformed rows, NaN scores, incomplete concepts and concepts with mismatched widths out instead of failing; they are counted in the outputs dropped_rows and dropped_concepts and listed in the summary."`
	Penalty       float64 `cty:"penalty" default:"0.9" doc:"PELT penalty per segment (l2 cost, min_size 1, jump 1), as in ruptures' Pelt(model=\"l2\").predict(pen); the reference uses 0.9."`
	Bootstrap     int     `cty:"bootstrap" default:"1000" doc:"Bootstrap resamples of the concepts for the threshold's confidence interval (seeded by the step seed); 0 skips the interval."`
	Confidence    float64 `cty:"confidence" default:"0.95" doc:"Level of the bootstrap interval (percentile method)."`
	Title         string  `cty:"title" optional:"true" doc:"Plot title (default: the input file name)."`

	// generate
	NConcepts        int     `cty:"n_concepts" default:"200" doc:"generate: number of concepts, with counts drawn log-uniformly in [min_count, max_count] (ignored with counts_csv)."`
	MinCount         int64   `cty:"min_count" default:"1" doc:"generate: smallest image count."`
	MaxCount         int64   `cty:"max_count" default:"100000" doc:"generate: largest image count."`
	PlantedThreshold int64   `cty:"planted_threshold" default:"300" doc:"generate: concepts with at least this many images are imitated."`
	CountsCSV        string  `cty:"counts_csv" optional:"true" doc:"generate: take concepts and counts from this CSV instead (columns concept_column and count_column), e.g. the real per-artist LAION counts of MIMETIC²."`
	Prompts          int     `cty:"prompts" default:"5" doc:"generate: prompts per concept."`
	TrainImages      int     `cty:"train_images" default:"20" doc:"generate: training images per concept."`
	GeneratedImages  int     `cty:"generated_images" default:"10" doc:"generate: generated images per prompt."`
	Width            int     `cty:"width" default:"64" doc:"generate: embedding width."`
	Below            float64 `cty:"below" default:"0.25" doc:"generate: weight of the concept in generated images below the onset (0 = pure model prior, 1 = the concept)."`
	Above            float64 `cty:"above" default:"0.75" doc:"generate: weight of the concept in generated images from the onset on."`
	Noise            float64 `cty:"noise" default:"0.35" doc:"generate: per-image noise norm (concept centres have norm 1)."`
}

var schema = sdk.Schema{
	Config: sdk.MustBlockOf(Config{}),
	Outputs: []sdk.OutputDecl{
		{Name: "threshold", Type: cty.Number, Description: "estimate: the imitation threshold, the image count of the first concept after the first change point; null when PELT finds no change point."},
		{Name: "found", Type: cty.Bool, Description: "estimate: whether a change point was found."},
		{Name: "interval_low", Type: cty.Number, Description: "estimate: lower bound of the bootstrap interval of the threshold (null without one)."},
		{Name: "interval_high", Type: cty.Number, Description: "estimate: upper bound of the bootstrap interval of the threshold (null without one)."},
		{Name: "change_points", Type: cty.List(cty.Number), Description: "estimate: image counts at which each segment after the first starts."},
		{Name: "change_point_indices", Type: cty.List(cty.Number), Description: "estimate: the change points as indices into the concepts sorted by count (ruptures' breakpoints without the last)."},
		{Name: "segment_means", Type: cty.List(cty.Number), Description: "estimate: mean score of each segment."},
		{Name: "n_concepts", Type: cty.Number, Description: "Concepts used (estimate) or written (generate)."},
		{Name: "dropped_rows", Type: cty.Number, Description: "estimate: input rows left out under drop_invalid."},
		{Name: "dropped_concepts", Type: cty.Number, Description: "estimate: concepts left out under drop_invalid."},
		{Name: "planted_threshold", Type: cty.Number, Description: "generate: the planted onset."},
		{Name: "expected_threshold", Type: cty.Number, Description: "generate: the smallest count >= the planted onset, which an exact estimator should report."},
	},
	Artifacts: []sdk.ArtifactDecl{
		{Name: "summary", MediaType: "application/json", Description: "estimate: everything found, with settings, drops and timings."},
		{Name: "concept_scores", MediaType: "text/csv", Description: "estimate: the concepts sorted by count with score, spread, prompts and segment."},
		{Name: "plot_png", MediaType: "image/png", Description: "estimate: score against count (log axis), segments, threshold and interval."},
		{Name: "plot_svg", MediaType: "image/svg+xml", Description: "estimate: the same plot as SVG."},
		{Name: "embeddings", MediaType: "application/vnd.safetensors", Description: "generate: the embedding set as a safetensors bundle."},
		{Name: "truth", MediaType: "application/json", Description: "generate: the planted onset and the counts."},
	},
}

// Metadata implements sdk.Plugin.
func (*Plugin) Metadata() sdk.Metadata {
	return sdk.Metadata{Name: "fit", Version: Version, Backends: ml.Backends(),
		Description: "Imitation threshold (FIT/MIMETIC²): imitation scores from embeddings in GoMLX, exact PELT, bootstrap interval, plot; demo generator"}
}

// Schema implements sdk.Plugin.
func (*Plugin) Schema() sdk.Schema { return schema }

// ValidateConfig implements sdk.Plugin. Values that depend on other steps
// are unknown at validation time and are checked only when known.
func (*Plugin) ValidateConfig(_ context.Context, cfg sdk.Config) sdk.Diagnostics {
	v := cfg.Value
	var diags sdk.Diagnostics
	attr := func(name string) (cty.Value, bool) {
		if v.IsNull() || !v.IsKnown() || !v.Type().IsObjectType() || !v.Type().HasAttribute(name) {
			return cty.NilVal, false
		}
		a := v.GetAttr(name)
		return a, a.IsKnown() && !a.IsNull()
	}
	path := func(name string) cty.Path { return cty.GetAttrPath(name) }
	num := func(name string) (float64, bool) {
		a, ok := attr(name)
		if !ok || a.Type() != cty.Number {
			return 0, false
		}
		f, _ := a.AsBigFloat().Float64()
		return f, true
	}
	isSet := func(name string) bool {
		a, _ := attr(name)
		if a == cty.NilVal {
			return false
		}
		// Unknown counts as set: it will be a path once the producer ran.
		return !a.IsKnown() || (!a.IsNull() && !(a.Type() == cty.String && a.AsString() == ""))
	}
	if !cfg.IsKnown("mode") {
		// Which checks apply depends on the mode; the host validates
		// again once it is known.
		return nil
	}
	mode := "estimate"
	if m, ok := attr("mode"); ok {
		mode = m.AsString()
	}
	switch mode {
	case "estimate":
		switch s, e := isSet("scores"), isSet("embeddings"); {
		case s && e:
			diags = append(diags, sdk.Errorf(path("embeddings"), "Both scores and embeddings are set", "Give either a score table (scores) or embeddings to score (embeddings), not both."))
		case !s && !e:
			diags = append(diags, sdk.Errorf(path("scores"), "No input", "estimate mode needs scores (a .csv/.jsonl score table) or embeddings (a .safetensors bundle or .csv manifest)."))
		}
		for _, name := range []string{"scores", "embeddings"} {
			if a, ok := attr(name); ok && a.AsString() != "" {
				if _, err := os.Stat(a.AsString()); err != nil {
					diags = append(diags, sdk.Errorf(path(name), "Input file not found", err.Error()))
				}
			}
		}
		if p, ok := num("penalty"); ok && !(p > 0 && !math.IsInf(p, 0)) {
			diags = append(diags, sdk.Errorf(path("penalty"), "Penalty must be positive", fmt.Sprintf("got %v; the reference uses 0.9", p)))
		}
		if b, ok := num("bootstrap"); ok && (b < 0 || b != math.Trunc(b) || b > 1e6) {
			diags = append(diags, sdk.Errorf(path("bootstrap"), "Invalid number of bootstrap resamples", fmt.Sprintf("got %v; use a whole number from 0 (no interval) to 1000000", b)))
		}
		if c, ok := num("confidence"); ok && !(c > 0 && c < 1) {
			diags = append(diags, sdk.Errorf(path("confidence"), "Confidence level must be in (0, 1)", fmt.Sprintf("got %v, e.g. 0.95", c)))
		}
	case "generate":
		positive := map[string]float64{"n_concepts": 2, "prompts": 1, "train_images": 1, "generated_images": 1, "width": 2}
		for _, name := range []string{"n_concepts", "prompts", "train_images", "generated_images", "width"} {
			if f, ok := num(name); ok && (f < positive[name] || f != math.Trunc(f)) {
				diags = append(diags, sdk.Errorf(path(name), "Invalid "+name, fmt.Sprintf("got %v; need a whole number >= %v", f, positive[name])))
			}
		}
		lo, okLo := num("min_count")
		hi, okHi := num("max_count")
		if okLo && lo < 0 {
			diags = append(diags, sdk.Errorf(path("min_count"), "Negative min_count", fmt.Sprintf("got %v", lo)))
		}
		if okLo && okHi && hi < lo {
			diags = append(diags, sdk.Errorf(path("max_count"), "max_count below min_count", fmt.Sprintf("%v < %v", hi, lo)))
		}
		for _, name := range []string{"below", "above"} {
			if f, ok := num(name); ok && !(f >= 0 && f <= 1) {
				diags = append(diags, sdk.Errorf(path(name), "Mixing weight outside [0, 1]", fmt.Sprintf("%s = %v", name, f)))
			}
		}
		if f, ok := num("noise"); ok && !(f >= 0) {
			diags = append(diags, sdk.Errorf(path("noise"), "Negative noise", fmt.Sprintf("got %v", f)))
		}
		if a, ok := attr("counts_csv"); ok && a.AsString() != "" {
			if _, err := os.Stat(a.AsString()); err != nil {
				diags = append(diags, sdk.Errorf(path("counts_csv"), "counts_csv not found", err.Error()))
			}
		}
	default:
		diags = append(diags, sdk.Errorf(path("mode"), "Unknown mode", fmt.Sprintf("mode is %q; use \"estimate\" or \"generate\"", mode)))
	}
	return diags
}

// Run implements sdk.Plugin.
func (p *Plugin) Run(ctx context.Context, run *sdk.Run) error {
	var cfg Config
	if err := run.Config.Decode(&cfg); err != nil {
		return err
	}
	if diags := p.ValidateConfig(ctx, run.Config); diags.HasErrors() {
		return diags.Err()
	}
	switch cfg.Mode {
	case "generate":
		return runGenerate(ctx, run, cfg)
	default:
		return runEstimate(ctx, run, cfg)
	}
}

func runGenerate(ctx context.Context, run *sdk.Run, cfg Config) error {
	dc := demo.Config{Concepts: cfg.NConcepts, MinCount: cfg.MinCount, MaxCount: cfg.MaxCount,
		Threshold: cfg.PlantedThreshold, Prompts: cfg.Prompts, TrainImages: cfg.TrainImages,
		GeneratedImages: cfg.GeneratedImages, Width: cfg.Width, Below: cfg.Below, Above: cfg.Above,
		Noise: cfg.Noise, Seed: uint64(run.Seed)}
	if cfg.CountsCSV != "" {
		counts, err := dataset.ReadCounts(cfg.CountsCSV, cfg.ConceptColumn, cfg.CountColumn)
		if err != nil {
			return err
		}
		dc.Counts = counts
	}
	set, err := demo.Generate(dc)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := set.WriteBundle(run.Path("embeddings.safetensors")); err != nil {
		return err
	}
	truth := map[string]any{"planted_threshold": cfg.PlantedThreshold, "expected_threshold": set.Expected,
		"concepts": set.Names, "counts": set.Counts, "seed": run.Seed}
	truth["config"] = map[string]any{"prompts": dc.Prompts, "train_images": dc.TrainImages, "generated_images": dc.GeneratedImages,
		"width": dc.Width, "below": dc.Below, "above": dc.Above, "noise": dc.Noise, "counts_csv": cfg.CountsCSV}
	if err := writeJSON(run.Path("truth.json"), truth); err != nil {
		return err
	}
	for _, a := range [][3]string{{"embeddings", "embeddings.safetensors", "application/vnd.safetensors"}, {"truth", "truth.json", "application/json"}} {
		if err := run.Artifact(a[0], a[1], a[2]); err != nil {
			return err
		}
	}
	run.Logf("generated %d concepts (%d prompts × %d images, %d training images, width %d); onset at %d, first count at or above it %d",
		len(set.Names), dc.Prompts, dc.GeneratedImages, dc.TrainImages, dc.Width, cfg.PlantedThreshold, set.Expected)
	return errors.Join(
		run.Output("n_concepts", cty.NumberIntVal(int64(len(set.Names)))),
		run.Output("planted_threshold", cty.NumberIntVal(cfg.PlantedThreshold)),
		run.Output("expected_threshold", cty.NumberIntVal(set.Expected)),
	)
}

func inputName(cfg Config) string {
	if cfg.Scores != "" {
		return filepath.Base(cfg.Scores)
	}
	return filepath.Base(cfg.Embeddings)
}
