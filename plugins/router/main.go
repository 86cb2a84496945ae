// Command shammie-plugin-router routes preference instances to human or LM
// annotators under a budget (HyPER: Miranda et al. 2024, "Hybrid
// Preferences: Learning to Route Instances for Human vs. AI Feedback").
//
// Modes:
//   - generate: write a planted data set (latent gold; LM labels accurate
//     except on a planted subject; humans uniformly noisier).
//   - route: sample knapsack label mixtures, train a Bradley–Terry reward
//     model per mixture (batched in one GoMLX graph), fit the quadratic
//     performance prediction model (PPM), route at each budget (topk and
//     simulated) and measure the routings against all-human, all-LM and
//     random routing at the same budget.
//   - ppm: fit the PPM on existing proxy-RM result rows (the reference's
//     proxy_rm_validation_set_features_rewardbench.jsonl) and report its
//     held-out RMSE and learning curve.
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/zclconf/go-cty/cty"

	"github.com/shammie-ml/shammie/plugins/router/internal/ppm"
	"github.com/shammie-ml/shammie/plugins/router/internal/prefdata"
	"github.com/shammie-ml/shammie/plugins/router/internal/report"
	"github.com/shammie-ml/shammie/plugins/router/internal/rm"
	"github.com/shammie-ml/shammie/plugins/router/internal/route"
	"github.com/shammie-ml/shammie/sdk"
	"github.com/shammie-ml/shammie/sdk/ml"
)

// Version of the plugin.
const Version = "0.1.0"

type config struct {
	Mode string `cty:"mode" doc:"generate | route | ppm"`

	// generate
	N             int     `cty:"n" default:"3000" doc:"generate: number of planted instances"`
	PlantedFrac   float64 `cty:"planted_frac" default:"0.2" doc:"generate: share of instances with the planted subject"`
	HumanFlip     float64 `cty:"human_flip" default:"0.3" doc:"generate: probability a human label disagrees with gold"`
	LMFlip        float64 `cty:"lm_flip" default:"0.05" doc:"generate: LM error rate off the planted subject"`
	LMPlantedFlip float64 `cty:"lm_planted_flip" default:"0.85" doc:"generate: LM error rate on the planted subject"`

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

	// ppm
	Rows     string  `cty:"rows" optional:"true" doc:"ppm: proxy-RM result rows (JSONL; feature proportion columns + target)"`
	Target   string  `cty:"target" default:"\"Overall\"" doc:"ppm: target column of the rows"`
	TestFrac float64 `cty:"test_frac" default:"0.2" doc:"ppm and route: share of PPM rows held out for RMSE"`
	PPMModel string  `cty:"ppm_model" default:"\"quadratic\"" doc:"ppm and route: quadratic (all pairwise products) | linear"`
}

type plugin struct{}

func (plugin) Metadata() sdk.Metadata {
	return sdk.Metadata{Name: "router", Version: Version,
		Description: "HyPER routing of preference instances to human or LM annotators under a budget",
		Backends:    ml.Backends()}
}

var schema = sdk.Schema{
	Config: sdk.MustBlockOf(config{}),
	Outputs: []sdk.OutputDecl{
		{Name: "planted_feature", Type: cty.String, Description: "generate: the feature a router should route first"},
		{Name: "instances", Type: cty.Number, Description: "instances written (generate) or loaded after dropping ties (route)"},
		{Name: "ties_dropped", Type: cty.Number, Description: "route: rows dropped because a label was a tie"},
		{Name: "ppm_rmse", Type: cty.Number, Description: "held-out RMSE of the quadratic PPM"},
		{Name: "ppm_baseline_rmse", Type: cty.Number, Description: "held-out RMSE of predicting the mean"},
		{Name: "top_feature", Type: cty.String, Description: "route: feature with the largest predicted gain from human labels"},
		{Name: "routed_score", Type: cty.Map(cty.Number), Description: "route: measured RM score of the chosen routing per budget"},
		{Name: "predicted_score", Type: cty.Map(cty.Number), Description: "route: PPM-predicted score of the chosen routing per budget"},
		{Name: "random_score", Type: cty.Map(cty.Number), Description: "route: measured RM score of random routing per budget"},
		{Name: "all_human_score", Type: cty.Number, Description: "route: measured RM score with every label from humans"},
		{Name: "all_lm_score", Type: cty.Number, Description: "route: measured RM score with every label from the LM"},
	},
	Artifacts: []sdk.ArtifactDecl{
		{Name: "data", MediaType: "application/jsonl", Description: "generate: planted data set (plain layout)"},
		{Name: "routed", MediaType: "application/jsonl", Description: "route: pool instances with the label source and label per budget"},
		{Name: "results", MediaType: "application/json", Description: "route/ppm: scores, PPM fit, learning curve, mixtures"},
		{Name: "feature_gains", MediaType: "text/csv", Description: "route: predicted gain of human labels per feature"},
		{Name: "ppm_model", MediaType: "application/json", Description: "ppm/route: fitted quadratic PPM coefficients"},
		{Name: "plot_budgets", MediaType: "image/png", Description: "route: RM score vs human budget per routing"},
		{Name: "plot_ppm_fit", MediaType: "image/png", Description: "PPM prediction vs measured score"},
		{Name: "plot_learning_curve", MediaType: "image/png", Description: "PPM held-out RMSE vs training rows"},
		{Name: "plot_feature_gains", MediaType: "image/png", Description: "route: top features by predicted gain"},
	},
}

