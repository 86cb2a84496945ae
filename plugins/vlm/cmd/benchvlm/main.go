// Command benchvlm measures one training step of the vlm plugin's model
// (ViT over multi-crop tiles + attention-pooling connector + LM; issue 16's
// `make bench-vlm`) against the same model in PyTorch (torch_vlm.py, run
// as internal/torchref configures it: PyTorch at its best on this CPU), on
// the same batch: the Go side writes it to a safetensors file the script
// reads. It also times a graph of only the step's matrix products
// (matmul_ratio = step time ÷ that). Tokens per step = the LM's B·S
// positions + the ViT's B·crops·patches positions. Last line:
//
//	bench-vlm: shammie_tok_s=N pytorch_tok_s=N ratio=R matmul_ratio=M backend=NAME
package main

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/tensors"
	"github.com/gomlx/gomlx/pkg/ml/context"

	"github.com/shammie-ml/shammie/internal/dotrec"
	"github.com/shammie-ml/shammie/internal/torchref"
	"github.com/shammie-ml/shammie/plugins/vlm/internal/model"
	"github.com/shammie-ml/shammie/plugins/vlm/internal/planted"
	"github.com/shammie-ml/shammie/sdk/ml"
	"github.com/shammie-ml/shammie/sdk/tiling"
)

type flags struct {
	backend                               string
	image, crop, patch, margin, maxCrops  int
	vitLayers, vitD, vitHeads, poolHeads  int
	projHidden, layers, dModel, heads     int
	batch, steps, warmup                  int
	torchScript, torchDevice, python, out string
	dots                                  bool
}

func main() {
	var f flags
	flag.StringVar(&f.backend, "backend", "go", `GoMLX backend: "go" or "xla:cuda" (needs -tags xla)`)
	flag.IntVar(&f.image, "image", 48, "image side (48 with crop 32: a 2×2 tiling plus the global view, 5 crops)")
	flag.IntVar(&f.crop, "crop", 32, "crop side")
	flag.IntVar(&f.patch, "patch", 4, "patch side")
	flag.IntVar(&f.margin, "margin", 2, "margin patches per side")
	flag.IntVar(&f.maxCrops, "max-crops", 12, "most crops")
	flag.IntVar(&f.vitLayers, "vit-layers", 3, "ViT blocks")
	flag.IntVar(&f.vitD, "vit-d-model", 64, "ViT width")
	flag.IntVar(&f.vitHeads, "vit-heads", 4, "ViT heads")
	flag.IntVar(&f.poolHeads, "pool-heads", 4, "pooling heads")
	flag.IntVar(&f.projHidden, "proj-hidden", 256, "projector width")
	flag.IntVar(&f.layers, "layers", 2, "LM blocks")
	flag.IntVar(&f.dModel, "d-model", 128, "LM width")
	flag.IntVar(&f.heads, "heads", 4, "LM heads")
	flag.IntVar(&f.batch, "batch", 16, "examples per step")
	flag.IntVar(&f.steps, "steps", 10, "timed steps")
	flag.IntVar(&f.warmup, "warmup", 2, "untimed steps first (compilation, caches)")
	flag.StringVar(&f.torchScript, "torch-script", "plugins/vlm/cmd/benchvlm/torch_vlm.py", "PyTorch reference script; empty to skip")
	flag.StringVar(&f.torchDevice, "torch-device", "cpu", `PyTorch device ("cpu" or "cuda")`)
	flag.StringVar(&f.python, "python", "python3", "Python interpreter with torch")
	flag.StringVar(&f.out, "batch-file", "", "where the shared batch is written (default: a temporary file)")
	flag.BoolVar(&f.dots, "dots", false, "list every matrix product of the step with its MFLOP")
	flag.Parse()
	if err := run(f); err != nil {
		fmt.Fprintln(os.Stderr, "benchvlm:", err)
		os.Exit(1)
	}
}

