package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/zclconf/go-cty/cty"

	"github.com/shammie-ml/shammie/plugins/compo/internal/pipeline"
	"github.com/shammie-ml/shammie/plugins/compo/internal/planted"
	"github.com/shammie-ml/shammie/plugins/compo/internal/prefs"
	"github.com/shammie-ml/shammie/sdk"
	"github.com/shammie-ml/shammie/sdk/ml"
)

// version is stamped at build from the VERSION file (`make build`,
// plugintest.Build); unstamped builds report sdk.DevVersion.
var version string

// Config is the step's config block (= the schema).
type Config struct {
	Mode string `cty:"mode" doc:"generate: planted community pairs. sft: fine-tune a new model on the chosen replies, community in the prompt. dpo: DPO from the sft model. eval: held-out preference accuracy (true, no, random community), baselines, generations."`

	// generate
	Communities int     `cty:"communities" default:"3" doc:"generate: K communities, each preferring its own reply attribute (2–8)."`
	Posts       int     `cty:"posts" default:"160" doc:"generate: shared posts; each gives one pair per community."`
	LabelNoise  float64 `cty:"label_noise" default:"0.05" doc:"generate: probability that a pair's preference is flipped (the oracle accuracy is about 1 − this)."`

	// data (sft, dpo, eval)
	Pairs          string  `cty:"pairs" optional:"true" doc:"sft, dpo, eval: preference pairs (.jsonl or .jsonl.gz) in the given layout; dpo and eval normally take the sft step's train_pairs / test_pairs."`
	Layout         string  `cty:"layout" default:"\"jsonl\"" doc:"Layout of pairs: jsonl (community, post_id, title, post, chosen, rejected[, score_ratio]), compred (domain, post_id, history, title, human_ref_A/B, score_A/B, labels, score_ratio; labels = 1: A preferred) or hh (HH-RLHF chosen/rejected transcripts, split at the last \"\\n\\nAssistant:\")."`
	Community      string  `cty:"community" default:"\"default\"" doc:"Community of pairs whose layout has none (hh; jsonl rows without community)."`
	MinScoreRatio  float64 `cty:"min_score_ratio" default:"2.0" doc:"sft: keep pairs whose score ratio is at least this (ComPRed; pairs without scores are kept)."`
	MaxPerPost     int     `cty:"max_pairs_per_post" default:"5" doc:"sft: at most this many pairs per post, drawn with the seed (ComPRed; 0: all)."`
	TestFraction   float64 `cty:"test_fraction" default:"0.1" doc:"sft: share of posts held out (written as test_pairs; every pair of a post on one side)."`
	MaxTrainPairs  int     `cty:"max_train_pairs" default:"0" doc:"sft, dpo: train on at most this many pairs (the first after filtering; 0: all)."`
	MaxEvalPairs   int     `cty:"max_eval_pairs" default:"0" doc:"eval: evaluate at most this many pairs (0: all)."`
	Conditioning   string  `cty:"conditioning" default:"\"template\"" doc:"sft: how the prompt names the community: template (the reference's text template; default) or prefix (the kit's learned prefix id). dpo and eval read it from the model."`
	NoContextShare float64 `cty:"no_context_fraction" default:"0.15" doc:"sft: share of training examples shown with no community (the generic \"Reddit\"), so that no-context means \"any community\". DPO trains with the true community only: under no context the pairs conflict, and DPO on conflicting pairs pushes both replies down."`

	// models
	Model     string `cty:"model" optional:"true" accepts:"application/vnd.shammie.model+safetensors" doc:"eval: the DPO model artifact (step.dpo.artifacts.model)."`
	Reference string `cty:"reference" optional:"true" accepts:"application/vnd.shammie.model+safetensors" doc:"dpo, eval: the SFT model artifact (step.sft.artifacts.model): π_ref, and the SFT baseline in eval."`
	Truth     string `cty:"truth" optional:"true" doc:"eval: the generate step's truth artifact (planted data): oracle accuracy, generations judged by the planted reward."`

	// model and training (sft, dpo; seq also eval): layers, d_model, heads,
	// seq (tokens = bytes per prompt + reply; longer pairs lose the start of
	// the prompt), batch (sft: examples, dpo: pairs), steps, lr, warmup,
	// min_lr_ratio, weight_decay, clip, accum_steps. The model's size is set
	// in sft; dpo reads it from the model. DPO wants a learning rate about 10×
	// below SFT's (the specs set lr = 0.0003 for dpo).
	ml.Settings
	Beta       float64 `cty:"beta" default:"0.1" doc:"dpo: β, the strength of the divergence constraint (ComPO: 0.1)."`
	Divergence string  `cty:"divergence" default:"\"reverse_kl\"" doc:"dpo: f-divergence of f-DPO: reverse_kl (standard DPO), forward_kl, jsd or alpha."`
	Alpha      float64 `cty:"alpha" default:"0.5" doc:"dpo: α of the α-divergence, in (0, 1)."`

	// eval
	Generate    bool    `cty:"generate" default:"true" doc:"eval with truth: sample replies of both models per held-out post and community, judged by the planted reward."`
	Temperature float64 `cty:"temperature" default:"1.0" doc:"eval: sampling temperature of the generations (0: greedy)."`
	MaxNew      int     `cty:"max_new_tokens" default:"24" doc:"eval: longest generated reply (bytes)."`
}

