// Package pipeline is the mod plugin's method: load the reference and the K
// aligned models, decode every prompt with MOD for each weight vector of a
// simplex sweep (and with each single model and a parameter-merged model as
// baselines), and score the generations with every objective's implied
// reward rᵢ(y|x) = β·f′(πᵢ(y|x)/π_ref(y|x)).
package pipeline

import (
	gocontext "context"
	"fmt"
	"math"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/shammie-ml/shammie/plugins/mod/internal/combine"
	"github.com/shammie-ml/shammie/plugins/mod/internal/lockstep"
	"github.com/shammie-ml/shammie/sdk"
	"github.com/shammie-ml/shammie/sdk/ml"
)

// Options of a sweep.
type Options struct {
	Rule         combine.Rule
	Beta         float64
	Weights      [][]float64 // one MOD decoding per vector
	MaxNewTokens int
	Beams        int
	Prompts      []string
	// Truth, when set, scores a generation with the true rewards (planted
	// data), one per objective.
	Truth func(prompt, generation string) []float64
}

// Point is one decoding policy's mean implied rewards.
type Point struct {
	Label   string    `json:"label"`
	Weights []float64 `json:"weights,omitempty"` // MOD's w; nil for baselines
	Rewards []float64 `json:"rewards"`           // mean rᵢ over the prompts, one per objective
	// Combined is Σ wᵢ rᵢ at the point's weights (baselines: at equal weights).
	Combined float64 `json:"combined"`
	// True rewards (Options.Truth), mean over prompts, and Σ wᵢ of them.
	True         []float64 `json:"true_rewards,omitempty"`
	TrueCombined float64   `json:"true_combined,omitempty"`
	Generations  []string  `json:"generations"`
}

// Result of a sweep.
type Result struct {
	Objectives []string `json:"objectives"`
	MOD        []Point  `json:"mod"`
	Singles    []Point  `json:"singles"`
	Merged     *Point   `json:"merged,omitempty"`
	// Tokens decoded by MOD in total (every model advanced by each).
	Tokens int `json:"tokens"`
}

type model struct {
	m   *ml.Model
	dec *ml.Decoder
	sc  *ml.Scorer
}

func load(backend backends.Backend, path string) (*model, error) {
	ctx := context.New()
	m, err := ml.LoadModel(backend, path, ctx)
	if err != nil {
		return nil, err
	}
	dec, err := m.NewDecoder(backend, ctx)
	if err != nil {
		return nil, err
	}
	sc, err := m.NewScorer(backend, ctx)
	if err != nil {
		return nil, err
	}
	return &model{m: m, dec: dec, sc: sc}, nil
}

