package ml

import (
	gocontext "context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/shammie-ml/shammie/sdk"
)

// TrainConfig configures Trainer. Zero values take the documented defaults.
type TrainConfig struct {
	Steps       int     // optimizer steps (required)
	LR          float64 // peak learning rate (default 1e-3)
	WarmupSteps int     // linear warmup from 0 (default 0)
	// MinLRRatio is the cosine schedule's floor as a fraction of LR
	// (default 0.1); the cosine runs from the end of warmup to Steps.
	MinLRRatio float64
	// WeightDecay is AdamW's decoupled decay, applied to weights of rank ≥ 2
	// only (not to norm gains). Default 0.
	WeightDecay       float64
	Beta1, Beta2, Eps float64 // defaults 0.9, 0.95, 1e-8
	ClipNorm          float64 // global gradient-norm clip; 0: none
	AccumSteps        int     // micro-batches per optimizer step (default 1)
	EvalEvery         int     // steps between evaluations (0: only at the end, if an eval set or Probe is given)
	CheckpointEvery   int     // steps between checkpoints (0: only at the end and on cancellation)
	CheckpointDir     string  // "" disables checkpoints and resume
	KeepCheckpoints   int     // newest checkpoints kept (default 2)
	MetricsEvery      int     // steps between train metrics (default 1)
	// Probe, if set, runs beside the eval set's loss (every EvalEvery steps
	// and at the end) and its values are reported as eval/<name>: scores a
	// loss cannot give, such as those of generated answers.
	Probe func(step int) ([]NamedValue, error)
	// ModelConfig, if set, is written as config.json in every checkpoint.
	ModelConfig any
	// Trainable, if not empty, lists the scopes (e.g. "/policy") whose
	// variables the optimizer updates; every other variable is frozen, even
	// when the loss reads it. Empty: every trainable variable the loss reads.
	// Variables the loss does not read are never updated (nor decayed).
	Trainable []string
	// LRGroups scale the learning rate (and so the decay) of the variables
	// under a scope; the longest matching scope wins, others get scale 1.
	LRGroups []LRGroup
}

// LRGroup is a per-scope learning-rate multiplier: a variable under Scope
// (e.g. "/vlm/projector") trains at Scale·lr(step).
type LRGroup struct {
	Scope string
	Scale float64
}

func (c TrainConfig) withDefaults() TrainConfig {
	if c.LR == 0 {
		c.LR = 1e-3
	}
	if c.MinLRRatio == 0 {
		c.MinLRRatio = 0.1
	}
	if c.Beta1 == 0 {
		c.Beta1 = 0.9
	}
	if c.Beta2 == 0 {
		c.Beta2 = 0.95
	}
	if c.Eps == 0 {
		c.Eps = 1e-8
	}
	if c.AccumSteps == 0 {
		c.AccumSteps = 1
	}
	if c.KeepCheckpoints == 0 {
		c.KeepCheckpoints = 2
	}
	if c.MetricsEvery == 0 {
		c.MetricsEvery = 1
	}
	return c
}

// LRAt is the learning rate of optimizer step (1-based): linear warmup, then
// cosine decay to MinLRRatio·LR at Steps.
func (c TrainConfig) LRAt(step int) float64 {
	c = c.withDefaults()
	if c.WarmupSteps > 0 && step <= c.WarmupSteps {
		return c.LR * float64(step) / float64(c.WarmupSteps)
	}
	span := c.Steps - c.WarmupSteps
	if span <= 0 {
		return c.LR
	}
	p := math.Min(1, float64(step-c.WarmupSteps)/float64(span))
	floor := c.LR * c.MinLRRatio
	return floor + (c.LR-floor)*0.5*(1+math.Cos(math.Pi*p))
}

// LossFn builds the scalar training loss from one micro-batch (the tensors a
// Batches yields, as graph inputs). Auxiliary losses registered with
// AddAuxLoss while building are added to it by the trainer.
type LossFn func(ctx *context.Context, batch []*graph.Node) *graph.Node

