// Package pipeline is the router plugin's method, one function per mode:
// Generate writes planted data, Route learns the performance prediction
// model from knapsack label mixtures and routes at each budget, PPM fits the
// PPM on existing proxy-RM rows. Each reports through the step's sdk.Run:
// files announced as the schema's artifacts, outputs, metrics and progress.
package pipeline

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/zclconf/go-cty/cty"

	"github.com/shammie-ml/shammie/plugins/router/internal/noise"
	"github.com/shammie-ml/shammie/plugins/router/internal/planted"
	"github.com/shammie-ml/shammie/plugins/router/internal/ppm"
	"github.com/shammie-ml/shammie/plugins/router/internal/prefdata"
	"github.com/shammie-ml/shammie/plugins/router/internal/report"
	"github.com/shammie-ml/shammie/plugins/router/internal/route"
	"github.com/shammie-ml/shammie/sdk"
	"github.com/shammie-ml/shammie/sdk/ml"
)

// Generate writes the planted data set pc describes.
func Generate(run *sdk.Run, pc planted.Config) error {
	ds, err := planted.Generate(pc)
	if err != nil {
		return err
	}
	if err := run.WriteArtifact("data", "planted.jsonl", func(path string) error {
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		if err := prefdata.WriteJSONL(f, ds.Instances); err != nil {
			f.Close()
			return err
		}
		return f.Close()
	}); err != nil {
		return err
	}
	run.Logf("generated %d planted instances; %s is where the LM is wrong", len(ds.Instances), pc.PlantedFeature())
	return run.Outputs(map[string]cty.Value{
		"planted_feature": cty.StringVal(pc.PlantedFeature()),
		"instances":       cty.NumberIntVal(int64(len(ds.Instances))),
	})
}

// RouteOptions of the route mode.
type RouteOptions struct {
	Data, Format, LMField string
	Method                string // the routing written to routed.jsonl
	Route                 route.Config
}

// Route loads the preference data, runs the HyPER pipeline and reports.
func Route(ctx context.Context, run *sdk.Run, o RouteOptions) error {
	ds, err := prefdata.Load(o.Data, prefdata.LoadOptions{Format: prefdata.Format(o.Format), LMField: o.LMField})
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
	rc := o.Route
	rc.StateDir = run.StateDir
	res, err := route.Run(ctx, backend, ds, rc, run)
	if err != nil {
		return err
	}
	if err := writeRouteFiles(run, ds, res, o.Method, rc.Budgets); err != nil {
		return err
	}
	if err := routePlots(run, res); err != nil {
		return err
	}
	for _, c := range res.PPMEval.Curve {
		run.Metric("ppm_heldout_rmse", int64(c.TrainRows), c.RMSE)
	}
	return run.Outputs(routeOutputs(run, ds, res, o.Method))
}

func writeRouteFiles(run *sdk.Run, ds *prefdata.Dataset, res *route.Result, method string, budgets []float64) error {
	results := report.Results{Source: ds.Source, Pool: res.Pool, Eval: res.Eval, EvalLabels: res.EvalLabels, Ties: res.Ties,
		Features: len(res.Features.Names), PPM: report.Summary(res.PPMEval), Routings: res.Routings, Mixtures: res.Mixtures,
		TopFeatures: res.FeatureGains[:min(10, len(res.FeatureGains))], Noise: res.Noise}
	for _, w := range []struct {
		name, file string
		fn         func(string) error
	}{
		{"routed", "routed.jsonl", func(p string) error { return report.WriteRouted(p, res, method, budgets) }},
		{"results", "results.json", func(p string) error { return report.WriteJSON(p, results) }},
		{"feature_gains", "feature_gains.csv", func(p string) error { return report.WriteFeatureGains(p, res.FeatureGains, budgets) }},
		{"ppm_model", "ppm_model.json", func(p string) error { return report.WriteJSON(p, res.Model) }},
	} {
		if err := run.WriteArtifact(w.name, w.file, w.fn); err != nil {
			return err
		}
	}
	return nil
}