// Plugin implements sdk.Plugin.
type Plugin struct{}

var _ sdk.Plugin = (*Plugin)(nil)

// Metadata implements sdk.Plugin.
func (*Plugin) Metadata() sdk.Metadata {
	return sdk.Metadata{Name: "compo", Version: sdk.BuildVersion(version), Backends: ml.Backends(),
		Description: "ComPO community preference optimisation: SFT then f-DPO with the community in the prompt; contextual, no-context and random-context evaluation"}
}

var schema = sdk.Schema{
	Config: sdk.MustBlockOf(Config{}),
	Outputs: []sdk.OutputDecl{
		{Name: "pairs", Type: cty.Number, Description: "generate: pairs written; sft: pairs after filtering; eval: pairs evaluated."},
		{Name: "train_pairs", Type: cty.Number, Description: "sft: pairs trained on (after the split)."},
		{Name: "test_pairs", Type: cty.Number, Description: "sft: pairs held out."},
		{Name: "final_loss", Type: cty.Number, Description: "sft, dpo: training loss of the last step."},
		{Name: "reward_accuracy", Type: cty.Number, Description: "dpo: share of the last step's pairs with a positive implied-reward margin."},
		{Name: "reward_margin", Type: cty.Number, Description: "dpo: mean implied-reward margin of the last step."},
		{Name: "accuracy", Type: cty.Map(cty.Number), Description: "eval: per community, held-out accuracy with the true community (DPO implied reward)."},
		{Name: "oracle_accuracy", Type: cty.Map(cty.Number), Description: "eval with truth: per community, the planted reward's accuracy on the same pairs."},
		{Name: "contextual_accuracy", Type: cty.Number, Description: "eval: held-out accuracy with the true community, all pairs."},
		{Name: "no_context_accuracy", Type: cty.Number, Description: "eval: held-out accuracy with the generic community (no context)."},
		{Name: "random_context_accuracy", Type: cty.Number, Description: "eval: held-out accuracy with a community drawn uniformly (null with one community)."},
		{Name: "sft_accuracy", Type: cty.Number, Description: "eval: the SFT model's held-out accuracy (log-likelihood of chosen vs rejected, true community)."},
		{Name: "policy_accuracy", Type: cty.Number, Description: "eval: the DPO model's held-out accuracy by log-likelihood (not the implied reward)."},
		{Name: "length_baseline_accuracy", Type: cty.Number, Description: "eval: accuracy of always preferring the shorter reply (ties ½)."},
		{Name: "attribute_rate", Type: cty.Map(cty.Number), Description: "eval with truth: per context (contextual, no_context, random_context), share of DPO generations with the community's attribute (random → 1/K)."},
		{Name: "win_rate", Type: cty.Number, Description: "eval with truth: DPO vs SFT generations judged by the planted reward, true community (ties ½)."},
	},
	Artifacts: []sdk.ArtifactDecl{
		{Name: "pairs", MediaType: "application/jsonl", Description: "generate: the planted pairs (jsonl layout)."},
		{Name: "truth", MediaType: "application/json", Description: "generate: each community's preferred attribute and the label noise."},
		{Name: "model", MediaType: ml.ModelMediaType, Description: "sft, dpo: the model (one safetensors file: weights, config, tokenizer, conditioning)."},
		{Name: "train_pairs", MediaType: "application/jsonl", Description: "sft: the filtered training pairs (jsonl layout)."},
		{Name: "test_pairs", MediaType: "application/jsonl", Description: "sft: the held-out pairs (jsonl layout)."},
		{Name: "report", MediaType: "application/json", Description: "eval: every accuracy, per community and context, baselines, generation samples."},
		{Name: "accuracy_png", MediaType: "image/png", Description: "eval: held-out accuracy per community and context, beside the oracle."},
		{Name: "accuracy_svg", MediaType: "image/svg+xml", Description: "eval: the same plot as SVG."},
	},
}

// Schema implements sdk.Plugin.
func (*Plugin) Schema() sdk.Schema { return schema }

