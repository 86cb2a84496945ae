package main

import (
	"context"
	"fmt"

	"github.com/zclconf/go-cty/cty"

	"github.com/shammie-ml/shammie/plugins/moe/internal/experiment"
	"github.com/shammie-ml/shammie/plugins/moe/internal/moe"
	"github.com/shammie-ml/shammie/plugins/moe/internal/pipeline"
	"github.com/shammie-ml/shammie/sdk"
	"github.com/shammie-ml/shammie/sdk/ml"
)

// version is stamped at build from the VERSION file
// (-ldflags "-X main.version=$(cat VERSION)"; see sdk.BuildVersion).
var version string

type config struct {
	Mode string `cty:"mode" default:"\"train\"" doc:"generate | train"`

	// generate
	BytesPerDomain int `cty:"bytes_per_domain" default:"200000" doc:"generate: bytes of planted text per domain"`

	// train: data
	Domains   map[string]string `cty:"domains" optional:"true" doc:"train: domain name → text file; bytes are the tokens (e.g. step.generate.artifacts.low)"`
	MaxBytes  int               `cty:"max_bytes_per_domain" default:"0" doc:"train: use only the first N bytes of each file (0: all)"`
	EvalFrac  float64           `cty:"eval_fraction" default:"0.1" doc:"train: tail of each domain held out for the routing analyses"`
	Reference string            `cty:"reference" optional:"true" doc:"train: OLMoE's domain_spec_reference.txt, printed beside our table"`

	// model and training (OLMoE's recipe scaled down): layers, d_model,
	// heads, seq, batch, steps, lr, warmup, min_lr_ratio, weight_decay,
	// clip, accum_steps (must be 1: routing snapshots are taken between
	// optimizer steps). Each layer has an MoE feed-forward.
	ml.Settings

	// mixture of experts
	Experts      int  `cty:"experts" default:"8" doc:"experts per layer (E)"`
	TopK         int  `cty:"top_k" default:"2" doc:"active experts per token (k)"`
	ExpertHidden int  `cty:"expert_hidden" default:"64" doc:"SwiGLU hidden width of one expert"`
	Renormalize  bool `cty:"renormalize" default:"false" doc:"rescale the k selected router probabilities to sum to 1 (OLMoE: no)"`
	BlockSize    int  `cty:"block_size" default:"0" doc:"row-block size of the sparse expert computation (0: automatic)"`
	Dense        bool `cty:"dense" default:"false" doc:"compute every expert on every token (reference path; E/k times the work)"`

	// losses
	LBWeight   float64 `cty:"lb_weight" default:"0.01" doc:"load-balancing loss weight w (= w at a balanced router)"`
	ZWeight    float64 `cty:"z_weight" default:"0.001" doc:"router z-loss weight w_z"`
	ZDivideByK bool    `cty:"zloss_divide_by_k" default:"false" doc:"divide the z-loss by k, as the OLMoE fork of megablocks does"`

	// analyses
	Snapshots     int `cty:"snapshots" default:"6" doc:"routing snapshots over training (saturation, load), step 0 and the end included"`
	EvalWindows   int `cty:"eval_windows" default:"16" doc:"held-out windows per domain the routing is recorded on"`
	VocabMinCount int `cty:"vocab_min_count" default:"5" doc:"token ids seen fewer times are left out of the vocabulary specialisation"`
}

// plugin implements sdk.Plugin.
type plugin struct{}

// Metadata implements sdk.Plugin.
func (plugin) Metadata() sdk.Metadata {
	return sdk.Metadata{Name: "moe", Version: sdk.BuildVersion(version),
		Description: "sparse mixture-of-experts LM (OLMoE-style routing, dropless SwiGLU experts) with OLMoE's routing analyses",
		Backends:    ml.Backends()}
}