// Trainer runs AdamW on every trainable variable of a context outside the
// "/optimizer" scope.
type Trainer struct {
	backend backends.Backend
	ctx     *context.Context
	loss    LossFn
	cfg     TrainConfig
	rep     sdk.Reporter

	step     *context.Exec // fused micro-step + update (AccumSteps == 1)
	accum    *context.Exec // micro-step adding into accumulators
	apply    *context.Exec // update from accumulators
	evalExec *context.Exec
	auxNames []string
	// metricNames are the AddMetric names of the training graph, in order.
	metricNames     []string
	evalMetricNames []string
	// accVars are the variables the accumulating graph adds gradients for:
	// the apply graph updates exactly those (and so agrees with the fused
	// path, which updates what the loss reads).
	accVars []*context.Variable
}

// OptimizerScope holds AdamW's moments ("m", "v") and gradient accumulators
// ("acc"), mirroring each variable's scope below it.
const OptimizerScope = "/optimizer"

// NewTrainer prepares the training graphs (compiled lazily on first use).
func NewTrainer(backend backends.Backend, ctx *context.Context, loss LossFn, cfg TrainConfig, rep sdk.Reporter) (*Trainer, error) {
	cfg = cfg.withDefaults()
	if cfg.Steps <= 0 {
		return nil, fmt.Errorf("train config: steps must be > 0, got %d", cfg.Steps)
	}
	if cfg.AccumSteps < 0 || cfg.ClipNorm < 0 || cfg.LR < 0 {
		return nil, fmt.Errorf("train config: accum_steps, clip_norm and lr must be >= 0")
	}
	for _, s := range cfg.Trainable {
		if !strings.HasPrefix(s, context.ScopeSeparator) {
			return nil, fmt.Errorf("train config: trainable scope %q must be absolute (start with %q)", s, context.ScopeSeparator)
		}
	}
	for _, g := range cfg.LRGroups {
		if !strings.HasPrefix(g.Scope, context.ScopeSeparator) || g.Scale < 0 {
			return nil, fmt.Errorf("train config: learning-rate group %q×%v: the scope must be absolute and the scale ≥ 0", g.Scope, g.Scale)
		}
	}
	if rep == nil {
		rep = sdk.Discard
	}
	t := &Trainer{backend: backend, ctx: ctx, loss: loss, cfg: cfg, rep: rep}
	var err error
	if cfg.AccumSteps == 1 {
		t.step, err = context.NewExec(backend, ctx, t.fusedGraph)
	} else {
		t.accum, err = context.NewExec(backend, ctx, t.accumGraph)
		if err == nil {
			t.apply, err = context.NewExec(backend, ctx, t.applyGraph)
		}
	}
	if err != nil {
		return nil, err
	}
	t.evalExec, err = context.NewExec(backend, ctx, func(ctx *context.Context, batch []*graph.Node) []*graph.Node {
		loss := t.loss(ctx, batch)
		out := []*graph.Node{loss}
		t.evalMetricNames = nil
		for _, m := range Metrics(ctx, loss.Graph()) {
			out = append(out, graph.ConvertDType(m.Node, loss.DType()))
			t.evalMetricNames = append(t.evalMetricNames, m.Name)
		}
		return out
	})
	return t, err
}

// trainable lists the variables the optimizer updates in g, by tensor name:
// trainable, read by the loss graph, outside the optimizer's scope and
// inside one of cfg.Trainable if given.
func (t *Trainer) trainable(g *graph.Graph) []*context.Variable {
	var out []*context.Variable
	for v := range t.ctx.IterVariables() {
		if !v.Trainable || strings.HasPrefix(v.Scope(), OptimizerScope) || !v.InUseByGraph(g) || !t.inTrainableScope(v) {
			continue
		}
		out = append(out, v)
	}
	if len(out) == 0 {
		panic(fmt.Errorf("ml.Trainer: the loss reads no variable to train (trainable scopes: %v)", t.cfg.Trainable))
	}
	sort.Slice(out, func(i, j int) bool { return TensorName(out[i]) < TensorName(out[j]) })
	return out
}

func (t *Trainer) inTrainableScope(v *context.Variable) bool {
	if len(t.cfg.Trainable) == 0 {
		return true
	}
	for _, s := range t.cfg.Trainable {
		if underScope(v.Scope(), strings.TrimSuffix(s, context.ScopeSeparator)) || s == context.RootScope {
			return true
		}
	}
	return false
}

