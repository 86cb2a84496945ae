// Package lockstep decodes with MOD: K policies (and their common reference,
// for divergences other than reverse KL) advance in lockstep, each with its
// own KV cache (sdk/ml's Stream), and every step's next-token distribution
// is the combination π_w of their next-token distributions
// (internal/combine). Greedy decoding is a beam of width 1; beams rank
// sequences by their cumulative score Σₜ log π_w(yₜ | x, y<ₜ) (for reverse KL
// Σᵢ wᵢ log πᵢ(y | x), see Options.rklScore).
package lockstep

import (
	"errors"
	"fmt"
	"math"
	"sort"

	"github.com/shammie-ml/shammie/plugins/mod/internal/combine"
	"github.com/shammie-ml/shammie/sdk/ml"
)

// Models are the decoders of the combined models. Ref may be nil for
// reverse KL, whose rule does not read the reference.
type Models struct {
	Ref      *ml.Decoder
	Policies []*ml.Decoder
}

// Options of one decoding.
type Options struct {
	Rule         combine.Rule
	Weights      []float64
	MaxNewTokens int
	Beams        int    // 1: greedy
	EOS          *int32 // a sequence ends when it emits EOS (nil: never)
}

// Result is the best sequence found and its cumulative score.
type Result struct {
	Tokens []int32 // generated tokens (EOS included when emitted)
	Score  float64 // Σₜ log π_w(yₜ | x, y<ₜ) (reverse KL: Σᵢ wᵢ log πᵢ(y | x))
}

type beam struct {
	tokens []int32
	score  float64
}

// Decode decodes one prompt.
func Decode(m Models, prompt []int32, o Options) (Result, error) {
	if len(m.Policies) != len(o.Weights) || len(m.Policies) == 0 {
		return Result{}, fmt.Errorf("lockstep: %d policies, %d weights", len(m.Policies), len(o.Weights))
	}
	if m.Ref == nil && o.Rule.Div != combine.ReverseKL {
		return Result{}, fmt.Errorf("lockstep: the %s rule needs the reference model", o.Rule.Div)
	}
	if o.Beams < 1 || o.MaxNewTokens < 1 {
		return Result{}, errors.New("lockstep: beams and max_new_tokens must be >= 1")
	}
	decs := m.Policies
	if m.Ref != nil {
		decs = append([]*ml.Decoder{m.Ref}, decs...)
	}
	streams := make([]*ml.Stream, 0, len(decs))
	defer func() {
		for _, s := range streams {
			s.Close()
		}
	}()
	for _, d := range decs {
		s, err := d.Start([][]int32{prompt}, nil)
		if err != nil {
			return Result{}, err
		}
		streams = append(streams, s)
	}
	live := []beam{{}}
	var done []beam
	var dist []float64
	for step := range o.MaxNewTokens {
		lps := make([][][]float32, len(streams))
		for i, s := range streams {
			lps[i] = s.LogProbs()
		}
		var cands []cand
		for b := range live {
			var ref []float64
			pols := make([][]float64, len(m.Policies))
			k := 0
			if m.Ref != nil {
				ref = widen(lps[0][b])
				k = 1
			}
			for i := range pols {
				pols[i] = widen(lps[k+i][b])
			}
			if ref == nil {
				ref = make([]float64, len(pols[0])) // unused by reverse KL
			}
			var err error
			if dist, err = o.Rule.Combine(dist, ref, pols, o.Weights); err != nil {
				return Result{}, fmt.Errorf("step %d: %w", step, err)
			}
			cands = appendTop(cands, b, live[b].score, dist, o.Beams, o.rklScore(pols))
		}
		sort.SliceStable(cands, func(i, j int) bool { return cands[i].score > cands[j].score })
		var next []beam
		var tokens, parents []int32
		for _, c := range cands {
			if len(next)+len(done) >= o.Beams && len(next) > 0 || len(next) >= o.Beams {
				break
			}
			nb := beam{tokens: append(append([]int32(nil), live[c.parent].tokens...), c.token), score: c.score}
			if o.EOS != nil && c.token == *o.EOS {
				done = append(done, nb)
				continue
			}
			next = append(next, nb)
			tokens = append(tokens, c.token)
			parents = append(parents, int32(c.parent))
		}
		live = next
		if len(live) == 0 || step == o.MaxNewTokens-1 {
			break
		}
		for _, s := range streams {
			if err := s.Advance(tokens, parents); err != nil {
				return Result{}, err
			}
		}
	}
	all := append(done, live...)
	best := all[0]
	for _, b := range all[1:] {
		if b.score > best.score {
			best = b
		}
	}
	return Result{Tokens: best.tokens, Score: best.score}, nil
}

type cand struct {
	parent int
	token  int32
	score  float64
}

// rklScore: for reverse KL a step's score is Σ wᵢ log πᵢ(y), the
// token-level log π_w before its normaliser, so that the cumulative score is
// Σ wᵢ log πᵢ(sequence) — the sequence-level log π_w up to one constant —
// and a beam wide enough finds the sequence-level mode exactly. For the
// other divergences there is no such decomposition: the step's score is
// log π_w(y) of the token-level rule. nil: use log π_w.
func (o Options) rklScore(pols [][]float64) func(y int) float64 {
	if o.Rule.Div != combine.ReverseKL {
		return nil
	}
	return func(y int) float64 {
		var s float64
		for i, lp := range pols {
			if o.Weights[i] != 0 {
				s += o.Weights[i] * lp[y]
			}
		}
		return s
	}
}

// appendTop adds row parent's n best continuations.
func appendTop(cands []cand, parent int, base float64, dist []float64, n int, score func(int) float64) []cand {
	idx := make([]int, len(dist))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return dist[idx[a]] > dist[idx[b]] })
	for _, y := range idx[:min(n, len(idx))] {
		if dist[y] <= 0 {
			break
		}
		sc := math.Log(dist[y])
		if score != nil {
			sc = score(y)
		}
		cands = append(cands, cand{parent: parent, token: int32(y), score: base + sc})
	}
	return cands
}

func widen(x []float32) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = float64(v)
	}
	return out
}
