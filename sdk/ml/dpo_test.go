package ml

import (
	"math"
	"testing"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
)

var dpoDivergences = []DPOOptions{
	{Divergence: ReverseKL, Beta: 0.1},
	{Divergence: ForwardKL, Beta: 0.1},
	{Divergence: JSD, Beta: 0.1},
	{Divergence: Alpha, Beta: 0.1, Alpha: 0.5},
}

// TestDPOObjectiveHandComputed: one pair, β = 0.1, log π(y_w) = −1,
// log π_ref(y_w) = −2, log π(y_l) = −3, log π_ref(y_l) = −2.5, so
// log u_w = 1 and log u_l = −0.5. By hand (L = log(1 + e^{−(r_w − r_l)})):
//
//	reverse KL: r_w = .1·1 = .1, r_l = .1·(−.5) = −.05, L = log(1+e^{−.15}) = .6209570
//	forward KL: r_w = .1(1−e^{−1}) = .0632121, r_l = .1(1−e^{.5}) = −.0648721, L = .6311544
//	JSD:        r_w = .1·log(2e/(1+e)) = .0379885, r_l = .1·log(2e^{−.5}/(1+e^{−.5})) = −.0280930, L = .6606522
//	α = .5:     r_w = .1·2(1−e^{−.5}) = .0786939, r_l = .1·2(1−e^{.25}) = −.0568051, L = .6276909
func TestDPOObjectiveHandComputed(t *testing.T) {
	want := [][3]float64{
		{0.6209570477895321, 0.1, -0.05},
		{0.6311543835721054, 0.06321205588285576, -0.06487212707001282},
		{0.6606521625101546, 0.03798854930417225, -0.02809298036201613},
		{0.6276909470685579, 0.07869386805747332, -0.05680508333754828},
	}
	backend := openGo(t)
	for i, o := range dpoDivergences {
		t.Run(string(o.Divergence), func(t *testing.T) {
			out := graph.MustExecOnceN(backend, func(p, r *graph.Node) []*graph.Node {
				l, c, rj := DPOObjective(p, r, o)
				return []*graph.Node{l, c, rj}
			}, []float64{-1, -3}, []float64{-2, -2.5})
			got := [3]float64{flat64(out[0])[0], flat64(out[1])[0], flat64(out[2])[0]}
			for k := range got {
				if math.Abs(got[k]-want[i][k]) > 1e-12 {
					t.Errorf("loss, chosen reward, rejected reward = %v, want %v", got, want[i])
				}
			}
			if h := o.ImpliedReward(1) - o.ImpliedReward(-0.5); math.Abs(h-(want[i][1]-want[i][2])) > 1e-12 {
				t.Errorf("ImpliedReward margin %g, want %g", h, want[i][1]-want[i][2])
			}
		})
	}
}

// TestDPOObjectiveGradient checks d loss / d log π against central finite
// differences for every divergence, at log-ratios of both signs.
func TestDPOObjectiveGradient(t *testing.T) {
	backend := openGo(t)
	policy := []float64{-1.2, -4.0, -2.5, -3.1, -0.7, -6.0}
	ref := []float64{-2.0, -3.0, -2.4, -3.0, -1.5, -5.0}
	for _, o := range dpoDivergences {
		t.Run(string(o.Divergence), func(t *testing.T) {
			exec := graph.MustNewExec(backend, func(p, r *graph.Node) []*graph.Node {
				l, _, _ := DPOObjective(p, r, o)
				return []*graph.Node{l, graph.Gradient(l, p)[0]}
			})
			out := exec.MustExec(policy, ref)
			grad := flat64(out[1])
			lossAt := func(p []float64) float64 { return flat64(exec.MustExec(p, ref)[0])[0] }
			const h = 1e-6
			for k := range policy {
				up := append([]float64(nil), policy...)
				down := append([]float64(nil), policy...)
				up[k] += h
				down[k] -= h
				num := (lossAt(up) - lossAt(down)) / (2 * h)
				if math.Abs(num-grad[k]) > 1e-8+1e-6*math.Abs(num) {
					t.Errorf("d loss / d policy[%d]: autodiff %.10g, finite differences %.10g", k, grad[k], num)
				}
			}
		})
	}
}

func tinyPairs() []PairExample {
	return []PairExample{
		{Prompt: []int32{1, 2, 3}, Chosen: []int32{4, 5}, Rejected: []int32{6}, Prefix: 1},
		{Prompt: []int32{2, 7}, Chosen: []int32{8}, Rejected: []int32{9, 9, 4}, Prefix: 0},
		{Prompt: []int32{3, 3, 1, 5, 2}, Chosen: []int32{6, 2}, Rejected: []int32{5, 8}, Prefix: 2},
	}
}

