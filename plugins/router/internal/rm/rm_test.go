package rm

import (
	"context"
	"testing"
	"time"

	"github.com/shammie-ml/shammie/plugins/router/internal/planted"
	"github.com/shammie-ml/shammie/plugins/router/internal/prefdata"
	"github.com/shammie-ml/shammie/sdk/ml"
)

func pairs(insts []prefdata.Instance, dim int) Pairs {
	a := make([]string, len(insts))
	b := make([]string, len(insts))
	for i, in := range insts {
		a[i], b[i] = in.A, in.B
	}
	return Pairs{N: len(insts), A: Represent(a, dim), B: Represent(b, dim)}
}

// TestLabelSourcesOnPlanted trains, in one batch, RMs on gold, human, LM and
// oracle-routed labels of the planted data and checks the ordering the
// router relies on: gold > oracle routing > {human, LM}.
func TestLabelSourcesOnPlanted(t *testing.T) {
	ds, err := planted.Generate(planted.Default(3000, 3))
	if err != nil {
		t.Fatal(err)
	}
	train, eval := ds.Instances[:2000], ds.Instances[2000:]
	cfg := DefaultConfig()
	n := len(train)
	labels := make([]float32, 4*n)
	for i, in := range train {
		planted := in.Tags["subject_of_expertise"][0] == "Medicine_and_health"
		labels[i] = float32(in.Gold)
		labels[n+i] = float32(in.Human)
		labels[2*n+i] = float32(in.LM)
		if planted {
			labels[3*n+i] = float32(in.Human)
		} else {
			labels[3*n+i] = float32(in.LM)
		}
	}
	gold := make([]float32, len(eval))
	for i, in := range eval {
		gold[i] = float32(in.Gold)
	}
	b, release, err := ml.AcquireBackend("go")
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	for _, hidden := range []int{0, 4} {
		cfg.Hidden = hidden
		if hidden > 0 {
			// The MLP costs ~H× the linear model per step: fewer steps
			// keep the test short and still separate the label sources.
			cfg.Steps = 50
		}
		start := time.Now()
		res, err := Train(context.Background(), b, cfg, Job{Train: pairs(train, cfg.Dim), Labels: labels, M: 4, Eval: pairs(eval, cfg.Dim), EvalLabels: gold}, nil)
		if err != nil {
			t.Fatal(err)
		}
		acc := res.Accuracy
		t.Logf("hidden=%d gold=%.3f human=%.3f lm=%.3f oracle=%.3f loss=%v (%v)", hidden, acc[0], acc[1], acc[2], acc[3], res.FinalLoss, time.Since(start))
		if !(acc[0] > acc[1] && acc[3] > acc[1] && acc[3] > acc[2]) {
			t.Errorf("hidden=%d: want gold, oracle routing > human, LM; got %v", hidden, acc)
		}
	}
}