func (plugin) Schema() sdk.Schema { return schema }

func decode(c sdk.Config) (config, error) {
	var cfg config
	err := c.Decode(&cfg)
	return cfg, err
}

// ValidateConfig checks what the schema's types cannot. Before anything
// runs, values from upstream steps (e.g. data = step.generate.artifacts.data)
// are unknown: Decode leaves them at zero and every check first asks whether
// all the attributes it reads are known, so only the known ones are judged.
// The host validates again on the full config right before Run.
func (plugin) ValidateConfig(_ context.Context, c sdk.Config) sdk.Diagnostics {
	cfg, err := decode(c)
	if err != nil {
		return sdk.Diagnostics{sdk.Errorf(nil, "invalid config", err.Error())}
	}
	var d sdk.Diagnostics
	at := func(name string) cty.Path { return cty.GetAttrPath(name) }
	known := func(names ...string) bool {
		for _, n := range names {
			if !c.IsKnown(n) {
				return false
			}
		}
		return true
	}
	frac := func(name string, v float64, lo, hi float64) {
		if known(name) && (v < lo || v > hi) {
			d = append(d, sdk.Errorf(at(name), fmt.Sprintf("%s must be in [%v, %v]", name, lo, hi), fmt.Sprintf("got %v", v)))
		}
	}
	oneOf := func(name, v string, want []string, summary, detail string) {
		if known(name) && !slices.Contains(want, v) {
			d = append(d, sdk.Errorf(at(name), summary, detail))
		}
	}
	mode := cfg.Mode
	if !known("mode") {
		mode = "" // which checks apply is not known yet
	}
	switch mode {
	case "":
		if known("mode") {
			d = append(d, sdk.Errorf(at("mode"), "unknown mode", `mode "": want generate, route or ppm`))
		}
	case "generate":
		if known("n", "planted_frac", "human_flip", "lm_flip", "lm_planted_flip") {
			pc := plantedConfig(cfg, 0)
			if err := pc.Validate(); err != nil {
				d = append(d, sdk.Errorf(at("n"), "invalid planted data settings", err.Error()))
			}
		}
	case "route":
		if known("data") && cfg.Data == "" {
			d = append(d, sdk.Errorf(at("data"), "route needs data", "set data to a preference JSONL file, e.g. step.generate.artifacts.data"))
		}
		oneOf("format", cfg.Format, []string{"auto", "multipref", "hyper", "jsonl"}, "unknown format", "want auto, multipref, hyper or jsonl")
		oneOf("eval_labels", cfg.EvalLabels, []string{"gold", "human", "lm"}, "unknown eval_labels", "want gold, human or lm")
		oneOf("method", cfg.Method, []string{route.MethodTopk, route.MethodSimulated}, "unknown method", "want topk or simulated")
		frac("eval_frac", cfg.EvalFrac, 0.05, 0.9)
		if known("budgets") && len(cfg.Budgets) == 0 {
			d = append(d, sdk.Errorf(at("budgets"), "no budgets", "give fractions such as [0.25, 0.5, 0.75]"))
		}
		for i, b := range cfg.Budgets {
			// A known list may still hold unknown elements.
			if c.Known(at("budgets").IndexInt(i)) && (b <= 0 || b >= 1) {
				d = append(d, sdk.Errorf(at("budgets").IndexInt(i), "budget must be in (0,1)", fmt.Sprintf("got %v; 0 and 1 (all-LM, all-human) are always measured", b)))
			}
		}
		if known("mixtures") && cfg.Mixtures < 8 {
			d = append(d, sdk.Errorf(at("mixtures"), "too few mixtures", "the PPM needs at least 8 trained mixtures"))
		}
		oneOf("representation", cfg.Repr, []string{"bow", "transformer"}, "unknown representation", "want bow or transformer")
		if known("representation", "transformer_steps", "transformer_d_model") && cfg.Repr == "transformer" && (cfg.TFSteps < 1 || cfg.TFDModel < 8 || cfg.TFDModel%4 != 0) {
			d = append(d, sdk.Errorf(at("transformer_d_model"), "invalid transformer settings", "transformer_steps ≥ 1, transformer_d_model a multiple of 4 (4 heads), ≥ 8"))
		}
		if known("rm_dim", "rm_steps", "rm_lr", "rm_hidden", "candidates") && (cfg.RMDim < 8 || cfg.RMSteps < 1 || cfg.RMLR <= 0 || cfg.RMHidden < 0 || cfg.Candidates < 1) {
			d = append(d, sdk.Errorf(at("rm_dim"), "invalid reward model settings", "rm_dim ≥ 8, rm_steps ≥ 1, rm_lr > 0, rm_hidden ≥ 0, candidates ≥ 1"))
		}
	case "ppm":
		if known("rows") && cfg.Rows == "" {
			d = append(d, sdk.Errorf(at("rows"), "ppm needs rows", "set rows to a proxy-RM result JSONL file"))
		}
	default:
		d = append(d, sdk.Errorf(at("mode"), "unknown mode", fmt.Sprintf("mode %q: want generate, route or ppm", cfg.Mode)))
	}
	frac("test_frac", cfg.TestFrac, 0.05, 0.5)
	oneOf("ppm_model", cfg.PPMModel, []string{"quadratic", "linear"}, "unknown ppm_model", "want quadratic or linear")
	return d
}

