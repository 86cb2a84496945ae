// Package gpubench holds what tools/benchgpu needs from every benchmark
// (bench-train, bench-moe, bench-decode): model FLOPs per token, MFU, peak
// memory, and the XLA backend's environment.
package gpubench

import (
	"fmt"
	"os"
	"strings"
	"syscall"

	"github.com/shammie-ml/shammie/sdk/ml/pjrt"
)

// Shape is what model FLOPs are counted from: the kit's transformer
// (fused q|k|v and output projections, SwiGLU or a top-k MoE of SwiGLU
// experts with a router, untied head).
type Shape struct {
	Layers, DModel, Seq, Vocab int
	DFF                        int // dense SwiGLU width (0 with MoE)
	Experts, TopK, ExpertHid   int // MoE: active experts per token and their width
}

// TrainFLOPsPerToken is the model FLOPs of one training step per token,
// the PaLM convention: 6 × the parameters a token multiplies through
// (active experts only; embeddings excluded, the head included) plus
// 12 · layers · seq · d_model for attention's two score products
// (forward + backward, the full S×S the kit computes). Recomputation and
// padding are not counted: this is model FLOPs, not hardware FLOPs.
func (s Shape) TrainFLOPsPerToken() float64 {
	d := float64(s.DModel)
	ffn := 3 * d * float64(s.DFF)
	if s.Experts > 0 {
		ffn = 3*d*float64(s.TopK*s.ExpertHid) + d*float64(s.Experts)
	}
	params := float64(s.Layers)*(4*d*d+ffn) + d*float64(s.Vocab)
	return 6*params + 12*float64(s.Layers)*float64(s.Seq)*d
}

// MFU is model FLOPs utilisation: flopsPerToken × tokS ÷ peak (TFLOP/s);
// 0 when the peak is unknown.
func MFU(flopsPerToken, tokS, peakTFLOPs float64) float64 {
	if peakTFLOPs <= 0 {
		return 0
	}
	return flopsPerToken * tokS / (peakTFLOPs * 1e12)
}

// PeakRSSMB is this process's peak resident memory (host side; a GPU
// run's device memory is sampled by tools/benchgpu from nvidia-smi).
func PeakRSSMB() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return float64(ru.Maxrss) / 1024
}

// CPUSeconds is the process's user+system CPU time. A ratio of CPU times
// (step ÷ matmul-only graph) is what a machine shared with other jobs
// cannot inflate by taking the CPU away; with one simplego worker on an
// idle machine it equals the wall-clock ratio.
func CPUSeconds() float64 {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
}

// PrepareBackend is called first thing in a benchmark's main: for an
// "xla:<plugin>" backend it finds the PJRT plugin and CUDA libraries
// (sdk/ml/pjrt) and re-executes the program with them on LD_LIBRARY_PATH
// when it did not start so. It prints what it found on stderr.
func PrepareBackend(backend string) error {
	name, ok := strings.CutPrefix(backend, "xla:")
	if !ok {
		return nil
	}
	s, err := pjrt.Reexec(name)
	if err != nil {
		return err
	}
	fmt.Fprintln(os.Stderr, "xla:", s.Describe())
	return nil
}
