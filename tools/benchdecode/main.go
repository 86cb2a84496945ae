// Command benchdecode is `make bench-decode` (issue 9): greedy decoding with
// the KV cache, a batch of prompts of mixed lengths decoded together, in
// Shammie (sdk/ml's Decoder) and in PyTorch (tools/benchdecode/torch_decode.py,
// the same architecture with its own KV cache, run as internal/torchref runs
// every PyTorch reference) on the same weights: Shammie writes them as
// safetensors and the script loads them. Before timing, the two must agree:
// the logits after the prompts within a tolerance, and every generated token
// (a row may part only where Shammie's top two logits are a near tie, which
// float rounding can order either way). The last line is machine-readable:
//
//	bench-decode: shammie_tok_s=N pytorch_tok_s=N ratio=R backend=NAME
//
// tok_s counts generated tokens (batch × new tokens) per second of a whole
// Generate call, the prompt chunk included.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"sort"
	"time"

	"github.com/gomlx/gomlx/pkg/ml/context"
	"github.com/shammie-ml/shammie/internal/gpubench"
	"github.com/shammie-ml/shammie/internal/torchref"
	"github.com/shammie-ml/shammie/sdk/ml"
)

type flags struct {
	precision                    string
	backend                      string
	layers, dModel, heads, vocab int
	qkNorm                       bool
	batch, minPrompt, maxPrompt  int
	newTokens, reps, warmup      int
	torchScript, torchDevice     string
	cpuProfile                   string
	python                       string
	torchThreads                 int
	logitTol, tieTol             float64
}

func main() {
	var f flags
	flag.StringVar(&f.backend, "backend", "go", `GoMLX backend: "go" or "xla:cuda" (build with -tags xla)`)
	flag.IntVar(&f.layers, "layers", 2, "transformer layers")
	flag.IntVar(&f.dModel, "d-model", 128, "model width")
	flag.IntVar(&f.heads, "heads", 4, "attention heads")
	flag.IntVar(&f.vocab, "vocab", 256, "vocabulary size")
	flag.BoolVar(&f.qkNorm, "qk-norm", true, "RMSNorm on q and k")
	flag.IntVar(&f.batch, "batch", 16, "prompts decoded together")
	flag.IntVar(&f.minPrompt, "min-prompt", 8, "shortest prompt (lengths are spread evenly up to -max-prompt)")
	flag.IntVar(&f.maxPrompt, "max-prompt", 64, "longest prompt")
	flag.IntVar(&f.newTokens, "new-tokens", 64, "tokens generated per prompt")
	flag.IntVar(&f.reps, "reps", 5, "timed decodes (the median is reported)")
	flag.IntVar(&f.warmup, "warmup", 1, "untimed decodes first (compilation)")
	flag.StringVar(&f.torchScript, "torch-script", "tools/benchdecode/torch_decode.py", "PyTorch reference; empty to skip it (and the check)")
	flag.StringVar(&f.cpuProfile, "cpuprofile", "", "write a CPU profile of the timed Shammie decodes to PATH")
	flag.StringVar(&f.torchDevice, "torch-device", "cpu", `"cpu" or "cuda"`)
	flag.StringVar(&f.python, "python", "python3", "Python with torch")
	flag.IntVar(&f.torchThreads, "torch-threads", 2, "torch.set_num_threads")
	flag.Float64Var(&f.logitTol, "logit-tol", 1e-3, "largest |Shammie − PyTorch| allowed on the logits after the prompts")
	flag.Float64Var(&f.tieTol, "tie-tol", 1e-3, "top-two logit gap below which a row may part from PyTorch's")
	flag.StringVar(&f.precision, "precision", "float32", `matrix products in "float32" or "bfloat16" (the PyTorch reference stays float32: use -logit-tol to match)`)
	flag.Parse()
	if err := gpubench.PrepareBackend(f.backend); err != nil {
		fmt.Fprintln(os.Stderr, "benchdecode:", err)
		os.Exit(1)
	}
	if err := run(f); err != nil {
		fmt.Fprintln(os.Stderr, "benchdecode:", err)
		os.Exit(1)
	}
}