func run(f flags) error {
	backend, err := ml.OpenBackend(f.backend)
	if err != nil {
		return err
	}
	defer backend.Finalize()
	tok := model.Tokenizer()
	cfg := model.Config{
		Tiling:        tiling.Config{Crop: f.crop, Patch: f.patch, LeftMargin: f.margin, RightMargin: f.margin, MaxCrops: f.maxCrops},
		ViT:           ml.Config{DModel: f.vitD, NumHeads: f.vitHeads, NumLayers: f.vitLayers, MaxSeqLen: (f.crop / f.patch) * (f.crop / f.patch), EncoderOnly: true, Bidirectional: true, NoRoPE: true},
		FeatureLayers: [2]int{f.vitLayers - 1, max(0, f.vitLayers-3)},
		PoolHeads:     f.poolHeads, ProjHidden: f.projHidden,
		LM: ml.Config{VocabSize: tok.VocabSize(), DModel: f.dModel, NumHeads: f.heads, NumLayers: f.layers, MaxSeqLen: 1024},
	}
	m, err := model.New(cfg)
	if err != nil {
		return err
	}
	data, err := planted.Generate(planted.Options{Images: f.batch, Size: f.image, MinObjects: 1, MaxObjects: 3, Shapes: planted.KnownShapes,
		Colors: planted.KnownColors, Radius: 0.12, Noise: 0.3, Seed: 1})
	if err != nil {
		return err
	}
	l, err := m.Layout(f.image, f.image)
	if err != nil {
		return err
	}
	// One pointing or counting example per image; windows padded to the longest.
	var exs []model.Example
	seq := 0
	for i := range f.batch {
		var e planted.Example
		for _, x := range data.Examples {
			if x.Image == i && x.Task != "caption" {
				e = x
				break
			}
		}
		ex := model.Example{Image: model.Image{H: f.image, W: f.image, Pix: data.Pixels[i*f.image*f.image*3 : (i+1)*f.image*f.image*3]}, Prompt: e.Prompt, Answer: e.Answer}
		t, _, err := m.Encode(l, ex.Prompt, ex.Answer)
		if err != nil {
			return err
		}
		seq = max(seq, len(t)-1)
		exs = append(exs, ex)
	}
	batch, err := m.Batch(l, exs, seq)
	if err != nil {
		return err
	}
	out := f.out
	if out == "" {
		dir, err := os.MkdirTemp("", "benchvlm")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		out = filepath.Join(dir, "batch.safetensors")
	}
	names := []string{"crops", "pool", "frac", "slots", "windows", "weights", "pos"}
	var nts []ml.NamedTensor
	for i, t := range batch {
		nts = append(nts, ml.NamedTensor{Name: names[i], Tensor: t})
	}
	if err := ml.WriteSafetensors(out, nts, nil); err != nil {
		return err
	}
	vitTok := f.batch * l.Crops * (f.crop / f.patch) * (f.crop / f.patch)
	tokens := f.batch*seq + vitTok

	root := context.New()
	ml.SetInitSeed(root, 1)
	tr, err := ml.NewTrainer(backend, root.In(model.Root), m.Loss, ml.TrainConfig{Steps: f.steps + f.warmup, LR: 1e-3, WarmupSteps: 2, WeightDecay: 0.1, ClipNorm: 1,
		LRGroups: []ml.LRGroup{{Scope: "/vlm/vit", Scale: 0.5}, {Scope: "/vlm/connector", Scale: 2}}}, nil)
	if err != nil {
		return err
	}
	batches := ml.BatchFunc(func(int) ([]*tensors.Tensor, error) { return batch, nil })
	var firstErr error
	dots := dotrec.Record(func() { _, firstErr = tr.Step(1, batches) })
	if firstErr != nil {
		return firstErr
	}
	for s := 2; s <= f.warmup; s++ {
		if _, err := tr.Step(s, batches); err != nil {
			return err
		}
	}
	mm, flops, err := dotsGraph(backend, dots, f.dots)
	if err != nil {
		return err
	}
	if _, err := mm(); err != nil {
		return err
	}
	var steps, ratios []float64
	var last ml.StepResult
	for s := f.warmup + 1; s <= f.warmup+f.steps; s++ {
		t0 := time.Now()
		if last, err = tr.Step(s, batches); err != nil {
			return err
		}
		st := time.Since(t0).Seconds() * 1e3
		d, err := mm()
		if err != nil {
			return err
		}
		steps, ratios = append(steps, st), append(ratios, st/d)
	}
	stepMS := median(steps)
	tokS := float64(tokens) / (stepMS / 1e3)
	fmt.Printf("shammie: backend=%s image=%d crops=%d (tiling %d×%d + global) pooled=%d seq=%d batch=%d vit=%d×%d lm=%d×%d step_ms=%.2f (median of %d) tok_s=%.0f loss=%.3f\n",
		f.backend, f.image, l.Crops, l.Tiling.Rows, l.Tiling.Cols, l.Pooled, seq, f.batch, f.vitLayers, f.vitD, f.layers, f.dModel, stepMS, f.steps, tokS, last.Loss)
	matmulRatio := median(ratios)
	fmt.Printf("matmuls: %d products, %.3f GFLOP per step; step / matmuls = %.2f\n", len(dots), flops/1e9, matmulRatio)
	torchTokS := 0.0
	if f.torchScript != "" {
		torchTokS, err = torchref.Run(f.python, f.torchScript, "--batch-file", out, "--device", f.torchDevice, "--threads", "2",
			"--crop", fmt.Sprint(f.crop), "--patch", fmt.Sprint(f.patch), "--vit-layers", fmt.Sprint(f.vitLayers), "--vit-d-model", fmt.Sprint(f.vitD),
			"--vit-heads", fmt.Sprint(f.vitHeads), "--feature-layers", fmt.Sprintf("%d,%d", cfg.FeatureLayers[0], cfg.FeatureLayers[1]),
			"--pool-heads", fmt.Sprint(f.poolHeads), "--proj-hidden", fmt.Sprint(f.projHidden), "--layers", fmt.Sprint(f.layers),
			"--d-model", fmt.Sprint(f.dModel), "--heads", fmt.Sprint(f.heads), "--vocab", fmt.Sprint(tok.VocabSize()),
			"--tokens", fmt.Sprint(tokens), "--steps", fmt.Sprint(f.steps), "--warmup", fmt.Sprint(f.warmup))
		if err != nil {
			return err
		}
	}
	ratio := 0.0
	if torchTokS > 0 {
		ratio = tokS / torchTokS
	}
	fmt.Printf("bench-vlm: shammie_tok_s=%.0f pytorch_tok_s=%.0f ratio=%.3f matmul_ratio=%.2f backend=%s\n", tokS, torchTokS, ratio, matmulRatio, f.backend)
	return nil
}

// dotsGraph is dotrec's graph of only the recorded (float32) products on
// random inputs (listed with listDots); the returned function runs it once
// and gives its time in ms.
func dotsGraph(backend backends.Backend, dots []dotrec.DotShape, listDots bool) (func() (float64, error), float64, error) {
	if err := dotrec.CheckFloat32(dots); err != nil {
		return nil, 0, err
	}
	if listDots {
		for _, d := range dots {
			fmt.Printf("dot %s × %s: %.1f MFLOP\n", d.LHS, d.RHS, d.FLOPs()/1e6)
		}
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

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	return s[len(s)/2]
}
