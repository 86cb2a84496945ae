// Package logreg is linreg's method: logistic regression trained by
// full-batch gradient descent in one GoMLX graph, with checkpoints in the
// step's state dir, and its plots.
package logreg

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/shammie-ml/shammie/examples/linreg/internal/planted"
	"github.com/shammie-ml/shammie/sdk"
	"github.com/shammie-ml/shammie/sdk/ml"
)

// Options of training.
type Options struct {
	Steps           int
	LR              float64
	CheckpointEvery int // steps between checkpoints (0: never)
}

// Result of training.
type Result struct {
	W         []float64
	B         float64
	Losses    []float64 // training loss before each step, from FirstStep on
	FirstStep int       // 0, or the step training resumed from
	FinalLoss float64
	Accuracy  float64 // held out
}

// checkpoint is the resumable state kept in the step's state dir. A host
// that crashed mid-step runs the step again with the same state dir, and
// training continues where the last checkpoint left it.
type checkpoint struct {
	Fingerprint string    `json:"fingerprint"` // config + seed: a different step never resumes this one
	Step        int       `json:"step"`
	W           []float64 `json:"w"`
	B           float64   `json:"b"`
	Losses      []float64 `json:"losses"`
}

const checkpointFile = "linreg-checkpoint.json"

// Train runs full-batch gradient descent on the logistic loss. The update
// is one GoMLX graph (loss, gradients by autodiff, new weights) compiled
// once and executed per step on the chosen backend.
func Train(ctx context.Context, backend backends.Backend, data planted.Data, cfg Options, stateDir string, rep sdk.Reporter) (Result, error) {
	d := len(data.TrueW)
	n := len(data.TrainY)
	lr := float32(cfg.LR)
	step, err := graph.NewExec(backend, func(x, y, w, b *graph.Node) (*graph.Node, *graph.Node, *graph.Node) {
		z := graph.Add(ml.MatMul(x, w), b) // [n, 1]
		loss := graph.ReduceAllMean(graph.Sub(graph.Softplus(z), graph.Mul(y, z)))
		grads := graph.Gradient(loss, w, b)
		newW := graph.Sub(w, graph.MulScalar(grads[0], lr))
		newB := graph.Sub(b, graph.MulScalar(grads[1], lr))
		return newW, newB, loss
	})
	if err != nil {
		return Result{}, fmt.Errorf("building the training graph: %w", err)
	}
	defer step.Finalize()

	fp := fingerprint(cfg, data)
	ck := checkpoint{Fingerprint: fp, W: make([]float64, d)}
	var prev checkpoint
	if ok, err := sdk.LoadState(stateDir, checkpointFile, &prev); err != nil {
		return Result{}, fmt.Errorf("%w (delete it to start over)", err)
	} else if ok && prev.Fingerprint == fp && prev.Step <= cfg.Steps && len(prev.W) == d {
		ck = prev
		rep.Logf("resuming from the checkpoint at step %d", ck.Step)
	}
	res := Result{FirstStep: ck.Step, Losses: ck.Losses}

	x := tensors.FromFlatDataAndDimensions(data.TrainX, n, d)
	y := tensors.FromFlatDataAndDimensions(data.TrainY, n, 1)
	w := tensors.FromFlatDataAndDimensions(toFloat32(ck.W), d, 1)
	b := tensors.FromScalar(float32(ck.B))
	for i := ck.Step; i < cfg.Steps; i++ {
		if err := ctx.Err(); err != nil {
			return Result{}, err
		}
		out, err := step.Exec(x, y, w, b)
		if err != nil {
			return Result{}, fmt.Errorf("step %d: %w", i, err)
		}
		w, b = out[0], out[1]
		loss := float64(tensors.ToScalar[float32](out[2]))
		if math.IsNaN(loss) || math.IsInf(loss, 0) {
			return Result{}, fmt.Errorf("step %d: the loss is %v; lower lr (now %g)", i, loss, cfg.LR)
		}
		res.Losses = append(res.Losses, loss)
		rep.Metric("loss", int64(i), loss)
		rep.Progress("train", int64(i+1), int64(cfg.Steps), "steps")
		if done := i + 1; stateDir != "" && cfg.CheckpointEvery > 0 && (done%cfg.CheckpointEvery == 0 || done == cfg.Steps) {
			wf, err := tensors.CopyFlatData[float32](w)
			if err != nil {
				return Result{}, err
			}
			ck = checkpoint{Fingerprint: fp, Step: done, W: toFloat64(wf), B: float64(tensors.ToScalar[float32](b)), Losses: res.Losses}
			if err := sdk.SaveState(stateDir, checkpointFile, ck); err != nil {
				return Result{}, err
			}
		}
	}
	wf, err := tensors.CopyFlatData[float32](w)
	if err != nil {
		return Result{}, err
	}
	res.W, res.B = toFloat64(wf), float64(tensors.ToScalar[float32](b))
	res.FinalLoss = LogLoss(data.TrainX, data.TrainY, res.W, res.B, d)
	res.Accuracy = Accuracy(data.TestX, data.TestY, res.W, res.B, d)
	return res, nil
}

func fingerprint(cfg Options, data planted.Data) string {
	h := sha256.New()
	fmt.Fprintf(h, "%+v|%d|%d|%v|%v", cfg, len(data.TrainY), len(data.TestY), data.TrueW, data.TrueB)
	return hex.EncodeToString(h.Sum(nil))[:16]
}

func toFloat32(v []float64) []float32 {
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(x)
	}
	return out
}

func toFloat64(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

// Accuracy of the classifier sign(x·w + b) on (x, y).
func Accuracy(x, y []float32, w []float64, b float64, d int) float64 {
	correct := 0
	for i := range y {
		z := b
		for j := range d {
			z += float64(x[i*d+j]) * w[j]
		}
		if (z > 0) == (y[i] > 0.5) {
			correct++
		}
	}
	return float64(correct) / float64(len(y))
}

// LogLoss is the mean logistic loss of (w, b) on (x, y), computed stably as
// softplus(z) - y·z.
func LogLoss(x, y []float32, w []float64, b float64, d int) float64 {
	var sum float64
	for i := range y {
		z := b
		for j := range d {
			z += float64(x[i*d+j]) * w[j]
		}
		sp := math.Max(z, 0) + math.Log1p(math.Exp(-math.Abs(z)))
		sum += sp - float64(y[i])*z
	}
	return sum / float64(len(y))
}
