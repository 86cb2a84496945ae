// Package pipeline is the vlm plugin's method, one function per mode:
// Generate draws the planted images and questions; Train runs Molmo's two
// stages (captions, then a mixture with pointing and counting) and
// evaluates the held-out images; Evaluate scores a model artifact; Ask
// answers prompts about user images named by a manifest.
package pipeline

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"time"

	"github.com/gomlx/gomlx/pkg/core/tensors"
	gomlxctx "github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/shammie-ml/shammie/plugins/vlm/internal/imageio"
	"github.com/shammie-ml/shammie/plugins/vlm/internal/model"
	"github.com/shammie-ml/shammie/plugins/vlm/internal/planted"
	"github.com/shammie-ml/shammie/sdk"
	"github.com/shammie-ml/shammie/sdk/ml"
)

// Generate writes the planted bundle and examples.
func Generate(run *sdk.Run, o planted.Options) error {
	o.Seed = run.Seed
	d, err := planted.Generate(o)
	if err != nil {
		return err
	}
	if err := run.WriteArtifact("images", "images.safetensors", func(path string) error {
		return planted.WriteBundle(path, d.Size, d.Pixels, d.Masks)
	}); err != nil {
		return err
	}
	if err := run.WriteArtifact("examples", "examples.jsonl", func(path string) error {
		return writeJSONL(path, d.Examples)
	}); err != nil {
		return err
	}
	counts := map[string]int{}
	for _, e := range d.Examples {
		counts[e.Task+"/"+e.Split]++
	}
	run.Logf("generated %d images of %d×%d with %d objects; examples %v", o.Images, d.Size, d.Size, len(d.Masks), counts)
	return run.Output("examples", num(float64(len(d.Examples))))
}

func writeJSONL[T any](path string, rows []T) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(f)
	for _, r := range rows {
		if err := enc.Encode(r); err != nil {
			f.Close()
			return err
		}
	}
	return f.Close()
}

// Data is a bundle with its examples, split.
type Data struct {
	Bundle      *planted.Bundle
	Train, Test []planted.Example
}

// LoadData reads a bundle and its examples.
func LoadData(images, examples string) (*Data, error) {
	b, err := planted.ReadBundle(images)
	if err != nil {
		return nil, err
	}
	exs, err := planted.ReadExamples(examples, b)
	if err != nil {
		return nil, err
	}
	d := &Data{Bundle: b}
	for _, e := range exs {
		if e.Split == "test" {
			d.Test = append(d.Test, e)
		} else {
			d.Train = append(d.Train, e)
		}
	}
	if len(d.Train) == 0 {
		return nil, fmt.Errorf("%s: no training examples (split \"train\")", examples)
	}
	return d, nil
}

func (d *Data) example(e planted.Example) model.Example {
	b := d.Bundle
	return model.Example{Image: model.Image{H: b.H, W: b.W, Pix: b.Image(e.Image)}, Prompt: e.Prompt, Answer: e.Answer}
}

// TrainOptions of the train mode.
type TrainOptions struct {
	Model       model.Config
	Caption     ml.TrainConfig // stage 1: captions only
	Mixture     ml.TrainConfig // stage 2: the mixture
	Mix         [3]float64     // caption, point, count weights of stage 2
	LRViT       float64        // multipliers of the LM's learning rate
	LRConnector float64
	// OneObjectSteps: the first stage-2 steps draw only from one-object
	// images (a curriculum; 0: none).
	OneObjectSteps int
	Batch          int
	EvalItems      int
	// EvalEvery: stage 2 scores the held-out questions every so many
	// steps, as metrics eval/pointing_f1, … (0: only after training).
	EvalEvery int
	Version   string
}

// scopes of the learning-rate groups.
func lrGroups(o TrainOptions) []ml.LRGroup {
	return []ml.LRGroup{{Scope: "/" + model.Root + "/" + model.ViTScope, Scale: o.LRViT},
		{Scope: "/" + model.Root + "/" + model.ConnScope, Scale: o.LRConnector}}
}