// lrScale is the LRGroups multiplier of v (longest matching scope).
func (t *Trainer) lrScale(v *context.Variable) float64 {
	scale, best := 1.0, -1
	for _, g := range t.cfg.LRGroups {
		s := strings.TrimSuffix(g.Scope, context.ScopeSeparator)
		if (s == "" || underScope(v.Scope(), s)) && len(s) > best {
			scale, best = g.Scale, len(s)
		}
	}
	return scale
}

func (t *Trainer) stateVar(kind string, v *context.Variable) *context.Variable {
	return Weight(t.ctx.InAbsPath(OptimizerScope+"/"+kind+v.Scope()), v.Name(), v.Shape(), 0).SetTrainable(false)
}

// objective builds loss + aux losses and the gradients of the trainable
// variables; aux also holds the AddMetric values after the aux losses
// (t.auxNames and t.metricNames say which is which).
func (t *Trainer) objective(ctx *context.Context, batch []*graph.Node) (loss, total *graph.Node, aux []NamedNode, vars []*context.Variable, grads []*graph.Node) {
	g := batch[0].Graph()
	loss = t.loss(ctx, batch)
	if loss.Rank() != 0 {
		panic(fmt.Sprintf("ml.Trainer: the loss must be a scalar, got %s", loss.Shape()))
	}
	total = loss
	aux = AuxLosses(ctx, g)
	names := make([]string, len(aux))
	for i, a := range aux {
		total = graph.Add(total, graph.ConvertDType(a.Node, loss.DType()))
		names[i] = a.Name
	}
	t.auxNames = names
	metrics := Metrics(ctx, g)
	t.metricNames = nil
	for _, m := range metrics {
		t.metricNames = append(t.metricNames, m.Name)
	}
	aux = append(aux, metrics...)
	vars = t.trainable(g)
	nodes := make([]*graph.Node, len(vars))
	for i, v := range vars {
		nodes[i] = v.ValueGraph(g)
	}
	grads = graph.Gradient(total, nodes...)
	return
}

// update applies clipping and AdamW; hyper holds [lr, 1-β1^t, 1-β2^t].
// Returns the global gradient norm (before clipping).
//
// Every factor that is the same for all elements (the clip scale, the bias
// corrections, the learning rate and the decay) is folded into a few scalars
// first, so that each parameter sees 12 element-wise passes instead of the
// 19 of the textbook formulas (on the CPU backend each pass over the
// parameters costs as much as over an activation of that size):
//
//	m ← β1·m + ((1−β1)·c)·g                       (c: clip scale)
//	v ← β2·v + ((1−β2)·c²)·g²
//	p ← (1 − lr·wd)·p − (lr·√bc2/bc1) · m/(√v + ε·√bc2)
//
// which is p − lr·(m̂/(√v̂ + ε) + wd·p) with m̂ = m/bc1, v̂ = v/bc2.
func (t *Trainer) update(vars []*context.Variable, grads []*graph.Node, hyper *graph.Node) *graph.Node {
	g := hyper.Graph()
	c := t.cfg
	dt := grads[0].DType()
	hyper = graph.ConvertDType(hyper, dt)
	lr := graph.Reshape(graph.Slice(hyper, graph.AxisRange(0, 1)))
	bc1 := graph.Reshape(graph.Slice(hyper, graph.AxisRange(1, 2)))
	bc2 := graph.Reshape(graph.Slice(hyper, graph.AxisRange(2, 3)))
	squares := make([]*graph.Node, len(grads))
	var sq *graph.Node
	for i, gr := range grads {
		squares[i] = graph.Square(gr)
		// Σg² as g·g: simplego's small DotGeneral sums a contiguous vector
		// several times faster than its Reduce (see sumLastAxis).
		flat := graph.Reshape(gr, -1)
		s := graph.DotGeneral(flat, []int{0}, nil, flat, []int{0}, nil)
		if sq == nil {
			sq = s
		} else {
			sq = graph.Add(sq, s)
		}
	}
	norm := graph.Sqrt(sq)
	scale := graph.ScalarOne(g, dt)
	if c.ClipNorm > 0 {
		scale = graph.Min(scale, graph.Div(graph.Scalar(g, dt, c.ClipNorm), graph.AddScalar(norm, 1e-6)))
	}
	gScale := graph.MulScalar(scale, 1-c.Beta1)                // on g in m
	g2Scale := graph.MulScalar(graph.Square(scale), 1-c.Beta2) // on g² in v
	sqrtBC2 := graph.Sqrt(bc2)
	epsHat := graph.MulScalar(sqrtBC2, c.Eps)           // ε in √v's units
	stepScale := graph.Div(graph.Mul(lr, sqrtBC2), bc1) // lr·√bc2/bc1
	for i, v := range vars {
		mv, vv := t.stateVar("m", v), t.stateVar("v", v)
		m := graph.Add(graph.MulScalar(mv.ValueGraph(g), c.Beta1), graph.Mul(grads[i], gScale))
		s := graph.Add(graph.MulScalar(vv.ValueGraph(g), c.Beta2), graph.Mul(squares[i], g2Scale))
		mv.SetValueGraph(m)
		vv.SetValueGraph(s)
		q := graph.Div(m, graph.Add(graph.Sqrt(s), epsHat))
		p := v.ValueGraph(g)
		vlr, vstep := lr, stepScale
		if sc := t.lrScale(v); sc != 1 {
			vlr, vstep = graph.MulScalar(lr, sc), graph.MulScalar(stepScale, sc)
		}
		if c.WeightDecay > 0 && v.Shape().Rank() >= 2 {
			p = graph.Mul(p, graph.OneMinus(graph.MulScalar(vlr, c.WeightDecay)))
		}
		v.SetValueGraph(graph.Sub(p, graph.Mul(q, vstep)))
	}
	return norm
}

