package route

import (
	"context"
	"fmt"
	"math/rand/v2"

	"github.com/gomlx/gomlx/backends"

	"github.com/shammie-ml/shammie/plugins/router/internal/features"
	"github.com/shammie-ml/shammie/plugins/router/internal/mixture"
	"github.com/shammie-ml/shammie/plugins/router/internal/noise"
	"github.com/shammie-ml/shammie/plugins/router/internal/ppm"
	"github.com/shammie-ml/shammie/sdk"
)

// maxGainRefits bounds the PPM refits of the feature-gain bootstrap: the
// gains' intervals need only their standard errors, which a few hundred
// resamples estimate well.
const maxGainRefits = 200

// Noise is how far the measured scores and predicted gains can be trusted.
type Noise struct {
	// Replicates is the reward models trained per measured routing:
	// replicate 0 on the pool as it is, the others on bootstrap resamples
	// of it (Poisson(1) weights, the same resample for every routing); a
	// random routing draws a fresh routing for each.
	Replicates int     `json:"replicates"`
	Bootstrap  int     `json:"bootstrap"`
	GainRefits int     `json:"gain_refits"`
	Level      float64 `json:"level"`
	// ScoreNoise is the median over routings of the standard deviation of
	// one reward model's score (resampling eval instances and replicates):
	// what a comparison of two single reward models is off by.
	ScoreNoise  float64      `json:"single_rm_score_sd"`
	Comparisons []Comparison `json:"comparisons"`
	// GainIsNoise: no feature's predicted gain is distinguishable from
	// zero (no simultaneous interval lies above it).
	GainIsNoise bool `json:"gain_is_noise"`
}

// Comparison is a paired difference of two routings' scores at a budget.
type Comparison struct {
	Method   string         `json:"method"`
	Versus   string         `json:"versus"`
	Budget   float64        `json:"budget"`
	Diff     float64        `json:"diff"`
	Interval noise.Interval `json:"interval"`
}

// replicateJobs expands the routings to their replicates (routing-major):
// the mixtures to train and their pool weights.
func replicateJobs(routings []Routed, n, replicates int, rng *rand.Rand) ([]mixture.Mixture, [][]float32) {
	ones := make([]float32, n)
	for i := range ones {
		ones[i] = 1
	}
	weights := [][]float32{ones}
	for range replicates - 1 {
		weights = append(weights, noise.PoissonWeights(n, rng))
	}
	var mixes []mixture.Mixture
	var ws [][]float32
	for _, r := range routings {
		for s := range replicates {
			mix := r.mix
			if s > 0 && r.Method == MethodRandom {
				mix = mixture.Random(n, r.mix.Budget, rng)
			}
			mixes = append(mixes, mix)
			ws = append(ws, weights[s])
		}
	}
	return mixes, ws
}

// scoreNoise fills each routing's score (mean over its replicates),
// interval and single-model spread, and the paired comparisons of the
// routed methods with the baselines.
func scoreNoise(res *Result, measured trained, replicates int, used []float32, cfg Config) error {
	n := len(used)
	plan := noise.NewPlan(cfg.Bootstrap, n, replicates, cfg.Seed^0x6e6f697365)
	draws := make([]noise.Draws, len(res.Routings))
	var sds []float64
	for i := range res.Routings {
		r := &res.Routings[i]
		rp := noise.Replicates{R: replicates, N: n, Correct: measured.Correct[i*replicates*n : (i+1)*replicates*n]}
		r.Replicates = measured.Accuracy[i*replicates : (i+1)*replicates]
		r.Measured = rp.Mean(used)
		d, err := plan.Resample(rp, used)
		if err != nil {
			return err
		}
		draws[i] = d
		r.Interval = noise.Percentile(d.Mean, cfg.Level)
		r.SingleSD = noise.SD(d.Single)
		sds = append(sds, r.SingleSD)
	}
	res.Noise.ScoreNoise = noise.Median(sds)
	find := func(method string, budget float64) int {
		for i, r := range res.Routings {
			if r.Method == method && (budget < 0 || r.Budget == budget) {
				return i
			}
		}
		return -1
	}
	for _, b := range cfg.Budgets {
		for _, m := range []string{MethodTopk, MethodSimulated} {
			a := find(m, b)
			for _, vs := range []struct {
				method string
				budget float64
			}{{MethodRandom, b}, {MethodAllHuman, -1}, {MethodAllLM, -1}} {
				o := find(vs.method, vs.budget)
				if a < 0 || o < 0 {
					continue
				}
				res.Noise.Comparisons = append(res.Noise.Comparisons, Comparison{Method: m, Versus: vs.method, Budget: b,
					Diff:     res.Routings[a].Measured - res.Routings[o].Measured,
					Interval: noise.Percentile(noise.Diff(draws[a].Mean, draws[o].Mean), cfg.Level)})
			}
		}
	}
	return nil
}

// gainNoise bootstraps the PPM's feature gains: each refit sees the mixture
// scores on a resample of the eval instances and a resample of the
// mixtures, at the fitted ridge penalty. A feature's interval is its gain ±
// z·(bootstrap SD), simultaneous over the features (Bonferroni), so that
// "some feature beats zero" is a statement at the stated level however many
// features there are.
func gainNoise(ctx context.Context, backend backends.Backend, res *Result, X [][]float64, mixCorrect []float32, used []float32, cfg Config, rep sdk.Reporter) error {
	refits := min(cfg.Bootstrap, maxGainRefits)
	res.Noise.GainRefits = refits
	if refits < 2 {
		return fmt.Errorf("bootstrap = %d: need at least 2 resamples for an interval", cfg.Bootstrap)
	}
	n, m := len(used), len(X)
	plan := noise.NewPlan(refits, n, 1, cfg.Seed^0x6761696e)
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x726f7773))
	mixes := noise.Replicates{R: m, N: n, Correct: mixCorrect}
	Xs := make([][][]float64, refits)
	ys := make([][]float64, refits)
	for b := range refits {
		Xs[b], ys[b] = make([][]float64, m), make([]float64, m)
		for i := range m {
			j := rng.IntN(m)
			Xs[b][i] = X[j]
			ys[b][i] = mixes.Accuracy(j, plan.Weight[b], used)
		}
	}
	rep.Logf("router: bootstrapping the feature gains (%d PPM refits in one batch)", refits)
	models, err := ppm.Refit(ctx, backend, res.Model.Names, Xs, ys, res.Model.Lambda, cfg.PPM)
	if err != nil {
		return err
	}
	f := len(res.Model.Names)
	totals := make([][]float64, f) // feature × refit
	for _, mdl := range models {
		for j, t := range featureTotals(mdl, res.Features, cfg.Budgets) {
			totals[j] = append(totals[j], t)
		}
	}
	res.Noise.GainIsNoise = true
	for i := range res.FeatureGains {
		row := &res.FeatureGains[i]
		row.SE = noise.SD(totals[row.index])
		row.Interval = noise.Simultaneous(row.Total, row.SE, cfg.Level, f)
		row.Distinguishable = row.Interval.Low > 0
		if row.Distinguishable {
			res.Noise.GainIsNoise = false
		}
	}
	return nil
}

// featureTotals is each feature's total predicted gain (FeatureRow.Total)
// under model m, in feature order.
func featureTotals(m *ppm.Model, fm *features.Matrix, budgets []float64) []float64 {
	rows := featureRows(m, fm, budgets)
	out := make([]float64, len(rows))
	for j, r := range rows {
		out[j] = r.Total
	}
	return out
}
