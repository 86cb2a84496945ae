package main

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"reflect"
	"slices"
	"strings"

	"github.com/zclconf/go-cty/cty"

	"github.com/shammie-ml/shammie/plugins/mod/internal/combine"
	"github.com/shammie-ml/shammie/plugins/mod/internal/pipeline"
	"github.com/shammie-ml/shammie/plugins/mod/internal/planted"
	"github.com/shammie-ml/shammie/sdk"
	"github.com/shammie-ml/shammie/sdk/datafile"
	"github.com/shammie-ml/shammie/sdk/ml"
)

// version is stamped at build from the VERSION file.
var version string

// maxModels bounds K: a sweep at step 0.1 over 4 models is 286 decodings.
const maxModels = 4

// Config is the step's `config { ... }` block.
type Config struct {
	Mode string `cty:"mode" default:"\"decode\"" doc:"\"decode\": MOD over the simplex (or at weights) with the single and merged models as baselines. The planted experiment's models: \"sft\" trains the reference on random responses, \"dpo\" aligns it to one planted objective (first: 'a' in the first half; second: 'b' in the second half)."`
	// sft and dpo modes (planted)
	ml.Settings
	Objective string  `cty:"objective" default:"\"first\"" doc:"dpo: the planted objective, first or second."`
	DPOSteps  int     `cty:"dpo_steps" default:"120" doc:"dpo: DPO steps."`
	DPOLR     float64 `cty:"dpo_lr" default:"0.003" doc:"dpo: DPO learning rate."`
	Pairs     int     `cty:"pairs" default:"400" doc:"dpo: preference pairs."`
	// decode mode
	PlantedRewards bool      `cty:"planted_rewards" default:"false" doc:"decode: also score generations with the planted objectives' true rewards (planted mode's models)."`
	Reference      string    `cty:"reference" optional:"true" accepts:"application/vnd.shammie.model+safetensors" doc:"The reference model π_ref (a model artifact, e.g. the SFT step's): the models were aligned against it."`
	Models         []string  `cty:"models" optional:"true" accepts:"application/vnd.shammie.model+safetensors" doc:"The K aligned models πᵢ (model artifacts, 1 ≤ K ≤ 4), one per objective, of the reference's architecture and vocabulary."`
	Objectives     []string  `cty:"objectives" optional:"true" doc:"Names of the objectives, one per model (default objective_1…)."`
	Merged         string    `cty:"merged" optional:"true" doc:"decode: a parameter-merged model θ = Σ wᵢθᵢ (Rewarded Soups), decoded as a baseline; null: the plugin merges the models at equal weights itself (ml.WeightedSum), unless merge_baseline is false."`
	MergeBaseline  bool      `cty:"merge_baseline" default:"true" doc:"decode: decode the equal-weight parameter merge of the models as a baseline."`
	Divergence     string    `cty:"divergence" default:"\"reverse_kl\"" doc:"The f-divergence the models were aligned under: reverse_kl (standard DPO; π_w ∝ Π πᵢ^wᵢ), forward_kl, jsd or alpha."`
	Alpha          float64   `cty:"alpha" default:"0.5" doc:"divergence alpha: α in (0, 1)."`
	Beta           float64   `cty:"beta" default:"0.1" doc:"β of the alignment (scales the implied rewards rᵢ = β·f′(πᵢ/π_ref) reported; the combination does not depend on it)."`
	Weights        []float64 `cty:"weights" optional:"true" doc:"One weight vector w (K entries, ≥ 0, summing to 1); null sweeps the simplex at sweep_step."`
	SweepStep      float64   `cty:"sweep_step" default:"0.1" doc:"Grid step of the simplex sweep (1/sweep_step an integer)."`
	Prompts        []string  `cty:"prompts" optional:"true" doc:"Prompts to decode."`
	PromptsFile    string    `cty:"prompts_file" optional:"true" doc:"JSONL of {\"prompt\": \"…\"}, read after prompts."`
	MaxNewTokens   int       `cty:"max_new_tokens" default:"32" doc:"Tokens generated per prompt at most (generation also stops at the tokenizer's EOS)."`
	Beams          int       `cty:"beams" default:"1" doc:"Beam width over cumulative scores (1: greedy)."`
}

// Plugin implements sdk.Plugin.
type Plugin struct{}

var _ sdk.Plugin = (*Plugin)(nil)

