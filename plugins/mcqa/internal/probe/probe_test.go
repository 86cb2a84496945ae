package probe_test

import (
	"context"
	"fmt"
	"testing"

	gomlxctx "github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/shammie-ml/shammie/plugins/mcqa/internal/planted"
	"github.com/shammie-ml/shammie/plugins/mcqa/internal/probe"
	"github.com/shammie-ml/shammie/plugins/mcqa/internal/task"
	"github.com/shammie-ml/shammie/sdk/ml"
)

type quiet struct{ t *testing.T }

func (quiet) Progress(string, int64, int64, string) {}
func (q quiet) Metric(name string, step int64, v float64) {
	if (name == "train/loss" || name == "aux/leak") && step%50 == 0 {
		q.t.Logf("step %d %s %.4f", step, name, v)
	}
}
func (quiet) Logf(string, ...any) {}

// TestPlantedLayerIsFound trains the planted 4-layer model with the answer
// routed through the last-position attention output of layer L* only (a
// mask in training), for L* = 1 and 2, and checks the probes find it in the model as saved,
// run without the mask: residual patching flips from L* on,
// attention patching at L* flips, MLP patching stays below 0.2, the lens
// separates at or after L*.
func TestPlantedLayerIsFound(t *testing.T) {
	for _, star := range []int{1, 2} {
		t.Run(fmt.Sprintf("L*=%d", star), func(t *testing.T) { checkPlantedLayer(t, star) })
	}
}

func checkPlantedLayer(t *testing.T, star int) {
	backend, release, err := ml.AcquireBackend("go")
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	ctx := gomlxctx.New()
	o := planted.DefaultOptions(star, 1)
	o.Report = quiet{t}
	m, loss, err := planted.Train(context.Background(), backend, ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("final loss %.4f", loss)
	pm := probe.Model{M: m, Ctx: ctx, Backend: backend} // as saved: no mask
	pairs, err := task.Pairs(planted.Items(99, 64, 2), task.SymbolsAB, task.Compact, nil)
	if err != nil {
		t.Fatal(err)
	}
	rs, err := probe.Patch(pm, pairs)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 4 {
		t.Logf("%q base %.2f contrast %q %.2f", pairs[i].Base.Text, rs[i].Base.Logit, pairs[i].Contrast.Text, rs[i].Contrast.Logit)
	}
	s := probe.SummarisePatching(rs, 4)
	t.Logf("resid %.2f\nattn %.2f\nmlp %.2f\naccuracy %.2f consistency %.2f", s.NormLD["resid"], s.NormLD["attn"], s.NormLD["mlp"], s.Accuracy, s.Consistency)
	if s.Accuracy < 0.95 {
		t.Fatalf("planted model accuracy %.2f, want ≥ 0.95", s.Accuracy)
	}
	if d := s.DecisiveLayer(); d != star {
		t.Errorf("decisive layer %d, want %d", d, star)
	}
	for l := range 4 {
		if r := s.NormLD["resid"][l]; (l >= star) != (r > 0.8) {
			t.Errorf("residual patching at layer %d: %.2f (flip expected from layer %d on)", l, r, star)
		}
		if v := s.NormLD["mlp"][l]; v >= 0.2 {
			t.Errorf("MLP patching at layer %d: %.2f, want < 0.2", l, v)
		}
	}
	if v := s.NormLD["attn"][star]; v < 0.8 {
		t.Errorf("attention patching at L*: %.2f, want ≥ 0.8", v)
	}
	var prompts []task.Prompt
	var answers []int
	for _, p := range pairs {
		prompts, answers = append(prompts, p.Base, p.Contrast), append(answers, p.Base.Answer, p.Contrast.Answer)
	}
	lr, err := probe.Lens(pm, prompts)
	if err != nil {
		t.Fatal(err)
	}
	ls := probe.SummariseLens(lr, 4, m.Config.NumHeads, answers)
	t.Logf("lens accuracy resid %.2f attn %.2f mlp %.2f heads %.2f", ls.Accuracy["resid"], ls.Accuracy["attn"], ls.Accuracy["mlp"], ls.HeadAccuracy)
	if sep := ls.SeparationLayer(0.9); sep < star {
		t.Errorf("lens separation at layer %d, before L* = %d", sep, star)
	}
}
