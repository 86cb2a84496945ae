// Package route runs the hybrid-preference routing experiment: sample label
// mixtures, train a reward model per mixture (all in one batched graph), fit
// the performance prediction model on what they scored, route at each budget
// with it (topk and simulated), and measure the chosen routings against
// all-human, all-LM and random routing at the same budget.
package route

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"

	"github.com/gomlx/gomlx/backends"

	"github.com/shammie-ml/shammie/plugins/router/internal/features"
	"github.com/shammie-ml/shammie/plugins/router/internal/mixture"
	"github.com/shammie-ml/shammie/plugins/router/internal/noise"
	"github.com/shammie-ml/shammie/plugins/router/internal/ppm"
	"github.com/shammie-ml/shammie/plugins/router/internal/prefdata"
	"github.com/shammie-ml/shammie/plugins/router/internal/rm"
	"github.com/shammie-ml/shammie/sdk"
)

// Config of an experiment.
type Config struct {
	// EvalFrac of the instances is held out to score reward models; the
	// rest is the pool that gets routed.
	EvalFrac float64
	// EvalLabels is the label source scoring RMs when the data has no gold
	// labels: "gold" (required then), "human" or "lm".
	EvalLabels string
	// Mixtures is how many knapsack mixtures train the PPM.
	Mixtures int
	// Budgets are fractions of the pool routed to humans.
	Budgets []float64
	// Candidates is M of the simulated router.
	Candidates int
	// TopkRounds re-evaluates the PPM gradient at the routing topk just
	// chose this many times (1 = gradient at the expected random routing).
	TopkRounds int
	// RMBatch bounds how many RMs train in one graph.
	RMBatch int
	RM      rm.Config
	// Representation of responses for the RMs: "bow" (signed hashed bag of
	// words, RM.Dim wide) or "transformer" (mean hidden state of a small
	// byte-level LM from sdk/ml pretrained on the responses, no labels).
	Representation string
	Transformer    rm.TransformerConfig
	PPM            ppm.Options
	Seed           uint64
	// StateDir, when set, keeps the trained mixtures' scores (the
	// expensive part) so that a re-run of the same step with the same data
	// and settings resumes after them.
	StateDir string
	// NoiseSeeds is how many extra reward models (seeds: own initial
	// weights; for random routing, also a fresh random routing), trained in
	// the same batched graphs, measure each routing beside the first.
	NoiseSeeds int
	// Bootstrap resamples (eval instances × replicates) give the scores'
	// intervals; min(Bootstrap, 200) PPM refits give the gains'.
	Bootstrap int
	// Level of the intervals (0.95).
	Level float64
}

// DefaultConfig is the plugin's default.
func DefaultConfig() Config {
	return Config{EvalFrac: 0.25, EvalLabels: "gold", Mixtures: 64, Budgets: []float64{0.25, 0.5, 0.75},
		Candidates: 2000, TopkRounds: 3, RMBatch: 64, RM: rm.DefaultConfig(), Representation: "bow",
		Transformer: rm.DefaultTransformer(), PPM: ppm.DefaultOptions(), Seed: 1,
		NoiseSeeds: 4, Bootstrap: 1000, Level: 0.95}
}

// Method names a routing strategy.
const (
	MethodTopk      = "topk"
	MethodSimulated = "simulated"
	MethodRandom    = "random"
	MethodAllHuman  = "all_human"
	MethodAllLM     = "all_lm"
)

// Routed is one routing evaluated at a budget.
type Routed struct {
	Method    string  `json:"method"`
	Budget    float64 `json:"budget"`
	Human     int     `json:"n_human"`
	Predicted float64 `json:"predicted"`
	// Measured is the mean held-out score of the routing's replicate
	// reward models; Interval its bootstrap interval; SingleSD the spread
	// of one reward model's score.
	Measured   float64        `json:"measured"`
	Interval   noise.Interval `json:"interval"`
	SingleSD   float64        `json:"single_rm_sd"`
	Replicates []float64      `json:"replicates"`
	mix        mixture.Mixture
}

// MixtureResult is one PPM training row.
type MixtureResult struct {
	Budget   int       `json:"n_human"`
	Counts   []float64 `json:"counts"`
	Measured float64   `json:"measured"`
	Fitted   float64   `json:"fitted"`
}

// Result of an experiment.
type Result struct {
	Pool, Eval    int
	Ties          int
	EvalLabels    string
	Features      *features.Matrix
	Mixtures      []MixtureResult
	PPMEval       *ppm.Evaluation
	Model         *ppm.Model // fitted on every mixture
	Routings      []Routed
	TopkGains     map[float64][]float64 // per budget: per-pool-instance gain
	TopkRouting   map[float64][]bool
	SimRouting    map[float64][]bool
	FeatureGains  []FeatureRow
	PoolInstances []prefdata.Instance
	Noise         Noise
}

