// Package benchgpu holds the GPU benchmark's scripts (bench.sh, specs.sh);
// its test runs bench.sh's CPU dry mode, as CI does.
package benchgpu

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"
)

var lastLine = regexp.MustCompile(`^bench-gpu: dense_ratio=([0-9.]+) dense_mfu=([0-9.]+) moe_ratio=([0-9.]+) moe_mfu=([0-9.]+) decode_ratio=([0-9.]+) gpu=(\S+)$`)

// TestDryRun runs `BENCH_GPU_DRY=1 tools/benchgpu/bench.sh` — the GPU
// script on the CPU with tiny sizes — and checks it builds the benchmarks,
// runs Shammie and every PyTorch mode this torch has, and ends with the
// machine-readable line with positive ratios.
func TestDryRun(t *testing.T) {
	if testing.Short() {
		t.Skip("runs three benchmarks")
	}
	if _, err := exec.LookPath("go"); err != nil {
		t.Skip("no go in PATH to build the benchmarks")
	}
	py := ""
	for _, p := range []string{"/usr/bin/python3", "python3"} {
		if exec.Command(p, "-c", "import torch").Run() == nil {
			py = p
			break
		}
	}
	if py == "" {
		t.Skip("no python3 with torch: the PyTorch side cannot run (CI installs Debian's python3-torch: make python-plugin-deps; or tools/benchtrain/install_torch.sh)")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute) // ≈ 1 min on an idle 2-core machine; a loaded one is far slower
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "bench.sh")
	tmp := t.TempDir()
	cmd.Env = append(os.Environ(), "BENCH_GPU_DRY=1", "BENCH_GPU_PYTHON="+py,
		"BENCH_GPU_OUT="+filepath.Join(tmp, "out"), "BENCH_GPU_BIN="+filepath.Join(tmp, "bin"),
		"BENCH_GPU_TORCH_MODES=none default", "BENCH_GPU_MOE_TORCH_MODES=none default")
	start := time.Now()
	out, err := cmd.CombinedOutput()
	t.Logf("bench.sh (dry) in %v:\n%s", time.Since(start).Round(time.Second), out)
	if err != nil {
		t.Fatalf("bench.sh failed: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	m := lastLine.FindStringSubmatch(lines[len(lines)-1])
	if m == nil {
		t.Fatalf("last line %q is not `bench-gpu: dense_ratio=R dense_mfu=M moe_ratio=R moe_mfu=M decode_ratio=R gpu=NAME`", lines[len(lines)-1])
	}
	for i, name := range []string{"dense_ratio", "moe_ratio", "decode_ratio"} {
		if v, _ := strconv.ParseFloat(m[[]int{1, 3, 5}[i]], 64); !(v > 0) {
			t.Errorf("%s = %s: a side did not run", name, m[[]int{1, 3, 5}[i]])
		}
	}
	if m[6] != "cpu-dry" {
		t.Errorf("gpu=%s, want cpu-dry", m[6])
	}
	s := string(out)
	if !strings.Contains(s, "torch default: compile unavailable") && !strings.Contains(s, "torch default: step_ms=") {
		t.Error("the torch.compile mode neither ran nor said it is unavailable")
	}
}