func (t *Trainer) fusedGraph(ctx *context.Context, in []*graph.Node) []*graph.Node {
	hyper, batch := in[0], in[1:]
	loss, _, aux, vars, grads := t.objective(ctx, batch)
	norm := t.update(vars, grads, hyper)
	out := []*graph.Node{loss, graph.ConvertDType(norm, loss.DType())}
	for _, a := range aux {
		out = append(out, graph.ConvertDType(a.Node, loss.DType()))
	}
	return out
}

func (t *Trainer) accumGraph(ctx *context.Context, batch []*graph.Node) []*graph.Node {
	g := batch[0].Graph()
	loss, _, aux, vars, grads := t.objective(ctx, batch)
	t.accVars = vars
	for i, v := range vars {
		acc := t.stateVar("acc", v)
		acc.SetValueGraph(graph.Add(acc.ValueGraph(g), grads[i]))
	}
	out := []*graph.Node{loss}
	for _, a := range aux {
		out = append(out, graph.ConvertDType(a.Node, loss.DType()))
	}
	return out
}

func (t *Trainer) applyGraph(ctx *context.Context, hyper *graph.Node) *graph.Node {
	g := hyper.Graph()
	vars := t.accVars
	if len(vars) == 0 {
		panic(errors.New("ml.Trainer: the update graph was built before the accumulation graph"))
	}
	grads := make([]*graph.Node, len(vars))
	for i, v := range vars {
		acc := t.stateVar("acc", v)
		a := acc.ValueGraph(g)
		grads[i] = graph.DivScalar(a, float64(t.cfg.AccumSteps))
		acc.SetValueGraph(graph.ZerosLike(a))
	}
	return t.update(vars, grads, hyper)
}

// TrainResult summarises a finished run.
type TrainResult struct {
	Steps       int     // optimizer steps done in total (including before a resume)
	ResumedFrom int     // step the run resumed from (0: fresh)
	FinalLoss   float64 // mean training loss of the last step
	EvalLoss    float64 // last evaluation loss (NaN without eval set)
	StepTime    time.Duration
}

// trainerState is state.json of a checkpoint.
type trainerState struct {
	Step int `json:"step"`
}

