// Command benchmoe is `make bench-moe` (issue 6): training-step speed of the
// MoE language model and of a dense model with the same active parameters
// (d_ff = k·expert_hidden), in Shammie and in PyTorch, measured in one run.
// For each Shammie model it also times a graph holding only the step's
// matrix products (same shapes, same backend), interleaved with the steps
// so both see the same machine load. It lives in the plugin's module
// because it builds the plugin's internal MoE block; the PyTorch side is
// tools/benchmoe/bench_moe.py. The last line is machine-readable:
//
//	bench-moe: shammie_tok_s=N pytorch_tok_s=N ratio=R matmul_ratio=M dense_ratio=D backend=NAME
//
// ratio = Shammie MoE tok/s ÷ PyTorch MoE tok/s; matmul_ratio = MoE step
// time ÷ its matmuls' time; dense_ratio = MoE step time ÷ dense step time
// (both Shammie): what the routing and the sparse bookkeeping cost on top of
// a dense model doing the same useful work.
package main

import (
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"runtime/pprof"
	"sort"
	"time"

	"github.com/shammie-ml/shammie/internal/dotrec"
	"github.com/shammie-ml/shammie/internal/gpubench"
	"github.com/shammie-ml/shammie/internal/torchref"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/shammie-ml/shammie/plugins/moe/internal/moe"
	"github.com/shammie-ml/shammie/sdk/ml"
)

type flags struct {
	precision                string
	dense                    bool
	matmuls                  bool
	backend                  string
	layers, dModel, heads    int
	seq, batch               int
	experts, topK, hidden    int
	blockSize                int
	steps, warmup            int
	torchScript, torchDevice string
	python                   string
	peakTFLOPs               float64
	cpuProfile               string
}

func main() {
	var f flags
	flag.StringVar(&f.backend, "backend", "go", `GoMLX backend: "go" or "xla:cuda" (build with -tags xla)`)
	flag.IntVar(&f.layers, "layers", 2, "transformer layers")
	flag.IntVar(&f.dModel, "d-model", 128, "model width")
	flag.IntVar(&f.heads, "heads", 4, "attention heads")
	flag.IntVar(&f.seq, "seq", 64, "sequence length")
	flag.IntVar(&f.batch, "batch", 16, "batch size")
	flag.IntVar(&f.experts, "experts", 8, "experts per layer")
	flag.IntVar(&f.topK, "top-k", 2, "active experts per token")
	flag.IntVar(&f.hidden, "expert-hidden", 176, "SwiGLU width of one expert (dense model: d_ff = top-k × this)")
	flag.IntVar(&f.blockSize, "block-size", 0, "sparse path row block (0: automatic)")
	flag.IntVar(&f.steps, "steps", 10, "timed steps per model")
	flag.IntVar(&f.warmup, "warmup", 3, "untimed steps first")
	flag.StringVar(&f.torchScript, "torch-script", "tools/benchmoe/bench_moe.py", "PyTorch reference; empty to skip")
	flag.StringVar(&f.torchDevice, "torch-device", "cpu", `"cpu" or "cuda"`)
	flag.StringVar(&f.python, "python", "python3", "Python with torch")
	flag.Float64Var(&f.peakTFLOPs, "peak-tflops", 0, "device peak (f32) for model FLOPs utilisation; 0: not printed")
	flag.StringVar(&f.cpuProfile, "cpuprofile", "", "write CPU profiles of each model's timed steps to PATH.moe and PATH.dense, and of its matmul-only runs to PATH.moe.matmuls and PATH.dense.matmuls")
	flag.StringVar(&f.precision, "precision", "float32", `matrix products in "float32" or "bfloat16" (mixed precision, float32 master weights)`)
	flag.BoolVar(&f.dense, "dense", true, "also time the dense model with the same active parameters")
	flag.BoolVar(&f.matmuls, "matmuls", true, "also time a graph of only each step's matmuls (float32 only; false halves a GPU run)")
	flag.Parse()
	if err := gpubench.PrepareBackend(f.backend); err != nil {
		fmt.Fprintln(os.Stderr, "benchmoe:", err)
		os.Exit(1)
	}
	if err := run(f); err != nil {
		fmt.Fprintln(os.Stderr, "benchmoe:", err)
		os.Exit(1)
	}
}

type measured struct {
	tokS, stepMS, mmMS, matmulRatio, flops float64
	cpuRatio                               float64 // median of step CPU time ÷ matmul-only CPU time
}