var schema = sdk.Schema{
	Config: sdk.MustBlockOf(config{}),
	Outputs: []sdk.OutputDecl{
		{Name: "final_loss", Type: cty.Number, Description: "train: training loss (LM + auxiliary) of the last step"},
		{Name: "top_spec_over_uniform", Type: cty.Map(cty.Number), Description: "train: per domain, the top expert's spec ÷ uniform at the last layer"},
		{Name: "vocab_spec", Type: cty.List(cty.Number), Description: "train: vocabulary specialisation per layer"},
		{Name: "max_load", Type: cty.Number, Description: "train: largest expert share of assignments (last layer, final model)"},
		{Name: "work_saved", Type: cty.Number, Description: "train: dense rows ÷ rows the sparse path computes (static bound)"},
		{Name: "olmoe_pattern_holds", Type: cty.Bool, Description: "train on OLMoE's domains: arXiv and GitHub specialise more than C4 and books"},
		{Name: "top_lift", Type: cty.Map(cty.Number), Description: "train: per domain, the top expert's lift (domain share ÷ its share over all domains) at the last layer"},
		{Name: "top_lift_control", Type: cty.Number, Description: "train: the same on shuffled pseudo-domains at the last layer (95th percentile): the noise floor of top_lift"},
		{Name: "divergence", Type: cty.List(cty.Number), Description: "train: per layer, token-weighted mean Jensen–Shannon divergence (bits) of each domain's expert distribution from the overall one"},
		{Name: "divergence_control", Type: cty.List(cty.Number), Description: "train: per layer, the same on shuffled pseudo-domains (95th percentile): the noise floor of divergence"},
		{Name: "domain_specialised", Type: cty.Bool, Description: "train: the last layer's divergence is above its shuffled control: experts specialised by domain"},
	},
	Artifacts: []sdk.ArtifactDecl{
		{Name: "low", MediaType: "application/octet-stream", Description: "generate: planted domain over bytes 0–127"},
		{Name: "high", MediaType: "application/octet-stream", Description: "generate: planted domain over bytes 128–255"},
		{Name: "model", MediaType: ml.ModelMediaType, Description: "train: the trained model as one file (sdk/ml.SaveModel: safetensors weights, config with the MoE block and tokenizer in its metadata; sdk/ml.LoadModel rebuilds it)"},
		{Name: "analysis", MediaType: "application/json", Description: "train: every analysis figure"},
		{Name: "specialisation", MediaType: "text/plain", Description: "train: per-domain specialisation table (beside OLMoE's with a reference)"},
	},
}

// MaxLayers bounds the layers of a run: the host needs every artifact
// declared, and the per-layer plots are declared as artifact families up
// to this depth (`shammie plugins describe moe` shows each family once).
const MaxLayers = 8

func init() {
	for _, p := range []struct{ name, desc string }{
		{"vocab_spec", "vocabulary specialisation per layer"},
		{"saturation", "router saturation against the final model over training, per layer"},
		{"lift", "top expert's lift per domain and layer beside the shuffled-domain control"},
		{"divergence", "Jensen–Shannon divergence of each domain's expert distribution from the overall one, beside the shuffled-domain control"},
	} {
		schema.Artifacts = append(schema.Artifacts,
			sdk.ArtifactDecl{Name: "plot_" + p.name, MediaType: "image/png", Description: "train: " + p.desc},
			sdk.ArtifactDecl{Name: "plot_" + p.name + "_svg", MediaType: "image/svg+xml", Description: "train: " + p.desc + " (SVG)"})
	}
	for _, p := range []struct{ name, desc string }{
		{"domain_spec", "domain specialisation of every expert, per layer"},
		{"load", "expert load over training, per layer"},
		{"coactivation", "expert co-activation P(b|a), per layer"},
		{"coactivation_adjacent", "co-activation over rank-adjacent pairs only (OLMoE code variant), per layer"},
	} {
		schema.Artifacts = append(schema.Artifacts, sdk.ArtifactFamily("plot_"+p.name+"_layer{i}", MaxLayers, "image/png", "train: "+p.desc)...)
		schema.Artifacts = append(schema.Artifacts, sdk.ArtifactFamily("plot_"+p.name+"_layer{i}_svg", MaxLayers, "image/svg+xml", "train: "+p.desc+" (SVG)")...)
	}
}

// Schema implements sdk.Plugin.
func (plugin) Schema() sdk.Schema { return schema }

func (cfg config) options(seed int64) experiment.Options {
	return experiment.Options{
		Layers: cfg.Layers, DModel: cfg.DModel, Heads: cfg.Heads, Seq: cfg.Seq, Batch: cfg.Batch,
		MoE: moe.Config{Hidden: cfg.ExpertHidden, Experts: cfg.Experts, TopK: cfg.TopK,
			Renormalize: cfg.Renormalize, BlockSize: cfg.BlockSize, Dense: cfg.Dense},
		Loss:  moe.LossConfig{LoadBalance: cfg.LBWeight, ZLoss: cfg.ZWeight, ZLossDivideByK: cfg.ZDivideByK},
		Train: cfg.Settings.TrainConfig(),
		Seed:  seed, Snapshots: cfg.Snapshots, EvalWindows: cfg.EvalWindows,
		Precision: cfg.Precision,
	}
}

