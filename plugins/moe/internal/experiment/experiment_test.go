package experiment

import (
	gocontext "context"
	"math/rand/v2"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/shammie-ml/shammie/plugins/moe/internal/analysis"
	"github.com/shammie-ml/shammie/plugins/moe/internal/corpus"
	"github.com/shammie-ml/shammie/plugins/moe/internal/moe"
	"github.com/shammie-ml/shammie/sdk/ml"
)

func plantedDomains(t *testing.T, seed int64) []corpus.Domain {
	t.Helper()
	p := corpus.Planted(seed, 40000)
	var ds []corpus.Domain
	for _, n := range []string{"high", "low"} {
		d, err := corpus.Split(n, "", p[n], 0.1, 512)
		if err != nil {
			t.Fatal(err)
		}
		ds = append(ds, d)
	}
	return ds
}

// tiny is a model that trains in seconds on two cores.
func tiny(steps int) Options {
	return Options{
		Layers: 1, DModel: 32, Heads: 2, Seq: 32, Batch: 8,
		MoE:   moe.Config{Experts: 8, TopK: 2, Hidden: 32},
		Loss:  moe.DefaultLoss,
		Train: ml.TrainConfig{Steps: steps, LR: 1e-2, WarmupSteps: steps / 10, WeightDecay: 0.1, ClipNorm: 1},
		Seed:  1, Snapshots: 3, EvalWindows: 8,
	}
}

