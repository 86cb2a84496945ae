package moe

import (
	"math"
	"math/rand/v2"
	"testing"

	"github.com/gomlx/gomlx/backends"
	. "github.com/gomlx/gomlx/pkg/core/graph" // dot import: staticcheck.conf allows it for GoMLX graph code only
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/shammie-ml/shammie/sdk/ml"
)

func testBackend(t testing.TB) backends.Backend {
	t.Helper()
	b, err := ml.OpenBackend("go")
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func randMatrix(rng *rand.Rand, rows, cols int, scale float64) [][]float32 {
	m := make([][]float32, rows)
	for i := range m {
		m[i] = make([]float32, cols)
		for j := range m[i] {
			m[i][j] = float32(rng.NormFloat64() * scale)
		}
	}
	return m
}

func flat(t *tensors.Tensor) []float32 {
	var out []float32
	t.ConstFlatData(func(a any) { out = append(out, a.([]float32)...) })
	return out
}

func maxAbsDiff(a, b []float32) float64 {
	d := 0.0
	for i := range a {
		d = math.Max(d, math.Abs(float64(a[i]-b[i])))
	}
	return d
}

// TestSparseMatchesDense: the block-sparse path must give the dense
// reference's outputs and gradients (w.r.t. the input and every weight),
// including token counts that do not fill blocks, k = E, and renormalised
// weights.
func TestSparseMatchesDense(t *testing.T) {
	be := testBackend(t)
	cases := []struct {
		name string
		cfg  Config
		T    int
	}{
		{"E8k2_blocks4", Config{DModel: 8, Hidden: 12, Experts: 8, TopK: 2, BlockSize: 4}, 37},
		{"E4k4_allExperts", Config{DModel: 6, Hidden: 5, Experts: 4, TopK: 4, BlockSize: 8}, 21},
		{"E16k3_renorm_defaultBlock", Config{DModel: 8, Hidden: 8, Experts: 16, TopK: 3, Renormalize: true}, 64},
		{"E2k1_oneToken", Config{DModel: 4, Hidden: 4, Experts: 2, TopK: 1, BlockSize: 2}, 1},
		{"E8k2_T256", Config{DModel: 32, Hidden: 32, Experts: 8, TopK: 2}, 256},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(1, uint64(tc.T)))
			x := randMatrix(rng, tc.T, tc.cfg.DModel, 1)
			proj := randMatrix(rng, tc.T, tc.cfg.DModel, 1)
			ctx := context.New()
			if err := ctx.SetRNGStateFromSeed(42); err != nil {
				t.Fatal(err)
			}
			names := []string{"router", "w_gate", "w_up", "w_down"}
			fn := func(ctx *context.Context, x, proj *Node) []*Node {
				var outs []*Node
				for _, dense := range []bool{true, false} {
					c := tc.cfg
					c.Dense = dense
					lctx := ctx.In("moe").Checked(false)
					y, r := Layer(lctx, c, x)
					loss := ReduceAllSum(Mul(y, proj))
					loss = Add(loss, LoadBalancingLoss(c, []*Routing{r}, 0.3))
					loss = Add(loss, RouterZLoss(c, []*Routing{r}, LossConfig{ZLoss: 0.2}))
					wrt := []*Node{x}
					for _, n := range names {
						wrt = append(wrt, lctx.GetVariable(n).ValueGraph(x.Graph()))
					}
					outs = append(outs, y)
					outs = append(outs, Gradient(loss, wrt...)...)
				}
				return outs
			}
			exec, err := context.NewExec(be, ctx, fn)
			if err != nil {
				t.Fatal(err)
			}
			res, err := exec.Exec(x, proj)
			if err != nil {
				t.Fatal(err)
			}
			half := len(res) / 2
			labels := append([]string{"output", "d/dx"}, names...)
			for i := range half {
				d, s := flat(res[i]), flat(res[half+i])
				if diff := maxAbsDiff(d, s); diff > 1e-4 {
					t.Errorf("%s: sparse differs from dense by %g", labels[i], diff)
				}
				nonzero := false
				for _, v := range d {
					nonzero = nonzero || v != 0
				}
				if !nonzero {
					t.Errorf("%s: dense reference is all zeros: the comparison proves nothing", labels[i])
				}
			}
		})
	}
}

