package main

import (
	"context"
	"fmt"

	"github.com/zclconf/go-cty/cty"

	"github.com/shammie-ml/shammie/plugins/actionatlas/internal/pipeline"
	"github.com/shammie-ml/shammie/plugins/actionatlas/internal/protocol"
	"github.com/shammie-ml/shammie/plugins/actionatlas/internal/videoqa"
	"github.com/shammie-ml/shammie/sdk"
	"github.com/shammie-ml/shammie/sdk/ml"
)

// version is stamped at build from the VERSION file
// (-ldflags "-X main.version=$(cat VERSION)"; see sdk.BuildVersion).
var version string

type config struct {
	Mode string `cty:"mode" default:"\"planted\"" doc:"planted | eval"`

	// planted
	Seeds       int    `cty:"seeds" default:"3" doc:"planted: models trained (seeds run.seed, +1, …); the curve is their mean"`
	Curve       []int  `cty:"curve" default:"[1, 2, 4, 8, 16]" doc:"planted: frame counts the curve is measured at (each ≤ 16, the planted clips' length)"`
	TrainFrames []int  `cty:"train_frames" default:"[2, 4, 8, 16]" doc:"planted: frame counts of the training batches, cycled"`
	Questions   int    `cty:"questions" default:"200" doc:"planted: held-out questions per seed"`
	Size        int    `cty:"size" default:"8" doc:"planted clip side in pixels; the tiny model's frame size (other clips are resized, nearest neighbour)"`
	Patch       int    `cty:"patch" default:"8" doc:"the tiny model's patch side (size must be a multiple)"`
	TextLayers  int    `cty:"text_layers" default:"1" doc:"the tiny model's text-tower depth (layers = video-tower depth)"`
	Leaderboard string `cty:"leaderboard" optional:"true" doc:"planted: the ActionAtlas leaderboard CSV (../shared/data/actionatlas/leaderboard_website.csv), drawn beside the curve"`

	// eval
	Model    string `cty:"model" optional:"true" doc:"eval: a tiny model artifact, e.g. step.planted.artifacts.model"`
	Metadata string `cty:"metadata" optional:"true" doc:"eval: ActionAtlas metadata JSONL (id, question, choices_str, answer, start/end_timestamp, youtube_id, optional choice_descriptions and clip)"`
	Clips    string `cty:"clips" optional:"true" doc:"eval: a clip bundle (.safetensors; each record's tensor is the part of its clip after #, or its clip name), e.g. step.planted.artifacts.clips; or a directory of clip files <youtube_id>_<start>_<end>.safetensors|.json for records without clip (default: the metadata's directory)"`

	// protocol
	Frames    int     `cty:"frames" default:"16" doc:"eval: frames sampled by count (linspace; the middle frame for 1); 0: sample by fps"`
	FPS       float64 `cty:"fps" default:"0" doc:"eval: frames per second sampled when frames = 0"`
	MaxFrames int     `cty:"max_frames" default:"100" doc:"eval: cap on frames sampled by fps (the reference's 100; 0: none)"`
	Format    string  `cty:"format" default:"\"direct\"" doc:"direct | descriptions | cot | descriptions_cot: the reference's prompt template and answer parsing"`
	Bootstrap int     `cty:"bootstrap" default:"1000" doc:"bootstrap resamples of the 95 % interval"`

	// tiny model and training: layers (video tower), d_model, heads, seq
	// (bytes of a choice name), batch, steps, lr, warmup, min_lr_ratio,
	// weight_decay, clip, accum_steps.
	ml.Settings
}

// plugin implements sdk.Plugin.
type plugin struct{}

// Metadata implements sdk.Plugin.
func (plugin) Metadata() sdk.Metadata {
	return sdk.Metadata{Name: "actionatlas", Version: sdk.BuildVersion(version),
		Description: "ActionAtlas video MCQA harness (Salehi et al. 2024): frame sampling, prompts, answer parsing, bootstrap CI; a tiny video-QA model and a planted frame-count curve",
		Backends:    ml.Backends()}
}

var schema = sdk.Schema{
	Config: sdk.MustBlockOf(config{}),
	Outputs: []sdk.OutputDecl{
		{Name: "accuracy", Type: cty.Number, Description: "eval: share of questions answered correctly; planted: mean accuracy at the largest curve frame count"},
		{Name: "ci_lower", Type: cty.Number, Description: "eval: 2.5th percentile of the bootstrap accuracies"},
		{Name: "ci_upper", Type: cty.Number, Description: "eval: 97.5th percentile of the bootstrap accuracies"},
		{Name: "questions", Type: cty.Number, Description: "questions evaluated (planted: per seed and frame count)"},
		{Name: "curve_frames", Type: cty.List(cty.Number), Description: "planted: the frame counts of the curve"},
		{Name: "curve_accuracy", Type: cty.List(cty.Number), Description: "planted: mean accuracy over seeds per frame count"},
		{Name: "curve_min", Type: cty.List(cty.Number), Description: "planted: lowest seed's accuracy per frame count"},
		{Name: "curve_max", Type: cty.List(cty.Number), Description: "planted: highest seed's accuracy per frame count"},
		{Name: "chance", Type: cty.Number, Description: "1 / number of choices"},
		{Name: "final_loss", Type: cty.Number, Description: "planted: mean over seeds of the last training loss"},
	},
	Artifacts: []sdk.ArtifactDecl{
		{Name: "model", MediaType: "application/vnd.shammie.actionatlas-tiny+safetensors", Description: "planted: the first seed's tiny video-QA model"},
		{Name: "metadata", MediaType: "application/jsonl", Description: "planted: the held-out questions in ActionAtlas's layout (clip = clips.safetensors#<id>)"},
		{Name: "clips", MediaType: "application/vnd.safetensors", Description: "planted: the held-out clips, one U8 [16,H,W,3] tensor each, fps in the metadata"},
		{Name: "predictions", MediaType: "application/jsonl", Description: "eval: per question id, gt_answer, response, parsed answer, correct, frames"},
		{Name: "report", MediaType: "application/json", Description: "the accuracies, intervals and settings"},
		{Name: "plot_curve", MediaType: "image/png", Description: "planted: accuracy against frames sampled (mean and seed range) beside the ActionAtlas leaderboard"},
		{Name: "plot_curve_svg", MediaType: "image/svg+xml", Description: "planted: the same plot (SVG)"},
	},
}