// TestPlantedSpecialisation: two domains from different Markov chains over
// disjoint byte halves. After a short run each domain's top expert has
// spec ≥ 3× uniform.
func TestPlantedSpecialisation(t *testing.T) {
	be, err := ml.OpenBackend("go")
	if err != nil {
		t.Fatal(err)
	}
	o := tiny(80)
	// More held-out windows than tiny's 8 per domain: the shuffled control
	// moves whole windows, and its noise floor falls with their number.
	o.EvalWindows = 16
	res, err := Run(gocontext.Background(), be, plantedDomains(t, 3), o, t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	final := res.Final().Layers[0]
	spec := analysis.DomainSpec(final, res.EvalDomain, len(res.Domains))
	uni := analysis.Uniform(o.MoE.TopK, o.MoE.Experts)
	for d, row := range spec {
		_, top := analysis.Top(row, 1)
		t.Logf("domain %s: top spec %.1f (uniform %.1f) row %v", res.Domains[d], top[0], uni, row)
		if top[0] < 3*uni {
			t.Errorf("domain %s: top expert spec %.1f < 3×uniform = %.1f", res.Domains[d], top[0], 3*uni)
		}
	}
	// The specialisation is learned: at initialisation it is not there.
	init := analysis.DomainSpec(res.Snapshots[0].Layers[0], res.EvalDomain, len(res.Domains))
	for d, row := range init {
		if _, top := analysis.Top(row, 1); top[0] >= 3*uni {
			t.Errorf("domain %s already has top spec %.1f at step 0: the planted test proves nothing", res.Domains[d], top[0])
		}
	}
	checkAgainstControl(t, res, o)
	if len(res.Snapshots) != 3 || res.Snapshots[0].Step != 0 || res.Final().Step != 80 {
		t.Errorf("snapshots at %v, want steps 0, 40, 80", res.Snapshots)
	}
	t.Logf("loss %.3f, used rows %.0f of dense %.0f (bound %.0f)", res.Train.FinalLoss, res.UsedRows, res.DenseRows, res.BoundRows)
}

// checkAgainstControl: on the planted domains the load-adjusted figures
// (top lift, Jensen–Shannon divergence) are far above their shuffled-domain
// control; on one domain split at random (whole windows) in two, they are
// not — there is nothing to specialise on.
func checkAgainstControl(t *testing.T, res *Result, o Options) {
	t.Helper()
	final := res.Final().Layers[0]
	judge := func(name string, r analysis.TopK, domain []int, n int, want bool) {
		shares, overall := analysis.Shares(r, domain, n)
		var topLift float64
		for _, v := range analysis.TopLift(shares, overall) {
			topLift += v / float64(n)
		}
		_, div := analysis.Divergence(shares, overall, domain)
		c := analysis.ShuffledControl(r, domain, n, o.Seq, analysis.ControlShuffles, 7)
		lz, dz := c.LiftZ(topLift), c.DivergenceZ(div)
		t.Logf("%s: mean top lift %.3f (control %.3f ± %.3f, z %.1f), divergence %.4f bits (control %.4f ± %.4f, z %.1f)",
			name, topLift, c.TopLiftMean, c.TopLiftSD, lz, div, c.DivergenceMean, c.DivergenceSD, dz)
		// "Far above": more than 4 of the control's standard deviations
		// above its mean; "not": within 2.
		if want && (lz < 4 || dz < 4) {
			t.Errorf("%s: lift z %.1f, divergence z %.1f; want both far above the shuffled control (> 4)", name, lz, dz)
		}
		if !want && (lz > 2 || dz > 2) {
			t.Errorf("%s: lift z %.1f, divergence z %.1f; want both within the shuffled control's noise (< 2)", name, lz, dz)
		}
	}
	judge("planted domains", final, res.EvalDomain, len(res.Domains), true)
	// One domain's windows, split at random into two halves.
	var tokens, half []int
	rng := rand.New(rand.NewPCG(5, 6))
	side := 0
	for t0, d := range res.EvalDomain {
		if d != 0 {
			continue
		}
		if t0%o.Seq == 0 {
			side = rng.IntN(2)
		}
		tokens, half = append(tokens, t0), append(half, side)
	}
	judge("one domain split in two", analysis.Select(final, tokens), half, 2, false)
}

// TestLoadCollapse: on one domain with the router skewed at initialisation,
// top-1 routing without the load-balancing loss collapses onto one expert
// (> 50% of assignments); with OLMoE's w = 0.01 it does not.
func TestLoadCollapse(t *testing.T) {
	be, err := ml.OpenBackend("go")
	if err != nil {
		t.Fatal(err)
	}
	one := plantedDomains(t, 3)[1:]
	for _, tc := range []struct {
		w        float64
		collapse bool
	}{{0, true}, {0.01, false}} {
		o := tiny(100)
		o.MoE.TopK = 1
		o.Train.LR = 3e-3
		o.RouterSkew = 3
		o.Loss.LoadBalance = tc.w
		res, err := Run(gocontext.Background(), be, one, o, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		start := analysis.MaxLoad(res.Snapshots[0].Layers[0])
		got := analysis.MaxLoad(res.Final().Layers[0])
		t.Logf("w=%g: largest expert share %.3f at init, %.3f after %d steps; load %.2f", tc.w, start, got, o.Train.Steps, analysis.Load(res.Final().Layers[0]))
		if (got > 0.5) != tc.collapse {
			t.Errorf("w=%g: largest expert share %.3f; want collapse (> 0.5) = %v", tc.w, got, tc.collapse)
		}
	}
}

// TestRerunResumes: a second run in the same state directory resumes from
// the final checkpoint and recorded snapshots instead of training again.
func TestRerunResumes(t *testing.T) {
	be, err := ml.OpenBackend("go")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	o := tiny(12)
	first, err := Run(gocontext.Background(), be, plantedDomains(t, 4), o, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	again, err := Run(gocontext.Background(), be, plantedDomains(t, 4), o, dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if again.Train.ResumedFrom != 12 {
		t.Errorf("second run resumed from step %d, want 12", again.Train.ResumedFrom)
	}
	if d := cmp.Diff(first.Snapshots, again.Snapshots); d != "" {
		t.Errorf("snapshots differ after resume (-first +again):\n%.1500s", d)
	}
}