// TestAuxLosses checks the load-balancing loss against its definition and
// its value w at a uniform router, and the z-loss against ln(E)² at zero
// logits (÷k under the OLMoE-fork convention).
func TestAuxLosses(t *testing.T) {
	be := testBackend(t)
	type want struct{ lb, z float64 }
	cases := []struct {
		name   string
		cfg    Config
		lc     LossConfig
		zeroW  bool // zero router weights: uniform probabilities, zero logits
		T      int
		expect func(probs [][]float64, counts []float64) want
		// zFromLogits: the z-loss is checked against 0.25·mean_t lse(logits_t)².
		zFromLogits bool
	}{
		{
			name: "uniform_E64_k8", cfg: Config{DModel: 4, Hidden: 4, Experts: 64, TopK: 8},
			lc: LossConfig{LoadBalance: 0.01, ZLoss: 0.001}, zeroW: true, T: 16,
			expect: func(_ [][]float64, _ []float64) want { return want{0.01, 0.001 * math.Pow(math.Log(64), 2)} },
		},
		{
			name: "uniform_E64_k8_forkDivideByK", cfg: Config{DModel: 4, Hidden: 4, Experts: 64, TopK: 8},
			lc: LossConfig{LoadBalance: 0.01, ZLoss: 0.001, ZLossDivideByK: true}, zeroW: true, T: 16,
			expect: func(_ [][]float64, _ []float64) want { return want{0.01, 0.001 * math.Pow(math.Log(64), 2) / 8} },
		},
		{
			name: "random_router_E6_k2", cfg: Config{DModel: 5, Hidden: 4, Experts: 6, TopK: 2},
			lc: LossConfig{LoadBalance: 0.5, ZLoss: 0.25}, T: 20,
			expect: func(probs [][]float64, counts []float64) want {
				// Definition, computed independently in float64.
				E, T, k := 6.0, 20.0, 2.0
				lb := 0.0
				for e := range counts {
					pm := 0.0
					for t := range probs {
						pm += probs[t][e] / T
					}
					lb += counts[e] * pm
				}
				return want{0.5 * E / (T * k) * lb, math.NaN()}
			},
			zFromLogits: true,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rng := rand.New(rand.NewPCG(3, 4))
			x := randMatrix(rng, tc.T, tc.cfg.DModel, 1)
			ctx := context.New()
			if tc.zeroW {
				ctx.In("moe").VariableWithValue("router", make2D(tc.cfg.DModel, tc.cfg.Experts))
			}
			exec, err := context.NewExec(be, ctx, func(ctx *context.Context, x *Node) []*Node {
				_, r := Layer(ctx.In("moe").Checked(false), tc.cfg, x)
				rs := []*Routing{r}
				return []*Node{LoadBalancingLoss(tc.cfg, rs, tc.lc.LoadBalance), RouterZLoss(tc.cfg, rs, tc.lc), r.Probs, r.Counts, r.Logits}
			})
			if err != nil {
				t.Fatal(err)
			}
			res, err := exec.Exec(x)
			if err != nil {
				t.Fatal(err)
			}
			pf, cf := flat(res[2]), flat(res[3])
			probs := make([][]float64, tc.T)
			for i := range probs {
				probs[i] = make([]float64, tc.cfg.Experts)
				for e := range probs[i] {
					probs[i][e] = float64(pf[i*tc.cfg.Experts+e])
				}
			}
			counts := make([]float64, len(cf))
			total := 0.0
			for i, c := range cf {
				counts[i] = float64(c)
				total += counts[i]
			}
			if total != float64(tc.T*tc.cfg.TopK) {
				t.Fatalf("counts sum to %g, want T·k = %d", total, tc.T*tc.cfg.TopK)
			}
			w := tc.expect(probs, counts)
			if tc.zFromLogits {
				lf := flat(res[4])
				E := tc.cfg.Experts
				acc := 0.0
				for i := range tc.T {
					s := 0.0
					for e := range E {
						s += math.Exp(float64(lf[i*E+e]))
					}
					acc += math.Pow(math.Log(s), 2) / float64(tc.T)
				}
				w.z = tc.lc.ZLoss * acc
			}
			lb, z := float64(flat(res[0])[0]), float64(flat(res[1])[0])
			if math.Abs(lb-w.lb) > 1e-6*math.Max(1, math.Abs(w.lb)) {
				t.Errorf("LB loss = %.8g, want %.8g", lb, w.lb)
			}
			if !math.IsNaN(w.z) && math.Abs(z-w.z) > 1e-6 {
				t.Errorf("z-loss = %.8g, want %.8g", z, w.z)
			}
		})
	}
}

func make2D(r, c int) [][]float32 {
	m := make([][]float32, r)
	for i := range m {
		m[i] = make([]float32, c)
	}
	return m
}
