// Package combine holds MOD's decoding-time combination rule (Shi et al.
// 2024): for K policies πᵢ, each aligned to one objective against the same
// reference π_ref under an f-divergence, and weights w on the simplex, the
// optimum of E[Σ wᵢ rᵢ] − β·D_f(π ‖ π_ref) is
//
//	π_w(y) = π_ref(y) · g(Σᵢ wᵢ f′(πᵢ(y)/π_ref(y)) − Z),   g = (f′)⁻¹,
//
// with Z the one number that makes π_w sum to 1. For reverse KL Z has a
// closed form (π_w ∝ Π πᵢ^wᵢ); for the other divergences it is the root of
// a strictly decreasing function of Z, solved here to machine precision
// (bracket, then bisection until the interval cannot shrink) — the reference
// implementation is exact for reverse KL only.
package combine

import (
	"errors"
	"fmt"
	"math"

	"github.com/shammie-ml/shammie/sdk/ml"
)

// Divergence is the kit's f-DPO divergence: models aligned by ml.DPOLoss
// under one are combined under the same.
type Divergence = ml.Divergence

const (
	ReverseKL = ml.ReverseKL
	ForwardKL = ml.ForwardKL
	JSD       = ml.JSD
	Alpha     = ml.Alpha
)

// Rule is one f-divergence: f′ and its inverse g.
type Rule struct {
	Div   Divergence
	Alpha float64 // α-divergence's α, in (0, 1)
}

// NewRule checks the divergence and α.
func NewRule(div Divergence, alpha float64) (Rule, error) {
	switch div {
	case ReverseKL, ForwardKL, JSD:
		return Rule{Div: div}, nil
	case Alpha:
		if !(alpha > 0 && alpha < 1) {
			return Rule{}, fmt.Errorf("the α of the α-divergence must be in (0, 1), got %g", alpha)
		}
		return Rule{Div: div, Alpha: alpha}, nil
	}
	return Rule{}, fmt.Errorf("unknown divergence %q (known: reverse_kl, forward_kl, jsd, alpha)", div)
}

// FPrime is f′(u) for the ratio u = π/π_ref > 0 (up to the additive
// constant f′(1), which Z absorbs): log u, −1/u, log(2u/(1+u)),
// (1 − u^{−α})/α.
func (r Rule) FPrime(u float64) float64 {
	switch r.Div {
	case ForwardKL:
		return -1 / u
	case JSD:
		return math.Log(2 * u / (1 + u))
	case Alpha:
		return (1 - math.Pow(u, -r.Alpha)) / r.Alpha
	default:
		return math.Log(u)
	}
}

// sup is the supremum of f′'s range: g(v) is defined for v < sup.
func (r Rule) sup() float64 {
	switch r.Div {
	case ForwardKL:
		return 0
	case JSD:
		return math.Ln2
	case Alpha:
		return 1 / r.Alpha
	default:
		return math.Inf(1)
	}
}

// G is (f′)⁻¹(v), increasing, +Inf at v ≥ sup.
func (r Rule) G(v float64) float64 {
	if v >= r.sup() {
		return math.Inf(1)
	}
	switch r.Div {
	case ForwardKL:
		return -1 / v
	case JSD:
		e := math.Exp(v)
		return e / (2 - e)
	case Alpha:
		return math.Pow(1-r.Alpha*v, -1/r.Alpha)
	default:
		return math.Exp(v)
	}
}

// Combine returns π_w over a vocabulary from the reference's and the K
// policies' log-probabilities (logRef[y], logPi[i][y]) and weights w. Tokens
// the reference gives probability 0 keep probability 0; a token a policy
// gives probability 0 (but the reference does not) gets f′ at its limit.
// dst (len V) is reused when not nil.
func (r Rule) Combine(dst []float64, logRef []float64, logPi [][]float64, w []float64) ([]float64, error) {
	v := len(logRef)
	if len(logPi) != len(w) || len(w) == 0 {
		return nil, fmt.Errorf("combine: %d policies, %d weights", len(logPi), len(w))
	}
	if dst == nil {
		dst = make([]float64, v)
	}
	if r.Div == ReverseKL {
		return reverseKL(dst, logRef, logPi, w), nil
	}
	// s[y] = Σ wᵢ f′(uᵢ(y)); kept in dst until the root is known.
	s := dst
	for y := range v {
		if math.IsInf(logRef[y], -1) {
			s[y] = math.Inf(-1)
			continue
		}
		var acc float64
		for i, lp := range logPi {
			if w[i] == 0 {
				continue
			}
			acc += w[i] * r.FPrime(math.Exp(lp[y]-logRef[y]))
		}
		s[y] = acc
	}
	smax, delta, err := r.solve(logRef, s)
	if err != nil {
		return nil, err
	}
	var sum float64
	for y := range v {
		if math.IsInf(s[y], -1) {
			s[y] = 0
			continue
		}
		s[y] = math.Exp(logRef[y]) * r.gPole((smax-s[y])+delta)
		sum += s[y]
	}
	// δ is exact to one ulp; divide out the last rounding of the mass.
	for y := range v {
		s[y] /= sum
	}
	return s, nil
}

