package route

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/shammie-ml/shammie/plugins/router/internal/planted"
	"github.com/shammie-ml/shammie/sdk/ml"
)

// TestPlantedRouting is the acceptance check: on planted data the
// router must route the planted feature first, and at 25/50/75% budgets the
// routed labels must train RMs that beat all-human, all-LM and random
// routing on gold accuracy.
func TestPlantedRouting(t *testing.T) {
	pc := planted.Default(3000, 11)
	ds, err := planted.Generate(pc)
	if err != nil {
		t.Fatal(err)
	}
	backend := os.Getenv("ROUTER_TEST_BACKEND") // e.g. xla:cuda on a GPU machine
	b, release, err := ml.AcquireBackend(backend)
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	cfg := DefaultConfig()
	start := time.Now()
	res, err := Run(context.Background(), b, ds, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("experiment took %v; PPM RMSE %.4f (baseline %.4f)", time.Since(start), res.PPMEval.RMSE, res.PPMEval.BaselineRMSE)
	for _, r := range res.FeatureGains[:5] {
		t.Logf("gain %-45s n=%4d total=%+.4f g0=%+.2e at=%+.2e", r.Feature, r.Instances, r.Total, r.GainZero, r.GainAt)
	}
	logNoise(t, res)
	if got := res.FeatureGains[0].Feature; got != pc.PlantedFeature() {
		t.Errorf("top feature by gain = %s, want the planted %s", got, pc.PlantedFeature())
	}
	if top := res.FeatureGains[0]; res.Noise.GainIsNoise || !top.Distinguishable {
		t.Errorf("planted weakness flagged as noise: %s gain %+.4f [%+.4f, %+.4f]", top.Feature, top.Total, top.Interval.Low, top.Interval.High)
	}
	// Routed first: the instances topk ranks highest at the smallest
	// budget are the planted ones.
	planted := 0
	for _, in := range res.PoolInstances {
		if in.Tags["subject_of_expertise"][0] == pc.Planted {
			planted++
		}
	}
	gains := res.TopkGains[cfg.Budgets[0]]
	order := argsortDesc(gains)
	hit := 0
	for _, i := range order[:planted] {
		if res.PoolInstances[i].Tags["subject_of_expertise"][0] == pc.Planted {
			hit++
		}
	}
	if frac := float64(hit) / float64(planted); frac < 0.95 {
		t.Errorf("only %.0f%% of the top-%d gains are planted instances", frac*100, planted)
	}
	byKey := map[string]map[float64]Routed{}
	for _, r := range res.Routings {
		if byKey[r.Method] == nil {
			byKey[r.Method] = map[float64]Routed{}
		}
		byKey[r.Method][r.Budget] = r
		t.Logf("%-10s budget=%.2f human=%4d predicted=%.3f measured=%.3f", r.Method, r.Budget, r.Human, r.Predicted, r.Measured)
	}
	allH, allL := byKey[MethodAllHuman][1].Measured, byKey[MethodAllLM][0].Measured
	for _, bud := range cfg.Budgets {
		top, rnd := byKey[MethodTopk][bud].Measured, byKey[MethodRandom][bud].Measured
		if !(top > allH && top > allL && top > rnd) {
			t.Errorf("budget %.2f: topk %.3f must beat all-human %.3f, all-LM %.3f and random %.3f", bud, top, allH, allL, rnd)
		}
	}
}

func argsortDesc(v []float64) []int {
	idx := make([]int, len(v))
	for i := range idx {
		idx[i] = i
	}
	for i := 1; i < len(idx); i++ { // insertion sort is fine for a test
		for j := i; j > 0 && v[idx[j]] > v[idx[j-1]]; j-- {
			idx[j], idx[j-1] = idx[j-1], idx[j]
		}
	}
	return idx
}

// TestTransformerRepresentationRuns: the sdk/ml representation option runs
// the whole experiment end to end (mechanics only, at a tiny size).
func TestTransformerRepresentationRuns(t *testing.T) {
	ds, err := planted.Generate(planted.Default(300, 2))
	if err != nil {
		t.Fatal(err)
	}
	b, release, err := ml.AcquireBackend(os.Getenv("ROUTER_TEST_BACKEND"))
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	cfg := DefaultConfig()
	cfg.Representation = "transformer"
	cfg.Transformer.Steps, cfg.Transformer.DModel, cfg.Transformer.SeqLen, cfg.Transformer.Batch = 5, 16, 48, 8
	cfg.Mixtures, cfg.RM.Steps, cfg.Candidates, cfg.Budgets = 10, 20, 50, []float64{0.5}
	res, err := Run(context.Background(), b, ds, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Routings) != 5 || len(res.Mixtures) != 10 {
		t.Errorf("%d routings, %d mixtures; want 5 and 10", len(res.Routings), len(res.Mixtures))
	}
	for _, r := range res.Routings {
		if r.Measured <= 0 || r.Measured > 1 {
			t.Errorf("%s: measured %v", r.Method, r.Measured)
		}
	}
}

// TestNoWeaknessIsFlagged: with humans and the LM equally noisy everywhere
// there is nothing to route, and the router must say its top feature's gain
// is noise (and the planted set must not be flagged: TestPlantedRouting).
func TestNoWeaknessIsFlagged(t *testing.T) {
	pc := planted.Default(2000, 11)
	pc.NoWeakness, pc.HumanFlip = true, 0.2
	ds, err := planted.Generate(pc)
	if err != nil {
		t.Fatal(err)
	}
	b, release, err := ml.AcquireBackend(os.Getenv("ROUTER_TEST_BACKEND"))
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	cfg := DefaultConfig()
	cfg.Mixtures, cfg.Budgets, cfg.Candidates = 48, []float64{0.5}, 200
	start := time.Now()
	res, err := Run(context.Background(), b, ds, cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("experiment took %v", time.Since(start))
	logNoise(t, res)
	if !res.Noise.GainIsNoise {
		top := res.FeatureGains[0]
		t.Errorf("no weakness planted, but %s's gain %+.4f [%+.4f, %+.4f] is called distinguishable from zero", top.Feature, top.Total, top.Interval.Low, top.Interval.High)
	}
}

func logNoise(t *testing.T, res *Result) {
	t.Helper()
	for _, r := range res.FeatureGains[:3] {
		t.Logf("gain %-45s total=%+.4f ± %.4f  [%+.4f, %+.4f] distinguishable=%v", r.Feature, r.Total, r.SE, r.Interval.Low, r.Interval.High, r.Distinguishable)
	}
	for _, r := range res.Routings {
		t.Logf("%-10s budget=%.2f measured=%.4f [%.4f, %.4f] single-RM sd %.4f replicates %.3f", r.Method, r.Budget, r.Measured, r.Interval.Low, r.Interval.High, r.SingleSD, r.Replicates)
	}
	for _, c := range res.Noise.Comparisons {
		t.Logf("%-9s − %-9s budget %.2f: %+.4f [%+.4f, %+.4f]", c.Method, c.Versus, c.Budget, c.Diff, c.Interval.Low, c.Interval.High)
	}
	t.Logf("single-RM score noise %.4f; top gain on permuted scores (%.0f%%) %+.4f; gain is noise: %v", res.Noise.ScoreNoise, 100*res.Noise.Level, res.Noise.GainThreshold, res.Noise.GainIsNoise)
}