func run(f flags) error {
	backend, err := ml.OpenBackend(f.backend)
	if err != nil {
		return err
	}
	defer backend.Finalize()
	mc := moe.Config{DModel: f.dModel, Hidden: f.hidden, Experts: f.experts, TopK: f.topK, BlockSize: f.blockSize, Layers: f.layers}
	T := f.batch * f.seq
	fmt.Printf("models: layers=%d d_model=%d heads=%d seq=%d batch=%d; MoE E=%d k=%d expert_hidden=%d (block %d, %d blocks: %d rows vs dense %d); dense d_ff=%d\n",
		f.layers, f.dModel, f.heads, f.seq, f.batch, f.experts, f.topK, f.hidden, moe.BlockSizeFor(mc, T), moe.NumBlocks(mc, T),
		moe.NumBlocks(mc, T)*moe.BlockSizeFor(mc, T), f.experts*T, f.topK*f.hidden)
	moeM, err := measure(backend, f, &mc)
	if err != nil {
		return fmt.Errorf("MoE model: %w", err)
	}
	report("shammie moe", f, moeM)
	fpt := gpubench.Shape{Layers: f.layers, DModel: f.dModel, Seq: f.seq, Vocab: 256, Experts: f.experts, TopK: f.topK, ExpertHid: f.hidden}.TrainFLOPsPerToken()
	fmt.Printf("shammie: model=moe precision=%s step_ms=%.2f tok_s=%.0f model_gflop_per_token=%.4f mfu=%.4f peak_tflops=%g host_peak_rss_mb=%.0f\n",
		f.precision, moeM.stepMS, moeM.tokS, fpt/1e9, gpubench.MFU(fpt, moeM.tokS, f.peakTFLOPs), f.peakTFLOPs, gpubench.PeakRSSMB())
	denseM := measured{stepMS: math.NaN()}
	if f.dense {
		if denseM, err = measure(backend, f, nil); err != nil {
			return fmt.Errorf("dense model: %w", err)
		}
		report("shammie dense", f, denseM)
	}

	torchMoE, torchDense := 0.0, 0.0
	if f.torchScript != "" {
		if torchMoE, err = runTorch(f, "moe"); err != nil {
			return err
		}
		if f.dense {
			if torchDense, err = runTorch(f, "dense"); err != nil {
				return err
			}
		}
	}
	ratio := 0.0
	if torchMoE > 0 {
		ratio = moeM.tokS / torchMoE
		fmt.Printf("ratios: shammie/pytorch moe %.3f, dense %.3f; pytorch moe/dense step %.2f\n", ratio, denseM.tokS/torchDense, torchDense/torchMoE)
	}
	fmt.Printf("bench-moe: shammie_tok_s=%.0f pytorch_tok_s=%.0f ratio=%.3f matmul_ratio=%.2f dense_ratio=%.2f backend=%s\n",
		moeM.tokS, torchMoE, ratio, moeM.matmulRatio, moeM.stepMS/denseM.stepMS, f.backend)
	return nil
}

func report(name string, f flags, m measured) {
	fmt.Printf("%s: step_ms=%.2f tok_s=%.0f matmuls_ms=%.2f (%.3f GFLOP, %.1f GFLOP/s) step/matmuls=%.2f cpu_step/matmuls=%.3f",
		name, m.stepMS, m.tokS, m.mmMS, m.flops/1e9, m.flops/m.mmMS/1e6, m.matmulRatio, m.cpuRatio)
	if f.peakTFLOPs > 0 {
		fmt.Printf(" MFU=%.2f%%", 100*m.flops/(m.stepMS/1e3)/(f.peakTFLOPs*1e12))
	}
	fmt.Println()
}

