package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/shammie-ml/shammie/sdk"
	"github.com/shammie-ml/shammie/sdk/ml"
)

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
func Train(ctx context.Context, backend backends.Backend, data Data, cfg Config, stateDir string, rep sdk.Reporter) (Result, error) {
	d := cfg.Features
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
	if stateDir != "" {
		if prev, err := loadCheckpoint(filepath.Join(stateDir, checkpointFile)); err != nil {
			return Result{}, err
		} else if prev != nil && prev.Fingerprint == fp && prev.Step <= cfg.Steps && len(prev.W) == d {
			ck = *prev
			rep.Logf("resuming from the checkpoint at step %d", ck.Step)
		}
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
		if done := i + 1; stateDir != "" && cfg.CheckpointEv > 0 && (done%cfg.CheckpointEv == 0 || done == cfg.Steps) {
			wf, err := tensors.CopyFlatData[float32](w)
			if err != nil {
				return Result{}, err
			}
			ck = checkpoint{Fingerprint: fp, Step: done, W: toFloat64(wf), B: float64(tensors.ToScalar[float32](b)), Losses: res.Losses}
			if err := saveCheckpoint(filepath.Join(stateDir, checkpointFile), ck); err != nil {
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

func fingerprint(cfg Config, data Data) string {
	h := sha256.New()
	fmt.Fprintf(h, "%+v|%v|%v", cfg, data.TrueW, data.TrueB)
	return hex.EncodeToString(h.Sum(nil))[:16]
}

func loadCheckpoint(path string) (*checkpoint, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var ck checkpoint
	if err := json.Unmarshal(b, &ck); err != nil {
		return nil, fmt.Errorf("%s: corrupt checkpoint (delete it to start over): %w", path, err)
	}
	return &ck, nil
}

// saveCheckpoint writes atomically: a crash never leaves half a file.
func saveCheckpoint(path string, ck checkpoint) error {
	b, err := json.Marshal(ck)
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
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
