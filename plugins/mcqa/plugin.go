package main

import (
	"context"
	"fmt"

	"github.com/zclconf/go-cty/cty"

	"github.com/shammie-ml/shammie/plugins/mcqa/internal/colors"
	"github.com/shammie-ml/shammie/plugins/mcqa/internal/pipeline"
	"github.com/shammie-ml/shammie/plugins/mcqa/internal/task"
	"github.com/shammie-ml/shammie/sdk"
	"github.com/shammie-ml/shammie/sdk/ml"
)

// version is stamped at build from the VERSION file
// (-ldflags "-X main.version=$(cat VERSION)"; see sdk.BuildVersion).
var version string

type config struct {
	Mode string `cty:"mode" default:"\"planted\"" doc:"planted | probe"`

	// planted
	PlantedLayer int     `cty:"planted_layer" default:"1" doc:"planted: L* (counted from 0), the only layer whose last-position attention output is kept in training"`
	LeakPenalty  float64 `cty:"leak_penalty" default:"3" doc:"planted: weight of the penalty on what the training mask zeroes (relative mean square at the last position), ramped in from 30% to 60% of the steps, so that the model as saved, probed without the mask, behaves as trained"`

	// probe
	Model string `cty:"model" optional:"true" doc:"probe: model artifact (sdk/ml.SaveModel, byte tokenizer), e.g. step.planted.artifacts.model"`

	// prompts
	Task    string `cty:"task" default:"\"planted\"" doc:"planted | colors: the questions probed"`
	Data    string `cty:"data" optional:"true" doc:"colors: memory_colors.csv (../shared/data/mcqa_colors)"`
	Items   int    `cty:"items" default:"64" doc:"questions probed (colors: the first N of the reference's 105 probed items, shuffled with random.seed(10); 0: all)"`
	Symbols string `cty:"symbols" default:"\"AB\"" doc:"AB | CD: the option symbols of 2-way prompts"`
	Ways    int    `cty:"ways" default:"2" doc:"2 | 4 options (4: symbols A–D; the Colors task has one distractor, so 2 only)"`
	Layout  string `cty:"layout" default:"\"compact\"" doc:"compact (\"xA yB c\", the question last) | full (\"Q\\nA: x\\nB: y\\nAnswer: \")"`
	Shots   int    `cty:"shots" default:"0" doc:"in-context examples before each question (colors: at most 3, the reference's shuffled items 1–3, with its seeded A/B slots)"`

	// planted model and training: layers, d_model, heads, seq, batch,
	// steps, lr, warmup, min_lr_ratio, weight_decay, clip, accum_steps.
	ml.Settings
}

// plugin implements sdk.Plugin.
type plugin struct{}

// Metadata implements sdk.Plugin.
func (plugin) Metadata() sdk.Metadata {
	return sdk.Metadata{Name: "mcqa", Version: sdk.BuildVersion(version),
		Description: "where a transformer decides the answer symbol of a multiple-choice question: logit lens and activation patching (Wiegreffe et al. 2024)",
		Backends:    ml.Backends()}
}

var schema = sdk.Schema{
	Config: sdk.MustBlockOf(config{}),
	Outputs: []sdk.OutputDecl{
		{Name: "decisive_layer", Type: cty.Number, Description: "the layer whose last-token attention output, patched alone, moves the answer most"},
		{Name: "resid_flip_layer", Type: cty.Number, Description: "first layer where residual patching reaches a normalised logit difference of 0.5 (-1: none)"},
		{Name: "lens_layer", Type: cty.Number, Description: "first layer whose residual-stream lens ranks the correct symbol first on ≥ 90% of prompts (-1: none)"},
		{Name: "accuracy", Type: cty.Number, Description: "share of prompts whose answer symbol beats the other symbol"},
		{Name: "swap_consistency", Type: cty.Number, Description: "share of questions answered with the same option content under the option swap"},
		{Name: "patch_resid", Type: cty.List(cty.Number), Description: "normalised logit difference per layer, residual stream patched"},
		{Name: "patch_attn", Type: cty.List(cty.Number), Description: "normalised logit difference per layer, attention output patched"},
		{Name: "patch_mlp", Type: cty.List(cty.Number), Description: "normalised logit difference per layer, MLP output patched"},
		{Name: "final_loss", Type: cty.Number, Description: "planted: training loss of the last step"},
		{Name: "planted_layer", Type: cty.Number, Description: "planted: L* as trained (the truth decisive_layer is checked against)"},
	},
	Artifacts: []sdk.ArtifactDecl{
		{Name: "model", MediaType: ml.ModelMediaType, Description: "planted: the planted model (sdk/ml.SaveModel)"},
		{Name: "analysis", MediaType: "application/json", Description: "lens and patching per component and layer, per-head lens, the located layers"},
		{Name: "plot_patching", MediaType: "image/png", Description: "patching curves per layer (residual, attention, MLP)"},
		{Name: "plot_patching_svg", MediaType: "image/svg+xml", Description: "patching curves per layer (SVG)"},
		{Name: "plot_lens", MediaType: "image/png", Description: "logit-lens heat map, components × layers"},
		{Name: "plot_lens_svg", MediaType: "image/svg+xml", Description: "logit-lens heat map, components × layers (SVG)"},
		{Name: "plot_lens_heads", MediaType: "image/png", Description: "per-head logit-lens heat map, heads × layers"},
		{Name: "plot_lens_heads_svg", MediaType: "image/svg+xml", Description: "per-head logit-lens heat map, heads × layers (SVG)"},
	},
}

