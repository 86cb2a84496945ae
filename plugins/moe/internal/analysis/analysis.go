// Package analysis computes OLMoE's routing analyses from recorded top-k
// expert choices: domain and vocabulary specialisation, router saturation
// between checkpoints, expert co-activation and expert load.
package analysis

import (
	"fmt"
	"sort"
)

// TopK is one layer's routing of N tokens: Experts[t*K+i] is the i-th
// choice (most probable first) of token t.
type TopK struct {
	N, K, E int
	Experts []int32
}

// Validate checks sizes and expert ids.
func (r TopK) Validate() error {
	if r.N*r.K != len(r.Experts) {
		return fmt.Errorf("routing has %d entries, want N·K = %d·%d", len(r.Experts), r.N, r.K)
	}
	for i, e := range r.Experts {
		if e < 0 || int(e) >= r.E {
			return fmt.Errorf("routing entry %d names expert %d, outside [0,%d)", i, e, r.E)
		}
	}
	return nil
}

// Uniform is the specialisation of an expert under a uniform router, 100·k/E.
func Uniform(k, e int) float64 { return 100 * float64(k) / float64(e) }

// DomainSpec is OLMoE's domain specialisation: spec[d][e] =
// 100·k·count(e in top-k on tokens of d) / (total assignments of d), where a
// domain's total assignments are its tokens × k. domain[t] labels token t
// with an index in [0, nDomains). A domain with no tokens gets zeros.
func DomainSpec(r TopK, domain []int, nDomains int) [][]float64 {
	counts := make([][]float64, nDomains)
	for d := range counts {
		counts[d] = make([]float64, r.E)
	}
	tokens := make([]float64, nDomains)
	for t := range r.N {
		d := domain[t]
		tokens[d]++
		for i := range r.K {
			counts[d][r.Experts[t*r.K+i]]++
		}
	}
	for d := range counts {
		if tokens[d] == 0 {
			continue
		}
		assign := tokens[d] * float64(r.K)
		for e := range counts[d] {
			counts[d][e] = 100 * float64(r.K) * counts[d][e] / assign
		}
	}
	return counts
}

// Top returns the experts of row sorted by decreasing value (ties by id) and
// their values, the first n of them.
func Top(row []float64, n int) (experts []int, values []float64) {
	idx := make([]int, len(row))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return row[idx[a]] > row[idx[b]] })
	if n > len(idx) {
		n = len(idx)
	}
	for _, i := range idx[:n] {
		experts = append(experts, i)
		values = append(values, row[i])
	}
	return experts, values
}

// VocabSpec is the vocabulary specialisation: for each token id, the share
// of its occurrences whose top-1 expert is that id's most frequent top-1
// expert, averaged over the ids that occur at least minCount times (OLMoE
// averages over the vocabulary it observes; rare ids are trivially
// "specialised", hence the threshold). It also returns how many ids entered
// the average.
func VocabSpec(r TopK, token []int, minCount int) (float64, int) {
	perID := map[int]map[int32]int{}
	for t := range r.N {
		m := perID[token[t]]
		if m == nil {
			m = map[int32]int{}
			perID[token[t]] = m
		}
		m[r.Experts[t*r.K]]++
	}
	sum, n := 0.0, 0
	for _, m := range perID {
		total, best := 0, 0
		for _, c := range m {
			total += c
			best = max(best, c)
		}
		if total < max(minCount, 1) {
			continue
		}
		sum += float64(best) / float64(total)
		n++
	}
	if n == 0 {
		return 0, 0
	}
	return sum / float64(n), n
}

// Saturation is the router saturation of a checkpoint against the final
// model on the same tokens: the mean over tokens of |top-k(t) ∩
// top-k_final(t)| / k.
func Saturation(ckpt, final TopK) (float64, error) {
	if ckpt.N != final.N || ckpt.K != final.K {
		return 0, fmt.Errorf("saturation: routings cover %d×%d and %d×%d token-slots", ckpt.N, ckpt.K, final.N, final.K)
	}
	if ckpt.N == 0 {
		return 0, fmt.Errorf("saturation: no tokens")
	}
	hits := 0
	for t := range ckpt.N {
		a := ckpt.Experts[t*ckpt.K : (t+1)*ckpt.K]
		b := final.Experts[t*final.K : (t+1)*final.K]
		for _, x := range a {
			for _, y := range b {
				if x == y {
					hits++
					break
				}
			}
		}
	}
	return float64(hits) / float64(ckpt.N*ckpt.K), nil
}

// CoActivation returns P(b|a) = #(tokens routing to both a and b) /
// #(tokens routing to a), over all pairs of the top-k (diagonal 0).
//
// With rankAdjacent, only pairs at consecutive ranks (i, i+1) of a token's
// sorted top-k count as co-activated (in both directions): the variant that
// OLMoE's released plotting code computes, labelled as such in plots.
func CoActivation(r TopK, rankAdjacent bool) [][]float64 {
	p := make([][]float64, r.E)
	for a := range p {
		p[a] = make([]float64, r.E)
	}
	count := make([]float64, r.E)
	for t := range r.N {
		row := r.Experts[t*r.K : (t+1)*r.K]
		for i, a := range row {
			count[a]++
			for j, b := range row {
				if i == j {
					continue
				}
				if rankAdjacent && j != i-1 && j != i+1 {
					continue
				}
				p[a][b]++
			}
		}
	}
	for a := range p {
		if count[a] == 0 {
			continue
		}
		for b := range p[a] {
			p[a][b] /= count[a]
		}
	}
	return p
}

// Load is the share of token-slot assignments each expert receives.
func Load(r TopK) []float64 {
	l := make([]float64, r.E)
	for _, e := range r.Experts {
		l[e]++
	}
	for e := range l {
		l[e] /= float64(max(len(r.Experts), 1))
	}
	return l
}

// MaxLoad is the largest expert share: above 0.5 the load has collapsed
// onto one expert.
func MaxLoad(r TopK) float64 {
	m := 0.0
	for _, v := range Load(r) {
		m = max(m, v)
	}
	return m
}