func run(f flags) error {
	if f.minPrompt < 1 || f.maxPrompt < f.minPrompt || f.batch < 1 || f.newTokens < 1 || f.reps < 1 {
		return fmt.Errorf("need 1 <= -min-prompt <= -max-prompt, -batch, -new-tokens and -reps >= 1")
	}
	backend, err := ml.OpenBackend(f.backend)
	if err != nil {
		return err
	}
	defer backend.Finalize()
	cfg := ml.Config{ComputeDType: f.precision, VocabSize: f.vocab, DModel: f.dModel, NumHeads: f.heads, NumLayers: f.layers,
		MaxSeqLen: f.maxPrompt + f.newTokens, QKNorm: f.qkNorm}.WithDefaults()
	model, err := ml.NewTransformer(cfg)
	if err != nil {
		return err
	}
	ctx := context.New()
	ml.SetInitSeed(ctx, 1)
	dec, err := model.NewDecoder(backend, ctx)
	if err != nil {
		return err
	}
	prompts := makePrompts(f)

	// Check on the shared weights (the first decode also creates them).
	got, gaps, first, err := greedy(dec, prompts, f.newTokens)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "benchdecode")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	weights, cfgPath, promptsPath, outPath := filepath.Join(dir, "model.safetensors"), filepath.Join(dir, "config.json"),
		filepath.Join(dir, "prompts.json"), filepath.Join(dir, "torch.json")
	if err := ml.SaveVariables(weights, ctx, context.RootScope+ml.ModelScope, nil); err != nil {
		return err
	}
	if err := ml.SaveConfig(cfgPath, cfg); err != nil {
		return err
	}
	if err := writeJSON(promptsPath, prompts); err != nil {
		return err
	}

	// PyTorch decodes once on the same weights; the outputs must agree
	// before anything is timed.
	args := []string{"--weights", weights, "--config", cfgPath, "--prompts", promptsPath, "--new-tokens", fmt.Sprint(f.newTokens),
		"--out", outPath, "--threads", fmt.Sprint(f.torchThreads), "--device", f.torchDevice}
	if f.torchScript != "" {
		cmd := exec.Command(f.python, append([]string{f.torchScript, "--check-only"}, args...)...)
		cmd.Env, cmd.Stdout, cmd.Stderr = torchref.Env(), os.Stdout, os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("%s --check-only: %w (install torch with tools/benchtrain/install_torch.sh)", f.torchScript, err)
		}
		if err := compare(outPath, got, gaps, first, f); err != nil {
			return err
		}
	}

	// Shammie timing.
	opt := ml.DecodeOptions{MaxNewTokens: f.newTokens}
	for range f.warmup {
		if _, err := dec.Generate(prompts, opt); err != nil {
			return err
		}
	}
	if f.cpuProfile != "" {
		pf, err := os.Create(f.cpuProfile)
		if err != nil {
			return err
		}
		defer pf.Close()
		_ = pprof.StartCPUProfile(pf)
	}
	times := make([]time.Duration, f.reps)
	for i := range times {
		t0 := time.Now()
		gens, err := dec.Generate(prompts, opt)
		if err != nil {
			return err
		}
		times[i] = time.Since(t0)
		for r, g := range gens {
			if !equal(g.Tokens, got[r]) {
				return fmt.Errorf("row %d of Generate differs from the step-by-step decode: %v vs %v", r, g.Tokens, got[r])
			}
		}
	}
	if f.cpuProfile != "" {
		pprof.StopCPUProfile()
	}
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	med := times[len(times)/2]
	tokS := float64(f.batch*f.newTokens) / med.Seconds()
	fmt.Printf("shammie: backend=%s layers=%d d_model=%d heads=%d vocab=%d qk_norm=%v batch=%d prompts=%d..%d new=%d decode_ms=%.2f (median of %d; min %.2f) tok_s=%.1f\n",
		f.backend, f.layers, f.dModel, f.heads, f.vocab, f.qkNorm, f.batch, f.minPrompt, f.maxPrompt, f.newTokens,
		ms(med), f.reps, ms(times[0]), tokS)

	torchTokS, ratio := 0.0, 0.0
	if f.torchScript != "" {
		if torchTokS, err = torchref.Run(f.python, f.torchScript, append(args, "--reps", fmt.Sprint(f.reps), "--warmup", fmt.Sprint(f.warmup))...); err != nil {
			return err
		}
		ratio = tokS / torchTokS
	}
	fmt.Printf("bench-decode: shammie_tok_s=%.0f pytorch_tok_s=%.0f ratio=%.3f backend=%s\n",
		tokS, torchTokS, ratio, f.backend)
	return nil
}