// Train trains, saves and evaluates the model.
func Train(goctx context.Context, run *sdk.Run, images, examples string, o TrainOptions) error {
	d, err := LoadData(images, examples)
	if err != nil {
		return err
	}
	backend, release, err := ml.AcquireBackend(run.Backend)
	if err != nil {
		return err
	}
	defer release()
	m, err := model.New(o.Model)
	if err != nil {
		return err
	}
	layout, err := m.Layout(d.Bundle.H, d.Bundle.W)
	if err != nil {
		return err
	}
	seq, err := windowLen(m, layout, d.Train)
	if err != nil {
		return err
	}
	if seq > o.Model.LM.MaxSeqLen {
		return fmt.Errorf("the longest example takes %d tokens (%d image tokens) but seq is %d: raise seq", seq, len(layout.Tokens), o.Model.LM.MaxSeqLen)
	}
	run.Logf("images %d×%d: tiling %d×%d (resized %d×%d), %d crops of %d px, %d pooled image tokens, %d layout tokens; windows of %d tokens",
		d.Bundle.H, d.Bundle.W, layout.Tiling.Rows, layout.Tiling.Cols, layout.Tiling.ResizedH, layout.Tiling.ResizedW,
		layout.Crops, o.Model.Tiling.Crop, layout.Pooled, len(layout.Tokens), seq)
	root := gomlxctx.New()
	ml.SetInitSeed(root, run.Seed)
	ctx := root.In(model.Root)
	byTask := map[string][]planted.Example{}
	for _, e := range d.Train {
		byTask[e.Task] = append(byTask[e.Task], e)
	}
	mixture := [][]planted.Example{byTask["caption"], byTask["point"], byTask["count"]}
	// The held-out questions and the answerer serve the probes and the final
	// evaluation alike; the answerer is built when first needed.
	q, err := heldOut(d, o.EvalItems)
	if err != nil {
		return err
	}
	var a *model.Answerer
	answerer := func() (*model.Answerer, error) {
		var err error
		if a == nil {
			a, err = m.NewAnswerer(backend, ctx)
		}
		return a, err
	}
	mixCfg := o.Mixture
	if o.EvalEvery > 0 {
		mixCfg.EvalEvery, mixCfg.Probe = o.EvalEvery, probe(run, answerer, m, d, layout, q, mixCfg.Steps)
	}
	stages := []struct {
		name  string
		cfg   ml.TrainConfig
		pools [][]planted.Example
		mix   []float64
		// early replaces pools for the stage's first earlySteps steps.
		early      [][]planted.Example
		earlySteps int
	}{
		{"captions", o.Caption, [][]planted.Example{byTask["caption"]}, []float64{1}, nil, 0},
		{"mixture", mixCfg, mixture, o.Mix[:], oneObject(d.Train, mixture), o.OneObjectSteps},
	}
	var final float64
	for si, st := range stages {
		if st.cfg.Steps == 0 || len(st.pools[0]) == 0 && len(st.pools) == 1 {
			continue
		}
		cfg := st.cfg
		cfg.LRGroups = lrGroups(o)
		if run.StateDir != "" {
			cfg.CheckpointDir = fmt.Sprintf("%s/stage%d", run.StateDir, si+1)
		}
		run.Logf("stage %d (%s): %d steps, lr %g (ViT ×%g, connector ×%g)", si+1, st.name, cfg.Steps, cfg.LR, o.LRViT, o.LRConnector)
		tr, err := ml.NewTrainer(backend, ctx, m.Loss, cfg, prefixed{run, st.name})
		if err != nil {
			return err
		}
		var all []planted.Example
		for i, p := range st.pools {
			if st.mix[i] > 0 {
				all = append(all, p...)
			}
		}
		stSeq, err := windowLen(m, layout, all)
		if err != nil {
			return err
		}
		lens, err := poolLens(m, layout, st.pools)
		if err != nil {
			return err
		}
		earlyLens, err := poolLens(m, layout, st.early)
		if err != nil {
			return err
		}
		if st.earlySteps > 0 {
			run.Logf("stage %d (%s): the first %d steps on one-object images (%d of the stage's %d examples)",
				si+1, st.name, min(st.earlySteps, cfg.Steps), total(st.early), total(st.pools))
		}
		seed := uint64(run.Seed)*7919 + uint64(si)
		batches := ml.BatchFunc(func(i int) ([]*tensors.Tensor, error) {
			r := rand.New(rand.NewPCG(seed, uint64(i)))
			pools, ls := st.pools, lens
			if i < st.earlySteps && total(st.early) > 0 {
				pools, ls = st.early, earlyLens
			}
			exs := make([]model.Example, o.Batch)
			longest := 0
			for k := range exs {
				pi := pick(r, st.mix, pools)
				j := r.IntN(len(pools[pi]))
				exs[k] = d.example(pools[pi][j])
				longest = max(longest, ls[pi][j])
			}
			return m.Batch(layout, exs, bucket(longest, stSeq))
		})
		res, err := tr.Train(goctx, batches, nil)
		if err != nil {
			return fmt.Errorf("stage %d (%s): %w", si+1, st.name, err)
		}
		final = res.FinalLoss
		run.Logf("stage %d (%s) done: final loss %.4f, %s a step", si+1, st.name, final, res.StepTime.Round(time.Millisecond))
		// Stage 2 starts a fresh optimizer (Molmo's fine-tuning is a new run).
		for _, v := range ml.VariablesUnder(root, ml.OptimizerScope) {
			_ = root.DeleteVariable(v.Scope(), v.Name())
		}
	}
	if err := goctx.Err(); err != nil {
		return err
	}
	if err := run.WriteArtifact("model", "model.safetensors", func(path string) error {
		return m.Save(path, ctx, map[string]string{"plugin": "vlm " + o.Version})
	}); err != nil {
		return err
	}
	if a, err = answerer(); err != nil {
		return err
	}
	outs, err := evaluate(run, a, m, d, layout, q)
	if err != nil {
		return err
	}
	outs["final_loss"] = num(final)
	return run.Outputs(outs)
}