// Schema implements sdk.Plugin.
func (plugin) Schema() sdk.Schema { return schema }

// ValidateConfig checks what the schema's types cannot; checks on unknown
// values (a model from an upstream step) are skipped until they are known.
func (plugin) ValidateConfig(_ context.Context, c sdk.Config) sdk.Diagnostics {
	var cfg config
	v := sdk.NewValidator(c, &cfg)
	if v.Known("format") {
		var names []string
		for _, f := range protocol.Formats {
			names = append(names, string(f))
		}
		v.OneOf("format", cfg.Format, names...)
	}
	v.Min("frames", float64(cfg.Frames), 0)
	v.Min("max_frames", float64(cfg.MaxFrames), 0)
	v.Min("bootstrap", float64(cfg.Bootstrap), 1)
	if v.Known("frames", "fps") {
		v.CheckAll(cfg.Frames > 0 || cfg.FPS > 0, []string{"fps", "frames"}, "Sampling by fps needs a positive fps",
			"frames = 0 samples by fps; set fps (e.g. 1) or a frame count.")
	}
	cfg.Settings.Check(v)
	v.Min("text_layers", float64(cfg.TextLayers), 1)
	v.Min("size", float64(cfg.Size), 4)
	v.Min("patch", float64(cfg.Patch), 1)
	if v.Known("size", "patch") && cfg.Patch > 0 {
		v.CheckAll(cfg.Size%cfg.Patch == 0, []string{"size", "patch"}, "The size must be a multiple of the patch",
			fmt.Sprintf("size %d, patch %d.", cfg.Size, cfg.Patch))
	}
	if v.Known("d_model") {
		v.Check(cfg.DModel%4 == 0, "d_model", "The d_model must be a multiple of 4", "The 2-D sin-cos patch positions split it in four.")
	}
	if !v.Known("mode") {
		return v.Diagnostics()
	}
	switch cfg.Mode {
	case "planted":
		v.Min("seeds", float64(cfg.Seeds), 1)
		v.Min("questions", float64(cfg.Questions), 1)
		if v.Known("curve") {
			v.Check(len(cfg.Curve) > 0, "curve", "The curve needs frame counts", "Set e.g. curve = [1, 2, 4, 8, 16].")
			for _, k := range cfg.Curve {
				v.Check(k >= 1 && k <= 16, "curve", "Curve frame counts must be between 1 and 16", fmt.Sprintf("Got %d; the planted clips have 16 frames.", k))
			}
		}
		if v.Known("train_frames") {
			v.Check(len(cfg.TrainFrames) > 0, "train_frames", "Training needs frame counts", "Set e.g. train_frames = [2, 4, 8, 16].")
			for _, k := range cfg.TrainFrames {
				v.Check(k >= 1 && k <= 16, "train_frames", "Training frame counts must be between 1 and 16", fmt.Sprintf("Got %d.", k))
			}
		}
		v.FileExists("leaderboard", cfg.Leaderboard, "The leaderboard file cannot be read")
	case "eval":
		v.Check(cfg.Model != "", "model", "Eval needs a model", "Set model = a tiny model artifact, e.g. step.planted.artifacts.model.")
		v.Check(cfg.Metadata != "", "metadata", "Eval needs metadata", "Set metadata = an ActionAtlas metadata JSONL, e.g. step.planted.artifacts.metadata.")
		v.FileExists("metadata", cfg.Metadata, "The metadata file cannot be read")
		v.FileExists("model", cfg.Model, "The model file cannot be read")
	default:
		v.OneOf("mode", cfg.Mode, "planted", "eval")
	}
	return v.Diagnostics()
}

// Run implements sdk.Plugin: it picks the mode; internal/pipeline does the work.
func (plugin) Run(ctx context.Context, run *sdk.Run) error {
	var cfg config
	if err := run.Config.Decode(&cfg); err != nil {
		return err
	}
	proto := pipeline.Protocol{Format: protocol.Format(cfg.Format), Bootstrap: cfg.Bootstrap,
		Sampling: videoqa.Sampling{Frames: cfg.Frames, FPS: cfg.FPS, MaxFrames: cfg.MaxFrames}}
	if cfg.Mode == "eval" {
		return pipeline.Eval(ctx, run, pipeline.EvalOptions{Model: cfg.Model, Metadata: cfg.Metadata, Clips: cfg.Clips, Protocol: proto, Batch: cfg.Batch})
	}
	return pipeline.Planted(ctx, run, pipeline.PlantedOptions{
		Model: videoqa.TinyConfig{Size: cfg.Size, Patch: cfg.Patch, DModel: cfg.DModel, Heads: cfg.Heads, VideoLayers: cfg.Layers,
			TextLayers: cfg.TextLayers, MaxText: cfg.Seq, TimeScale: 15},
		Train: cfg.Settings.TrainConfig(), Batch: cfg.Batch, Seeds: cfg.Seeds, Curve: cfg.Curve, TrainFrames: cfg.TrainFrames,
		Questions: cfg.Questions, Leaderboard: cfg.Leaderboard, Bootstrap: cfg.Bootstrap, Version: sdk.BuildVersion(version)})
}