func routePlots(run *sdk.Run, res *route.Result) error {
	measured := make([]float64, len(res.Mixtures))
	fitted := make([]float64, len(res.Mixtures))
	for i, m := range res.Mixtures {
		measured[i], fitted[i] = m.Measured, m.Fitted
	}
	metric := "held-out accuracy (" + res.EvalLabels + " labels)"
	return savePlots(run, []plot{
		{"plot_budgets", "plots/budgets", func(b string) (string, string, error) {
			return report.PlotBudgets(b, res.Routings, metric, res.Noise)
		}},
		{"plot_ppm_fit", "plots/ppm_fit", func(b string) (string, string, error) {
			return report.PlotFit(b, measured, fitted, "PPM fit on the trained mixtures")
		}},
		{"plot_learning_curve", "plots/learning_curve", func(b string) (string, string, error) { return report.PlotCurve(b, res.PPMEval) }},
		{"plot_feature_gains", "plots/feature_gains", func(b string) (string, string, error) {
			return report.PlotGains(b, res.FeatureGains, 12, res.Noise)
		}},
	})
}

// routeOutputs collects the output values, logging each routing.
func routeOutputs(run *sdk.Run, ds *prefdata.Dataset, res *route.Result, method string) map[string]cty.Value {
	out := map[string]cty.Value{
		"instances":         cty.NumberIntVal(int64(len(ds.Instances))),
		"ties_dropped":      cty.NumberIntVal(int64(ds.Ties)),
		"ppm_rmse":          cty.NumberFloatVal(res.PPMEval.RMSE),
		"ppm_baseline_rmse": cty.NumberFloatVal(res.PPMEval.BaselineRMSE),
	}
	routed, predicted, random := map[string]cty.Value{}, map[string]cty.Value{}, map[string]cty.Value{}
	routedIv, randomIv := map[string]cty.Value{}, map[string]cty.Value{}
	for _, r := range res.Routings {
		key := route.BudgetKey(r.Budget)
		iv := interval(r.Interval)
		switch r.Method {
		case method:
			routed[key], predicted[key], routedIv[key] = cty.NumberFloatVal(r.Measured), cty.NumberFloatVal(r.Predicted), iv
		case route.MethodRandom:
			random[key], randomIv[key] = cty.NumberFloatVal(r.Measured), iv
		case route.MethodAllHuman:
			out["all_human_score"], out["all_human_score_interval"] = cty.NumberFloatVal(r.Measured), iv
		case route.MethodAllLM:
			out["all_lm_score"], out["all_lm_score_interval"] = cty.NumberFloatVal(r.Measured), iv
		}
		run.Logf("%-10s budget %-5s human %5d  predicted %.4f  measured %.4f [%.4f, %.4f]", r.Method, key, r.Human, r.Predicted, r.Measured, r.Interval.Low, r.Interval.High)
	}
	out["routed_score"], out["predicted_score"], out["random_score"] = mapVal(routed), mapVal(predicted), mapVal(random)
	out["routed_score_interval"], out["random_score_interval"] = intervalMap(routedIv), intervalMap(randomIv)
	for k, v := range noiseOutputs(run, res, method) {
		out[k] = v
	}
	return out
}

// noiseOutputs reports what of the result is noise: the top feature's gain
// and interval, the flag when no gain is distinguishable from zero (a
// warning too), and the routed method's paired margins over the baselines.
func noiseOutputs(run *sdk.Run, res *route.Result, method string) map[string]cty.Value {
	nz := res.Noise
	top := res.FeatureGains[0]
	level := fmt.Sprintf("%.0f%%", 100*nz.Level)
	run.Logf("noise: one reward model's score varies by ±%.4f (sd; %d replicates per routing, %d bootstrap resamples of eval instances × replicates)",
		nz.ScoreNoise, nz.Replicates, nz.Bootstrap)
	for _, c := range nz.Comparisons {
		if c.Method != method {
			continue
		}
		run.Logf("%-10s − %-9s budget %-5s %+.4f [%+.4f, %+.4f]", c.Method, c.Versus, route.BudgetKey(c.Budget), c.Diff, c.Interval.Low, c.Interval.High)
		if c.Versus == route.MethodRandom && !c.Interval.Excludes(0) {
			run.Warnf("at budget %s %s routing is not distinguishable from random routing: %+.4f, %s interval [%+.4f, %+.4f]",
				route.BudgetKey(c.Budget), method, c.Diff, level, c.Interval.Low, c.Interval.High)
		}
	}
	run.Logf("top feature %s: predicted gain %+.4f, %s interval simultaneous over %d features [%+.4f, %+.4f]; on permuted scores the top gain stays below %+.4f in %s of %d refits",
		top.Feature, top.Total, level, len(res.FeatureGains), top.Interval.Low, top.Interval.High, nz.GainThreshold, level, nz.GainRefits)
	if nz.GainIsNoise {
		run.Warnf("no feature's predicted gain is distinguishable from zero: the top feature %s (%+.4f, interval [%+.4f, %+.4f]; permuted scores reach %+.4f) is likely noise, and so is any routing built on it",
			top.Feature, top.Total, top.Interval.Low, top.Interval.High, nz.GainThreshold)
	}
	return map[string]cty.Value{
		"top_feature":               cty.StringVal(top.Feature),
		"top_feature_gain":          cty.NumberFloatVal(top.Total),
		"top_feature_gain_interval": interval(top.Interval),
		"gain_is_noise":             cty.BoolVal(nz.GainIsNoise),
		"gain_threshold":            cty.NumberFloatVal(nz.GainThreshold),
		"score_noise":               cty.NumberFloatVal(nz.ScoreNoise),
	}
}