// measure times training steps of the MoE model (mc != nil) or of the dense
// model, and the matmul-only graph of its step.
func measure(backend backends.Backend, f flags, mc *moe.Config) (measured, error) {
	cfg := ml.Config{VocabSize: 256, DModel: f.dModel, NumHeads: f.heads, NumLayers: f.layers, MaxSeqLen: f.seq, DFF: f.topK * f.hidden,
		ComputeDType: f.precision}
	model, err := ml.NewTransformer(cfg)
	if err != nil {
		return measured{}, err
	}
	if mc != nil {
		model.FeedForward = moe.FeedForward(*mc, moe.DefaultLoss, f.layers)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	tokens := make([]int32, (f.steps+f.warmup+1)*f.batch*f.seq+1)
	for i := range tokens {
		tokens[i] = int32(rng.IntN(256))
	}
	windows, err := ml.NewLMWindows(tokens, f.batch, f.seq, 1)
	if err != nil {
		return measured{}, err
	}
	ctx := context.New()
	ml.SetInitSeed(ctx, 1)
	tr, err := ml.NewTrainer(backend, ctx, func(ctx *context.Context, b []*graph.Node) *graph.Node {
		return model.LMLoss(ctx, b[0], nil, nil)
	}, ml.TrainConfig{Steps: f.steps + f.warmup, LR: 1e-3, WarmupSteps: 2, WeightDecay: 0.1, ClipNorm: 1}, nil)
	if err != nil {
		return measured{}, err
	}
	var firstErr error
	dots := dotrec.Record(func() { _, firstErr = tr.Step(1, windows) })
	if firstErr != nil {
		return measured{}, firstErr
	}
	for s := 2; s <= f.warmup; s++ {
		if _, err := tr.Step(s, windows); err != nil {
			return measured{}, err
		}
	}
	mm, flops := func() (float64, error) { return math.NaN(), nil }, math.NaN()
	if f.matmuls {
		if mm, flops, err = dotsGraph(backend, dots); err != nil {
			return measured{}, err
		}
		if _, err := mm(); err != nil {
			return measured{}, err
		}
	}
	prof, err := newStepProfile(f.cpuProfile, mc != nil)
	if err != nil {
		return measured{}, err
	}
	defer prof.close()
	mmProf, err := newStepProfile(prof.path, false)
	if err != nil {
		return measured{}, err
	}
	if mmProf.path != "" {
		mmProf.path = prof.path + ".matmuls"
	}
	defer mmProf.close()
	var steps, mms, cpuRatios []float64
	for s := f.warmup + 1; s <= f.warmup+f.steps; s++ {
		prof.start()
		c0 := gpubench.CPUSeconds()
		t0 := time.Now()
		if _, err := tr.Step(s, windows); err != nil {
			return measured{}, err
		}
		steps = append(steps, time.Since(t0).Seconds()*1e3)
		stepCPU := gpubench.CPUSeconds() - c0
		prof.stop()
		mmProf.start()
		c0 = gpubench.CPUSeconds()
		d, err := mm()
		mmCPU := gpubench.CPUSeconds() - c0
		mmProf.stop()
		if err != nil {
			return measured{}, err
		}
		mms = append(mms, d)
		cpuRatios = append(cpuRatios, stepCPU/mmCPU)
	}
	ratios := make([]float64, len(steps))
	for i := range steps {
		ratios[i] = steps[i] / mms[i]
	}
	st := median(steps)
	return measured{tokS: float64(f.batch*f.seq) / (st / 1e3), stepMS: st, mmMS: median(mms), matmulRatio: median(ratios), flops: flops,
		cpuRatio: median(cpuRatios)}, nil
}

// dotsGraph is dotrec's graph of only the recorded (float32) products on
// random inputs; the returned function runs it once and gives its time in ms.
func dotsGraph(backend backends.Backend, dots []dotrec.DotShape) (func() (float64, error), float64, error) {
	if err := dotrec.CheckFloat32(dots); err != nil {
		return nil, 0, err
	}
	m, flops, err := dotrec.NewMatmuls(backend, dots)
	if err != nil {
		return nil, 0, err
	}
	return func() (float64, error) {
		d, err := m.Run()
		return d.Seconds() * 1e3, err
	}, flops, nil
}

func runTorch(f flags, model string) (float64, error) {
	return torchref.Run(f.python, f.torchScript, "--model", model, "--device", f.torchDevice, "--threads", "2",
		"--layers", fmt.Sprint(f.layers), "--d-model", fmt.Sprint(f.dModel), "--heads", fmt.Sprint(f.heads),
		"--seq", fmt.Sprint(f.seq), "--batch", fmt.Sprint(f.batch), "--experts", fmt.Sprint(f.experts),
		"--top-k", fmt.Sprint(f.topK), "--expert-hidden", fmt.Sprint(f.hidden), "--dff", fmt.Sprint(f.topK*f.hidden),
		"--steps", fmt.Sprint(f.steps), "--warmup", fmt.Sprint(f.warmup))
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s[len(s)/2]
}

// stepProfile collects a CPU profile of the training steps only: pprof
// cannot pause, so each step gets its own file (PATH.moe.001, …; `go tool
// pprof -top bin PATH.moe.*` merges them) and the matmul-only runs stay out.
type stepProfile struct {
	path string
	n    int
	file *os.File
}

func newStepProfile(path string, isMoE bool) (*stepProfile, error) {
	if path == "" {
		return &stepProfile{}, nil
	}
	if isMoE {
		return &stepProfile{path: path + ".moe"}, nil
	}
	return &stepProfile{path: path + ".dense"}, nil
}

func (p *stepProfile) start() {
	if p.path == "" {
		return
	}
	p.n++
	f, err := os.Create(fmt.Sprintf("%s.%03d", p.path, p.n))
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchmoe: cpu profile:", err)
		return
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		fmt.Fprintln(os.Stderr, "benchmoe: cpu profile:", err)
		f.Close()
		return
	}
	p.file = f
}

func (p *stepProfile) stop() {
	if p.file == nil {
		return
	}
	pprof.StopCPUProfile()
	p.file.Close()
	p.file = nil
}

func (p *stepProfile) close() { p.stop() }
