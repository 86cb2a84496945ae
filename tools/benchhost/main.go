// Command benchhost measures the Shammie host's overhead per step against
// the targets of issue 2 (≤ 50 ms per step, ≤ 30 s per 1000-step sweep):
//
//  1. per-step overhead: launch a plugin process, handshake (AutoMTLS),
//     GetMetadata, GetSchema, ValidateConfig, an empty Run, teardown;
//     averaged over -n launches, each phase reported separately. This is
//     what a step costs when it gets a fresh process (--no-reuse).
//  2. a count = 1000 sweep of a no-op step run by the real `shammie run`
//     (wall time, cache off), with the host's default process reuse: a
//     process whose step succeeded runs the next instance of its plugin.
//
// It builds the host and the no-op plugin first. Run it with
// `make bench-host`; its last line is machine-readable:
//
//	bench-host: step_overhead_ms=N sweep1000_s=N
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/shammie-ml/shammie/sdk/pluginhost"
)

func main() {
	n := flag.Int("n", 50, "launches to average the per-step overhead over")
	sweep := flag.Int("sweep", 1000, "instances in the sweep")
	par := flag.Int("parallelism", runtime.NumCPU(), "shammie run --parallelism")
	prebuilt := flag.String("bin", "", "directory with prebuilt shammie and shammie-plugin-noop (skips building; for machines without Go)")
	fresh := flag.Int("fresh-sweep", 100, "also run a sweep of this many instances with --no-reuse (a process per instance); 0 skips it")
	root := flag.String("root", ".", "repository root (where go.work is)")
	flag.Parse()
	if err := run(*root, *prebuilt, *n, *sweep, *par, *fresh); err != nil {
		fmt.Fprintln(os.Stderr, "benchhost:", err)
		os.Exit(1)
	}
}