// FeatureRow is one line of the feature-gain table.
type FeatureRow struct {
	Feature   string    `json:"feature"`
	Instances int       `json:"instances"`
	GainZero  float64   `json:"gain_at_0"`
	GainAt    []float64 `json:"gain_at_budgets"`
	// Total is the predicted score change from routing every instance of
	// the feature to humans (mean marginal gain over the budgets × group
	// size): the table is sorted by it, so a feature only a handful of
	// instances have cannot top it on a noisy per-instance coefficient.
	Total float64 `json:"total_gain"`
	// SE is Total's bootstrap standard error and Interval its interval,
	// simultaneous over all features; Distinguishable says it is above
	// Noise.GainThreshold (the top gain on permuted scores) and its
	// interval above zero.
	SE              float64        `json:"total_gain_se"`
	Interval        noise.Interval `json:"total_gain_interval"`
	Distinguishable bool           `json:"distinguishable"`
	index           int
}

// Run runs the experiment on a data set.
func Run(ctx context.Context, backend backends.Backend, ds *prefdata.Dataset, cfg Config, rep sdk.Reporter) (*Result, error) {
	if rep == nil {
		rep = sdk.Discard
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0xabcdef))
	insts := append([]prefdata.Instance(nil), ds.Instances...)
	rng.Shuffle(len(insts), func(a, b int) { insts[a], insts[b] = insts[b], insts[a] })
	nEval := int(math.Round(cfg.EvalFrac * float64(len(insts))))
	if nEval < 10 || len(insts)-nEval < 20 {
		return nil, fmt.Errorf("%d instances are too few: need ≥10 held out for scoring and ≥20 to route (eval_frac=%v)", len(insts), cfg.EvalFrac)
	}
	eval, pool := insts[:nEval], insts[nEval:]
	evalLabels, err := labelsFor(eval, cfg.EvalLabels)
	if err != nil {
		return nil, err
	}
	res := &Result{Pool: len(pool), Eval: len(eval), Ties: ds.Ties, EvalLabels: cfg.EvalLabels, PoolInstances: pool,
		TopkGains: map[float64][]float64{}, TopkRouting: map[float64][]bool{}, SimRouting: map[float64][]bool{}}
	fm := features.Build(pool)
	res.Features = fm
	rep.Logf("router: %d pool instances, %d held out (%s labels), %d features, %d ties dropped", len(pool), len(eval), cfg.EvalLabels, len(fm.Names), ds.Ties)

	trainPairs, evalPairs, err := represent(ctx, backend, &cfg, pool, eval, rep)
	if err != nil {
		return nil, err
	}
	train := func(stage string, mixes []mixture.Mixture) (trained, error) {
		return trainMixtures(ctx, backend, cfg, pool, trainPairs, evalPairs, evalLabels, mixes, stage, rep)
	}
	used := make([]float32, len(evalLabels))
	for i, y := range evalLabels {
		if y != 0 {
			used[i] = 1
		}
	}

	// 1. Mixtures: knapsack routings with random budgets, plus the two
	// extremes so the PPM sees all-LM and all-human.
	mixes := []mixture.Mixture{mixture.All(len(pool), false), mixture.All(len(pool), true)}
	for len(mixes) < cfg.Mixtures {
		mixes = append(mixes, mixture.Knapsack(fm, 1+rng.IntN(len(pool)), rng))
	}
	// 2. One RM per mixture, batched (or the scores a previous run of the
	// same experiment left in the state dir).
	key := stateKey(cfg, insts, mixes)
	mixTrained, ok := loadState(cfg.StateDir, key, len(mixes), len(eval))
	if ok {
		rep.Logf("router: resumed %d mixture scores from %s", len(mixTrained.Accuracy), cfg.StateDir)
	} else {
		if mixTrained, err = train("mixtures", mixes); err != nil {
			return nil, err
		}
		if err := saveState(cfg.StateDir, key, mixTrained); err != nil {
			rep.Logf("router: could not save resumable state: %v", err)
		}
	}
	scores := mixTrained.Accuracy
	for i, sc := range scores {
		rep.Metric("mixture_score", int64(i), sc)
	}
	X := make([][]float64, len(mixes))
	for i, m := range mixes {
		X[i] = f64(mixture.Counts(fm, m))
		res.Mixtures = append(res.Mixtures, MixtureResult{Budget: m.Budget, Counts: X[i], Measured: scores[i]})
	}
	// 3. PPM: held-out evaluation and learning curve, then the final fit on
	// every mixture.
	if res.PPMEval, err = ppm.Evaluate(ctx, backend, fm.Names, X, scores, 0.2, cfg.PPM); err != nil {
		return nil, err
	}
	if res.Model, err = ppm.Fit(ctx, backend, fm.Names, X, scores, cfg.PPM); err != nil {
		return nil, err
	}
	for i := range res.Mixtures {
		res.Mixtures[i].Fitted = res.Model.Predict(X[i])
	}
	rep.Logf("router: PPM held-out RMSE %.4f (mean-predictor %.4f), λ=%g", res.PPMEval.RMSE, res.PPMEval.BaselineRMSE, res.Model.Lambda)

	// 4. Routing at each budget.
	scorer, err := ppm.NewScorer(backend, res.Model, len(pool), fm.Data)
	if err != nil {
		return nil, err
	}
	add := func(method string, budget float64, mix mixture.Mixture) {
		res.Routings = append(res.Routings, Routed{Method: method, Budget: budget, Human: mix.Budget,
			Predicted: res.Model.Predict(f64(mixture.Counts(fm, mix))), mix: mix})
	}
	add(MethodAllLM, 0, mixture.All(len(pool), false))
	add(MethodAllHuman, 1, mixture.All(len(pool), true))
	for _, b := range cfg.Budgets {
		k := int(math.Round(b * float64(len(pool))))
		top, gains := Topk(res.Model, fm, k, cfg.TopkRounds)
		res.TopkGains[b], res.TopkRouting[b] = gains, top.Human
		add(MethodTopk, b, top)
		sim, err := Simulated(scorer, fm, k, cfg.Candidates, rng)
		if err != nil {
			return nil, err
		}
		res.SimRouting[b] = sim.Human
		add(MethodSimulated, b, sim)
		add(MethodRandom, b, mixture.Random(len(pool), k, rng))
	}
	// 5. Measure every routing with fresh RMs, 1+NoiseSeeds replicates
	// (seeds) each, all in the same batched graphs.
	replicates := 1 + max(cfg.NoiseSeeds, 0)
	jobs, source := replicateJobs(res.Routings, len(pool), replicates, cfg.RM.Hidden == 0, rand.New(rand.NewPCG(cfg.Seed, 0x7265706c)))
	trainedJobs, err := train("routings", jobs)
	if err != nil {
		return nil, err
	}
	measured := expand(trainedJobs, source)
	res.Noise = Noise{Replicates: replicates, Bootstrap: cfg.Bootstrap, Level: cfg.Level}
	if err := scoreNoise(res, measured, replicates, used, cfg); err != nil {
		return nil, err
	}
	res.FeatureGains = featureRows(res.Model, fm, cfg.Budgets)
	if err := gainNoise(ctx, backend, res, X, scores, mixTrained.Correct, used, cfg, rep); err != nil {
		return nil, err
	}
	sort.SliceStable(res.FeatureGains, func(a, b int) bool { return res.FeatureGains[a].Total > res.FeatureGains[b].Total })
	return res, nil
}