func plantedConfig(cfg config, seed int64) prefdata.PlantedConfig {
	pc := prefdata.DefaultPlanted(cfg.N, uint64(seed))
	pc.PlantedFrac, pc.HumanFlip, pc.LMFlip, pc.LMPlantedFlip = cfg.PlantedFrac, cfg.HumanFlip, cfg.LMFlip, cfg.LMPlantedFlip
	return pc
}

func (p plugin) Run(ctx context.Context, run *sdk.Run) error {
	cfg, err := decode(run.Config)
	if err != nil {
		return err
	}
	if d := p.ValidateConfig(ctx, run.Config); d.HasErrors() {
		return d.Err()
	}
	switch cfg.Mode {
	case "generate":
		return runGenerate(run, cfg)
	case "route":
		return runRoute(ctx, run, cfg)
	default:
		return runPPM(ctx, run, cfg)
	}
}

func runGenerate(run *sdk.Run, cfg config) error {
	pc := plantedConfig(cfg, run.Seed)
	ds, err := prefdata.GeneratePlanted(pc)
	if err != nil {
		return err
	}
	f, err := os.Create(run.Path("planted.jsonl"))
	if err != nil {
		return err
	}
	if err := prefdata.WriteJSONL(f, ds.Instances); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := run.Artifact("data", "planted.jsonl", "application/jsonl"); err != nil {
		return err
	}
	run.Output("planted_feature", cty.StringVal(pc.PlantedFeature()))
	run.Output("instances", cty.NumberIntVal(int64(len(ds.Instances))))
	run.Logf("generated %d planted instances; %s is where the LM is wrong", len(ds.Instances), pc.PlantedFeature())
	return nil
}