// Metadata implements sdk.Plugin.
func (*Plugin) Metadata() sdk.Metadata {
	return sdk.Metadata{
		Name:        "mod",
		Version:     sdk.BuildVersion(version),
		Description: "MOD: decoding-time combination of K models aligned to different objectives (Shi et al. 2024)",
		Backends:    ml.Backends(),
	}
}

var schema = sdk.Schema{
	Config: sdk.MustBlockOf(Config{}),
	Outputs: []sdk.OutputDecl{
		{Name: "mod_combined", Type: cty.Number, Description: "Σ wᵢrᵢ of MOD at equal weights (or at the given weights), mean over prompts."},
		{Name: "merged_combined", Type: cty.Number, Description: "Σ wᵢrᵢ at equal weights of the parameter-merged model (null without merged)."},
		{Name: "single_combined", Type: cty.List(cty.Number), Description: "Σ wᵢrᵢ at equal weights of each single model."},
		{Name: "front_dominates_singles", Type: cty.Bool, Description: "Whether every single model is dominated by, or on, MOD's Pareto front (all objectives)."},
	},
	Artifacts: []sdk.ArtifactDecl{
		{Name: "sweep", MediaType: "application/json", Description: "Every policy's weights, mean implied rewards, Σ wᵢrᵢ and generations."},
		{Name: "pareto_png", MediaType: "image/png", Description: "Pareto fronts, one panel per objective pair."},
		{Name: "pareto_svg", MediaType: "image/svg+xml", Description: "Pareto fronts, one panel per objective pair."},
		{Name: "model", MediaType: ml.ModelMediaType, Description: "sft: the reference; dpo: the aligned model."},
		{Name: "prompts", MediaType: "application/jsonl", Description: "sft: the planted prompts, {\"prompt\": …} per line."},
		{Name: "merged", MediaType: ml.ModelMediaType, Description: "decode: the equal-weight parameter merge it decoded as a baseline (when it made one)."},
	},
}

// Schema implements sdk.Plugin.
func (*Plugin) Schema() sdk.Schema { return schema }

// ValidateConfig checks the config and, once the model paths are known, the
// models' headers: one vocabulary and one architecture, before any decoding.
func (*Plugin) ValidateConfig(_ context.Context, c sdk.Config) sdk.Diagnostics {
	var cfg Config
	v := sdk.NewValidator(c, &cfg)
	v.OneOf("mode", cfg.Mode, "decode", "sft", "dpo")
	switch cfg.Mode {
	case "sft":
		cfg.Settings.Check(v)
		return v.Diagnostics()
	case "dpo":
		cfg.Settings.Check(v)
		v.OneOf("objective", cfg.Objective, planted.Objectives...)
		v.Check(cfg.Reference != "", "reference", "The reference model is needed", "the sft step's model")
		v.Check(cfg.DPOSteps >= 1, "dpo_steps", "At least one DPO step is needed", "")
		v.Check(cfg.DPOLR > 0, "dpo_lr", "The DPO learning rate must be positive", "")
		v.Check(cfg.Pairs >= 1, "pairs", "At least one pair is needed", "")
		v.Check(cfg.Beta > 0, "beta", "Beta (β) must be positive", "")
		return v.Diagnostics()
	}
	v.Check(cfg.Reference != "", "reference", "The reference model is needed", "")
	k := len(cfg.Models)
	v.Check(k >= 1 && k <= maxModels, "models", fmt.Sprintf("Between 1 and %d models are needed", maxModels),
		fmt.Sprintf("got %d; MOD combines one aligned model per objective (a sweep at step 0.1 over %d models is already %d decodings)", k, maxModels, len(pipeline.Simplex(maxModels, 0.1))))
	v.OneOf("divergence", cfg.Divergence, "reverse_kl", "forward_kl", "jsd", "alpha")
	if cfg.Divergence == "alpha" {
		v.CheckAll(cfg.Alpha > 0 && cfg.Alpha < 1, []string{"alpha", "divergence"}, "The α of the α-divergence must be in (0, 1)", "")
	}
	v.Check(cfg.Beta > 0, "beta", "Beta (β) must be positive", "")
	n := 1 / cfg.SweepStep
	v.Check(cfg.SweepStep > 0 && cfg.SweepStep <= 1 && math.Abs(n-math.Round(n)) < 1e-9, "sweep_step", "The sweep step must divide 1", "e.g. 0.1, 0.25, 0.5")
	v.Check(cfg.MaxNewTokens >= 1, "max_new_tokens", "At least one new token is needed", "")
	v.Check(cfg.Beams >= 1 && cfg.Beams <= 64, "beams", "The beam width must be between 1 and 64", "")
	v.CheckAll(len(cfg.Prompts) > 0 || cfg.PromptsFile != "", []string{"prompts", "prompts_file"}, "No prompts", "set prompts, prompts_file or both")
	if cfg.Objectives != nil {
		v.CheckAll(len(cfg.Objectives) == k, []string{"objectives", "models"}, "One objective name per model is needed", fmt.Sprintf("%d names for %d models", len(cfg.Objectives), k))
	}
	if cfg.Weights != nil {
		v.CheckAll(len(cfg.Weights) == k, []string{"weights", "models"}, "One weight per model is needed", fmt.Sprintf("%d weights for %d models", len(cfg.Weights), k))
		var sum float64
		neg := false
		for _, w := range cfg.Weights {
			sum += w
			neg = neg || w < 0 || math.IsNaN(w)
		}
		v.Check(!neg && math.Abs(sum-1) <= 1e-6, "weights", "The weights must be on the simplex", fmt.Sprintf("each ≥ 0 and summing to 1; got %v (sum %g)", cfg.Weights, sum))
	}
	if v.Known("reference", "models") && cfg.Reference != "" && k >= 1 {
		checkModels(v, cfg)
	}
	return v.Diagnostics()
}

