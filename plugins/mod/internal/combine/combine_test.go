package combine

import (
	"math"
	"math/rand/v2"
	"testing"
)

func logs(p []float64) []float64 {
	out := make([]float64, len(p))
	for i, x := range p {
		out[i] = math.Log(x)
	}
	return out
}

// The 4-token bandit: π_ref=(.4,.3,.2,.1), π₁=(.1,.2,.3,.4),
// π₂=(.5,.3,.15,.05), w=(.3,.7), β=1.
var (
	bRef = logs([]float64{.4, .3, .2, .1})
	bPi  = [][]float64{logs([]float64{.1, .2, .3, .4}), logs([]float64{.5, .3, .15, .05})}
	bW   = []float64{.3, .7}
)

func TestBanditVectors(t *testing.T) {
	for _, tc := range []struct {
		rule Rule
		want []float64
	}{
		{Rule{Div: ReverseKL}, []float64{.3621, .3117, .2167, .1095}},
		{Rule{Div: ForwardKL}, []float64{.2831, .3737, .2544, .0887}},
		{Rule{Div: JSD}, []float64{.3415, .3339, .2292, .0954}},
		{Rule{Div: Alpha, Alpha: 0.5}, []float64{.3308, .3389, .2329, .0974}},
	} {
		t.Run(string(tc.rule.Div), func(t *testing.T) {
			got, err := tc.rule.Combine(nil, bRef, bPi, bW)
			if err != nil {
				t.Fatal(err)
			}
			var sum float64
			for y := range got {
				sum += got[y]
				if math.Abs(got[y]-tc.want[y]) > 5.01e-5 {
					t.Errorf("π_w = %.5f, want %.4f", got, tc.want)
					break
				}
			}
			if math.Abs(sum-1) > 1e-14 {
				t.Errorf("Σ π_w = 1 %+g, want 1 to machine precision", sum-1)
			}
			// The combination is the optimum of E[Σ wᵢ rᵢ] − β·D_f: every
			// perturbation along the simplex that keeps it positive lowers
			// the objective.
			best := tc.rule.Objective(got, bRef, bPi, bW, 1)
			rng := rand.New(rand.NewPCG(1, 2))
			for range 2000 {
				d := make([]float64, 4)
				var mean float64
				for y := range d {
					d[y] = rng.NormFloat64()
					mean += d[y] / 4
				}
				eps := 1e-3 * rng.Float64()
				p := make([]float64, 4)
				for y := range p {
					p[y] = got[y] + eps*(d[y]-mean)
				}
				if o := tc.rule.Objective(p, bRef, bPi, bW, 1); o > best+1e-15 {
					t.Fatalf("perturbed objective %.15g > %.15g at the combination", o, best)
				}
			}
			// Stationarity: ∂/∂p(y) of the objective is the same for every y
			// (the Lagrange multiplier of Σp = 1).
			var g0 float64
			for y := range got {
				h := 1e-6
				up := append([]float64(nil), got...)
				dn := append([]float64(nil), got...)
				up[y] += h
				dn[y] -= h
				gy := (tc.rule.Objective(up, bRef, bPi, bW, 1) - tc.rule.Objective(dn, bRef, bPi, bW, 1)) / (2 * h)
				if y == 0 {
					g0 = gy
				} else if math.Abs(gy-g0) > 1e-6 {
					t.Errorf("∂J/∂p(%d) = %g ≠ ∂J/∂p(0) = %g: not stationary", y, gy, g0)
				}
			}
		})
	}
}

// Z is exact: the combination sums to one to machine precision on random
// inputs over a large vocabulary, for every divergence and many weights.
func TestNormaliserExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	v := 512
	rand := func() []float64 {
		p := make([]float64, v)
		var s float64
		for y := range p {
			p[y] = math.Exp(3 * rng.NormFloat64())
			s += p[y]
		}
		for y := range p {
			p[y] = math.Log(p[y] / s)
		}
		return p
	}
	for _, r := range []Rule{{Div: ForwardKL}, {Div: JSD}, {Div: Alpha, Alpha: 0.1}, {Div: Alpha, Alpha: 0.9}} {
		for range 20 {
			ref, pi := rand(), [][]float64{rand(), rand(), rand()}
			a, b := rng.Float64(), rng.Float64()
			lo, hi := min(a, b), max(a, b)
			w := []float64{lo, hi - lo, 1 - hi}
			got, err := r.Combine(nil, ref, pi, w)
			if err != nil {
				t.Fatal(err)
			}
			var sum float64
			for _, p := range got {
				if p < 0 || math.IsNaN(p) {
					t.Fatalf("%s: probability %g", r.Div, p)
				}
				sum += p
			}
			if math.Abs(sum-1) > 1e-14 {
				t.Errorf("%s: Σ π_w − 1 = %g", r.Div, sum-1)
			}
		}
	}
}

// A single model (w one-hot) is reproduced exactly by every rule.
func TestOneHotIsThePolicy(t *testing.T) {
	for _, r := range []Rule{{Div: ReverseKL}, {Div: ForwardKL}, {Div: JSD}, {Div: Alpha, Alpha: 0.5}} {
		got, err := r.Combine(nil, bRef, bPi, []float64{0, 1})
		if err != nil {
			t.Fatal(err)
		}
		for y := range got {
			if want := math.Exp(bPi[1][y]); math.Abs(got[y]-want) > 1e-12 {
				t.Errorf("%s: π_w(%d) = %.15g, want π₂ = %.15g", r.Div, y, got[y], want)
			}
		}
	}
}

func TestNewRule(t *testing.T) {
	for _, tc := range []struct {
		div   Divergence
		alpha float64
		ok    bool
	}{{ReverseKL, 0, true}, {Alpha, 0.5, true}, {Alpha, 0, false}, {Alpha, 1, false}, {"kl", 0, false}} {
		if _, err := NewRule(tc.div, tc.alpha); (err == nil) != tc.ok {
			t.Errorf("NewRule(%q, %g): err = %v", tc.div, tc.alpha, err)
		}
	}
}