// Topk routes the k instances with the highest PPM gain. The gain of an
// instance is ∇f(x)·b_i/N, the first-order predicted change of the RM score
// from routing it; x starts at the expected counts of a random routing of k
// instances and is then moved to the counts of the routing just chosen,
// rounds times, because the quadratic PPM's marginal gains depend on how
// much is already routed (the reference evaluates f(b_i) − f(0), i.e. the
// gain at an empty routing).
func Topk(m *ppm.Model, fm *features.Matrix, k, rounds int) (mixture.Mixture, []float64) {
	n, f := fm.N, len(fm.Names)
	prev := fm.Counts()
	x := make([]float64, f)
	for j := range x {
		x[j] = float64(prev[j]) / float64(n) * float64(k) / float64(n)
	}
	var mix mixture.Mixture
	gains := make([]float64, n)
	for r := 0; r < max(rounds, 1); r++ {
		g := m.Grad(x)
		for i := 0; i < n; i++ {
			var s float64
			for j, v := range fm.Data[i*f : (i+1)*f] {
				if v != 0 {
					s += g[j]
				}
			}
			gains[i] = s / float64(n)
		}
		idx := make([]int, n)
		for i := range idx {
			idx[i] = i
		}
		sort.SliceStable(idx, func(a, b int) bool { return gains[idx[a]] > gains[idx[b]] })
		human := make([]bool, n)
		for _, i := range idx[:min(k, n)] {
			human[i] = true
		}
		mix = mixture.Mixture{Human: human, Budget: min(k, n)}
		x = f64(mixture.Counts(fm, mix))
	}
	return mix, gains
}