// Train runs until cfg.Steps, resuming from the newest checkpoint in
// CheckpointDir if there is one. eval (optional) is a list of batches whose
// mean loss is reported as "eval/loss". Metrics: "train/loss", "train/lr",
// "train/grad_norm", "aux/<name>", "eval/loss". A non-finite loss or
// gradient fails the run with the step number. When goctx is cancelled the
// trainer writes a checkpoint (if it has a directory) and returns ctx.Err().
func (t *Trainer) Train(goctx gocontext.Context, batches Batches, eval [][]*tensors.Tensor) (TrainResult, error) {
	c := t.cfg
	res := TrainResult{EvalLoss: math.NaN()}
	start := 0
	if c.CheckpointDir != "" {
		s, err := t.restore()
		if err != nil {
			return res, err
		}
		if s > 0 {
			t.rep.Logf("resuming from checkpoint at step %d", s)
		}
		start, res.ResumedFrom = s, s
	}
	res.Steps = start
	if start >= c.Steps {
		return res, nil
	}
	var timeSum time.Duration
	for step := start + 1; step <= c.Steps; step++ {
		if err := goctx.Err(); err != nil {
			if c.CheckpointDir != "" {
				if cerr := t.checkpoint(step - 1); cerr != nil {
					return res, errors.Join(err, cerr)
				}
			}
			return res, err
		}
		t0 := time.Now()
		sr, err := t.Step(step, batches)
		if err != nil {
			return res, err
		}
		loss, norm, lr := sr.Loss, sr.GradNorm, sr.LR
		timeSum += time.Since(t0)
		res.Steps, res.FinalLoss = step, loss
		if step%c.MetricsEvery == 0 || step == c.Steps {
			t.rep.Metric("train/loss", int64(step), loss)
			t.rep.Metric("train/lr", int64(step), lr)
			t.rep.Metric("train/grad_norm", int64(step), norm)
			for _, a := range sr.Aux {
				t.rep.Metric("aux/"+a.Name, int64(step), a.Value)
			}
			for _, m := range sr.Metrics {
				t.rep.Metric("train/"+m.Name, int64(step), m.Value)
			}
		}
		t.rep.Progress("train", int64(step), int64(c.Steps), "steps")
		evalNow := (c.EvalEvery > 0 && step%c.EvalEvery == 0) || step == c.Steps
		if len(eval) > 0 && evalNow {
			el, ms, err := t.EvaluateMetrics(eval)
			if err != nil {
				return res, fmt.Errorf("step %d: eval: %w", step, err)
			}
			res.EvalLoss = el
			t.rep.Metric("eval/loss", int64(step), el)
			for _, m := range ms {
				t.rep.Metric("eval/"+m.Name, int64(step), m.Value)
			}
		}
		if c.Probe != nil && evalNow {
			ms, err := c.Probe(step)
			if err != nil {
				return res, fmt.Errorf("step %d: probe: %w", step, err)
			}
			for _, m := range ms {
				t.rep.Metric("eval/"+m.Name, int64(step), m.Value)
			}
		}
		if c.CheckpointDir != "" && ((c.CheckpointEvery > 0 && step%c.CheckpointEvery == 0) || step == c.Steps) {
			if err := t.checkpoint(step); err != nil {
				return res, fmt.Errorf("step %d: checkpoint: %w", step, err)
			}
		}
	}
	res.StepTime = timeSum / time.Duration(c.Steps-start)
	return res, nil
}

// StepResult is what one optimizer step reports. Aux and Metrics are means
// over the step's micro-batches.
type StepResult struct {
	Loss, GradNorm, LR float64
	Aux                []NamedValue // AddAuxLoss values (part of the objective)
	Metrics            []NamedValue // AddMetric values (reported only)
}

// NamedValue is a named scalar.
type NamedValue struct {
	Name  string
	Value float64
}