func run(root, prebuilt string, n, sweep, par, fresh int) error {
	dir, err := os.MkdirTemp("", "benchhost-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	host := filepath.Join(dir, "bin", "shammie")
	plugin := filepath.Join(dir, "bin", "shammie-plugin-noop")
	if prebuilt != "" {
		abs, err := filepath.Abs(prebuilt)
		if err != nil {
			return err
		}
		host, plugin = filepath.Join(abs, "shammie"), filepath.Join(abs, "shammie-plugin-noop")
	} else {
		for _, b := range [][2]string{{host, "./host/cmd/shammie"}, {plugin, "./tools/benchhost/noopplugin"}} {
			cmd := exec.Command("go", "build", "-o", b[0], b[1])
			cmd.Dir, cmd.Stdout, cmd.Stderr = root, os.Stderr, os.Stderr
			if err := cmd.Run(); err != nil {
				return fmt.Errorf("building %s: %w", b[1], err)
			}
		}
	}
	fmt.Printf("machine: %d CPUs (%s/%s)\n", runtime.NumCPU(), runtime.GOOS, runtime.GOARCH)

	phases, total, err := stepOverhead(plugin, n, dir)
	if err != nil {
		return err
	}
	fmt.Printf("per-step overhead, fresh plugin process, mean of %d:\n", n)
	for _, p := range phases {
		fmt.Printf("  %-22s %7.2f ms\n", p.name, ms(p.sum)/float64(n))
	}
	stepMS := ms(total) / float64(n)
	fmt.Printf("  %-22s %7.2f ms   (target <= 50 ms: %s)\n", "total", stepMS, verdict(stepMS <= 50))

	if fresh > 0 {
		s, err := sweepRun(dir, host, plugin, fresh, par, "--no-reuse")
		if err != nil {
			return err
		}
		fmt.Printf("sweep of %d no-op instances with --no-reuse (one process each), parallelism %d: %.2f s (%.2f ms per instance)\n", fresh, par, s, 1000*s/float64(fresh))
	}
	sweepS, err := sweepRun(dir, host, plugin, sweep, par)
	if err != nil {
		return err
	}
	scaled := sweepS * 1000 / float64(sweep)
	fmt.Printf("sweep of %d no-op instances, shammie run --parallelism %d --no-cache: %.2f s (%.2f ms per instance)\n", sweep, par, sweepS, 1000*sweepS/float64(sweep))
	fmt.Printf("  per 1000 steps: %.2f s   (target <= 30 s: %s)\n", scaled, verdict(scaled <= 30))
	fmt.Printf("bench-host: step_overhead_ms=%.1f sweep1000_s=%.2f\n", stepMS, scaled)
	return nil
}

type phase struct {
	name string
	sum  time.Duration
}

// stepOverhead times each phase of one step on a fresh process, n times.
func stepOverhead(plugin string, n int, dir string) ([]*phase, time.Duration, error) {
	names := []string{"launch+handshake", "metadata", "schema", "validate", "empty run", "teardown"}
	phases := make([]*phase, len(names))
	for i, name := range names {
		phases[i] = &phase{name: name}
	}
	ctx := context.Background()
	cfg := cty.ObjectVal(map[string]cty.Value{"i": cty.NumberIntVal(1)})
	var total time.Duration
	for i := 0; i < n; i++ {
		work := filepath.Join(dir, "work", fmt.Sprint(i))
		if err := os.MkdirAll(work, 0o755); err != nil {
			return nil, 0, err
		}
		start := time.Now()
		mark := start
		lap := func(p int) {
			now := time.Now()
			phases[p].sum += now.Sub(mark)
			mark = now
		}
		c, err := pluginhost.Launch(ctx, pluginhost.LaunchOptions{Path: plugin, AutoMTLS: true})
		if err != nil {
			return nil, 0, err
		}
		lap(0)
		if _, err := c.Metadata(ctx); err != nil {
			return nil, 0, err
		}
		lap(1)
		if _, err := c.Schema(ctx); err != nil {
			return nil, 0, err
		}
		lap(2)
		if _, err := c.ValidateConfig(ctx, cfg); err != nil {
			return nil, 0, err
		}
		lap(3)
		st, err := c.Run(ctx, pluginhost.RunRequest{RunID: "bench", Step: "step.noop", Config: cfg, WorkDir: work, StateDir: work, Backend: "go"}, nil)
		if err != nil || st.State != pluginhost.Succeeded {
			return nil, 0, fmt.Errorf("empty run: %v %v", st, err)
		}
		lap(4)
		c.Kill()
		lap(5)
		total += time.Since(start)
	}
	return phases, total, nil
}

func sweepRun(dir, host, plugin string, count, par int, extra ...string) (float64, error) {
	spec := filepath.Join(dir, "sweep.hcl")
	src := fmt.Sprintf(`plugin "noop" {}

step "sweep" {
  plugin = plugin.noop
  count  = %d
  config {
    i = count.index
  }
}
`, count)
	if err := os.WriteFile(spec, []byte(src), 0o644); err != nil {
		return 0, err
	}
	shammie := func(out io.Writer, args ...string) error {
		cmd := exec.Command(host, args...)
		cmd.Dir, cmd.Stdout, cmd.Stderr = dir, out, os.Stderr
		cmd.Env = append(os.Environ(), "SHAMMIE_PLUGIN_PATH="+filepath.Dir(plugin))
		return cmd.Run()
	}
	if err := shammie(io.Discard, "init", spec); err != nil {
		return 0, fmt.Errorf("shammie init: %w", err)
	}
	start := time.Now()
	args := append([]string{"run", "--no-cache", "--parallelism", fmt.Sprint(par), "--store", filepath.Join(dir, "store")}, extra...)
	if err := shammie(io.Discard, append(args, spec)...); err != nil {
		return 0, fmt.Errorf("shammie run: %w", err)
	}
	return time.Since(start).Seconds(), nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "MISSED"
}