// Simulated draws candidates knapsack routings of k instances, scores them
// all with the PPM in batched matrix products and keeps the best.
func Simulated(s *ppm.Scorer, fm *features.Matrix, k, candidates int, rng *rand.Rand) (mixture.Mixture, error) {
	// Candidates travel as bitsets (64 instances a word): on the bitset
	// path their feature counts are popcounts, on the dense path the scorer
	// expands them for its matmul.
	const chunk = 2048
	n := fm.N
	best := float32(math.Inf(-1))
	var bestMix mixture.Mixture
	masks := ppm.NewMasks(chunk, n)
	var mixes []mixture.Mixture
	flush := func() error {
		if len(mixes) == 0 {
			return nil
		}
		sc, err := s.ScoreMasks(ppm.Masks{K: len(mixes), W: masks.W, Bits: masks.Bits[:len(mixes)*masks.W]})
		if err != nil {
			return err
		}
		for i, v := range sc {
			if v > best {
				best, bestMix = v, mixes[i]
			}
		}
		clear(masks.Bits)
		mixes = mixes[:0]
		return nil
	}
	for c := 0; c < candidates; c++ {
		mix := mixture.Knapsack(fm, k, rng)
		r := len(mixes)
		for i, h := range mix.Human {
			if h {
				masks.Set(r, i)
			}
		}
		mixes = append(mixes, mix)
		if len(mixes) == chunk {
			if err := flush(); err != nil {
				return bestMix, err
			}
		}
	}
	if err := flush(); err != nil {
		return bestMix, err
	}
	return bestMix, nil
}

// featureRows is the feature-gain table in feature order.
func featureRows(m *ppm.Model, fm *features.Matrix, budgets []float64) []FeatureRow {
	n, f := fm.N, len(fm.Names)
	counts := fm.Counts()
	g0 := m.Grad(make([]float64, f))
	rows := make([]FeatureRow, f)
	for j := range rows {
		rows[j] = FeatureRow{Feature: fm.Names[j], Instances: counts[j], GainZero: g0[j] / float64(n), index: j}
	}
	for _, b := range budgets {
		x := make([]float64, f)
		for j := range x {
			x[j] = float64(counts[j]) / float64(n) * b
		}
		g := m.Grad(x)
		for j := range rows {
			rows[j].GainAt = append(rows[j].GainAt, g[j]/float64(n))
			rows[j].Total += g[j] / float64(n) * float64(counts[j]) / float64(len(budgets))
		}
	}
	return rows
}

func labelsFor(insts []prefdata.Instance, source string) ([]float32, error) {
	out := make([]float32, len(insts))
	for i, in := range insts {
		var p prefdata.Pref
		switch source {
		case "gold":
			p = in.Gold
			if p == prefdata.PrefNone {
				return nil, fmt.Errorf("instance %s has no gold label: set eval_labels to \"human\" or \"lm\" for data without gold labels", in.ID)
			}
		case "human":
			p = in.Human
		case "lm":
			p = in.LM
		default:
			return nil, fmt.Errorf("eval_labels %q: want gold, human or lm", source)
		}
		out[i] = float32(p)
	}
	return out, nil
}

// represent builds the RM inputs of the pool and the held-out set.
func represent(ctx context.Context, backend backends.Backend, cfg *Config, pool, eval []prefdata.Instance, rep sdk.Reporter) (rm.Pairs, rm.Pairs, error) {
	switch cfg.Representation {
	case "", "bow":
		return pairs(pool, cfg.RM.Dim), pairs(eval, cfg.RM.Dim), nil
	case "transformer":
		var texts []string
		for _, in := range append(append([]prefdata.Instance(nil), pool...), eval...) {
			texts = append(texts, in.A, in.B)
		}
		reps, err := rm.TransformerRepresent(ctx, backend, texts, cfg.Transformer, rep)
		if err != nil {
			return rm.Pairs{}, rm.Pairs{}, err
		}
		d := cfg.Transformer.DModel
		cfg.RM.Dim = d
		split := func(lo, hi int) rm.Pairs {
			p := rm.Pairs{N: hi - lo}
			for i := lo; i < hi; i++ {
				p.A = append(p.A, reps[2*i*d:(2*i+1)*d]...)
				p.B = append(p.B, reps[(2*i+1)*d:(2*i+2)*d]...)
			}
			return p
		}
		return split(0, len(pool)), split(len(pool), len(pool)+len(eval)), nil
	}
	return rm.Pairs{}, rm.Pairs{}, fmt.Errorf("representation %q: want bow or transformer", cfg.Representation)
}