// Run sweeps. names label the objectives (one per model).
func Run(ctx gocontext.Context, backend backends.Backend, refPath string, paths []string, names []string, merged string, o Options, rep sdk.Reporter) (Result, error) {
	ref, err := load(backend, refPath)
	if err != nil {
		return Result{}, err
	}
	pols := make([]*model, len(paths))
	for i, p := range paths {
		if pols[i], err = load(backend, p); err != nil {
			return Result{}, err
		}
	}
	tok := ref.m.Tokenizer
	prompts := make([][]int32, len(o.Prompts))
	for i, p := range o.Prompts {
		if prompts[i], err = tok.Encode(p); err != nil {
			return Result{}, fmt.Errorf("prompt %d: %w", i, err)
		}
		if len(prompts[i]) == 0 {
			return Result{}, fmt.Errorf("prompt %d is empty", i)
		}
	}
	var eos *int32
	if e := tok.EOS(); e >= 0 {
		eos = &e
	}
	res := Result{Objectives: names}
	equal := make([]float64, len(pols))
	for i := range equal {
		equal[i] = 1 / float64(len(pols))
	}
	decode := func(label string, ms lockstep.Models, rule combine.Rule, w, score []float64) (Point, error) {
		pt := Point{Label: label, Rewards: make([]float64, len(pols))}
		outs := make([][]int32, len(prompts))
		for j, p := range prompts {
			if err := ctx.Err(); err != nil {
				return pt, err
			}
			r, err := lockstep.Decode(ms, p, lockstep.Options{Rule: rule, Weights: w, MaxNewTokens: o.MaxNewTokens, Beams: o.Beams, EOS: eos})
			if err != nil {
				return pt, fmt.Errorf("%s, prompt %d: %w", label, j, err)
			}
			outs[j] = r.Tokens
			res.Tokens += len(r.Tokens)
			pt.Generations = append(pt.Generations, tok.Decode(r.Tokens))
		}
		refLP, err := ref.sc.Score(prompts, outs, nil)
		if err != nil {
			return pt, err
		}
		for i, pm := range pols {
			lp, err := pm.sc.Score(prompts, outs, nil)
			if err != nil {
				return pt, err
			}
			for j := range lp {
				pt.Rewards[i] += o.Rule.ImpliedReward(o.Beta, lp[j], refLP[j]) / float64(len(lp))
			}
		}
		for i, r := range pt.Rewards {
			pt.Combined += score[i] * r
		}
		if o.Truth != nil {
			pt.True = make([]float64, len(pols))
			for j, g := range pt.Generations {
				for i, r := range o.Truth(o.Prompts[j], g) {
					pt.True[i] += r / float64(len(outs))
				}
			}
			for i, r := range pt.True {
				pt.TrueCombined += score[i] * r
			}
		}
		return pt, nil
	}
	decs := make([]*ml.Decoder, len(pols))
	for i, p := range pols {
		decs[i] = p.dec
	}
	total := len(o.Weights) + len(pols)
	if merged != "" {
		total++
	}
	done := 0
	progress := func() {
		done++
		rep.Progress("decoding", int64(done), int64(total), "policies")
	}
	for _, w := range o.Weights {
		pt, err := decode(fmt.Sprintf("MOD w=%v", w), lockstep.Models{Ref: ref.dec, Policies: decs}, o.Rule, w, w)
		if err != nil {
			return res, err
		}
		pt.Weights = w
		res.MOD = append(res.MOD, pt)
		progress()
	}
	single := combine.Rule{Div: combine.ReverseKL} // one model: every rule is the model itself
	for i, p := range pols {
		pt, err := decode(names[i], lockstep.Models{Policies: []*ml.Decoder{p.dec}}, single, []float64{1}, equal)
		if err != nil {
			return res, err
		}
		res.Singles = append(res.Singles, pt)
		progress()
	}
	if merged != "" {
		mm, err := load(backend, merged)
		if err != nil {
			return res, err
		}
		pt, err := decode("merged", lockstep.Models{Policies: []*ml.Decoder{mm.dec}}, single, []float64{1}, equal)
		if err != nil {
			return res, err
		}
		res.Merged = &pt
		progress()
	}
	return res, nil
}

// Simplex lists the weight vectors of K entries, multiples of step, summing
// to one (step 0.1, K = 3: 66 vectors).
func Simplex(k int, step float64) [][]float64 {
	n := int(math.Round(1 / step))
	var out [][]float64
	cur := make([]int, k)
	var rec func(i, left int)
	rec = func(i, left int) {
		if i == k-1 {
			cur[i] = left
			w := make([]float64, k)
			for j, c := range cur {
				w[j] = float64(c) / float64(n)
			}
			out = append(out, w)
			return
		}
		for c := left; c >= 0; c-- {
			cur[i] = c
			rec(i+1, left-c)
		}
	}
	rec(0, n)
	return out
}

// Dominates reports whether a is at least b on every objective and better
// on one.
func Dominates(a, b []float64) bool {
	better := false
	for i := range a {
		if a[i] < b[i] {
			return false
		}
		better = better || a[i] > b[i]
	}
	return better
}

// Front is the indices of the points no other point dominates.
func Front(pts [][]float64) []int {
	var out []int
	for i, p := range pts {
		dominated := false
		for j, q := range pts {
			if j != i && Dominates(q, p) {
				dominated = true
				break
			}
		}
		if !dominated {
			out = append(out, i)
		}
	}
	return out
}
