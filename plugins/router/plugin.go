package main

import (
	"context"
	"fmt"

	"github.com/zclconf/go-cty/cty"

	"github.com/shammie-ml/shammie/plugins/router/internal/pipeline"
	"github.com/shammie-ml/shammie/plugins/router/internal/planted"
	"github.com/shammie-ml/shammie/plugins/router/internal/route"
	"github.com/shammie-ml/shammie/sdk"
	"github.com/shammie-ml/shammie/sdk/ml"
)

// version is stamped at build from the VERSION file
// (-ldflags "-X main.version=$(cat VERSION)"; see sdk.BuildVersion).
var version string

// config is the step's config block; its tags are also the schema. The
// fields of each mode are grouped; README.md documents them.
type config struct {
	Mode string `cty:"mode" doc:"generate | route | ppm"`

	// generate
	N             int     `cty:"n" default:"3000" doc:"generate: number of planted instances"`
	PlantedFrac   float64 `cty:"planted_frac" default:"0.2" doc:"generate: share of instances with the planted subject"`
	HumanFlip     float64 `cty:"human_flip" default:"0.3" doc:"generate: probability a human label disagrees with gold"`
	LMFlip        float64 `cty:"lm_flip" default:"0.05" doc:"generate: LM error rate off the planted subject"`
	LMPlantedFlip float64 `cty:"lm_planted_flip" default:"0.85" doc:"generate: LM error rate on the planted subject"`
	Weakness      bool    `cty:"weakness" default:"true" doc:"generate: plant the LM's weakness; false: humans and the LM both err at human_flip everywhere (nothing to route: the noise control)"`

	// route
	Data       string    `cty:"data" optional:"true" doc:"route: preference file (JSONL or .jsonl.gz): MultiPref, hybrid-preferences features, or plain layout"`
	Format     string    `cty:"format" default:"\"auto\"" doc:"route: auto | multipref | hyper | jsonl"`
	LMField    string    `cty:"lm_field" default:"\"pref_gpt4\"" doc:"route: MultiPref field holding the LM label"`
	EvalLabels string    `cty:"eval_labels" default:"\"gold\"" doc:"route: labels scoring reward models on held-out instances: gold | human | lm"`
	EvalFrac   float64   `cty:"eval_frac" default:"0.25" doc:"route: share of instances held out to score reward models"`
	Mixtures   int       `cty:"mixtures" default:"64" doc:"route: knapsack mixtures (one reward model each) the PPM learns from"`
	Budgets    []float64 `cty:"budgets" default:"[0.25, 0.5, 0.75]" doc:"route: human budgets as fractions of the routed pool"`
	Method     string    `cty:"method" default:"\"topk\"" doc:"route: routing written to routed.jsonl: topk | simulated"`
	Candidates int       `cty:"candidates" default:"2000" doc:"route: candidate knapsack routings scored by the simulated router"`
	RMDim      int       `cty:"rm_dim" default:"512" doc:"route: hashed bag-of-words size of the reward model"`
	RMHidden   int       `cty:"rm_hidden" default:"0" doc:"route: reward model MLP width (0 = linear Bradley–Terry)"`
	RMSteps    int       `cty:"rm_steps" default:"150" doc:"route: full-batch Adam steps per reward model"`
	RMLR       float64   `cty:"rm_lr" default:"0.05" doc:"route: reward model learning rate"`
	Repr       string    `cty:"representation" default:"\"bow\"" doc:"route: response representation: bow (hashed bag of words) | transformer (sdk/ml byte-level LM pretrained on the responses, mean hidden state)"`
	TFSteps    int       `cty:"transformer_steps" default:"200" doc:"route: LM pretraining steps of the transformer representation"`
	TFDModel   int       `cty:"transformer_d_model" default:"64" doc:"route: width of the transformer representation"`
	NoiseSeeds int       `cty:"noise_seeds" default:"4" doc:"route: extra reward models per measured routing (bootstrap replicates of the pool, same batched graph) for the scores' noise"`
	Bootstrap  int       `cty:"bootstrap" default:"1000" doc:"route: bootstrap resamples (eval instances × replicates) behind the intervals; the feature gains use min(bootstrap, 200) PPM refits"`
	Confidence float64   `cty:"confidence" default:"0.95" doc:"route: level of the intervals (the feature gains' are simultaneous over all features)"`

	// ppm
	Rows     string  `cty:"rows" optional:"true" doc:"ppm: proxy-RM result rows (JSONL; feature proportion columns + target)"`
	Target   string  `cty:"target" default:"\"Overall\"" doc:"ppm: target column of the rows"`
	TestFrac float64 `cty:"test_frac" default:"0.2" doc:"ppm and route: share of PPM rows held out for RMSE"`
	PPMModel string  `cty:"ppm_model" default:"\"quadratic\"" doc:"ppm and route: quadratic (all pairwise products) | linear"`
}

// plugin implements sdk.Plugin.
type plugin struct{}

// Metadata implements sdk.Plugin.
func (plugin) Metadata() sdk.Metadata {
	return sdk.Metadata{Name: "router", Version: sdk.BuildVersion(version),
		Description: "HyPER routing of preference instances to human or LM annotators under a budget",
		Backends:    ml.Backends()}
}

