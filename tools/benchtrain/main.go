// Command benchtrain measures sdk/ml's training step against PyTorch on the
// same model (issue 3's `make bench-train`): 2 layers, d_model 128, 4 heads,
// sequence 64, batch 16, byte vocabulary by default. It prints Shammie's
// tokens/s, the time of a graph holding only the step's matrix products (same
// shapes, same backend), runs tools/benchtrain/torch_ref.py for PyTorch's
// figure, and ends with one machine-readable line:
//
//	bench-train: shammie_tok_s=N pytorch_tok_s=N ratio=R matmul_ratio=M backend=NAME
package main

import (
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime/pprof"
	"time"

	"github.com/shammie-ml/shammie/internal/dotrec"
	"github.com/shammie-ml/shammie/internal/gpubench"
	"github.com/shammie-ml/shammie/internal/torchref"
	"github.com/shammie-ml/shammie/tools/internal/stepbench"

	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/shammie-ml/shammie/sdk/ml"
)

func main() {
	var (
		backendName = flag.String("backend", "go", `GoMLX backend: "go" or "xla:cuda" (needs -tags xla)`)
		layers      = flag.Int("layers", 2, "transformer layers")
		dModel      = flag.Int("d-model", 128, "model width")
		heads       = flag.Int("heads", 4, "attention heads")
		seq         = flag.Int("seq", 64, "sequence length")
		batch       = flag.Int("batch", 16, "batch size")
		steps       = flag.Int("steps", 20, "timed steps")
		warmup      = flag.Int("warmup", 3, "untimed steps first (compilation, caches)")
		cpuProfile  = flag.String("cpuprofile", "", "write CPU profiles of the timed Shammie steps to PATH.<step>")
		torchScript = flag.String("torch-script", "tools/benchtrain/torch_ref.py", "PyTorch reference script; empty to skip")
		torchDevice = flag.String("torch-device", "cpu", `PyTorch device ("cpu" or "cuda")`)
		python      = flag.String("python", "python3", "Python interpreter with torch")
		torchThr    = flag.Int("torch-threads", 2, "torch.set_num_threads (issue 3 fixes 2; 1 is faster on a loaded 2-CPU machine)")
	)
	flag.StringVar(&opts.precision, "precision", "float32", `matrix products in "float32" or "bfloat16" (mixed precision, float32 master weights)`)
	flag.BoolVar(&opts.matmuls, "matmuls", true, "also time a graph of only the step's matmuls (matmul_ratio); false halves a GPU run")
	flag.Float64Var(&opts.peakTFLOPs, "peak-tflops", 0, "device peak (TFLOP/s) for model FLOPs utilisation; 0: not printed")
	flag.Parse()
	if err := gpubench.PrepareBackend(*backendName); err != nil {
		fmt.Fprintln(os.Stderr, "benchtrain:", err)
		os.Exit(1)
	}
	if err := run(*backendName, *layers, *dModel, *heads, *seq, *batch, *steps, *warmup, *cpuProfile, *torchScript, *torchDevice, *python, *torchThr); err != nil {
		fmt.Fprintln(os.Stderr, "benchtrain:", err)
		os.Exit(1)
	}
}

// opts are the flags added for the GPU benchmark (tools/benchgpu).
var opts struct {
	precision  string
	matmuls    bool
	peakTFLOPs float64
}