func runRoute(ctx context.Context, run *sdk.Run, cfg config) error {
	ds, err := prefdata.Load(cfg.Data, prefdata.LoadOptions{Format: prefdata.Format(cfg.Format), LMField: cfg.LMField})
	if err != nil {
		return err
	}
	if ds.Ties > 0 {
		run.Warnf("dropped %d rows whose human or LM label is a tie", ds.Ties)
	}
	backend, release, err := ml.AcquireBackend(run.Backend)
	if err != nil {
		return err
	}
	defer release()
	rc := route.DefaultConfig()
	rc.EvalFrac, rc.EvalLabels, rc.Mixtures, rc.Budgets, rc.Candidates = cfg.EvalFrac, cfg.EvalLabels, cfg.Mixtures, cfg.Budgets, cfg.Candidates
	rc.RM = rm.Config{Dim: cfg.RMDim, Hidden: cfg.RMHidden, Steps: cfg.RMSteps, LR: cfg.RMLR, WeightDecay: rm.DefaultConfig().WeightDecay, Seed: uint64(run.Seed)}
	rc.Seed = uint64(run.Seed)
	rc.StateDir = run.StateDir
	rc.Representation = cfg.Repr
	rc.Transformer.Steps, rc.Transformer.DModel, rc.Transformer.Seed = cfg.TFSteps, cfg.TFDModel, run.Seed
	rc.PPM.Seed = uint64(run.Seed)
	rc.PPM.Linear = cfg.PPMModel == "linear"
	res, err := route.Run(ctx, backend, ds, rc, run)
	if err != nil {
		return err
	}
	results := report.Results{Source: ds.Source, Pool: res.Pool, Eval: res.Eval, EvalLabels: res.EvalLabels, Ties: res.Ties,
		Features: len(res.Features.Names), PPM: report.Summary(res.PPMEval), Routings: res.Routings, Mixtures: res.Mixtures,
		TopFeatures: res.FeatureGains[:min(10, len(res.FeatureGains))]}
	write := []struct {
		name, file, media string
		fn                func(string) error
	}{
		{"routed", "routed.jsonl", "application/jsonl", func(p string) error { return report.WriteRouted(p, res, cfg.Method, cfg.Budgets) }},
		{"results", "results.json", "application/json", func(p string) error { return report.WriteJSON(p, results) }},
		{"feature_gains", "feature_gains.csv", "text/csv", func(p string) error { return report.WriteFeatureGains(p, res.FeatureGains, cfg.Budgets) }},
		{"ppm_model", "ppm_model.json", "application/json", func(p string) error { return report.WriteJSON(p, res.Model) }},
	}
	for _, w := range write {
		if err := w.fn(run.Path(w.file)); err != nil {
			return fmt.Errorf("writing %s: %w", w.file, err)
		}
		if err := run.Artifact(w.name, w.file, w.media); err != nil {
			return err
		}
	}
	measured := make([]float64, len(res.Mixtures))
	fitted := make([]float64, len(res.Mixtures))
	for i, m := range res.Mixtures {
		measured[i], fitted[i] = m.Measured, m.Fitted
	}
	metric := "held-out accuracy (" + res.EvalLabels + " labels)"
	plots := []struct {
		name, base string
		fn         func(string) (string, string, error)
	}{
		{"plot_budgets", "plots/budgets", func(b string) (string, string, error) { return report.PlotBudgets(b, res.Routings, metric) }},
		{"plot_ppm_fit", "plots/ppm_fit", func(b string) (string, string, error) {
			return report.PlotFit(b, measured, fitted, "PPM fit on the trained mixtures")
		}},
		{"plot_learning_curve", "plots/learning_curve", func(b string) (string, string, error) { return report.PlotCurve(b, res.PPMEval) }},
		{"plot_feature_gains", "plots/feature_gains", func(b string) (string, string, error) { return report.PlotGains(b, res.FeatureGains, 12) }},
	}
	if err := savePlots(run, plots); err != nil {
		return err
	}
	routed, predicted, random := map[string]cty.Value{}, map[string]cty.Value{}, map[string]cty.Value{}
	for _, r := range res.Routings {
		key := route.BudgetKey(r.Budget)
		switch r.Method {
		case cfg.Method:
			routed[key], predicted[key] = cty.NumberFloatVal(r.Measured), cty.NumberFloatVal(r.Predicted)
		case route.MethodRandom:
			random[key] = cty.NumberFloatVal(r.Measured)
		case route.MethodAllHuman:
			run.Output("all_human_score", cty.NumberFloatVal(r.Measured))
		case route.MethodAllLM:
			run.Output("all_lm_score", cty.NumberFloatVal(r.Measured))
		}
		run.Logf("%-10s budget %-5s human %5d  predicted %.4f  measured %.4f", r.Method, key, r.Human, r.Predicted, r.Measured)
	}
	run.Output("routed_score", cty.MapVal(routed))
	run.Output("predicted_score", cty.MapVal(predicted))
	run.Output("random_score", cty.MapVal(random))
	run.Output("instances", cty.NumberIntVal(int64(len(ds.Instances))))
	run.Output("ties_dropped", cty.NumberIntVal(int64(ds.Ties)))
	for _, c := range res.PPMEval.Curve {
		run.Metric("ppm_heldout_rmse", int64(c.TrainRows), c.RMSE)
	}
	run.Output("ppm_rmse", cty.NumberFloatVal(res.PPMEval.RMSE))
	run.Output("ppm_baseline_rmse", cty.NumberFloatVal(res.PPMEval.BaselineRMSE))
	run.Output("top_feature", cty.StringVal(res.FeatureGains[0].Feature))
	return nil
}

