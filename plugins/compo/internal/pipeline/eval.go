package pipeline

import (
	gocontext "context"
	"fmt"
	"math/rand/v2"
	"slices"

	"github.com/gomlx/gomlx/backends"

	"github.com/shammie-ml/shammie/plugins/compo/internal/planted"
	"github.com/shammie-ml/shammie/plugins/compo/internal/prefs"
	"github.com/shammie-ml/shammie/sdk"
	"github.com/shammie-ml/shammie/sdk/ml"
)

// Contexts are the ways eval tells the models the community: the pair's
// own, none (the generic community) and one drawn uniformly among all K.
var Contexts = []string{"contextual", "no_context", "random_context"}

// EvalOptions configure Evaluate.
type EvalOptions struct {
	Seq  int
	Seed int64
	// Truth, if not nil (planted data), judges generations and gives the
	// oracle accuracy.
	Truth *planted.Truth
	// Generations per (post, community, context) and model; 0: none.
	Generate    bool
	Temperature float64
	MaxNew      int
}

// Report is everything Evaluate measures (JSON: the report artifact).
type Report struct {
	Pairs        int      `json:"pairs"`
	Communities  []string `json:"communities"`
	Conditioning string   `json:"conditioning"`
	// Accuracy: share of held-out pairs whose chosen reply gets the higher
	// DPO implied reward (log π/π_ref, same order for every f-divergence),
	// per context, overall and per community.
	Accuracy          map[string]float64            `json:"accuracy"`
	CommunityAccuracy map[string]map[string]float64 `json:"community_accuracy"`
	OracleAccuracy    float64                       `json:"oracle_accuracy,omitempty"`
	CommunityOracle   map[string]float64            `json:"community_oracle,omitempty"`
	SFTAccuracy       float64                       `json:"sft_accuracy"`    // log π_sft(chosen) > log π_sft(rejected), own community
	PolicyLikelihood  float64                       `json:"policy_accuracy"` // log π_dpo(chosen) > log π_dpo(rejected), own community
	LengthBaseline    float64                       `json:"length_baseline"` // the shorter reply wins (ties: ½)
	ChosenLongerShare float64                       `json:"chosen_longer_share"`
	AttributeRate     map[string]float64            `json:"attribute_rate,omitempty"`     // planted: share of DPO generations with the community's attribute
	SFTAttributeRate  map[string]float64            `json:"sft_attribute_rate,omitempty"` // the same for the SFT model
	WinRate           float64                       `json:"win_rate,omitempty"`           // planted reward: DPO vs SFT generations, own community (ties ½)
	Samples           []Sample                      `json:"samples,omitempty"`
}

// Sample is one generation, for the report.
type Sample struct {
	Community, Context, Model, Reply string
	Reward                           float64
}

