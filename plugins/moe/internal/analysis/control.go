// Load-adjusted domain specialisation and its shuffled-domain control.
//
// OLMoE's spec(e, D) divides an expert's share of a domain's assignments by
// the uniform share k/E: an expert busy for every domain reads as
// specialised for each. Lift divides by the expert's own share over all
// domains instead, and the Jensen–Shannon divergence compares a domain's
// whole expert distribution with the overall one; both are judged against
// the same figures on shuffled pseudo-domains, the noise floor of a finite
// evaluation set.

package analysis

import (
	"math"
	"math/rand/v2"
	"sort"
)

// Shares is each domain's distribution of top-k assignments over experts:
// shares[d][e] = count(e in top-k on tokens of d)/(k·tokens of d), and the
// same over all tokens (overall). A domain without tokens gets zeros.
func Shares(r TopK, domain []int, nDomains int) (shares [][]float64, overall []float64) {
	spec := DomainSpec(r, domain, nDomains)
	shares = make([][]float64, nDomains)
	for d, row := range spec {
		shares[d] = make([]float64, r.E)
		for e, v := range row {
			shares[d][e] = v / (100 * float64(r.K)) // spec = 100·k·share
		}
	}
	return shares, Load(r)
}

// Lift is the load-adjusted specialisation: lift[d][e] = share of d's
// assignments going to e ÷ e's share of all assignments. 1 everywhere when
// routing ignores the domain, however unbalanced the load; an expert that
// is busy for every domain has lift ≈ 1 where OLMoE's spec reads it as
// specialised. An expert without assignments gets lift 0.
func Lift(shares [][]float64, overall []float64) [][]float64 {
	out := make([][]float64, len(shares))
	for d, row := range shares {
		out[d] = make([]float64, len(row))
		for e, v := range row {
			if overall[e] > 0 {
				out[d][e] = v / overall[e]
			}
		}
	}
	return out
}

// TopLift is, per domain, the lift of the domain's top expert (the one
// with the largest share of its assignments, OLMoE's top expert): OLMoE's
// headline figure with the expert's load divided out. The largest lift
// over all experts would be a poor summary: a rarely used expert reaches a
// high lift from a handful of assignments.
func TopLift(shares [][]float64, overall []float64) []float64 {
	lift := Lift(shares, overall)
	out := make([]float64, len(shares))
	for d, row := range shares {
		e, _ := Top(row, 1)
		out[d] = lift[d][e[0]]
	}
	return out
}

// JSDivergence is the Jensen–Shannon divergence of two distributions in
// bits: 0 for equal ones, 1 for disjoint supports.
func JSDivergence(p, q []float64) float64 {
	kl := func(a, m []float64) float64 {
		s := 0.0
		for i, v := range a {
			if v > 0 {
				s += v * math.Log2(v/m[i])
			}
		}
		return s
	}
	m := make([]float64, len(p))
	for i := range p {
		m[i] = (p[i] + q[i]) / 2
	}
	return max(0, (kl(p, m)+kl(q, m))/2)
}

// Divergence is each domain's Jensen–Shannon divergence from the overall
// expert distribution (a domain without tokens gets 0), and their mean
// weighted by the domains' token counts.
func Divergence(shares [][]float64, overall []float64, domain []int) (perDomain []float64, weighted float64) {
	tokens := make([]float64, len(shares))
	for _, d := range domain {
		tokens[d]++
	}
	perDomain = make([]float64, len(shares))
	for d, row := range shares {
		if tokens[d] == 0 {
			continue
		}
		perDomain[d] = JSDivergence(row, overall)
		weighted += tokens[d] / float64(len(domain)) * perDomain[d]
	}
	return perDomain, weighted
}