// probe scores the held-out questions q during training (the final
// evaluation scores the last step).
func probe(run *sdk.Run, answerer func() (*model.Answerer, error), m *model.Model, d *Data, l *model.Layout, q questions, last int) func(int) ([]ml.NamedValue, error) {
	return func(step int) ([]ml.NamedValue, error) {
		if step == last {
			return nil, nil
		}
		a, err := answerer()
		if err != nil {
			return nil, err
		}
		ms, _, err := q.score(a, m, d, l, func(int, int) {})
		if err != nil {
			return nil, err
		}
		mi := ms.Misses
		run.Logf("step %d: held out: pointing F1 %.3f (centre %.3f; points %.0f%% on a named object, %.0f%% on another, %.0f%% on the background; F1 by objects %s), counting exact %.3f",
			step, ms.Pointing.F1, ms.Centre.F1, 100*mi.OnTarget, 100*mi.OnOther, 100*mi.OnBackground, byObjects(mi), ms.CountExact)
		return []ml.NamedValue{{Name: "pointing_f1", Value: ms.Pointing.F1}, {Name: "count_exact", Value: ms.CountExact},
			{Name: "on_target", Value: mi.OnTarget}, {Name: "on_background", Value: mi.OnBackground}}, nil
	}
}

// oneObject keeps, of each pool, the examples about images with exactly one
// object (an image's objects: imageMasks, from its pointing questions).
func oneObject(train []planted.Example, pools [][]planted.Example) [][]planted.Example {
	objects, _ := imageMasks(train)
	out := make([][]planted.Example, len(pools))
	for i, p := range pools {
		for _, e := range p {
			if len(objects[e.Image]) == 1 {
				out[i] = append(out[i], e)
			}
		}
	}
	return out
}

func total[T any](pools [][]T) int {
	n := 0
	for _, p := range pools {
		n += len(p)
	}
	return n
}

// pick draws a pool index by the mixture weights (empty pools never).
func pick[T any](r *rand.Rand, w []float64, pools [][]T) int {
	total := 0.0
	for i, x := range w {
		if len(pools[i]) > 0 {
			total += x
		}
	}
	u := r.Float64() * total
	last := 0
	for i, x := range w {
		if len(pools[i]) == 0 {
			continue
		}
		last = i
		if u < x {
			return i
		}
		u -= x
	}
	return last
}

// poolLens are the token counts of the pools' examples.
func poolLens(m *model.Model, l *model.Layout, pools [][]planted.Example) ([][]int, error) {
	out := make([][]int, len(pools))
	for i, p := range pools {
		out[i] = make([]int, len(p))
		for j := range p {
			n, err := windowLen(m, l, p[j:j+1])
			if err != nil {
				return nil, err
			}
			out[i][j] = n
		}
	}
	return out, nil
}