// Evaluate scores the held-out pairs with the DPO model (policyPath) and
// its reference, the SFT model (refPath).
func Evaluate(goctx gocontext.Context, backend backends.Backend, pairs []prefs.Pair, policyPath, refPath string, o EvalOptions, rep sdk.Reporter) (Report, error) {
	pol, err := loadModel(backend, policyPath)
	if err != nil {
		return Report{}, err
	}
	ref, err := loadModel(backend, refPath)
	if err != nil {
		return Report{}, err
	}
	if pol.cond.Mode != ref.cond.Mode || !slices.Equal(pol.cond.Communities, ref.cond.Communities) {
		return Report{}, fmt.Errorf("the model (%s, %v) and the reference (%s, %v) are conditioned differently", pol.cond.Mode, pol.cond.Communities, ref.cond.Mode, ref.cond.Communities)
	}
	cond := pol.cond
	r := Report{Pairs: len(pairs), Communities: prefs.Communities(pairs), Conditioning: cond.Mode,
		Accuracy: map[string]float64{}, CommunityAccuracy: map[string]map[string]float64{}}
	rng := rand.New(rand.NewPCG(uint64(o.Seed), 0x72616e64)) // "rand"
	random := make([]string, len(pairs))
	for i := range pairs {
		random[i] = cond.Communities[rng.IntN(len(cond.Communities))]
	}
	own := make([]string, len(pairs))
	none := make([]string, len(pairs))
	for i, p := range pairs {
		own[i], none[i] = p.Community, prefs.NoContext
	}
	shown := map[string][]string{"contextual": own, "no_context": none, "random_context": random}
	for ci, kind := range Contexts {
		if err := goctx.Err(); err != nil {
			return r, err
		}
		if kind == "random_context" && len(cond.Communities) < 2 {
			continue // one community: random = contextual
		}
		s, err := scorePairs(pol, ref, pairs, shown[kind], o.Seq)
		if err != nil {
			return r, err
		}
		rep.Progress("scoring held-out pairs", int64(ci+1), int64(len(Contexts)), "contexts")
		acc, per := s.accuracy(pairs, func(i int) float64 { return s.margin(i) })
		r.Accuracy[kind] = acc
		for c, v := range per {
			if r.CommunityAccuracy[c] == nil {
				r.CommunityAccuracy[c] = map[string]float64{}
			}
			r.CommunityAccuracy[c][kind] = v
		}
		if kind == "contextual" {
			r.SFTAccuracy, _ = s.accuracy(pairs, func(i int) float64 { return s.ref[0][i] - s.ref[1][i] })
			r.PolicyLikelihood, _ = s.accuracy(pairs, func(i int) float64 { return s.pol[0][i] - s.pol[1][i] })
		}
	}
	var lengthWins, longer float64
	for _, p := range pairs {
		lengthWins += cmpScore(float64(len(p.Rejected) - len(p.Chosen)))
		if len(p.Chosen) > len(p.Rejected) {
			longer++
		}
	}
	r.LengthBaseline, r.ChosenLongerShare = lengthWins/float64(len(pairs)), longer/float64(len(pairs))
	if o.Truth != nil {
		r.OracleAccuracy, r.CommunityOracle = (&scores{}).accuracy(pairs, func(i int) float64 {
			return o.Truth.Reward(pairs[i].Community, pairs[i].Chosen) - o.Truth.Reward(pairs[i].Community, pairs[i].Rejected)
		})
		if o.Generate {
			if err := generations(goctx, backend, pol, ref, pairs, shown, o, &r, rep); err != nil {
				return r, err
			}
		}
	}
	return r, nil
}

// cmpScore is 1 for a positive margin, ½ for a tie, 0 otherwise.
func cmpScore(m float64) float64 {
	switch {
	case m > 0:
		return 1
	case m == 0:
		return 0.5
	}
	return 0
}

// scores holds log-probs [chosen|rejected][pair] of the policy and the reference.
type scores struct {
	pol, ref [2][]float64
}

func (s *scores) margin(i int) float64 {
	return (s.pol[0][i] - s.ref[0][i]) - (s.pol[1][i] - s.ref[1][i])
}

// accuracy averages cmpScore(margin(i)) over all pairs and per community.
func (s *scores) accuracy(pairs []prefs.Pair, margin func(i int) float64) (float64, map[string]float64) {
	sum, per, n := 0.0, map[string]float64{}, map[string]float64{}
	for i, p := range pairs {
		v := cmpScore(margin(i))
		sum += v
		per[p.Community] += v
		n[p.Community]++
	}
	for c := range per {
		per[c] /= n[c]
	}
	return sum / float64(len(pairs)), per
}

// scorePairs scores both replies of every pair shown with community[i],
// cut to seq tokens as in training, under both models.
func scorePairs(pol, ref *loaded, pairs []prefs.Pair, community []string, seq int) (*scores, error) {
	examples, err := encodePairs(pol.cond, pairs, community)
	if err != nil {
		return nil, err
	}
	cfg := pol.Info.Config
	pb, err := ml.NewPairBatches(examples, ml.PairOptions{Batch: 1, Seq: min(seq, cfg.MaxSeqLen-cfg.PrefixPositions()),
		EOS: tokenizer.EOS(), VocabSize: cfg.VocabSize, WithPrefix: cfg.PrefixVocab > 0})
	if err != nil {
		return nil, err
	}
	s := &scores{}
	for mi, m := range []*loaded{pol, ref} {
		sc, err := m.scorer()
		if err != nil {
			return nil, err
		}
		if err := pb.ScoreReference(sc, 64, nil); err != nil {
			return nil, err
		}
		dst := &s.pol
		if mi == 1 {
			dst = &s.ref
		}
		dst[0], dst[1] = make([]float64, len(pairs)), make([]float64, len(pairs))
		for j := range pairs {
			c, r := pb.Reference(j)
			dst[0][j], dst[1][j] = float64(c), float64(r)
		}
	}
	return s, nil
}