// ValidateConfig implements sdk.Plugin; checks of unknown values (the
// artifacts of steps not run yet) wait for the host's second call.
func (*Plugin) ValidateConfig(_ context.Context, c sdk.Config) sdk.Diagnostics {
	var cfg Config
	v := sdk.NewValidator(c, &cfg)
	if !v.Known("mode") {
		return v.Diagnostics()
	}
	switch cfg.Mode {
	case "generate":
		v.Range("communities", float64(cfg.Communities), 2, float64(len(planted.Names)))
		v.Min("posts", float64(cfg.Posts), 10)
		v.Range("label_noise", cfg.LabelNoise, 0, 0.45)
	case "sft":
		validateData(v, cfg)
		v.OneOf("conditioning", cfg.Conditioning, prefs.Conditionings...)
		v.Range("test_fraction", cfg.TestFraction, 0, 0.9)
		v.Min("min_score_ratio", cfg.MinScoreRatio, 0)
		v.Min("max_pairs_per_post", float64(cfg.MaxPerPost), 0)
		validateTraining(v, cfg)
	case "dpo":
		validateData(v, cfg)
		checkFile(v, "reference", cfg.Reference, "The dpo mode needs the SFT model: reference = step.sft.artifacts.model.")
		validateTraining(v, cfg)
		v.Check(cfg.Beta > 0, "beta", "The beta must be positive", fmt.Sprintf("Got %v; ComPO uses 0.1.", cfg.Beta))
		v.OneOf("divergence", cfg.Divergence, divergenceNames()...)
		if cfg.Divergence == string(ml.Alpha) {
			v.CheckAll(cfg.Alpha > 0 && cfg.Alpha < 1, []string{"alpha", "divergence"}, "The alpha must be in (0, 1)", fmt.Sprintf("Got %v.", cfg.Alpha))
		}
	case "eval":
		validateData(v, cfg)
		checkFile(v, "model", cfg.Model, "The eval mode needs the DPO model: model = step.dpo.artifacts.model.")
		checkFile(v, "reference", cfg.Reference, "The eval mode needs the SFT model: reference = step.sft.artifacts.model.")
		if cfg.Truth != "" {
			checkFile(v, "truth", cfg.Truth, "")
		}
		v.Min("seq", float64(cfg.Seq), 8)
		v.Min("max_eval_pairs", float64(cfg.MaxEvalPairs), 0)
		v.Min("temperature", cfg.Temperature, 0)
		v.Range("max_new_tokens", float64(cfg.MaxNew), 1, 512)
	default:
		v.OneOf("mode", cfg.Mode, "generate", "sft", "dpo", "eval")
	}
	return v.Diagnostics()
}

func divergenceNames() []string {
	out := make([]string, len(ml.Divergences))
	for i, d := range ml.Divergences {
		out[i] = string(d)
	}
	return out
}

func validateData(v *sdk.Validator, cfg Config) {
	checkFile(v, "pairs", cfg.Pairs, "Give the preference pairs: pairs = a .jsonl file or an upstream step's artifact.")
	v.OneOf("layout", cfg.Layout, prefs.Layouts...)
	v.Check(strings.TrimSpace(cfg.Community) != "", "community", "The community must not be empty", "It names the pairs of layouts without one.")
}

func validateTraining(v *sdk.Validator, cfg Config) {
	cfg.Settings.Check(v)
	v.Min("seq", float64(cfg.Seq), 8)
	v.Range("no_context_fraction", cfg.NoContextShare, 0, 1)
	v.Min("max_train_pairs", float64(cfg.MaxTrainPairs), 0)
}

// checkFile requires a known path attribute to name an existing file; an
// empty one is missing (hint says what to give).
func checkFile(v *sdk.Validator, attr, path, hint string) {
	if path == "" {
		v.Check(false, attr, fmt.Sprintf("The %s attribute is required here", attr), hint)
		return
	}
	v.FileExists(attr, path, "File not found")
}

// settings maps the config onto the pipeline's settings.
func (cfg Config) settings() pipeline.Settings {
	return pipeline.Settings{
		Planted: planted.Config{Communities: cfg.Communities, Posts: cfg.Posts, LabelNoise: cfg.LabelNoise},
		Pairs:   cfg.Pairs, Layout: cfg.Layout, Community: cfg.Community,
		MinScoreRatio: cfg.MinScoreRatio, MaxPerPost: cfg.MaxPerPost, TestFraction: cfg.TestFraction,
		MaxTrainPairs: cfg.MaxTrainPairs, MaxEvalPairs: cfg.MaxEvalPairs, Conditioning: cfg.Conditioning,
		Train:     pipeline.Train{Settings: cfg.Settings, NoContextFraction: cfg.NoContextShare},
		DPO:       ml.DPOOptions{Divergence: ml.Divergence(cfg.Divergence), Beta: cfg.Beta, Alpha: cfg.Alpha},
		ModelPath: cfg.Model, Reference: cfg.Reference, Truth: cfg.Truth,
		Eval:    pipeline.EvalOptions{Seq: cfg.Seq, Generate: cfg.Generate, Temperature: cfg.Temperature, MaxNew: cfg.MaxNew},
		Version: sdk.BuildVersion(version),
	}
}

// Run implements sdk.Plugin: it picks the mode.
func (*Plugin) Run(ctx context.Context, run *sdk.Run) error {
	var cfg Config
	if err := run.Config.Decode(&cfg); err != nil {
		return err
	}
	s := cfg.settings()
	s.Train.Seed = run.Seed
	switch cfg.Mode {
	case "generate":
		return pipeline.RunGenerate(run, s)
	case "sft":
		return pipeline.RunSFT(ctx, run, s)
	case "dpo":
		return pipeline.RunDPO(ctx, run, s)
	}
	return pipeline.RunEval(ctx, run, s)
}
