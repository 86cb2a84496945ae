package probe

import "math"

// LayerCurve is a per-layer mean.
type LayerCurve []float64

// PatchSummary averages patching over pairs: per component and layer the
// normalised logit difference and the probabilities of the base and the
// contrast answers after patching.
type PatchSummary struct {
	NormLD        map[string]LayerCurve `json:"norm_logit_diff"`
	ProbBase      map[string]LayerCurve `json:"prob_base_answer"`
	ProbContrast  map[string]LayerCurve `json:"prob_contrast_answer"`
	CleanBase     [2]float64            `json:"clean_base_probs"`     // base run: p(base answer), p(contrast answer)
	CleanContrast [2]float64            `json:"clean_contrast_probs"` // contrast run: the same
	// Consistency is the share of pairs whose base and contrast runs pick
	// the same option content (the answer follows the option, not the slot).
	Consistency float64 `json:"swap_consistency"`
	Accuracy    float64 `json:"accuracy"` // over base and contrast runs, among the two symbols
	Pairs       int     `json:"pairs"`
}

// SummarisePatching averages rs.
func SummarisePatching(rs []PatchResult, layers int) PatchSummary {
	s := PatchSummary{NormLD: map[string]LayerCurve{}, ProbBase: map[string]LayerCurve{}, ProbContrast: map[string]LayerCurve{}, Pairs: len(rs)}
	n := float64(len(rs))
	for _, c := range Components {
		s.NormLD[c], s.ProbBase[c], s.ProbContrast[c] = make(LayerCurve, layers), make(LayerCurve, layers), make(LayerCurve, layers)
	}
	for _, r := range rs {
		for _, c := range Components {
			for l := range layers {
				s.NormLD[c][l] += r.NormLD(c, l) / n
				s.ProbBase[c][l] += r.Patched[c][l].Prob[0] / n
				s.ProbContrast[c][l] += r.Patched[c][l].Prob[1] / n
			}
		}
		for k := range 2 {
			s.CleanBase[k] += r.Base.Prob[k] / n
			s.CleanContrast[k] += r.Contrast.Prob[k] / n
		}
		bOK := r.Base.Logit[0] > r.Base.Logit[1]
		cOK := r.Contrast.Logit[1] > r.Contrast.Logit[0]
		if bOK == cOK {
			s.Consistency += 1 / n // both right or both picked the distractor
		}
		if bOK {
			s.Accuracy += 0.5 / n
		}
		if cOK {
			s.Accuracy += 0.5 / n
		}
	}
	return s
}

// DecisiveLayer is the layer whose last-token attention output, patched
// alone, moves the answer most (the normalised logit difference's argmax).
func (s PatchSummary) DecisiveLayer() int {
	best, arg := math.Inf(-1), -1
	for l, v := range s.NormLD[Attn] {
		if v > best {
			best, arg = v, l
		}
	}
	return arg
}

// FirstAbove is the first layer where the component's curve reaches t (-1: none).
func (s PatchSummary) FirstAbove(comp string, t float64) int {
	for l, v := range s.NormLD[comp] {
		if v >= t {
			return l
		}
	}
	return -1
}

// LensSummary averages the lens over prompts: per component and layer the
// probability, logit and reciprocal rank of the correct symbol, the mean
// over the other symbols, and the share of prompts where the correct
// symbol has the highest logit among the symbols.
type LensSummary struct {
	ProbCorrect, ProbOther   map[string]LayerCurve `json:"-"`
	LogitCorrect, LogitOther map[string]LayerCurve `json:"-"`
	RRCorrect, RROther       map[string]LayerCurve `json:"-"`
	Accuracy                 map[string]LayerCurve `json:"-"`
	// Heads: [layer][head] accuracy and correct-minus-other logit.
	HeadAccuracy, HeadLogitDiff [][]float64 `json:"-"`
}

// SummariseLens averages rs.
func SummariseLens(rs []LensResult, layers, heads int, answers []int) LensSummary {
	mk := func() map[string]LayerCurve {
		m := map[string]LayerCurve{}
		for _, c := range Components {
			m[c] = make(LayerCurve, layers)
		}
		return m
	}
	s := LensSummary{ProbCorrect: mk(), ProbOther: mk(), LogitCorrect: mk(), LogitOther: mk(), RRCorrect: mk(), RROther: mk(), Accuracy: mk()}
	for range layers {
		s.HeadAccuracy = append(s.HeadAccuracy, make([]float64, heads))
		s.HeadLogitDiff = append(s.HeadLogitDiff, make([]float64, heads))
	}
	n := float64(len(rs))
	for i, r := range rs {
		a := answers[i]
		for _, c := range Components {
			for l, sc := range r.Comp[c] {
				s.ProbCorrect[c][l] += sc.Prob[a] / n
				s.LogitCorrect[c][l] += sc.Logit[a] / n
				s.RRCorrect[c][l] += sc.RR[a] / n
				s.ProbOther[c][l] += others(sc.Prob, a) / n
				s.LogitOther[c][l] += others(sc.Logit, a) / n
				s.RROther[c][l] += others(sc.RR, a) / n
				if argmax(sc.Logit) == a {
					s.Accuracy[c][l] += 1 / n
				}
			}
		}
		for l, hs := range r.Heads {
			for h, sc := range hs {
				s.HeadLogitDiff[l][h] += (sc.Logit[a] - others(sc.Logit, a)) / n
				if argmax(sc.Logit) == a {
					s.HeadAccuracy[l][h] += 1 / n
				}
			}
		}
	}
	return s
}

// SeparationLayer is the first layer whose residual-stream lens puts the
// correct symbol first for at least share t of the prompts (-1: none).
func (s LensSummary) SeparationLayer(t float64) int {
	for l, v := range s.Accuracy[Resid] {
		if v >= t {
			return l
		}
	}
	return -1
}

func others(v []float64, a int) float64 {
	t := 0.0
	for i, x := range v {
		if i != a {
			t += x
		}
	}
	return t / float64(len(v)-1)
}

func argmax(v []float64) int {
	a := 0
	for i, x := range v {
		if x > v[a] {
			a = i
		}
	}
	return a
}