func runPPM(ctx context.Context, run *sdk.Run, cfg config) error {
	rows, err := ppm.LoadProxyRows(cfg.Rows, cfg.Target)
	if err != nil {
		return err
	}
	backend, release, err := ml.AcquireBackend(run.Backend)
	if err != nil {
		return err
	}
	defer release()
	opt := ppm.DefaultOptions()
	opt.Seed = uint64(run.Seed)
	opt.Linear = cfg.PPMModel == "linear"
	ev, err := ppm.Evaluate(ctx, backend, rows.Names, rows.X, rows.Y, cfg.TestFrac, opt)
	if err != nil {
		return err
	}
	run.Logf("%s PPM on %d rows × %d features (%s): held-out RMSE %.4f on %d rows (mean predictor %.4f), λ=%g",
		cfg.PPMModel, len(rows.X), len(rows.Names), filepath.Base(cfg.Rows), ev.RMSE, ev.TestRows, ev.BaselineRMSE, ev.Model.Lambda)
	for _, c := range ev.Curve {
		run.Metric("ppm_heldout_rmse", int64(c.TrainRows), c.RMSE)
	}
	pred := make([]float64, len(rows.X))
	for i, x := range rows.X {
		pred[i] = ev.Model.Predict(x)
	}
	if err := report.WriteJSON(run.Path("results.json"), map[string]any{
		"rows": len(rows.X), "features": len(rows.Names), "target": cfg.Target, "ppm": report.Summary(ev),
		"predictions": map[string]any{"ids": rows.IDs, "measured": rows.Y, "predicted": pred},
	}); err != nil {
		return err
	}
	if err := run.Artifact("results", "results.json", "application/json"); err != nil {
		return err
	}
	if err := report.WriteJSON(run.Path("ppm_model.json"), ev.Model); err != nil {
		return err
	}
	if err := run.Artifact("ppm_model", "ppm_model.json", "application/json"); err != nil {
		return err
	}
	plots := []struct {
		name, base string
		fn         func(string) (string, string, error)
	}{
		{"plot_ppm_fit", "plots/ppm_fit", func(b string) (string, string, error) {
			return report.PlotFit(b, rows.Y, pred, fmt.Sprintf("PPM on %d proxy-RM rows (train + held-out)", len(rows.X)))
		}},
		{"plot_learning_curve", "plots/learning_curve", func(b string) (string, string, error) { return report.PlotCurve(b, ev) }},
	}
	if err := savePlots(run, plots); err != nil {
		return err
	}
	run.Output("instances", cty.NumberIntVal(int64(len(rows.X))))
	run.Output("ppm_rmse", cty.NumberFloatVal(ev.RMSE))
	run.Output("ppm_baseline_rmse", cty.NumberFloatVal(ev.BaselineRMSE))
	return nil
}

func savePlots(run *sdk.Run, plots []struct {
	name, base string
	fn         func(string) (string, string, error)
}) error {
	for _, p := range plots {
		png, _, err := p.fn(run.Path(p.base))
		if err != nil {
			return fmt.Errorf("plot %s: %w", p.name, err)
		}
		if err := run.Artifact(p.name, report.Rel(run.WorkDir, png), "image/png"); err != nil {
			return err
		}
	}
	return nil
}

func main() { sdk.Serve(plugin{}) }