// reverseKL: π_w ∝ exp(Σ wᵢ log πᵢ) (Σ w = 1, so π_ref cancels).
func reverseKL(dst, logRef []float64, logPi [][]float64, w []float64) []float64 {
	mx := math.Inf(-1)
	for y := range logRef {
		var acc float64
		for i, lp := range logPi {
			if w[i] != 0 {
				acc += w[i] * lp[y]
			}
		}
		if math.IsInf(logRef[y], -1) {
			acc = math.Inf(-1)
		}
		dst[y] = acc
		mx = math.Max(mx, acc)
	}
	var sum float64
	for y := range dst {
		dst[y] = math.Exp(dst[y] - mx)
		sum += dst[y]
	}
	for y := range dst {
		dst[y] /= sum
	}
	return dst
}

// gPole is g at distance q > 0 below the supremum of f′'s range,
// g(sup − q), written without the cancellation of sup − q: 1/q (forward
// KL), 1/expm1(q) (JSD), (αq)^{−1/α} (α). Not for reverse KL (no pole).
func (r Rule) gPole(q float64) float64 {
	switch r.Div {
	case ForwardKL:
		return 1 / q
	case JSD:
		return 1 / math.Expm1(q)
	case Alpha:
		return math.Pow(r.Alpha*q, -1/r.Alpha)
	}
	panic("combine: gPole of " + string(r.Div))
}

// Normaliser solves Σ_y π_ref(y)·g(s[y] − Z) = 1 for Z (not for reverse
// KL, whose Z is a log-sum-exp).
func (r Rule) Normaliser(logRef, s []float64) (float64, error) {
	smax, delta, err := r.solve(logRef, s)
	return smax - r.sup() + delta, err
}

// solve finds Z as smax − sup + δ, δ > 0: token y's argument of g is then
// sup − q_y with q_y = (smax − s[y]) + δ, a sum of two non-negative terms,
// so the tokens nearest the pole keep their full relative precision (Z
// itself would lose it to cancellation). The mass Σ π_ref(y)·gPole(q_y) is
// continuous and strictly decreasing in δ, from +∞ at 0⁺ to 0, so the root
// is unique: bracket it, then bisect until the midpoint equals an end.
func (r Rule) solve(logRef, s []float64) (smax, delta float64, err error) {
	smax = math.Inf(-1)
	for _, sy := range s {
		smax = math.Max(smax, sy)
	}
	if math.IsInf(smax, 0) || math.IsNaN(smax) {
		return 0, 0, errors.New("combine: no token has positive probability under every model")
	}
	mass := func(d float64) float64 {
		var m float64
		for y, sy := range s {
			if !math.IsInf(sy, -1) {
				m += math.Exp(logRef[y]) * r.gPole((smax-sy)+d)
			}
		}
		return m
	}
	lo, hi := 0.0, 1.0
	for mass(hi) > 1 {
		lo, hi = hi, 2*hi
		if math.IsInf(hi, 0) {
			return 0, 0, errors.New("combine: cannot bracket the normaliser")
		}
	}
	for range 4000 {
		mid := lo + (hi-lo)/2
		if mid <= lo || mid >= hi {
			break
		}
		if mass(mid) > 1 {
			lo = mid
		} else {
			hi = mid
		}
	}
	if lo > 0 && math.Abs(mass(lo)-1) < math.Abs(mass(hi)-1) {
		return smax, lo, nil
	}
	return smax, hi, nil
}

// Reward is the reward β·f′(π/π_ref) implied by a policy aligned under this
// divergence, up to a constant (f′(1)), which the objective ignores.
func (r Rule) Reward(beta, logPi, logRef float64) float64 {
	return beta * r.FPrime(math.Exp(logPi-logRef))
}

// ImpliedReward is the kit's reward of ml.DPOOptions (β·(f′(u) − f′(1)),
// zero where the policy equals the reference): what the plugin reports.
func (r Rule) ImpliedReward(beta, logPi, logRef float64) float64 {
	return ml.DPOOptions{Divergence: r.Div, Beta: beta, Alpha: r.Alpha}.ImpliedReward(logPi - logRef)
}

// F is f(u) with f(1) = 0, the generator of D_f(π‖π_ref) = Σ π_ref f(π/π_ref):
// u log u, −log u, u log u − (1+u) log((1+u)/2), (u^{1−α} − (1−α)u − α)/(α(α−1)).
// Its derivative is FPrime plus a constant.
func (r Rule) F(u float64) float64 {
	switch r.Div {
	case ForwardKL:
		return -math.Log(u)
	case JSD:
		return xlogx(u) - (1+u)*math.Log((1+u)/2)
	case Alpha:
		a := r.Alpha
		return (math.Pow(u, 1-a) - (1-a)*u - a) / (a * (a - 1))
	default:
		return xlogx(u)
	}
}

func xlogx(u float64) float64 {
	if u == 0 {
		return 0
	}
	return u * math.Log(u)
}

// Objective is E_π[Σ wᵢ rᵢ] − β·D_f(π ‖ π_ref) for a distribution p over the
// vocabulary, with rᵢ the rewards implied by the policies.
func (r Rule) Objective(p, logRef []float64, logPi [][]float64, w []float64, beta float64) float64 {
	var obj float64
	for y, py := range p {
		ref := math.Exp(logRef[y])
		if ref == 0 {
			continue
		}
		for i, lp := range logPi {
			obj += py * w[i] * r.Reward(beta, lp[y], logRef[y])
		}
		obj -= beta * ref * r.F(py/ref)
	}
	return obj
}
