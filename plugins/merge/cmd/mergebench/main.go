// Command mergebench is `make bench-merge`: it writes a base and K
// fine-tuned checkpoints of -mb MiB each (64 float32 tensors, streamed to
// disk) into a temporary directory, then merges them with task arithmetic
// in a child process, so that the peak RSS it reports (VmHWM from
// /proc/self/status) is the merging process's alone. Before merging, the
// child evicts the inputs from the page cache (fadvise DONTNEED, our files
// only) and times one plain sequential read of the base, the disk's speed
// to compare with. Last line:
//
//	bench-merge: mb_s=N peak_rss_mb=N models=K
//
// mb_s is MiB of input read (all K+1 checkpoints) per second of merging,
// the output written and fsynced included.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/shammie-ml/shammie/plugins/merge/internal/merging"
	"github.com/shammie-ml/shammie/plugins/merge/internal/operators"
	"github.com/shammie-ml/shammie/plugins/merge/internal/planted"
)

const tensorsPerCheckpoint = 64

func main() {
	mb := flag.Int("mb", 1024, "size of each checkpoint in MiB (≥ 1; the issue's figure needs 1024)")
	k := flag.Int("models", 3, "fine-tuned models K (plus the base)")
	dir := flag.String("dir", "", "directory for the generated checkpoints (default: a new one under $TMPDIR, removed afterwards)")
	warm := flag.Bool("warm", false, "leave the inputs in the page cache (default: evict them, read from disk)")
	child := flag.String("merge-child", "", "internal: merge the checkpoints in this directory and report as JSON")
	flag.Parse()
	if *child != "" {
		if err := mergeChild(*child, *k, *warm); err != nil {
			fmt.Fprintln(os.Stderr, "mergebench child:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(*mb, *k, *dir, *warm); err != nil {
		fmt.Fprintln(os.Stderr, "mergebench:", err)
		os.Exit(1)
	}
}

func run(mb, k int, dir string, warm bool) error {
	if mb < 1 || k < 1 {
		return fmt.Errorf("need -mb ≥ 1 and -models ≥ 1")
	}
	work, err := os.MkdirTemp(dir, "mergebench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(work)
	// [rows, 1024] float32 tensors: rows = mb·1024·1024 / (4·1024·64) = 4·mb.
	rows := max(mb*1024*1024/(4*1024*tensorsPerCheckpoint), 1)
	cfg := planted.Config{Dir: work, Models: k, Tensors: tensorsPerCheckpoint, Rows: rows, Cols: 1024,
		Density: 0.05 / float64(k), Signal: 0.1, Noise: 0.01, Seed: 1, NoIdeal: true}
	fmt.Printf("generating base + %d models of %d MiB (%d tensors [%d, 1024] F32) in %s\n", k, mb, tensorsPerCheckpoint, rows, work)
	start := time.Now()
	last := time.Now()
	cfg.Progress = func(done, total int64) {
		if time.Since(last) > 5*time.Second {
			fmt.Printf("  %d / %d MiB\n", done>>20, total>>20)
			last = time.Now()
		}
	}
	if _, err := planted.Generate(context.Background(), cfg); err != nil {
		return err
	}
	fmt.Printf("generated in %.1f s\n", time.Since(start).Seconds())
	self, err := os.Executable()
	if err != nil {
		return err
	}
	args := []string{"-merge-child", work, "-models", strconv.Itoa(k)}
	if warm {
		args = append(args, "-warm")
	}
	cmd := exec.Command(self, args...)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("merge child: %w", err)
	}
	var res childResult
	if err := json.Unmarshal(out, &res); err != nil {
		return fmt.Errorf("merge child output %q: %w", out, err)
	}
	mbIn := float64(res.BytesRead) / (1 << 20)
	fmt.Printf("merged %.0f MiB of input (%d tensors) in %.2f s; cache %s; one plain sequential read of the base: %.0f MiB/s\n",
		mbIn, res.Tensors, res.Seconds, res.Cache, res.SeqReadMBs)
	fmt.Printf("bench-merge: mb_s=%.0f peak_rss_mb=%.0f models=%d\n", mbIn/res.Seconds, res.PeakRSSMB, k)
	return nil
}

type childResult struct {
	BytesRead  int64
	Tensors    int
	Seconds    float64
	PeakRSSMB  float64
	SeqReadMBs float64
	Cache      string
}

func mergeChild(dir string, k int, warm bool) error {
	base := filepath.Join(dir, "base.safetensors")
	var models []string
	for i := range k {
		models = append(models, filepath.Join(dir, fmt.Sprintf("model_%d.safetensors", i)))
	}
	inputs := append([]string{base}, models...)
	res := childResult{Cache: "warm"}
	if !warm {
		res.Cache = "cold (inputs evicted with fadvise DONTNEED)"
		if err := evict(inputs...); err != nil {
			return err
		}
		var err error
		if res.SeqReadMBs, err = seqRead(base); err != nil {
			return err
		}
		if err := evict(base); err != nil {
			return err
		}
	}
	weights := make([]float64, k)
	for i := range weights {
		weights[i] = 1
	}
	job := merging.Job{Base: base, Models: models, Out: filepath.Join(dir, "merged.safetensors"),
		Spec: operators.Spec{Method: operators.TaskArithmetic, Weights: weights, Scale: 1}}
	start := time.Now()
	st, err := merging.Run(context.Background(), job)
	if err != nil {
		return err
	}
	res.Seconds = time.Since(start).Seconds()
	res.BytesRead, res.Tensors = st.BytesRead, st.Tensors
	if res.PeakRSSMB, err = peakRSSMB(); err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(res)
}

// evict drops the files' pages from the page cache (they are synced).
func evict(paths ...string) error {
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		err = unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED)
		f.Close()
		if err != nil {
			return fmt.Errorf("fadvise %s: %w", p, err)
		}
	}
	return nil
}

func seqRead(path string) (float64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	buf := make([]byte, 16<<20)
	start := time.Now()
	n, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{f}, buf)
	if err != nil {
		return 0, err
	}
	return float64(n) / (1 << 20) / time.Since(start).Seconds(), nil
}

// peakRSSMB reads VmHWM (kB) from /proc/self/status.
func peakRSSMB() (float64, error) {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			if err != nil {
				return 0, fmt.Errorf("VmHWM line %q: %w", line, err)
			}
			return kb / 1024, nil
		}
	}
	return 0, fmt.Errorf("no VmHWM in /proc/self/status")
}