// ShuffleDomains is the control of the domain analyses: the same tokens
// reassigned to pseudo-domains of the same sizes. Labels move in blocks of
// `block` consecutive tokens (one evaluation window each), because tokens
// of a window share their context: shuffling single tokens would make the
// control's floor lower than the real noise.
func ShuffleDomains(domain []int, block int, rng *rand.Rand) []int {
	nb := (len(domain) + block - 1) / block
	perm := rng.Perm(nb)
	out := make([]int, len(domain))
	for b := range nb {
		label := domain[min(perm[b]*block, len(domain)-1)]
		for t := b * block; t < min((b+1)*block, len(domain)); t++ {
			out[t] = label
		}
	}
	return out
}

// Control is the shuffled-domain control of one layer: the same tokens
// reassigned, a window at a time, to pseudo-domains of the real domains'
// sizes, Shuffles times. Its figures are the noise floor of the domain
// analyses at this amount of evaluation text.
type Control struct {
	Shuffles int `json:"shuffles"`
	// TopLift (lift of the top expert) over every pseudo-domain of every
	// shuffle: mean and 95th percentile.
	TopLiftMean float64 `json:"top_lift_mean"`
	TopLiftSD   float64 `json:"top_lift_sd"`
	TopLiftP95  float64 `json:"top_lift_p95"`
	// Token-weighted mean divergence per shuffle: mean and 95th percentile.
	DivergenceMean float64 `json:"divergence_mean"`
	DivergenceSD   float64 `json:"divergence_sd"`
	DivergenceP95  float64 `json:"divergence_p95"`
}

// ControlShuffles is the number of shuffles behind each layer's control.
const ControlShuffles = 20

// ShuffledControl computes the domain analyses on `shuffles` reassignments
// of the tokens to pseudo-domains of the same sizes (whole windows of
// `window` tokens at a time).
func ShuffledControl(r TopK, domain []int, nDomains, window, shuffles int, seed uint64) Control {
	rng := rand.New(rand.NewPCG(seed, 0x5348554646))
	c := Control{Shuffles: shuffles}
	var lifts, divs []float64
	for range shuffles {
		pseudo := ShuffleDomains(domain, max(window, 1), rng)
		shares, overall := Shares(r, pseudo, nDomains)
		lifts = append(lifts, TopLift(shares, overall)...)
		_, w := Divergence(shares, overall, pseudo)
		divs = append(divs, w)
	}
	c.TopLiftMean, c.TopLiftSD, c.TopLiftP95 = stats(lifts)
	c.DivergenceMean, c.DivergenceSD, c.DivergenceP95 = stats(divs)
	return c
}

// LiftZ and DivergenceZ place a real figure in the control's distribution:
// how many of its standard deviations above its mean.
func (c Control) LiftZ(lift float64) float64 { return z(lift, c.TopLiftMean, c.TopLiftSD) }

// DivergenceZ: see LiftZ.
func (c Control) DivergenceZ(div float64) float64 { return z(div, c.DivergenceMean, c.DivergenceSD) }

func z(x, mean, sd float64) float64 { return (x - mean) / max(sd, 1e-12) }

// stats is the mean, sample standard deviation and 95th percentile.
func stats(x []float64) (mean, sd, p95 float64) {
	if len(x) == 0 {
		return 0, 0, 0
	}
	s := append([]float64(nil), x...)
	sort.Float64s(s)
	for _, v := range s {
		mean += v
	}
	mean /= float64(len(s))
	for _, v := range s {
		sd += (v - mean) * (v - mean)
	}
	sd = math.Sqrt(sd / float64(max(len(s)-1, 1)))
	return mean, sd, s[min(int(math.Ceil(0.95*float64(len(s))))-1, len(s)-1)]
}

// Select is the routing of the given tokens only (in that order).
func Select(r TopK, tokens []int) TopK {
	out := TopK{N: len(tokens), K: r.K, E: r.E, Experts: make([]int32, 0, len(tokens)*r.K)}
	for _, t := range tokens {
		out.Experts = append(out.Experts, r.Experts[t*r.K:(t+1)*r.K]...)
	}
	return out
}
