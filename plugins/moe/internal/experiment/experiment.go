// Package experiment trains a byte-level MoE language model (the sdk/ml
// transformer with the moe feed-forward) on labelled domains and records the
// routing the analyses need: top-k choices on held-out text of every domain
// at several points of training, and the final ones.
package experiment

import (
	gocontext "context"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/shammie-ml/shammie/plugins/moe/internal/analysis"
	"github.com/shammie-ml/shammie/plugins/moe/internal/corpus"
	"github.com/shammie-ml/shammie/plugins/moe/internal/moe"
	"github.com/shammie-ml/shammie/sdk"
	"github.com/shammie-ml/shammie/sdk/ml"
)

// Options of one training run.
type Options struct {
	Layers, DModel, Heads int
	Seq, Batch            int
	MoE                   moe.Config // DModel and Layers are filled from above
	Loss                  moe.LossConfig
	Train                 ml.TrainConfig // Steps, LR, warmup… (AccumSteps must be 1)
	Seed                  int64
	// Snapshots is the number of routing snapshots taken during training
	// (evenly spaced, step 0 included; the final model is always recorded).
	Snapshots int
	// EvalWindows is the number of held-out windows of Seq tokens per domain
	// the routing is recorded on.
	EvalWindows int
	// RouterSkew adds this value to every input's weight towards expert 0 in
	// each layer's router at initialisation (tests: load collapse).
	RouterSkew float64
	// Precision of the matrix products: "" or "float32", or "bfloat16"
	// (ml.Config.ComputeDType).
	Precision string
}

// Snapshot is the routing of the evaluation tokens after Step updates.
type Snapshot struct {
	Step   int             `json:"step"`
	Layers []analysis.TopK `json:"layers"`
	// UsedRows is the mean number of rows the sparse path filled per layer
	// and evaluation batch.
	UsedRows float64 `json:"used_rows"`
}

// Result of a run.
type Result struct {
	Train     ml.TrainResult
	Snapshots []Snapshot // in step order; the last is the final model
	// EvalDomain and EvalToken label each evaluation token.
	EvalDomain []int
	EvalToken  []int
	Domains    []string
	// UsedRows is the mean number of expert rows the sparse path computed
	// per layer and step on the evaluation batches; DenseRows is what the
	// dense path computes (E·T). BoundRows is the static buffer size.
	UsedRows, DenseRows, BoundRows float64
	Model                          *ml.Transformer
	// Ctx holds the trained variables (for saving the model).
	Ctx *context.Context
}

// Final is the routing of the trained model.
func (r *Result) Final() Snapshot { return r.Snapshots[len(r.Snapshots)-1] }

// ModelConfig is the transformer config of the options.
func (o Options) ModelConfig() ml.Config {
	return ml.Config{VocabSize: 256, DModel: o.DModel, NumHeads: o.Heads, NumLayers: o.Layers, MaxSeqLen: o.Seq, DFF: o.MoE.Hidden,
		FFN: moe.Spec(o.moeConfig(), o.Loss), ComputeDType: o.Precision}
}

func (o Options) moeConfig() moe.Config {
	c := o.MoE
	c.DModel, c.Layers = o.DModel, o.Layers
	return c
}

// Validate checks what the pieces do not check themselves.
func (o Options) Validate() error {
	if o.Train.AccumSteps > 1 {
		return fmt.Errorf("accum_steps must be 1 for the MoE run (routing snapshots are taken between optimizer steps)")
	}
	if o.Seq < 2 || o.Batch < 1 {
		return fmt.Errorf("seq (%d) must be ≥ 2 and batch (%d) ≥ 1", o.Seq, o.Batch)
	}
	if err := o.moeConfig().Validate(); err != nil {
		return err
	}
	_, err := ml.NewTransformer(o.ModelConfig())
	return err
}

// snapshotSteps are the steps (updates done) at which routing is recorded.
func snapshotSteps(steps, n int) []int {
	if n < 2 {
		return []int{steps}
	}
	var out []int
	for j := range n {
		s := int(math.Round(float64(j) * float64(steps) / float64(n-1)))
		if len(out) == 0 || s != out[len(out)-1] {
			out = append(out, s)
		}
	}
	return out
}