// Step runs optimizer step `step` (1-based) on micro-batches
// (step-1)·AccumSteps … step·AccumSteps-1 of batches, and fails, naming the
// step, if the loss or the gradient norm is not finite. Train calls it; it
// is public for benchmarks and custom loops.
func (t *Trainer) Step(step int, batches Batches) (StepResult, error) {
	c := t.cfg
	lr := c.LRAt(step)
	hyper := tensors.FromValue([]float32{float32(lr), float32(1 - math.Pow(c.Beta1, float64(step))), float32(1 - math.Pow(c.Beta2, float64(step)))})
	var loss, norm float64
	var auxSum []float64
	if c.AccumSteps == 1 {
		b, err := batches.Batch(step - 1)
		if err != nil {
			return StepResult{}, fmt.Errorf("step %d: batch: %w", step, err)
		}
		outs, err := t.step.Exec(append([]any{hyper}, tensorsAny(b)...)...)
		if err != nil {
			return StepResult{}, fmt.Errorf("step %d: %w", step, err)
		}
		loss, norm = scalarOf(outs[0]), scalarOf(outs[1])
		for _, o := range outs[2:] {
			auxSum = append(auxSum, scalarOf(o))
		}
		finalize(outs)
	} else {
		for micro := range c.AccumSteps {
			b, err := batches.Batch((step-1)*c.AccumSteps + micro)
			if err != nil {
				return StepResult{}, fmt.Errorf("step %d: batch: %w", step, err)
			}
			outs, err := t.accum.Exec(tensorsAny(b)...)
			if err != nil {
				return StepResult{}, fmt.Errorf("step %d: %w", step, err)
			}
			loss += scalarOf(outs[0]) / float64(c.AccumSteps)
			for i, o := range outs[1:] {
				if len(auxSum) <= i {
					auxSum = append(auxSum, 0)
				}
				auxSum[i] += scalarOf(o) / float64(c.AccumSteps)
			}
			finalize(outs)
		}
		outs, err := t.apply.Exec(hyper)
		if err != nil {
			return StepResult{}, fmt.Errorf("step %d: %w", step, err)
		}
		norm = scalarOf(outs[0])
		finalize(outs)
	}
	if math.IsNaN(loss) || math.IsInf(loss, 0) || math.IsNaN(norm) || math.IsInf(norm, 0) {
		return StepResult{}, fmt.Errorf("step %d: training diverged: loss=%v, gradient norm=%v (lower the learning rate or clip gradients)", step, loss, norm)
	}
	sr := StepResult{Loss: loss, GradNorm: norm, LR: lr}
	for i, a := range auxSum {
		switch {
		case i < len(t.auxNames):
			sr.Aux = append(sr.Aux, NamedValue{t.auxNames[i], a})
		case i-len(t.auxNames) < len(t.metricNames):
			sr.Metrics = append(sr.Metrics, NamedValue{t.metricNames[i-len(t.auxNames)], a})
		}
	}
	return sr, nil
}

// Evaluate returns the mean loss over the batches (no update).
func (t *Trainer) Evaluate(batches [][]*tensors.Tensor) (float64, error) {
	l, _, err := t.EvaluateMetrics(batches)
	return l, err
}

// EvaluateMetrics returns the mean loss and the mean of every AddMetric
// value over the batches (no update).
func (t *Trainer) EvaluateMetrics(batches [][]*tensors.Tensor) (float64, []NamedValue, error) {
	var sum float64
	var msum []float64
	for i, b := range batches {
		outs, err := t.evalExec.Exec(tensorsAny(b)...)
		if err != nil {
			return 0, nil, fmt.Errorf("eval batch %d: %w", i, err)
		}
		v := scalarOf(outs[0])
		for j, o := range outs[1:] {
			if len(msum) <= j {
				msum = append(msum, 0)
			}
			msum[j] += scalarOf(o)
		}
		finalize(outs)
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return 0, nil, fmt.Errorf("eval batch %d: loss is %v", i, v)
		}
		sum += v
	}
	n := float64(len(batches))
	var ms []NamedValue
	for j, m := range msum {
		if j < len(t.evalMetricNames) {
			ms = append(ms, NamedValue{t.evalMetricNames[j], m / n})
		}
	}
	return sum / n, ms, nil
}

// Checkpoint layout, inside CheckpointDir:
//
//	step-00000100/model.safetensors      every variable outside /optimizer
//	step-00000100/optimizer.safetensors  AdamW moments under "optimizer.m.*", "optimizer.v.*"
//	step-00000100/state.json             {"step": 100}
//	step-00000100/config.json            TrainConfig.ModelConfig, if set
//	latest                               the name of the newest complete checkpoint
//
// A checkpoint directory is written under a temporary name and renamed when
// complete; "latest" is replaced atomically afterwards. A crash at any point
// leaves the previous checkpoint usable.
const latestFile = "latest"