func interval(iv noise.Interval) cty.Value {
	return cty.ListVal([]cty.Value{cty.NumberFloatVal(iv.Low), cty.NumberFloatVal(iv.High)})
}

// intervalMap is cty.MapVal of intervals that accepts an empty map.
func intervalMap(m map[string]cty.Value) cty.Value {
	if len(m) == 0 {
		return cty.MapValEmpty(cty.List(cty.Number))
	}
	return cty.MapVal(m)
}

// mapVal is cty.MapVal that accepts an empty map.
func mapVal(m map[string]cty.Value) cty.Value {
	if len(m) == 0 {
		return cty.MapValEmpty(cty.Number)
	}
	return cty.MapVal(m)
}

// PPMOptions of the ppm mode.
type PPMOptions struct {
	Rows, Target string
	TestFrac     float64
	Model        string // quadratic | linear
}

// PPM fits the performance prediction model on proxy-RM result rows and
// reports its held-out RMSE and learning curve.
func PPM(ctx context.Context, run *sdk.Run, o PPMOptions) error {
	rows, err := ppm.LoadProxyRows(o.Rows, o.Target)
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
	opt.Linear = o.Model == "linear"
	ev, err := ppm.Evaluate(ctx, backend, rows.Names, rows.X, rows.Y, o.TestFrac, opt)
	if err != nil {
		return err
	}
	run.Logf("%s PPM on %d rows × %d features (%s): held-out RMSE %.4f on %d rows (mean predictor %.4f), λ=%g",
		o.Model, len(rows.X), len(rows.Names), filepath.Base(o.Rows), ev.RMSE, ev.TestRows, ev.BaselineRMSE, ev.Model.Lambda)
	for _, c := range ev.Curve {
		run.Metric("ppm_heldout_rmse", int64(c.TrainRows), c.RMSE)
	}
	pred := make([]float64, len(rows.X))
	for i, x := range rows.X {
		pred[i] = ev.Model.Predict(x)
	}
	if err := run.WriteArtifact("results", "results.json", func(p string) error {
		return report.WriteJSON(p, map[string]any{
			"rows": len(rows.X), "features": len(rows.Names), "target": o.Target, "ppm": report.Summary(ev),
			"predictions": map[string]any{"ids": rows.IDs, "measured": rows.Y, "predicted": pred},
		})
	}); err != nil {
		return err
	}
	if err := run.WriteArtifact("ppm_model", "ppm_model.json", func(p string) error { return report.WriteJSON(p, ev.Model) }); err != nil {
		return err
	}
	if err := savePlots(run, []plot{
		{"plot_ppm_fit", "plots/ppm_fit", func(b string) (string, string, error) {
			return report.PlotFit(b, rows.Y, pred, fmt.Sprintf("PPM on %d proxy-RM rows (train + held-out)", len(rows.X)))
		}},
		{"plot_learning_curve", "plots/learning_curve", func(b string) (string, string, error) { return report.PlotCurve(b, ev) }},
	}); err != nil {
		return err
	}
	return run.Outputs(map[string]cty.Value{
		"instances":         cty.NumberIntVal(int64(len(rows.X))),
		"ppm_rmse":          cty.NumberFloatVal(ev.RMSE),
		"ppm_baseline_rmse": cty.NumberFloatVal(ev.BaselineRMSE),
	})
}

// plot is one PNG artifact drawn by a report.Plot* function (which also
// writes an SVG next to it, kept in the work dir but not announced).
type plot struct {
	name, base string
	fn         func(base string) (png, svg string, err error)
}

func savePlots(run *sdk.Run, plots []plot) error {
	for _, p := range plots {
		if err := run.WritePlot(p.base, []string{p.name}, func(base string) ([]string, error) {
			png, svg, err := p.fn(base)
			return []string{png, svg}, err
		}); err != nil {
			return err
		}
	}
	return nil
}