// makePrompts draws batch prompts of random bytes whose lengths are spread
// evenly over [minPrompt, maxPrompt].
func makePrompts(f flags) [][]int32 {
	rng := rand.New(rand.NewPCG(7, 8))
	prompts := make([][]int32, f.batch)
	for i := range prompts {
		n := f.minPrompt
		if f.batch > 1 {
			n += (f.maxPrompt - f.minPrompt) * i / (f.batch - 1)
		}
		prompts[i] = make([]int32, n)
		for j := range prompts[i] {
			prompts[i][j] = int32(rng.IntN(f.vocab))
		}
	}
	return prompts
}

// greedy decodes with the step-by-step API, recording each choice's margin
// over the runner-up and the logits after the prompts.
func greedy(dec *ml.Decoder, prompts [][]int32, n int) (toks [][]int32, gaps [][]float64, first [][]float32, err error) {
	s, err := dec.Start(prompts, nil)
	if err != nil {
		return nil, nil, nil, err
	}
	defer s.Close()
	toks, gaps = make([][]int32, len(prompts)), make([][]float64, len(prompts))
	for r := range prompts {
		first = append(first, append([]float32(nil), s.Logits(r)...))
	}
	next := make([]int32, len(prompts))
	for step := range n {
		for r := range prompts {
			l := s.Logits(r)
			best, second := 0, -1
			for i, x := range l {
				switch {
				case x > l[best]:
					best, second = i, best
				case i != best && (second < 0 || x > l[second]):
					second = i
				}
			}
			next[r] = int32(best)
			toks[r] = append(toks[r], int32(best))
			gaps[r] = append(gaps[r], float64(l[best]-l[second]))
		}
		if step < n-1 {
			if err := s.Advance(next, nil); err != nil {
				return nil, nil, nil, err
			}
		}
	}
	return toks, gaps, first, nil
}

// compare checks PyTorch's output against Shammie's.
func compare(path string, toks [][]int32, gaps [][]float64, first [][]float32, f flags) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var ref struct {
		Tokens [][]int32   `json:"tokens"`
		Logits [][]float64 `json:"logits"`
	}
	if err := json.Unmarshal(raw, &ref); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	if len(ref.Tokens) != len(toks) || len(ref.Logits) != len(first) {
		return fmt.Errorf("PyTorch returned %d rows, want %d", len(ref.Tokens), len(toks))
	}
	maxDiff := 0.0
	for r := range first {
		for i, x := range first[r] {
			maxDiff = math.Max(maxDiff, math.Abs(float64(x)-ref.Logits[r][i]))
		}
	}
	if maxDiff > f.logitTol {
		return fmt.Errorf("logits after the prompts differ from PyTorch's by up to %.3g (tolerance %.3g)", maxDiff, f.logitTol)
	}
	same, parted := 0, 0
	for r := range toks {
		for i, t := range toks[r] {
			if t == ref.Tokens[r][i] {
				same++
				continue
			}
			if gaps[r][i] >= f.tieTol {
				return fmt.Errorf("row %d token %d: Shammie %d, PyTorch %d, with a top-two logit gap of %.3g (not a tie)",
					r, i, t, ref.Tokens[r][i], gaps[r][i])
			}
			parted++
			break // the rows continue from different tokens: nothing more to compare
		}
	}
	fmt.Printf("check: logits after the prompts within %.2g of PyTorch's; %d tokens identical; %d of %d rows part at a near tie (gap < %.2g)\n",
		maxDiff, same, parted, len(toks), f.tieTol)
	return nil
}

func writeJSON(path string, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}

func equal(a, b []int32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