// TestDPOLossGradientsMatchFiniteDifferences checks the gradient of the
// whole DPO loss (policy forward on stacked chosen/rejected rows, masks,
// prefix, f-DPO objective) with respect to every model variable, in float64.
func TestDPOLossGradientsMatchFiniteDifferences(t *testing.T) {
	backend := openGo(t)
	cfg := float64Config()
	cfg.PrefixVocab, cfg.PrefixLen = 3, 1
	for _, o := range []DPOOptions{dpoDivergences[0], dpoDivergences[2]} {
		t.Run(string(o.Divergence), func(t *testing.T) {
			m, ctx := newModel(t, cfg)
			pb, err := NewPairBatches(tinyPairs(), PairOptions{Batch: 3, Seq: 8, EOS: 10, VocabSize: 11, WithPrefix: true})
			if err != nil {
				t.Fatal(err)
			}
			if err := pb.SetReference([]float32{-9, -8, -12}, []float32{-7, -14, -10}); err != nil {
				t.Fatal(err)
			}
			batch, err := pb.Batch(0)
			if err != nil {
				t.Fatal(err)
			}
			in := tensorsAny(batch)
			lossExec := context.MustNewExec(backend, ctx, func(ctx *context.Context, b []*graph.Node) *graph.Node {
				return m.DPOLoss(ctx, b, o)
			})
			lossExec.MustExec(in...)
			vars := VariablesUnder(ctx, "/"+ModelScope)
			gradExec := context.MustNewExec(backend, ctx, func(ctx *context.Context, b []*graph.Node) []*graph.Node {
				l := m.DPOLoss(ctx, b, o)
				nodes := make([]*graph.Node, len(vars))
				for i, v := range vars {
					nodes[i] = v.ValueGraph(l.Graph())
				}
				return graph.Gradient(l, nodes...)
			})
			grads := gradExec.MustExec(in...)
			lossAt := func() float64 { return flat64(lossExec.MustExec(in...)[0])[0] }
			const h = 1e-5
			for i, v := range vars {
				g := flat64(grads[i])
				orig := flat64(v.MustValue())
				dims := v.Shape().Dimensions
				for _, k := range []int{0, len(g) / 2, len(g) - 1} {
					vals := append([]float64(nil), orig...)
					vals[k] += h
					setValue(t, v, tensors.FromFlatDataAndDimensions(vals, dims...))
					up := lossAt()
					vals[k] -= 2 * h
					setValue(t, v, tensors.FromFlatDataAndDimensions(vals, dims...))
					down := lossAt()
					setValue(t, v, tensors.FromFlatDataAndDimensions(orig, dims...))
					num := (up - down) / (2 * h)
					if math.Abs(num-g[k]) > 1e-6+1e-5*math.Abs(num) {
						t.Errorf("d loss / d %s[%d]: autodiff %.10g, finite differences %.10g", TensorName(v), k, g[k], num)
					}
				}
			}
		})
	}
}

// TestDPOTrainingReportsRewards trains a tiny model by DPO against its own
// initial weights as reference: at step 1 the policy is the reference, so
// every implied reward is 0 and the loss is log 2; training then separates
// chosen from rejected, and the trainer reports the reward metrics.
func TestDPOTrainingReportsRewards(t *testing.T) {
	backend := openGo(t)
	cfg := Config{VocabSize: 11, DModel: 16, NumHeads: 2, NumLayers: 1, MaxSeqLen: 16, PrefixVocab: 3}
	m, ctx := newModel(t, cfg)
	pb, err := NewPairBatches(tinyPairs(), PairOptions{Batch: 3, Seq: 8, EOS: 10, VocabSize: 11, WithPrefix: true, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	sc, err := m.NewScorer(backend, ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := pb.ScoreReference(sc, 4, nil); err != nil {
		t.Fatal(err)
	}
	tr, err := NewTrainer(backend, ctx, m.DPOLossFn(DPOOptions{Beta: 0.5}), TrainConfig{Steps: 25, LR: 1e-2}, nil)
	if err != nil {
		t.Fatal(err)
	}
	metric := func(sr StepResult, name string) float64 {
		for _, v := range sr.Metrics {
			if v.Name == name {
				return v.Value
			}
		}
		t.Fatalf("metric %q not reported (have %v)", name, sr.Metrics)
		return 0
	}
	var first, last StepResult
	for step := 1; step <= 25; step++ {
		sr, err := tr.Step(step, pb)
		if err != nil {
			t.Fatal(err)
		}
		if step == 1 {
			first = sr
		}
		last = sr
	}
	if math.Abs(first.Loss-math.Ln2) > 1e-4 || math.Abs(metric(first, "rewards/margin")) > 1e-4 {
		t.Errorf("step 1 (policy = reference): loss %g (want log 2), margin %g (want 0)", first.Loss, metric(first, "rewards/margin"))
	}
	if last.Loss > 0.3 || metric(last, "rewards/accuracy") != 1 || metric(last, "rewards/margin") <= 0 {
		t.Errorf("after 25 steps: loss %g, accuracy %g, margin %g", last.Loss, metric(last, "rewards/accuracy"), metric(last, "rewards/margin"))
	}
	if c, r, mg := metric(last, "rewards/chosen"), metric(last, "rewards/rejected"), metric(last, "rewards/margin"); math.Abs(c-r-mg) > 1e-4 {
		t.Errorf("chosen %g − rejected %g ≠ margin %g", c, r, mg)
	}
}

func TestDPOOptionsValidate(t *testing.T) {
	for _, tc := range []struct {
		o  DPOOptions
		ok bool
	}{
		{DPOOptions{}, true},
		{DPOOptions{Divergence: Alpha, Alpha: 0.3}, true},
		{DPOOptions{Divergence: Alpha}, false},
		{DPOOptions{Divergence: Alpha, Alpha: 1}, false},
		{DPOOptions{Divergence: "kl"}, false},
		{DPOOptions{Beta: -1}, false},
	} {
		if err := tc.o.Validate(); (err == nil) != tc.ok {
			t.Errorf("%+v: Validate() = %v, want ok=%v", tc.o, err, tc.ok)
		}
	}
}