// Run trains on the domains and records routing. stateDir ("" for none)
// keeps checkpoints and snapshots so that a rerun resumes.
func Run(goctx gocontext.Context, backend backends.Backend, domains []corpus.Domain, o Options, stateDir string, rep sdk.Reporter) (*Result, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	if rep == nil {
		rep = sdk.Discard
	}
	for _, d := range domains {
		if len(d.Train) <= o.Seq+1 {
			return nil, fmt.Errorf("domain %q: %d training bytes, need more than seq+1 = %d", d.Name, len(d.Train), o.Seq+1)
		}
	}
	mc := o.moeConfig()
	// The config names the MoE block (moe.Spec), so NewTransformer builds it
	// and the saved model file rebuilds it.
	model, err := ml.NewTransformer(o.ModelConfig())
	if err != nil {
		return nil, err
	}

	ctx := context.New()
	ml.SetInitSeed(ctx, o.Seed)
	if o.RouterSkew != 0 {
		if err := skewRouters(ctx, o, mc); err != nil {
			return nil, err
		}
	}

	tc := o.Train
	tc.AccumSteps = 1
	tc.ModelConfig = o.ModelConfig()
	if stateDir != "" {
		tc.CheckpointDir = filepath.Join(stateDir, "checkpoints")
		if tc.CheckpointEvery == 0 {
			tc.CheckpointEvery = max(tc.Steps/4, 1)
		}
	}
	trainer, err := ml.NewTrainer(backend, ctx, func(ctx *context.Context, batch []*graph.Node) *graph.Node {
		return model.LMLoss(ctx, batch[0], nil, nil)
	}, tc, rep)
	if err != nil {
		return nil, err
	}

	// Evaluation tokens: held-out windows of every domain.
	rows, rowDomain := corpus.EvalWindows(domains, o.Seq, o.EvalWindows)
	if len(rows) == 0 {
		return nil, fmt.Errorf("no evaluation windows: every domain's held-out tail is shorter than seq = %d", o.Seq)
	}
	res := &Result{Model: model, Ctx: ctx}
	for _, d := range domains {
		res.Domains = append(res.Domains, d.Name)
	}
	for i, row := range rows {
		for _, tok := range row {
			res.EvalDomain = append(res.EvalDomain, rowDomain[i])
			res.EvalToken = append(res.EvalToken, int(tok))
		}
	}
	router, err := newRouterProbe(backend, ctx, model, mc, o)
	if err != nil {
		return nil, err
	}

	snapDir := ""
	if stateDir != "" {
		snapDir = filepath.Join(stateDir, "snapshots")
		if err := os.MkdirAll(snapDir, 0o755); err != nil {
			return nil, err
		}
	}
	steps := snapshotSteps(tc.Steps, o.Snapshots)
	want := map[int]bool{}
	for _, s := range steps {
		want[s] = true
	}
	taken := map[int]Snapshot{}
	take := func(step int) error {
		if _, ok := taken[step]; ok {
			return nil
		}
		if snap, ok := loadSnapshot(snapDir, step); ok {
			taken[step] = snap
			return nil
		}
		layers, used, err := router.route(rows)
		if err != nil {
			return fmt.Errorf("routing snapshot at step %d: %w", step, err)
		}
		for l, r := range layers {
			rep.Metric(fmt.Sprintf("load/layer_%d/max_share", l), int64(step), analysis.MaxLoad(r))
		}
		snap := Snapshot{Step: step, Layers: layers, UsedRows: used}
		taken[step] = snap
		return saveSnapshot(snapDir, snap)
	}

	sampler := &corpus.Sampler{Domains: domains, Seed: o.Seed}
	// The trainer asks for batch i just before optimizer step i+1, i.e. after
	// i updates: the moment to record the routing of snapshot step i.
	batches := ml.BatchFunc(func(i int) ([]*tensors.Tensor, error) {
		if want[i] && i < tc.Steps {
			if err := take(i); err != nil {
				return nil, err
			}
		}
		toks, _ := sampler.Batch(i, o.Batch, o.Seq)
		return []*tensors.Tensor{tensors.FromValue(toks)}, nil
	})
	tr, err := trainer.Train(goctx, batches, nil)
	if err != nil {
		return nil, err
	}
	res.Train = tr
	if err := take(tc.Steps); err != nil {
		return nil, err
	}
	for _, s := range steps {
		snap, ok := taken[s]
		if !ok {
			// Recorded by an earlier, interrupted run of this step.
			snap, ok = loadSnapshot(snapDir, s)
		}
		if ok {
			res.Snapshots = append(res.Snapshots, snap)
		}
	}
	res.UsedRows = res.Final().UsedRows
	T := float64(o.EvalBatchRows() * o.Seq)
	res.DenseRows = float64(mc.Experts) * T
	res.BoundRows = float64(moe.NumBlocks(mc, int(T)) * moe.BlockSizeFor(mc, int(T)))
	return res, nil
}

// EvalBatchRows is the number of windows per routing-probe batch.
func (o Options) EvalBatchRows() int { return o.Batch }

func snapshotPath(dir string, step int) string {
	return filepath.Join(dir, fmt.Sprintf("step-%08d.json", step))
}

func loadSnapshot(dir string, step int) (Snapshot, bool) {
	var s Snapshot
	if dir == "" {
		return s, false
	}
	b, err := os.ReadFile(snapshotPath(dir, step))
	if err != nil || json.Unmarshal(b, &s) != nil || s.Step != step {
		return s, false
	}
	return s, true
}

func saveSnapshot(dir string, s Snapshot) error {
	if dir == "" {
		return nil
	}
	b, err := json.Marshal(s)
	if err != nil {
		return err
	}
	tmp := snapshotPath(dir, s.Step) + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, snapshotPath(dir, s.Step))
}