// generations samples replies of both models for every held-out (post,
// community) under each context and judges them by the planted reward.
func generations(goctx gocontext.Context, backend backends.Backend, pol, ref *loaded, pairs []prefs.Pair, shown map[string][]string,
	o EvalOptions, r *Report, rep sdk.Reporter) error {
	// One prompt per (post, community): pairs of the same post and
	// community share it.
	seen := map[string]bool{}
	var idx []int
	for i, p := range pairs {
		key := p.Community + "\x00" + p.PostID
		if !seen[key] {
			seen[key] = true
			idx = append(idx, i)
		}
	}
	r.AttributeRate, r.SFTAttributeRate = map[string]float64{}, map[string]float64{}
	var wins float64
	for ci, kind := range Contexts {
		if kind == "random_context" && len(pol.cond.Communities) < 2 {
			continue
		}
		var replies [2][]string
		for mi, m := range []*loaded{pol, ref} {
			if err := goctx.Err(); err != nil {
				return err
			}
			out, err := m.generate(pairs, idx, shown[kind], o, o.Seed+int64(ci))
			if err != nil {
				return err
			}
			replies[mi] = out
		}
		var rate [2]float64
		for j, i := range idx {
			c := pairs[i].Community
			rw := [2]float64{o.Truth.Reward(c, replies[0][j]), o.Truth.Reward(c, replies[1][j])}
			rate[0] += rw[0]
			rate[1] += rw[1]
			if kind == "contextual" {
				wins += cmpScore(rw[0] - rw[1])
			}
			if j < 2 {
				for mi, name := range []string{"dpo", "sft"} {
					r.Samples = append(r.Samples, Sample{Community: c, Context: kind, Model: name, Reply: replies[mi][j], Reward: rw[mi]})
				}
			}
		}
		r.AttributeRate[kind] = rate[0] / float64(len(idx))
		r.SFTAttributeRate[kind] = rate[1] / float64(len(idx))
		rep.Progress("generations", int64(ci+1), int64(len(Contexts)), "contexts")
	}
	r.WinRate = wins / float64(len(idx))
	return nil
}

// generate samples one reply per pairs[i], i in idx, shown with community[i].
func (m *loaded) generate(pairs []prefs.Pair, idx []int, community []string, o EvalOptions, seed int64) ([]string, error) {
	if m.dec == nil {
		d, err := m.NewDecoder(m.backend, m.ctx)
		if err != nil {
			return nil, err
		}
		m.dec = d
	}
	const batch = 64
	out := make([]string, 0, len(idx))
	for start := 0; start < len(idx); start += batch {
		part := idx[start:min(start+batch, len(idx))]
		prompts := make([][]int32, len(part))
		var pre []int32
		if m.cond.Mode == "prefix" {
			pre = make([]int32, len(part))
		}
		for j, i := range part {
			text, id, err := m.cond.Prompt(pairs[i], community[i])
			if err != nil {
				return nil, err
			}
			if prompts[j], err = tokenizer.Encode(text); err != nil {
				return nil, err
			}
			if room := m.Info.Config.MaxSeqLen - m.Info.Config.PrefixPositions() - o.MaxNew; len(prompts[j]) > room {
				prompts[j] = prompts[j][len(prompts[j])-max(room, 1):]
			}
			if pre != nil {
				pre[j] = id
			}
		}
		gens, err := m.dec.Generate(prompts, ml.DecodeOptions{MaxNewTokens: o.MaxNew, Temperature: o.Temperature,
			Seed: seed + int64(start), Stop: [][]int32{{tokenizer.EOS()}}, Prefix: pre})
		if err != nil {
			return nil, err
		}
		for _, g := range gens {
			out = append(out, tokenizer.Decode(g.Tokens))
		}
	}
	return out, nil
}