func (t *Trainer) checkpoint(step int) error {
	dir := t.cfg.CheckpointDir
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	name := fmt.Sprintf("step-%08d", step)
	final := filepath.Join(dir, name)
	if _, err := os.Stat(final); err == nil {
		return nil // already written (e.g. cancelled right after a checkpoint)
	}
	tmp, err := os.MkdirTemp(dir, ".tmp-"+name+"-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	meta := map[string]string{"format": "shammie-ml/1", "step": fmt.Sprint(step)}
	if err := SaveModelVariables(filepath.Join(tmp, "model.safetensors"), t.ctx, meta); err != nil {
		return err
	}
	if err := SaveVariables(filepath.Join(tmp, "optimizer.safetensors"), t.ctx, OptimizerScope, meta); err != nil {
		return err
	}
	st, _ := json.Marshal(trainerState{Step: step})
	if err := writeFileAtomic(filepath.Join(tmp, "state.json"), st); err != nil {
		return err
	}
	if t.cfg.ModelConfig != nil {
		b, err := json.MarshalIndent(t.cfg.ModelConfig, "", "  ")
		if err != nil {
			return err
		}
		if err := writeFileAtomic(filepath.Join(tmp, "config.json"), b); err != nil {
			return err
		}
	}
	if err := os.Rename(tmp, final); err != nil {
		return err
	}
	if err := writeFileAtomic(filepath.Join(dir, latestFile), []byte(name+"\n")); err != nil {
		return err
	}
	// Prune old checkpoints, newest kept.
	entries, _ := filepath.Glob(filepath.Join(dir, "step-*"))
	sort.Strings(entries)
	for len(entries) > t.cfg.KeepCheckpoints {
		if entries[0] != final {
			_ = os.RemoveAll(entries[0])
		}
		entries = entries[1:]
	}
	return nil
}

// LatestCheckpoint returns the newest complete checkpoint directory in dir,
// or "" if there is none.
func LatestCheckpoint(dir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dir, latestFile))
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	name := strings.TrimSpace(string(b))
	if name == "" || strings.ContainsAny(name, `/\`) {
		return "", fmt.Errorf("%s: corrupt checkpoint pointer %q", filepath.Join(dir, latestFile), name)
	}
	return filepath.Join(dir, name), nil
}

func (t *Trainer) restore() (int, error) {
	ck, err := LatestCheckpoint(t.cfg.CheckpointDir)
	if err != nil || ck == "" {
		return 0, err
	}
	b, err := os.ReadFile(filepath.Join(ck, "state.json"))
	if err != nil {
		return 0, fmt.Errorf("checkpoint %s: %w", ck, err)
	}
	var st trainerState
	if err := json.Unmarshal(b, &st); err != nil {
		return 0, fmt.Errorf("checkpoint %s/state.json: %w", ck, err)
	}
	if err := LoadVariables(filepath.Join(ck, "model.safetensors"), t.ctx, context.RootScope); err != nil {
		return 0, err
	}
	if err := LoadVariables(filepath.Join(ck, "optimizer.safetensors"), t.ctx, OptimizerScope); err != nil {
		return 0, err
	}
	for v := range t.ctx.IterVariables() {
		if strings.HasPrefix(v.Scope(), OptimizerScope) {
			v.SetTrainable(false)
		}
	}
	return st.Step, nil
}

// SaveModelVariables writes every variable outside /optimizer.
func SaveModelVariables(path string, ctx *context.Context, meta map[string]string) error {
	var ts []NamedTensor
	for _, v := range VariablesUnder(ctx, context.RootScope) {
		if strings.HasPrefix(v.Scope(), OptimizerScope) {
			continue
		}
		val, err := v.Value()
		if err != nil {
			return fmt.Errorf("variable %s: %w", v.ScopeAndName(), err)
		}
		ts = append(ts, NamedTensor{TensorName(v), val})
	}
	return WriteSafetensors(path, ts, meta)
}

func tensorsAny(ts []*tensors.Tensor) []any {
	out := make([]any, len(ts))
	for i, t := range ts {
		out[i] = t
	}
	return out
}

func scalarOf(t *tensors.Tensor) float64 {
	switch v := t.Value().(type) {
	case float32:
		return float64(v)
	case float64:
		return v
	default:
		panic(fmt.Sprintf("ml: expected a float scalar, got %s", t.Shape()))
	}
}

func finalize(ts []*tensors.Tensor) {
	for _, t := range ts {
		t.FinalizeAll()
	}
}