// routerProbe runs the model forward on evaluation windows and returns the
// captured top-k choices of every layer.
type routerProbe struct {
	exec *context.Exec
	o    Options
	mc   moe.Config
}

func newRouterProbe(backend backends.Backend, ctx *context.Context, model *ml.Transformer, mc moe.Config, o Options) (*routerProbe, error) {
	exec, err := context.NewExec(backend, ctx, func(ctx *context.Context, tokens *graph.Node) []*graph.Node {
		logits := model.Forward(ctx, ml.Inputs{Tokens: tokens}).Logits
		caps := map[string]*graph.Node{}
		for _, c := range ml.Captures(ctx, tokens.Graph()) {
			caps[c.Name] = c.Node
		}
		var out []*graph.Node
		for l := range o.Layers {
			out = append(out, caps[moe.CaptureTopK(l)])
		}
		for l := range o.Layers {
			out = append(out, caps[moe.CaptureUsedRows(l)])
		}
		// Keep the whole forward pass live: with the last layer's experts as
		// dead code, simplego (v0.26) failed with "index out of range" while
		// executing the remaining graph. The sum costs nothing.
		return append(out, graph.ReduceAllSum(logits))
	})
	if err != nil {
		return nil, err
	}
	return &routerProbe{exec: exec, o: o, mc: mc}, nil
}

// route returns per-layer top-k over all rows (in order) and the mean rows
// the sparse path filled per layer and batch.
func (p *routerProbe) route(rows [][]int32) ([]analysis.TopK, float64, error) {
	L, K, E, S := p.o.Layers, p.mc.TopK, p.mc.Experts, p.o.Seq
	layers := make([]analysis.TopK, L)
	for l := range layers {
		layers[l] = analysis.TopK{N: len(rows) * S, K: K, E: E}
	}
	bs := p.o.EvalBatchRows()
	used, nUsed := 0.0, 0
	for start := 0; start < len(rows); start += bs {
		chunk := make([][]int32, bs)
		n := min(bs, len(rows)-start)
		for i := range chunk {
			// Pad the last chunk by repeating a row; its routing is dropped.
			chunk[i] = rows[start+min(i, n-1)]
		}
		outs, err := p.exec.Exec(tensors.FromValue(chunk))
		if err != nil {
			return nil, 0, err
		}
		for l := range L {
			outs[l].ConstFlatData(func(a any) {
				layers[l].Experts = append(layers[l].Experts, a.([]int32)[:n*S*K]...)
			})
			outs[L+l].ConstFlatData(func(a any) { used += float64(a.([]float32)[0]) })
			nUsed++
		}
		for _, t := range outs {
			t.FinalizeAll()
		}
	}
	return layers, used / float64(max(nUsed, 1)), nil
}

// skewRouters biases every layer's router towards expert 0 at
// initialisation. The router has no bias term, so the skew is a direction:
// the mean of the (RMS-normalised) initial token embeddings, which the
// feed-forward input of most tokens leans towards at the start. Expert 0's
// router column gets RouterSkew times that unit direction. The embedding
// table is the model's own (same scope, name and seeded init as the
// transformer creates it).
func skewRouters(ctx *context.Context, o Options, mc moe.Config) error {
	emb := ml.Weight(ctx.In(ml.ModelScope).In("embed"), "table", shapes.Make(dtypes.Float32, 256, o.DModel), 0.02).MustValue()
	mean := make([]float64, o.DModel)
	emb.ConstFlatData(func(a any) {
		f := a.([]float32)
		for r := range 256 {
			row := f[r*o.DModel : (r+1)*o.DModel]
			ss := 0.0
			for _, v := range row {
				ss += float64(v) * float64(v)
			}
			rms := math.Sqrt(ss/float64(o.DModel)) + 1e-12
			for i, v := range row {
				mean[i] += float64(v) / rms / 256
			}
		}
	})
	norm := 0.0
	for _, v := range mean {
		norm += v * v
	}
	norm = math.Sqrt(norm)
	if norm == 0 {
		return fmt.Errorf("router skew: embedding mean is zero")
	}
	for l := range o.Layers {
		lctx := ctx.In(ml.ModelScope).In(fmt.Sprintf("layer_%d", l)).In("ff")
		v := ml.Weight(lctx, "router", shapes.Make(dtypes.Float32, mc.DModel, mc.Experts), moe.RouterInitStd)
		var f []float32
		v.MustValue().ConstFlatData(func(a any) { f = append(f, a.([]float32)...) })
		for i := range mc.DModel {
			f[i*mc.Experts] += float32(o.RouterSkew * mean[i] / norm)
		}
		// A new tensor: SetValue frees the old one.
		if err := v.SetValue(tensors.FromFlatDataAndDimensions(f, mc.DModel, mc.Experts)); err != nil {
			return err
		}
	}
	return nil
}