func run(backendName string, layers, dModel, heads, seq, batch, steps, warmup int, cpuProfile, torchScript, torchDevice, python string, torchThreads int) error {
	backend, err := ml.OpenBackend(backendName)
	if err != nil {
		return err
	}
	defer backend.Finalize()

	model, err := ml.NewTransformer(ml.Config{VocabSize: 256, DModel: dModel, NumHeads: heads, NumLayers: layers, MaxSeqLen: seq,
		ComputeDType: opts.precision})
	if err != nil {
		return err
	}
	// Random bytes: speed does not depend on the text.
	rng := rand.New(rand.NewPCG(1, 2))
	tokens := make([]int32, (steps+warmup+1)*batch*seq+1)
	for i := range tokens {
		tokens[i] = int32(rng.IntN(256))
	}
	windows, err := ml.NewLMWindows(tokens, batch, seq, 1)
	if err != nil {
		return err
	}
	ctx := context.New()
	ml.SetInitSeed(ctx, 1)
	tr, err := ml.NewTrainer(backend, ctx, func(ctx *context.Context, b []*graph.Node) *graph.Node {
		return model.LMLoss(ctx, b[0], nil, nil)
	}, ml.TrainConfig{Steps: steps + warmup, LR: 1e-3, WarmupSteps: 2, WeightDecay: 0.1, ClipNorm: 1}, nil)
	if err != nil {
		return err
	}

	// The first step builds (and compiles) the graph: record its products.
	var firstErr error
	dots := dotrec.Record(func() { _, firstErr = tr.Step(1, windows) })
	if firstErr != nil {
		return firstErr
	}
	for s := 2; s <= warmup; s++ {
		if _, err := tr.Step(s, windows); err != nil {
			return err
		}
	}
	// The matmul-only graph runs interleaved with the training steps, so
	// that both see the same machine load (the CPUs may be shared).
	var mm *dotrec.Matmuls
	var flops float64
	if opts.matmuls {
		if mm, flops, err = dotrec.NewMatmuls(backend, dots); err != nil {
			return err
		}
		for range warmup {
			if _, err := mm.Run(); err != nil {
				return err
			}
		}
	}
	stepTimes := make([]time.Duration, 0, steps)
	mmTimes := make([]time.Duration, 0, steps)
	ratios := make([]float64, 0, steps)
	cpuRatios := make([]float64, 0, steps)
	var lastLoss float64
	for s := warmup + 1; s <= warmup+steps; s++ {
		// One profile per step (pprof merges them: go tool pprof -top bin prof.*),
		// so the matmul-only runs stay out of it.
		var profFile *os.File
		if cpuProfile != "" {
			if profFile, err = os.Create(fmt.Sprintf("%s.%03d", cpuProfile, s)); err != nil {
				return err
			}
			_ = pprof.StartCPUProfile(profFile)
		}
		c0 := gpubench.CPUSeconds()
		t0 := time.Now()
		r, err := tr.Step(s, windows)
		if err != nil {
			return err
		}
		st := time.Since(t0)
		stepCPU := gpubench.CPUSeconds() - c0
		if profFile != nil {
			pprof.StopCPUProfile()
			profFile.Close()
		}
		lastLoss = r.Loss
		stepTimes = append(stepTimes, st)
		if mm == nil {
			continue
		}
		c0 = gpubench.CPUSeconds()
		mt, err := mm.Run()
		if err != nil {
			return err
		}
		mmCPU := gpubench.CPUSeconds() - c0
		mmTimes = append(mmTimes, mt)
		ratios = append(ratios, st.Seconds()/mt.Seconds())
		cpuRatios = append(cpuRatios, stepCPU/mmCPU)
	}
	stepT := stepbench.Median(stepTimes)
	tokS := float64(batch*seq) / stepT.Seconds()
	fpt := gpubench.Shape{Layers: layers, DModel: dModel, Seq: seq, Vocab: 256, DFF: model.Config.DFF}.TrainFLOPsPerToken()
	fmt.Printf("shammie: backend=%s precision=%s layers=%d d_model=%d heads=%d seq=%d batch=%d step_ms=%.2f (median of %d; min %.2f) tok_s=%.0f loss=%.3f model_gflop_per_token=%.4f mfu=%.4f peak_tflops=%g host_peak_rss_mb=%.0f\n",
		backendName, opts.precision, layers, dModel, heads, seq, batch, stepbench.MS(stepT), steps, stepbench.MS(stepbench.Min(stepTimes)), tokS, lastLoss,
		fpt/1e9, gpubench.MFU(fpt, tokS, opts.peakTFLOPs), opts.peakTFLOPs, gpubench.PeakRSSMB())
	matmulRatio := 0.0
	if mm != nil {
		mmT := stepbench.Median(mmTimes)
		matmulRatio = stepbench.MedianF(ratios)
		fmt.Printf("matmuls: %d products, %.2f GFLOP per step, step_ms=%.2f (min %.2f; %.1f GFLOP/s); training step / matmuls = %.2f (median of per-step ratios; min/min %.2f); in CPU time %.3f\n",
			len(dots), flops/1e9, stepbench.MS(mmT), stepbench.MS(stepbench.Min(mmTimes)), flops/mmT.Seconds()/1e9, matmulRatio, stepbench.Min(stepTimes).Seconds()/stepbench.Min(mmTimes).Seconds(), stepbench.MedianF(cpuRatios))
	}

	torchTokS := 0.0
	if torchScript != "" {
		torchTokS, err = runTorch(python, torchScript, torchDevice, torchThreads, layers, dModel, heads, seq, batch, steps, warmup)
		if err != nil {
			return err
		}
	}
	ratio := 0.0
	if torchTokS > 0 {
		ratio = tokS / torchTokS
	}
	fmt.Printf("bench-train: shammie_tok_s=%.0f pytorch_tok_s=%.0f ratio=%.3f matmul_ratio=%.2f backend=%s\n",
		tokS, torchTokS, ratio, matmulRatio, backendName)
	return nil
}

func runTorch(python, script, device string, threads, layers, dModel, heads, seq, batch, steps, warmup int) (float64, error) {
	return torchref.Run(python, script, "--device", device, "--threads", fmt.Sprint(threads),
		"--layers", fmt.Sprint(layers), "--d-model", fmt.Sprint(dModel), "--heads", fmt.Sprint(heads),
		"--seq", fmt.Sprint(seq), "--batch", fmt.Sprint(batch), "--steps", fmt.Sprint(steps), "--warmup", fmt.Sprint(warmup))
}