// checkModels reads the artifacts' headers: every model must have the
// reference's tokenizer and configuration (MOD adds their next-token
// distributions over one vocabulary; parameter merging needs one shape).
func checkModels(v *sdk.Validator, cfg Config) {
	ref, _, err := ml.ReadModelInfo(cfg.Reference)
	if err != nil {
		v.Check(false, "reference", "Cannot read the reference model", err.Error())
		return
	}
	for i, p := range cfg.Models {
		path := cty.GetAttrPath("models").IndexInt(i)
		info, _, err := ml.ReadModelInfo(p)
		switch {
		case err != nil:
			v.CheckPath(false, path, "Cannot read a model", err.Error())
		case info.Config.VocabSize != ref.Config.VocabSize || info.Tokenizer != ref.Tokenizer:
			v.CheckPath(false, path, "The model's vocabulary differs from the reference's",
				fmt.Sprintf("%s: vocabulary %d (%s tokenizer), the reference %s: %d (%s)", p, info.Config.VocabSize, info.Tokenizer.Kind, cfg.Reference, ref.Config.VocabSize, ref.Tokenizer.Kind))
		case !reflect.DeepEqual(info.Config, ref.Config) || info.Architecture != ref.Architecture:
			v.CheckPath(false, path, "The model's architecture differs from the reference's",
				fmt.Sprintf("%s: %s, the reference %s: %s (the models must be aligned from the reference)", p, describe(info), cfg.Reference, describe(ref)))
		}
	}
}

func describe(i ml.ModelInfo) string {
	c := i.Config
	return fmt.Sprintf("%s, %d layers, d_model %d, %d heads, max_seq_len %d", i.Architecture, c.NumLayers, c.DModel, c.NumHeads, c.MaxSeqLen)
}

type promptRecord struct {
	Prompt string `json:"prompt"`
}

// Run decodes and writes the sweep.
func (*Plugin) Run(ctx context.Context, run *sdk.Run) error {
	var cfg Config
	if err := run.Config.Decode(&cfg); err != nil {
		return err
	}
	if cfg.Mode == "sft" || cfg.Mode == "dpo" {
		return runPlanted(ctx, run, cfg)
	}
	return runDecode(ctx, run, cfg)
}

func runPlanted(ctx context.Context, run *sdk.Run, cfg Config) error {
	backend, release, err := ml.AcquireBackend(run.Backend)
	if err != nil {
		return err
	}
	defer release()
	o := planted.Options{Settings: cfg.Settings, DPOSteps: cfg.DPOSteps, DPOLR: cfg.DPOLR, Beta: cfg.Beta, Pairs: cfg.Pairs, Seed: run.Seed}
	if cfg.Mode == "dpo" {
		k := slices.Index(planted.Objectives, cfg.Objective)
		return run.WriteArtifact("model", "model.safetensors", func(path string) error {
			return planted.TrainDPO(ctx, backend, cfg.Reference, path, k, o, run)
		})
	}
	if err := run.WriteArtifact("model", "model.safetensors", func(path string) error {
		return planted.TrainSFT(ctx, backend, path, o, run)
	}); err != nil {
		return err
	}
	return run.WriteArtifact("prompts", "prompts.jsonl", func(path string) error {
		var b strings.Builder
		for _, q := range planted.Prompts {
			line, _ := json.Marshal(promptRecord{Prompt: q})
			b.Write(line)
			b.WriteByte('\n')
		}
		return os.WriteFile(path, []byte(b.String()), 0o644)
	})
}