var schema = sdk.Schema{
	Config: sdk.MustBlockOf(config{}),
	Outputs: []sdk.OutputDecl{
		{Name: "planted_feature", Type: cty.String, Description: "Generate: the feature a router should route first"},
		{Name: "instances", Type: cty.Number, Description: "Instances written (generate) or loaded after dropping ties (route)"},
		{Name: "ties_dropped", Type: cty.Number, Description: "Route: rows dropped because a label was a tie"},
		{Name: "ppm_rmse", Type: cty.Number, Description: "Held-out RMSE of the quadratic PPM"},
		{Name: "ppm_baseline_rmse", Type: cty.Number, Description: "Held-out RMSE of predicting the mean"},
		{Name: "top_feature", Type: cty.String, Description: "Route: feature with the largest predicted gain from human labels"},
		{Name: "routed_score", Type: cty.Map(cty.Number), Description: "Route: measured RM score of the chosen routing per budget"},
		{Name: "predicted_score", Type: cty.Map(cty.Number), Description: "Route: PPM-predicted score of the chosen routing per budget"},
		{Name: "random_score", Type: cty.Map(cty.Number), Description: "Route: measured RM score of random routing per budget"},
		{Name: "all_human_score", Type: cty.Number, Description: "Route: measured RM score with every label from humans"},
		{Name: "all_lm_score", Type: cty.Number, Description: "Route: measured RM score with every label from the LM"},
		{Name: "routed_score_interval", Type: cty.Map(cty.List(cty.Number)), Description: "Route: [low, high] interval of routed_score per budget"},
		{Name: "random_score_interval", Type: cty.Map(cty.List(cty.Number)), Description: "Route: [low, high] interval of random_score per budget"},
		{Name: "all_human_score_interval", Type: cty.List(cty.Number), Description: "Route: [low, high] interval of all_human_score"},
		{Name: "all_lm_score_interval", Type: cty.List(cty.Number), Description: "Route: [low, high] interval of all_lm_score"},
		{Name: "score_noise", Type: cty.Number, Description: "Route: standard deviation of one reward model's held-out score (median over routings); smaller margins are noise"},
		{Name: "top_feature_gain", Type: cty.Number, Description: "Route: predicted score gain of routing top_feature's instances to humans"},
		{Name: "top_feature_gain_interval", Type: cty.List(cty.Number), Description: "Route: [low, high] interval of top_feature_gain, simultaneous over all features"},
		{Name: "gain_threshold", Type: cty.Number, Description: "Route: the top feature gain the PPM reaches on permuted mixture scores (confidence quantile); a real gain is above it"},
		{Name: "gain_is_noise", Type: cty.Bool, Description: "Route: true when no feature's predicted gain is distinguishable from zero (above gain_threshold with its interval above 0): top_feature is then noise"},
	},
	Artifacts: []sdk.ArtifactDecl{
		{Name: "data", MediaType: "application/jsonl", Description: "Generate: planted data set (plain layout)"},
		{Name: "routed", MediaType: "application/jsonl", Description: "Route: pool instances with the label source and label per budget"},
		{Name: "results", MediaType: "application/json", Description: "Route and ppm: scores, PPM fit, learning curve, mixtures"},
		{Name: "feature_gains", MediaType: "text/csv", Description: "Route: predicted gain of human labels per feature"},
		{Name: "ppm_model", MediaType: "application/json", Description: "Ppm and route: fitted quadratic PPM coefficients"},
		{Name: "plot_budgets", MediaType: "image/png", Description: "Route: RM score vs human budget per routing"},
		{Name: "plot_ppm_fit", MediaType: "image/png", Description: "PPM prediction vs measured score"},
		{Name: "plot_learning_curve", MediaType: "image/png", Description: "PPM held-out RMSE vs training rows"},
		{Name: "plot_feature_gains", MediaType: "image/png", Description: "Route: top features by predicted gain"},
	},
}

// Schema implements sdk.Plugin.
func (plugin) Schema() sdk.Schema { return schema }

// ValidateConfig checks what the schema's types cannot. Before anything
// runs, values from upstream steps (e.g. data = step.generate.artifacts.data)
// are unknown: the Validator skips every check that reads one, so only the
// known attributes are judged. The host validates again on the full config,
// and the SDK never calls Run with a config that fails.
func (plugin) ValidateConfig(_ context.Context, c sdk.Config) sdk.Diagnostics {
	var cfg config
	v := sdk.NewValidator(c, &cfg)
	if v.Known("mode") {
		switch cfg.Mode {
		case "generate":
			if v.Known("n", "planted_frac", "human_flip", "lm_flip", "lm_planted_flip") {
				err := plantedConfig(cfg, 0).Validate()
				v.Check(err == nil, "n", "Invalid planted data settings", fmt.Sprint(err))
			}
		case "route":
			validateRoute(v, cfg)
		case "ppm":
			v.Check(cfg.Rows != "", "rows", "The ppm mode needs rows", "Set rows to a proxy-RM result JSONL file.")
		default:
			v.OneOf("mode", cfg.Mode, "generate", "route", "ppm")
		}
	}
	v.Range("test_frac", cfg.TestFrac, 0.05, 0.5)
	v.OneOf("ppm_model", cfg.PPMModel, "quadratic", "linear")
	return v.Diagnostics()
}

