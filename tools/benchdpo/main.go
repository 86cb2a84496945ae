// Command benchdpo measures one DPO training step of sdk/ml (issue 14's
// `make bench-dpo`) against PyTorch on the same model and batch: the
// bench-train transformer (2 layers, d_model 128, 4 heads, byte vocabulary)
// scoring B preference pairs — 2·B rows of seq tokens, chosen rows then
// rejected rows, prompt and replies of fixed lengths — with the standard
// DPO loss (β = 0.1) against precomputed reference log-probs, AdamW and
// clipping. It also times a graph of only the step's matrix products and
// runs tools/benchdpo/torch_dpo.py (PyTorch at its best, internal/torchref).
// Tokens per second count every token of both rows. Last line:
//
//	bench-dpo: shammie_tok_s=N pytorch_tok_s=N ratio=R matmul_ratio=M backend=NAME
package main

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"time"

	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/shammie-ml/shammie/internal/dotrec"
	"github.com/shammie-ml/shammie/internal/torchref"
	"github.com/shammie-ml/shammie/sdk/ml"
	"github.com/shammie-ml/shammie/tools/internal/stepbench"
)

type options struct {
	backend                           string
	layers, dModel, heads, seq, batch int
	steps, warmup, torchThreads       int
	torchScript, torchDevice, python  string
}

func main() {
	var o options
	flag.StringVar(&o.backend, "backend", "go", `GoMLX backend: "go" or "xla:cuda" (needs -tags xla)`)
	flag.IntVar(&o.layers, "layers", 2, "transformer layers")
	flag.IntVar(&o.dModel, "d-model", 128, "model width")
	flag.IntVar(&o.heads, "heads", 4, "attention heads")
	flag.IntVar(&o.seq, "seq", 64, "tokens per row (prompt seq/2, replies the rest)")
	flag.IntVar(&o.batch, "batch", 8, "preference pairs per step (2·batch rows)")
	flag.IntVar(&o.steps, "steps", 20, "timed steps")
	flag.IntVar(&o.warmup, "warmup", 3, "untimed steps first (compilation, caches)")
	flag.StringVar(&o.torchScript, "torch-script", "tools/benchdpo/torch_dpo.py", "PyTorch reference script; empty to skip")
	flag.StringVar(&o.torchDevice, "torch-device", "cpu", `PyTorch device ("cpu" or "cuda")`)
	flag.StringVar(&o.python, "python", "python3", "Python interpreter with torch")
	flag.IntVar(&o.torchThreads, "torch-threads", 2, "torch.set_num_threads")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "benchdpo:", err)
		os.Exit(1)
	}
}

// pairs draws random pairs filling every row exactly: a prompt of seq/2
// tokens, replies of seq−seq/2−1 tokens plus EOS (255).
func pairs(n, seq int) []ml.PairExample {
	rng := rand.New(rand.NewPCG(1, 2))
	draw := func(k int) []int32 {
		out := make([]int32, k)
		for i := range out {
			out[i] = int32(rng.IntN(255))
		}
		return out
	}
	out := make([]ml.PairExample, n)
	for i := range out {
		out[i] = ml.PairExample{Prompt: draw(seq / 2), Chosen: draw(seq - seq/2 - 1), Rejected: draw(seq - seq/2 - 1)}
	}
	return out
}

func run(o options) error {
	backend, err := ml.OpenBackend(o.backend)
	if err != nil {
		return err
	}
	defer backend.Finalize()
	model, err := ml.NewTransformer(ml.Config{VocabSize: 256, DModel: o.dModel, NumHeads: o.heads, NumLayers: o.layers, MaxSeqLen: o.seq})
	if err != nil {
		return err
	}
	n := (o.steps + o.warmup) * o.batch
	pb, err := ml.NewPairBatches(pairs(n, o.seq), ml.PairOptions{Batch: o.batch, Seq: o.seq, EOS: 255, VocabSize: 256, Seed: 1})
	if err != nil {
		return err
	}
	// Reference log-probs near a random model's (−log 256 per scored token).
	ref := make([]float32, n)
	for i := range ref {
		ref[i] = -5.5 * float32(o.seq-o.seq/2)
	}
	if err := pb.SetReference(ref, ref); err != nil {
		return err
	}
	ctx := context.New()
	ml.SetInitSeed(ctx, 1)
	tr, err := ml.NewTrainer(backend, ctx, model.DPOLossFn(ml.DPOOptions{Beta: 0.1}),
		ml.TrainConfig{Steps: o.steps + o.warmup, LR: 1e-3, WarmupSteps: 2, WeightDecay: 0.1, ClipNorm: 1}, nil)
	if err != nil {
		return err
	}
	var firstErr error
	dots := dotrec.Record(func() { _, firstErr = tr.Step(1, pb) })
	if firstErr != nil {
		return firstErr
	}
	for s := 2; s <= o.warmup; s++ {
		if _, err := tr.Step(s, pb); err != nil {
			return err
		}
	}
	mm, flops, err := dotrec.NewMatmuls(backend, dots)
	if err != nil {
		return err
	}
	for range o.warmup {
		if _, err := mm.Run(); err != nil {
			return err
		}
	}
	var stepTimes, mmTimes []time.Duration
	var ratios []float64
	var last ml.StepResult
	for s := o.warmup + 1; s <= o.warmup+o.steps; s++ {
		t0 := time.Now()
		if last, err = tr.Step(s, pb); err != nil {
			return err
		}
		st := time.Since(t0)
		mt, err := mm.Run()
		if err != nil {
			return err
		}
		stepTimes, mmTimes = append(stepTimes, st), append(mmTimes, mt)
		ratios = append(ratios, st.Seconds()/mt.Seconds())
	}
	stepT := stepbench.Median(stepTimes)
	tokS := float64(2*o.batch*o.seq) / stepT.Seconds()
	fmt.Printf("shammie: backend=%s layers=%d d_model=%d heads=%d seq=%d pairs=%d step_ms=%.2f (median of %d; min %.2f) tok_s=%.0f loss=%.3f\n",
		o.backend, o.layers, o.dModel, o.heads, o.seq, o.batch, stepbench.MS(stepT), o.steps, stepbench.MS(stepbench.Min(stepTimes)), tokS, last.Loss)
	mmT := stepbench.Median(mmTimes)
	matmulRatio := stepbench.MedianF(ratios)
	fmt.Printf("matmuls: %d products, %.2f GFLOP per step, step_ms=%.2f (%.1f GFLOP/s); DPO step / matmuls = %.2f\n",
		len(dots), flops/1e9, stepbench.MS(mmT), flops/mmT.Seconds()/1e9, matmulRatio)
	torchTokS := 0.0
	if o.torchScript != "" {
		torchTokS, err = torchref.Run(o.python, o.torchScript, "--device", o.torchDevice, "--threads", fmt.Sprint(o.torchThreads),
			"--layers", fmt.Sprint(o.layers), "--d-model", fmt.Sprint(o.dModel), "--heads", fmt.Sprint(o.heads),
			"--seq", fmt.Sprint(o.seq), "--batch", fmt.Sprint(o.batch), "--steps", fmt.Sprint(o.steps), "--warmup", fmt.Sprint(o.warmup))
		if err != nil {
			return err
		}
	}
	ratio := 0.0
	if torchTokS > 0 {
		ratio = tokS / torchTokS
	}
	fmt.Printf("bench-dpo: shammie_tok_s=%.0f pytorch_tok_s=%.0f ratio=%.3f matmul_ratio=%.2f backend=%s\n",
		tokS, torchTokS, ratio, matmulRatio, o.backend)
	return nil
}
