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
	// Replicates is the reward models (seeds) per measured routing, each
	// from its own initial weights (the linear model converges to the same
	// one from every seed and is trained once); a random routing draws a
	// fresh random routing for each.
	Replicates int     `json:"replicates"`
	Bootstrap  int     `json:"bootstrap"`
	GainRefits int     `json:"gain_refits"`
	Level      float64 `json:"level"`
	// ScoreNoise is the median over routings of the standard deviation of
	// one reward model's score (resampling eval instances and replicates):
	// what a comparison of two single reward models is off by.
	ScoreNoise  float64      `json:"single_rm_score_sd"`
	Comparisons []Comparison `json:"comparisons"`
	// GainThreshold is the level-quantile of the largest feature gain the
	// PPM finds when refitted on permuted mixture scores (no relation
	// between routing and score): a gain above it is distinguishable from
	// zero, however many features were looked at (max-T permutation test).
	GainThreshold float64 `json:"gain_threshold"`
	// GainIsNoise: no feature's predicted gain is distinguishable from
	// zero: none is both above GainThreshold and has its interval above 0.
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
// the same routing again, or for random routing a fresh one of the same
// size. The linear Bradley–Terry model (RM.Hidden = 0) is convex: every
// seed converges to the same model, so a fixed routing is trained once and
// its replicates share that model (source[k] is the job replicate k
// reads); a random routing still gets its own model per replicate.
func replicateJobs(routings []Routed, n, replicates int, linear bool, rng *rand.Rand) (jobs []mixture.Mixture, source []int) {
	for _, r := range routings {
		first := len(jobs)
		for s := range replicates {
			switch {
			case s == 0:
				jobs = append(jobs, r.mix)
			case r.Method == MethodRandom:
				jobs = append(jobs, mixture.Random(n, r.mix.Budget, rng))
			case !linear:
				jobs = append(jobs, r.mix)
			default:
				source = append(source, first)
				continue
			}
			source = append(source, len(jobs)-1)
		}
	}
	return jobs, source
}

// expand lays trained jobs out as replicates (source from replicateJobs).
func expand(t trained, source []int) trained {
	nEval := len(t.Correct) / max(len(t.Accuracy), 1)
	var out trained
	for _, j := range source {
		out.Accuracy = append(out.Accuracy, t.Accuracy[j])
		out.Correct = append(out.Correct, t.Correct[j*nEval:(j+1)*nEval]...)
	}
	return out
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

// gainNoise judges the PPM's feature gains, with two batches of refits at
// the fitted ridge penalty, all in one batched solve:
//   - permutations: the mixture scores shuffled across mixtures. The
//     largest gain of any feature in each is the null distribution of the
//     top gain; its level-quantile is the threshold a gain must beat
//     (max-T: valid however many features there are).
//   - bootstrap: each refit sees the scores on a resample of the eval
//     instances and a resample of the mixtures; a feature's interval is its
//     gain ± z·(bootstrap SD), simultaneous over the features (Bonferroni).
//
// A gain is distinguishable from zero when both say so: above the
// threshold and with its interval above zero. Each test alone would call a
// planted-free data set's top feature real about once in twenty; requiring
// both keeps the flag conservative and the interval a reader sees
// consistent with it.
func gainNoise(ctx context.Context, backend backends.Backend, res *Result, X [][]float64, scores []float64, mixCorrect []float32, used []float32, cfg Config, rep sdk.Reporter) error {
	refits := min(cfg.Bootstrap, maxGainRefits)
	res.Noise.GainRefits = refits
	if refits < 2 {
		return fmt.Errorf("bootstrap = %d: need at least 2 resamples for an interval", cfg.Bootstrap)
	}
	n, m := len(used), len(X)
	plan := noise.NewPlan(refits, n, 1, cfg.Seed^0x6761696e)
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x726f7773))
	mixes := noise.Replicates{R: m, N: n, Correct: mixCorrect}
	Xs := make([][][]float64, 0, 2*refits)
	ys := make([][]float64, 0, 2*refits)
	for b := range refits {
		Xb, yb := make([][]float64, m), make([]float64, m)
		for i := range m {
			j := rng.IntN(m)
			Xb[i], yb[i] = X[j], mixes.Accuracy(j, plan.Weight[b], used)
		}
		Xs, ys = append(Xs, Xb), append(ys, yb)
	}
	for range refits {
		yp := make([]float64, m)
		for i, j := range rng.Perm(m) {
			yp[i] = scores[j]
		}
		Xs, ys = append(Xs, X), append(ys, yp)
	}
	rep.Logf("router: judging the feature gains (%d bootstrap and %d permutation PPM refits in one batch)", refits, refits)
	models, err := ppm.Refit(ctx, backend, res.Model.Names, Xs, ys, res.Model.Lambda, cfg.PPM)
	if err != nil {
		return err
	}
	f := len(res.Model.Names)
	totals := make([][]float64, f) // feature × bootstrap refit
	var nullMax []float64
	for k, mdl := range models {
		t := featureTotals(mdl, res.Features, cfg.Budgets)
		if k < refits {
			for j, v := range t {
				totals[j] = append(totals[j], v)
			}
			continue
		}
		top := t[0]
		for _, v := range t {
			top = max(top, v)
		}
		nullMax = append(nullMax, top)
	}
	res.Noise.GainThreshold = noise.Quantile(nullMax, cfg.Level)
	res.Noise.GainIsNoise = true
	for i := range res.FeatureGains {
		row := &res.FeatureGains[i]
		row.SE = noise.SD(totals[row.index])
		row.Interval = noise.Simultaneous(row.Total, row.SE, cfg.Level, f)
		// Both tests must call it real: the gain beats what permuted
		// scores reach, and its bootstrap interval lies above zero.
		row.Distinguishable = row.Total > res.Noise.GainThreshold && row.Interval.Low > 0
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