func validateRoute(v *sdk.Validator, cfg config) {
	v.Check(cfg.Data != "", "data", "The route mode needs data", "Set data to a preference JSONL file, e.g. step.generate.artifacts.data.")
	v.OneOf("format", cfg.Format, "auto", "multipref", "hyper", "jsonl")
	v.OneOf("eval_labels", cfg.EvalLabels, "gold", "human", "lm")
	v.OneOf("method", cfg.Method, route.MethodTopk, route.MethodSimulated)
	v.Range("eval_frac", cfg.EvalFrac, 0.05, 0.9)
	v.Check(len(cfg.Budgets) > 0, "budgets", "No budgets", "Give fractions such as [0.25, 0.5, 0.75].")
	for i, b := range cfg.Budgets {
		// A known list may still hold unknown elements.
		v.CheckPath(b > 0 && b < 1, cty.GetAttrPath("budgets").IndexInt(i), "Each budget must be in (0, 1)",
			fmt.Sprintf("Got %v; 0 and 1 (all-LM, all-human) are always measured.", b))
	}
	v.Check(cfg.Mixtures >= 8, "mixtures", "Too few mixtures", "The PPM needs at least 8 trained mixtures.")
	v.OneOf("representation", cfg.Repr, "bow", "transformer")
	v.CheckAll(cfg.Repr != "transformer" || (cfg.TFSteps >= 1 && cfg.TFDModel >= 8 && cfg.TFDModel%4 == 0),
		[]string{"transformer_d_model", "representation", "transformer_steps"}, "Invalid transformer settings",
		"Need transformer_steps ≥ 1 and transformer_d_model a multiple of 4 (4 heads), ≥ 8.")
	v.CheckAll(cfg.RMDim >= 8 && cfg.RMSteps >= 1 && cfg.RMLR > 0 && cfg.RMHidden >= 0 && cfg.Candidates >= 1,
		[]string{"rm_dim", "rm_steps", "rm_lr", "rm_hidden", "candidates"}, "Invalid reward model settings",
		"Need rm_dim ≥ 8, rm_steps ≥ 1, rm_lr > 0, rm_hidden ≥ 0, candidates ≥ 1.")
	v.Range("noise_seeds", float64(cfg.NoiseSeeds), 0, 64)
	v.Min("bootstrap", float64(cfg.Bootstrap), 20)
	v.Range("confidence", cfg.Confidence, 0.5, 0.999)
}

func plantedConfig(cfg config, seed int64) planted.Config {
	pc := planted.Default(cfg.N, uint64(seed))
	pc.PlantedFrac, pc.HumanFlip, pc.LMFlip, pc.LMPlantedFlip = cfg.PlantedFrac, cfg.HumanFlip, cfg.LMFlip, cfg.LMPlantedFlip
	pc.NoWeakness = !cfg.Weakness
	return pc
}

// Run implements sdk.Plugin: it picks the mode; internal/pipeline does the
// work.
func (plugin) Run(ctx context.Context, run *sdk.Run) error {
	var cfg config
	if err := run.Config.Decode(&cfg); err != nil {
		return err
	}
	switch cfg.Mode {
	case "generate":
		return pipeline.Generate(run, plantedConfig(cfg, run.Seed))
	case "route":
		return pipeline.Route(ctx, run, routeOptions(cfg, run.Seed))
	default:
		return pipeline.PPM(ctx, run, pipeline.PPMOptions{Rows: cfg.Rows, Target: cfg.Target, TestFrac: cfg.TestFrac, Model: cfg.PPMModel})
	}
}

func routeOptions(cfg config, seed int64) pipeline.RouteOptions {
	rc := route.DefaultConfig()
	rc.EvalFrac, rc.EvalLabels, rc.Mixtures, rc.Budgets, rc.Candidates = cfg.EvalFrac, cfg.EvalLabels, cfg.Mixtures, cfg.Budgets, cfg.Candidates
	rc.RM.Dim, rc.RM.Hidden, rc.RM.Steps, rc.RM.LR, rc.RM.Seed = cfg.RMDim, cfg.RMHidden, cfg.RMSteps, cfg.RMLR, uint64(seed)
	rc.Seed, rc.PPM.Seed = uint64(seed), uint64(seed)
	rc.Representation = cfg.Repr
	rc.Transformer.Steps, rc.Transformer.DModel, rc.Transformer.Seed = cfg.TFSteps, cfg.TFDModel, seed
	rc.PPM.Linear = cfg.PPMModel == "linear"
	rc.NoiseSeeds, rc.Bootstrap, rc.Level = cfg.NoiseSeeds, cfg.Bootstrap, cfg.Confidence
	return pipeline.RouteOptions{Data: cfg.Data, Format: cfg.Format, LMField: cfg.LMField, Method: cfg.Method, Route: rc}
}