func pairs(insts []prefdata.Instance, dim int) rm.Pairs {
	a := make([]string, len(insts))
	b := make([]string, len(insts))
	for i, in := range insts {
		a[i], b[i] = in.A, in.B // the prompt is shared by both responses
	}
	return rm.Pairs{N: len(insts), A: rm.Represent(a, dim), B: rm.Represent(b, dim)}
}

// trained is what a batch of reward models scored: accuracy per model and
// per-eval-pair correctness (models × eval pairs).
type trained struct {
	Accuracy []float64
	Correct  []float32
}

// trainMixtures trains one reward model per mixture, RMBatch at a time in
// one graph.
func trainMixtures(ctx context.Context, backend backends.Backend, cfg Config, pool []prefdata.Instance, tr, ev rm.Pairs, evLabels []float32,
	mixes []mixture.Mixture, stage string, rep sdk.Reporter) (trained, error) {
	n := len(pool)
	var out trained
	batch := max(cfg.RMBatch, 1)
	for start := 0; start < len(mixes); start += batch {
		end := min(start+batch, len(mixes))
		m := end - start
		labels := make([]float32, m*n)
		for k, mix := range mixes[start:end] {
			for i, in := range pool {
				p := in.LM
				if mix.Human[i] {
					p = in.Human
				}
				labels[k*n+i] = float32(p)
			}
		}
		res, err := rm.Train(ctx, backend, cfg.RM, rm.Job{Train: tr, Labels: labels, M: m, Eval: ev, EvalLabels: evLabels},
			func(done, total int) {
				rep.Progress("train reward models ("+stage+")", int64(start*total+done*m), int64(len(mixes)*total), "model-steps")
			})
		if err != nil {
			return trained{}, err
		}
		out.Accuracy = append(out.Accuracy, res.Accuracy...)
		out.Correct = append(out.Correct, res.Correct...)
	}
	return out, nil
}

func f64(x []float32) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = float64(v)
	}
	return out
}

// BudgetKey formats a budget as an output map key ("0.25").
func BudgetKey(b float64) string { return strconv.FormatFloat(b, 'f', -1, 64) }

type state struct {
	Key    string    `json:"key"`
	Scores []float64 `json:"mixture_scores"`
	// Correct holds each mixture's per-eval-pair correctness as a string
	// of 0s and 1s (the noise estimates resample it).
	Correct []string `json:"mixture_correct"`
}

// stateKey identifies an experiment's mixtures: settings, data and routings.
func stateKey(cfg Config, insts []prefdata.Instance, mixes []mixture.Mixture) string {
	h := sha256.New()
	c := cfg
	// Settings that do not change the trained mixtures stay out of the key.
	c.StateDir, c.NoiseSeeds, c.Bootstrap, c.Level = "", 0, 0, 0
	fmt.Fprintf(h, "%+v\n", c)
	for _, in := range insts {
		fmt.Fprintf(h, "%s\x00%s\x00%s\x00%s\x00%d%d%d\n", in.ID, in.Prompt, in.A, in.B, in.Human, in.LM, in.Gold)
	}
	for _, m := range mixes {
		for _, b := range m.Human {
			if b {
				h.Write([]byte{1})
			} else {
				h.Write([]byte{0})
			}
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

const stateFile = "router-mixtures.json"

func loadState(dir, key string, n, nEval int) (trained, bool) {
	if dir == "" {
		return trained{}, false
	}
	b, err := os.ReadFile(filepath.Join(dir, stateFile))
	if err != nil {
		return trained{}, false
	}
	var st state
	if json.Unmarshal(b, &st) != nil || st.Key != key || len(st.Scores) != n || len(st.Correct) != n {
		return trained{}, false
	}
	t := trained{Accuracy: st.Scores, Correct: make([]float32, 0, n*nEval)}
	for _, row := range st.Correct {
		if len(row) != nEval {
			return trained{}, false
		}
		for _, c := range row {
			t.Correct = append(t.Correct, float32(c-'0'))
		}
	}
	return t, true
}

func saveState(dir, key string, t trained) error {
	if dir == "" {
		return nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	st := state{Key: key, Scores: t.Accuracy}
	nEval := len(t.Correct) / max(len(t.Accuracy), 1)
	for k := range t.Accuracy {
		row := make([]byte, nEval)
		for i, c := range t.Correct[k*nEval : (k+1)*nEval] {
			row[i] = '0' + byte(c)
		}
		st.Correct = append(st.Correct, string(row))
	}
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, stateFile+".tmp")
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, stateFile))
}