// bucket is the window of a batch whose longest example takes n tokens:
// n rounded up to a multiple of 16, at most the stage's longest. Every
// padded position costs a step's time (the matmuls and attention run over
// it), so batches are padded to their own longest example, not the
// stage's; the rounding keeps the compiled graphs few (one per bucket).
func bucket(n, longest int) int {
	return min((n+15)/16*16, longest)
}

// windowLen is the longest example's token count.
func windowLen(m *model.Model, l *model.Layout, exs []planted.Example) (int, error) {
	n := 0
	for _, e := range exs {
		t, _, err := m.Encode(l, e.Prompt, e.Answer)
		if err != nil {
			return 0, err
		}
		n = max(n, len(t))
	}
	return n, nil
}

// Evaluate scores a model artifact on the held-out examples.
func Evaluate(run *sdk.Run, modelPath, images, examples string, items int) error {
	d, err := LoadData(images, examples)
	if err != nil {
		return err
	}
	backend, release, err := ml.AcquireBackend(run.Backend)
	if err != nil {
		return err
	}
	defer release()
	root := gomlxctx.New()
	ctx := root.In(model.Root)
	m, _, err := model.Load(modelPath, ctx)
	if err != nil {
		return err
	}
	layout, err := m.Layout(d.Bundle.H, d.Bundle.W)
	if err != nil {
		return err
	}
	q, err := heldOut(d, items)
	if err != nil {
		return err
	}
	a, err := m.NewAnswerer(backend, ctx)
	if err != nil {
		return err
	}
	outs, err := evaluate(run, a, m, d, layout, q)
	if err != nil {
		return err
	}
	return run.Outputs(outs)
}

// Ask answers the prompts of a manifest of user images.
func Ask(run *sdk.Run, modelPath, manifest string, maxNew int) error {
	items, err := imageio.LoadManifest(manifest)
	if err != nil {
		return err
	}
	backend, release, err := ml.AcquireBackend(run.Backend)
	if err != nil {
		return err
	}
	defer release()
	root := gomlxctx.New()
	ctx := root.In(model.Root)
	m, _, err := model.Load(modelPath, ctx)
	if err != nil {
		return err
	}
	a, err := m.NewAnswerer(backend, ctx)
	if err != nil {
		return err
	}
	type row struct {
		Image  string       `json:"image"`
		Prompt string       `json:"prompt"`
		Answer string       `json:"answer"`
		Points [][2]float64 `json:"points"`
		Count  *int         `json:"count,omitempty"`
		Error  string       `json:"format_error,omitempty"`
	}
	var rows []row
	for i, it := range items {
		l, err := m.Layout(it.Img.H, it.Img.W)
		if err != nil {
			return fmt.Errorf("%s: %w", it.Path, err)
		}
		if need := len(l.Tokens) + len(it.Prompt) + maxNew; need > m.Config.LM.MaxSeqLen {
			return fmt.Errorf("%s: %d×%d gives %d image tokens; with the prompt and %d new tokens that exceeds the model's %d positions",
				it.Path, it.Img.H, it.Img.W, len(l.Tokens), maxNew, m.Config.LM.MaxSeqLen)
		}
		ans, err := a.Answer(l, []model.Example{{Image: it.Img, Prompt: it.Prompt}}, maxNew)
		if err != nil {
			return fmt.Errorf("%s: %w", it.Path, err)
		}
		r := row{Image: it.Image, Prompt: it.Prompt, Answer: ans[0], Points: [][2]float64{}}
		fillPoints(ans[0], &r.Points, &r.Error)
		if strings.HasPrefix(it.Prompt, "How many") {
			if n, ok := countOf(ans[0]); ok {
				r.Count = &n
			}
		}
		rows = append(rows, r)
		run.Progress("answering", int64(i+1), int64(len(items)), "images")
	}
	if err := run.WriteArtifact("answers", "answers.jsonl", func(path string) error { return writeJSONL(path, rows) }); err != nil {
		return err
	}
	return run.Output("answered", num(float64(len(rows))))
}

// prefixed reports a stage's metrics under the stage's name.
type prefixed struct {
	sdk.Reporter
	stage string
}

func (p prefixed) Metric(name string, step int64, value float64) {
	p.Reporter.Metric(p.stage+"/"+name, step, value)
}

func (p prefixed) Progress(stage string, done, total int64, unit string) {
	p.Reporter.Progress(p.stage+" "+stage, done, total, unit)
}