// optionAttrs are the attributes experiment.Options is built from: its
// Validate runs only when all of them are known.
var optionAttrs = []string{"layers", "d_model", "heads", "seq", "batch", "experts", "top_k", "expert_hidden",
	"renormalize", "block_size", "dense", "lb_weight", "z_weight", "zloss_divide_by_k", "steps", "lr", "warmup",
	"min_lr_ratio", "weight_decay", "clip", "accum_steps", "snapshots", "eval_windows"}

// ValidateConfig checks what the schema's types cannot. Before anything
// runs, values from upstream steps (domains = the generate step's
// artifacts, typically) are unknown: the Validator skips the checks that
// read them. The host validates again on the full config, and the SDK never
// calls Run with a config that fails.
func (plugin) ValidateConfig(_ context.Context, c sdk.Config) sdk.Diagnostics {
	var cfg config
	v := sdk.NewValidator(c, &cfg)
	if !v.Known("mode") {
		return v.Diagnostics() // which checks apply is not known yet
	}
	switch cfg.Mode {
	case "generate":
		v.Check(cfg.BytesPerDomain >= 4096, "bytes_per_domain", "Too little planted text",
			fmt.Sprintf("Need at least 4096 bytes per domain, got %d.", cfg.BytesPerDomain))
	case "train":
		validateTrain(v, c, cfg)
	default:
		v.OneOf("mode", cfg.Mode, "generate", "train")
	}
	return v.Diagnostics()
}

func validateTrain(v *sdk.Validator, c sdk.Config, cfg config) {
	// A map of unknown paths is not empty: only a wholly known one is checked.
	v.Check(len(cfg.Domains) > 0, "domains", "Train needs domains",
		`Set domains = { name = "file", ... }, e.g. the generate step's artifacts low and high.`)
	v.Check(cfg.EvalFrac > 0 && cfg.EvalFrac < 0.5, "eval_fraction", "The eval_fraction must be in (0, 0.5)", fmt.Sprintf("Got %v.", cfg.EvalFrac))
	// The shared settings first, attribute by attribute; the MoE run's own
	// combination checks (options(0).Validate would judge the zero values of
	// unknowns) only when they found nothing.
	v.Add(cfg.Settings.Validate(c)...)
	v.Check(cfg.AccumSteps <= 1, "accum_steps", "Gradient accumulation is not supported by the MoE run",
		fmt.Sprintf("accum_steps = %d: routing snapshots are taken between optimizer steps; use 1.", cfg.AccumSteps))
	if !v.Diagnostics().HasErrors() && v.Known(optionAttrs...) {
		if err := cfg.options(0).Validate(); err != nil {
			v.Add(sdk.Errorf(nil, "Invalid model or training settings", err.Error()))
		}
	}
	v.Min("snapshots", float64(cfg.Snapshots), 2)
	v.Min("eval_windows", float64(cfg.EvalWindows), 1)
	v.Check(cfg.Layers <= MaxLayers, "layers", fmt.Sprintf("At most %d layers", MaxLayers),
		fmt.Sprintf("Got %d: the per-layer plots are declared up to layer %d.", cfg.Layers, MaxLayers-1))
	v.CheckAll(cfg.LBWeight >= 0 && cfg.ZWeight >= 0, []string{"lb_weight", "z_weight"}, "Loss weights must be ≥ 0",
		fmt.Sprintf("lb_weight %v, z_weight %v.", cfg.LBWeight, cfg.ZWeight))
}

// Run implements sdk.Plugin: it picks the mode; internal/pipeline does the
// work.
func (plugin) Run(ctx context.Context, run *sdk.Run) error {
	var cfg config
	if err := run.Config.Decode(&cfg); err != nil {
		return err
	}
	if cfg.Mode == "generate" {
		return pipeline.Generate(run, cfg.BytesPerDomain)
	}
	return pipeline.Train(ctx, run, pipeline.TrainOptions{Domains: cfg.Domains, MaxBytes: cfg.MaxBytes, EvalFrac: cfg.EvalFrac,
		Reference: cfg.Reference, VocabMinCount: cfg.VocabMinCount, Experiment: cfg.options(run.Seed), Version: sdk.BuildVersion(version)})
}
