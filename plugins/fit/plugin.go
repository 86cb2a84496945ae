package main

import (
	"context"
	"fmt"
	"math"

	"github.com/zclconf/go-cty/cty"

	"github.com/shammie-ml/shammie/plugins/fit/internal/dataset"
	"github.com/shammie-ml/shammie/plugins/fit/internal/estimate"
	"github.com/shammie-ml/shammie/plugins/fit/internal/planted"
	"github.com/shammie-ml/shammie/sdk"
	"github.com/shammie-ml/shammie/sdk/ml"
)

// version is stamped at build from the VERSION file
// (-ldflags "-X main.version=$(cat VERSION)"; see sdk.BuildVersion).
var version string

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
	return sdk.Metadata{Name: "fit", Version: sdk.BuildVersion(version), Backends: ml.Backends(),
		Description: "Imitation threshold (FIT/MIMETIC²): imitation scores from embeddings in GoMLX, exact PELT, bootstrap interval, plot; demo generator"}
}

// Schema implements sdk.Plugin.
func (*Plugin) Schema() sdk.Schema { return schema }

// ValidateConfig implements sdk.Plugin. Values that depend on other steps
// are unknown at validation time; the Validator skips the checks that read
// them.
func (*Plugin) ValidateConfig(_ context.Context, c sdk.Config) sdk.Diagnostics {
	var cfg Config
	v := sdk.NewValidator(c, &cfg)
	if !v.Known("mode") {
		// Which checks apply depends on the mode; the host validates
		// again once it is known.
		return v.Diagnostics()
	}
	switch cfg.Mode {
	case "estimate":
		validateEstimate(v, cfg)
	case "generate":
		validateGenerate(v, cfg)
	default:
		v.OneOf("mode", cfg.Mode, "estimate", "generate")
	}
	return v.Diagnostics()
}

func validateEstimate(v *sdk.Validator, cfg Config) {
	// An unknown input counts as set: it will be a path once its producer ran.
	scores, emb := cfg.Scores != "" || !v.Known("scores"), cfg.Embeddings != "" || !v.Known("embeddings")
	v.Check(!(scores && emb), "embeddings", "Both scores and embeddings are set",
		"Give either a score table (scores) or embeddings to score (embeddings), not both.")
	v.Check(scores || emb, "scores", "No input",
		"Estimate mode needs scores (a .csv/.jsonl score table) or embeddings (a .safetensors bundle or .csv manifest).")
	v.FileExists("scores", cfg.Scores, "Input file not found")
	v.FileExists("embeddings", cfg.Embeddings, "Input file not found")
	v.Check(cfg.Penalty > 0 && !math.IsInf(cfg.Penalty, 0), "penalty", "Penalty must be positive",
		fmt.Sprintf("Got %v; the reference uses 0.9.", cfg.Penalty))
	v.Check(cfg.Bootstrap >= 0 && cfg.Bootstrap <= 1e6, "bootstrap", "Invalid number of bootstrap resamples",
		fmt.Sprintf("Got %v; use a whole number from 0 (no interval) to 1000000.", cfg.Bootstrap))
	v.Check(cfg.Confidence > 0 && cfg.Confidence < 1, "confidence", "Confidence level must be in (0, 1)",
		fmt.Sprintf("Got %v, e.g. 0.95.", cfg.Confidence))
}

func validateGenerate(v *sdk.Validator, cfg Config) {
	for _, n := range []struct {
		attr     string
		val, min int
	}{{"n_concepts", cfg.NConcepts, 2}, {"prompts", cfg.Prompts, 1}, {"train_images", cfg.TrainImages, 1},
		{"generated_images", cfg.GeneratedImages, 1}, {"width", cfg.Width, 2}} {
		v.Check(n.val >= n.min, n.attr, "Invalid "+n.attr, fmt.Sprintf("Got %v; need a whole number >= %v.", n.val, n.min))
	}
	v.Check(cfg.MinCount >= 0, "min_count", "Negative min_count", fmt.Sprintf("Got %v.", cfg.MinCount))
	v.CheckAll(cfg.MaxCount >= cfg.MinCount, []string{"max_count", "min_count"}, "The max_count is below min_count",
		fmt.Sprintf("%v < %v.", cfg.MaxCount, cfg.MinCount))
	v.Check(cfg.Below >= 0 && cfg.Below <= 1, "below", "Mixing weight outside [0, 1]", fmt.Sprintf("below = %v.", cfg.Below))
	v.Check(cfg.Above >= 0 && cfg.Above <= 1, "above", "Mixing weight outside [0, 1]", fmt.Sprintf("above = %v.", cfg.Above))
	v.Check(cfg.Noise >= 0, "noise", "Negative noise", fmt.Sprintf("Got %v.", cfg.Noise))
	v.FileExists("counts_csv", cfg.CountsCSV, "File counts_csv not found")
}

// Run implements sdk.Plugin: it picks the mode; the work is in
// internal/estimate and internal/planted.
func (*Plugin) Run(ctx context.Context, run *sdk.Run) error {
	var cfg Config
	if err := run.Config.Decode(&cfg); err != nil {
		return err
	}
	cols := dataset.Columns{Concept: cfg.ConceptColumn, Count: cfg.CountColumn, Score: cfg.ScoreColumn, Prompt: cfg.PromptColumn}
	if cfg.Mode == "generate" {
		return planted.Step(ctx, run, planted.Config{Concepts: cfg.NConcepts, MinCount: cfg.MinCount, MaxCount: cfg.MaxCount,
			Threshold: cfg.PlantedThreshold, Prompts: cfg.Prompts, TrainImages: cfg.TrainImages,
			GeneratedImages: cfg.GeneratedImages, Width: cfg.Width, Below: cfg.Below, Above: cfg.Above,
			Noise: cfg.Noise, Seed: uint64(run.Seed)}, cfg.CountsCSV, cols)
	}
	return estimate.Run(ctx, run, estimate.Options{Scores: cfg.Scores, Embeddings: cfg.Embeddings, Columns: cols,
		DropInvalid: cfg.DropInvalid, Penalty: cfg.Penalty, Bootstrap: cfg.Bootstrap, Confidence: cfg.Confidence,
		Title: cfg.Title, Version: sdk.BuildVersion(version)})
}
