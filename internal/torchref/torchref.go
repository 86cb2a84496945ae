// Package torchref runs a PyTorch reference script for the benchmarks that
// compare an sdk/ml model with PyTorch (tools/benchtrain, plugins/moe's
// benchmoe), configured the same way for all of them so their ratios mean
// the same thing. It is internal to this repository's benchmarks.
//
// "PyTorch at its best" on the CPU: one OpenBLAS thread per torch thread
// (the script sets torch's threads; OPENBLAS_NUM_THREADS=1 stops OpenBLAS
// from oversubscribing the cores), the machine's OPENBLAS_CORETYPE and
// OPENBLAS_L2_SIZE removed, and a kernel chosen for the CPU. Debian's
// OpenBLAS 0.3.21 does not recognise this machine's virtual Xeon (AVX-512) and its
// DYNAMIC_ARCH falls back to the SSE3 "Prescott" kernel; measured on this
// benchmark's model: Prescott 317 ms/step, Zen 108, Haswell 99, SkylakeX 79.
// So on a CPU with AVX-512 we ask for SkylakeX, with AVX2 for Haswell, and
// otherwise leave the choice to OpenBLAS. $SHAMMIE_BENCH_OPENBLAS_CORETYPE
// overrides the choice ("auto" = OpenBLAS's own). The script prints the
// kernel OpenBLAS actually loaded.
package torchref

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
)

// OverrideEnv names the variable that overrides the kernel choice.
const OverrideEnv = "SHAMMIE_BENCH_OPENBLAS_CORETYPE"

// Kernel returns the OpenBLAS core type to request on this machine, or ""
// to let OpenBLAS choose.
func Kernel() string {
	if v := os.Getenv(OverrideEnv); v != "" {
		if v == "auto" {
			return ""
		}
		return v
	}
	info, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	return kernelFor(string(info))
}

func kernelFor(cpuinfo string) string {
	for _, line := range strings.Split(cpuinfo, "\n") {
		if !strings.HasPrefix(line, "flags") {
			continue
		}
		flags := " " + line[strings.Index(line, ":")+1:] + " "
		switch {
		case strings.Contains(flags, " avx512f ") && strings.Contains(flags, " avx512bw "):
			return "SkylakeX"
		case strings.Contains(flags, " avx2 ") && strings.Contains(flags, " fma "):
			return "Haswell"
		}
		return ""
	}
	return ""
}

// Env is the environment for the reference process: this process's, less
// the machine's OpenBLAS settings, plus one OpenBLAS thread and the kernel.
func Env() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "OPENBLAS_CORETYPE=") || strings.HasPrefix(kv, "OPENBLAS_L2_SIZE=") ||
			strings.HasPrefix(kv, "OPENBLAS_NUM_THREADS=") {
			continue
		}
		env = append(env, kv)
	}
	env = append(env, "OPENBLAS_NUM_THREADS=1")
	if k := Kernel(); k != "" {
		env = append(env, "OPENBLAS_CORETYPE="+k)
	}
	return env
}

var tokLine = regexp.MustCompile(`tok_s=([0-9.]+)`)

// Run runs python script args... with Env, echoes its standard output and
// returns the last tok_s=N figure it printed.
func Run(python, script string, args ...string) (float64, error) {
	cmd := exec.Command(python, append([]string{script}, args...)...)
	cmd.Env = Env()
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return 0, fmt.Errorf("%s %s %s: %w (install torch with tools/benchtrain/install_torch.sh)",
			python, script, strings.Join(args, " "), err)
	}
	var tokS float64
	sc := bufio.NewScanner(&out)
	for sc.Scan() {
		fmt.Println(sc.Text())
		if m := tokLine.FindStringSubmatch(sc.Text()); m != nil {
			tokS, _ = strconv.ParseFloat(m[1], 64)
		}
	}
	if tokS == 0 {
		return 0, fmt.Errorf("%s printed no tok_s figure", script)
	}
	return tokS, nil
}