func runDecode(ctx context.Context, run *sdk.Run, cfg Config) error {
	rule, err := combine.NewRule(combine.Divergence(cfg.Divergence), cfg.Alpha)
	if err != nil {
		return err
	}
	prompts := append([]string(nil), cfg.Prompts...)
	if cfg.PromptsFile != "" {
		recs, err := datafile.ReadJSONL[promptRecord](cfg.PromptsFile, datafile.Options{})
		if err != nil {
			return err
		}
		for _, r := range recs {
			prompts = append(prompts, r.Prompt)
		}
	}
	names := cfg.Objectives
	if names == nil {
		for i := range cfg.Models {
			names = append(names, fmt.Sprintf("objective_%d", i+1))
		}
	}
	weights := [][]float64{cfg.Weights}
	if cfg.Weights == nil {
		weights = pipeline.Simplex(len(cfg.Models), cfg.SweepStep)
	}
	var truth func(string, string) []float64
	if cfg.PlantedRewards {
		truth = planted.Truth
	}
	backend, release, err := ml.AcquireBackend(run.Backend)
	if err != nil {
		return err
	}
	defer release()
	merged := cfg.Merged
	if merged == "" && cfg.MergeBaseline && len(cfg.Models) > 1 {
		equal := make([]float64, len(cfg.Models))
		for i := range equal {
			equal[i] = 1 / float64(len(cfg.Models))
		}
		if err := run.WriteArtifact("merged", "merged.safetensors", func(path string) error {
			merged = path
			return ml.WeightedSum(ctx, path, cfg.Models, equal)
		}); err != nil {
			return err
		}
	}
	res, err := pipeline.Run(ctx, backend, cfg.Reference, cfg.Models, names, merged,
		pipeline.Options{Rule: rule, Beta: cfg.Beta, Weights: weights, MaxNewTokens: cfg.MaxNewTokens, Beams: cfg.Beams, Prompts: prompts, Truth: truth}, run)
	if err != nil {
		return err
	}
	if err := run.WriteArtifact("sweep", "sweep.json", func(path string) error { return pipeline.WriteJSON(path, res) }); err != nil {
		return err
	}
	if err := run.WritePlot("pareto", []string{"pareto_png", "pareto_svg"}, func(base string) ([]string, error) {
		return pipeline.PlotPareto(base, res)
	}); err != nil {
		return err
	}
	modPt := res.AtEqualWeights(cfg.Weights)
	mergedScore := math.NaN()
	if res.Merged != nil {
		mergedScore = res.Merged.Combined
	}
	singles := make([]cty.Value, len(res.Singles))
	for i, s := range res.Singles {
		singles[i] = cty.NumberFloatVal(s.Combined)
	}
	dom := res.FrontCoversSingles()
	run.Logf("MOD (%s) %s: Σwr = %.4f; merged %.4f; singles %s; front covers the singles: %v",
		cfg.Divergence, modPt.Label, modPt.Combined, mergedScore, fmtPoints(res.Singles), dom)
	if truth != nil {
		m := math.NaN()
		if res.Merged != nil {
			m = res.Merged.TrueCombined
		}
		run.Logf("true rewards at equal weights: MOD %s %.4f, merged %.4f", modPt.Label, modPt.TrueCombined, m)
	}
	mergedVal := cty.NullVal(cty.Number)
	if !math.IsNaN(mergedScore) {
		mergedVal = cty.NumberFloatVal(mergedScore)
	}
	return run.Outputs(map[string]cty.Value{
		"mod_combined":            cty.NumberFloatVal(modPt.Combined),
		"merged_combined":         mergedVal,
		"single_combined":         cty.ListVal(singles),
		"front_dominates_singles": cty.BoolVal(dom),
	})
}

func fmtPoints(ps []pipeline.Point) string {
	var b strings.Builder
	for i, p := range ps {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s %.4f", p.Label, p.Combined)
	}
	return b.String()
}