// Schema implements sdk.Plugin.
func (plugin) Schema() sdk.Schema { return schema }

// ValidateConfig checks what the schema's types cannot; checks on unknown
// values (a model from an upstream step) are skipped until they are known.
func (plugin) ValidateConfig(_ context.Context, c sdk.Config) sdk.Diagnostics {
	var cfg config
	v := sdk.NewValidator(c, &cfg)
	if v.Known("task") {
		v.OneOf("task", cfg.Task, "planted", "colors")
		if cfg.Task == "colors" {
			v.Check(cfg.Data != "", "data", "The colors task needs data", "Set data = the path of memory_colors.csv (../shared/data/mcqa_colors).")
		}
	}
	if v.Known("ways") {
		v.Check(cfg.Ways == 2 || cfg.Ways == 4, "ways", "The ways must be 2 or 4", fmt.Sprintf("Got %d.", cfg.Ways))
		if v.Known("task") {
			v.Check(cfg.Ways == 2 || cfg.Task != "colors", "ways", "The Colors task is 2-way", "Its items have one distractor; set ways = 2.")
		}
	}
	if v.Known("symbols") {
		v.OneOf("symbols", cfg.Symbols, "AB", "CD")
	}
	if v.Known("layout") {
		v.OneOf("layout", cfg.Layout, string(task.Compact), string(task.Full))
	}
	v.Min("items", float64(cfg.Items), 0)
	v.Min("shots", float64(cfg.Shots), 0)
	if v.Known("task", "shots") && cfg.Task == "colors" {
		v.Check(cfg.Shots <= colors.MaxShots, "shots", "The Colors task allows at most 3 in-context examples",
			fmt.Sprintf("Got %d; as in the reference, they are the first of the shuffled items, and items 4 to 108 are probed.", cfg.Shots))
	}
	if !v.Known("mode") {
		return v.Diagnostics()
	}
	switch cfg.Mode {
	case "planted":
		cfg.Settings.Check(v)
		v.Min("leak_penalty", cfg.LeakPenalty, 0)
		if v.Known("planted_layer", "layers") {
			v.Check(cfg.PlantedLayer >= 0 && cfg.PlantedLayer < cfg.Layers, "planted_layer", "The planted layer must be a layer of the model",
				fmt.Sprintf("planted_layer = %d with %d layers.", cfg.PlantedLayer, cfg.Layers))
		}
		if v.Known("task") {
			v.Check(cfg.Task == "planted", "task", "The planted model answers planted questions only", `Set task = "planted" (probe the model on colors with mode = "probe").`)
		}
	case "probe":
		v.Check(cfg.Model != "", "model", "Probe needs a model", "Set model = a model artifact, e.g. step.planted.artifacts.model.")
	default:
		v.OneOf("mode", cfg.Mode, "planted", "probe")
	}
	return v.Diagnostics()
}

// Run implements sdk.Plugin: it picks the mode; internal/pipeline does the work.
func (plugin) Run(ctx context.Context, run *sdk.Run) error {
	var cfg config
	if err := run.Config.Decode(&cfg); err != nil {
		return err
	}
	p := pipeline.Prompting{Task: cfg.Task, Data: cfg.Data, Items: cfg.Items, Symbols: cfg.Symbols, Layout: task.Layout(cfg.Layout), Shots: cfg.Shots, Ways: cfg.Ways}
	if cfg.Mode == "probe" {
		return pipeline.Probe(run, cfg.Model, p)
	}
	mc := cfg.Settings.ModelConfig(256)
	return pipeline.Planted(ctx, run, pipeline.PlantedOptions{Layer: cfg.PlantedLayer, Penalty: cfg.LeakPenalty, Model: mc, Train: cfg.Settings.TrainConfig(),
		Batch: cfg.Batch, Prompt: p, Version: sdk.BuildVersion(version)})
}
