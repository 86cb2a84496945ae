// Command benchstore measures the host at the scale the README allows
// (issue 11): `shammie runs list` on a store of 10 000 runs, planning a
// spec of 100 000 + 100 000 dependent instances (b[i] reads a[i]; wall
// time and peak RSS of `shammie validate`), and a fully cached rerun of a
// 1000-instance sweep next to computing it. It builds the host and the
// no-op plugin of tools/benchhost first. Sizes come from flags or the
// environment (BENCH_STORE_RUNS, BENCH_STORE_INSTANCES, BENCH_STORE_SWEEP)
// so that a quick check can run small. The last line is machine-readable:
//
//	bench-store: runs_list_ms=N plan100k_s=N plan100k_rss_mb=N cachehit1k_s=N
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func main() {
	runs := flag.Int("runs", envInt("BENCH_STORE_RUNS", 10000), "runs in the generated store")
	inst := flag.Int("instances", envInt("BENCH_STORE_INSTANCES", 100000), "instances of each of the two dependent steps")
	sweep := flag.Int("sweep", envInt("BENCH_STORE_SWEEP", 1000), "instances of the cached sweep")
	root := flag.String("root", ".", "repository root (where go.work is)")
	flag.Parse()
	if err := run(*root, *runs, *inst, *sweep); err != nil {
		fmt.Fprintln(os.Stderr, "benchstore:", err)
		os.Exit(1)
	}
}

type tool struct{ dir, host, pluginDir string }

func (t tool) shammie(out io.Writer, args ...string) (time.Duration, *syscall.Rusage, error) {
	cmd := exec.Command(t.host, args...)
	cmd.Dir, cmd.Stdout, cmd.Stderr = t.dir, out, os.Stderr
	cmd.Env = append(os.Environ(), "SHAMMIE_PLUGIN_PATH="+t.pluginDir)
	start := time.Now()
	err := cmd.Run()
	d := time.Since(start)
	var ru *syscall.Rusage
	if cmd.ProcessState != nil {
		ru, _ = cmd.ProcessState.SysUsage().(*syscall.Rusage)
	}
	if err != nil {
		return d, ru, fmt.Errorf("shammie %v: %w", args, err)
	}
	return d, ru, nil
}

func run(root string, runs, inst, sweep int) error {
	dir, err := os.MkdirTemp("", "benchstore-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	t := tool{dir: dir, host: filepath.Join(dir, "bin", "shammie"), pluginDir: filepath.Join(dir, "bin")}
	for _, b := range [][2]string{{t.host, "./host/cmd/shammie"}, {filepath.Join(dir, "bin", "shammie-plugin-noop"), "./tools/benchhost/noopplugin"}} {
		cmd := exec.Command("go", "build", "-o", b[0], b[1])
		cmd.Dir, cmd.Stdout, cmd.Stderr = root, os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("building %s: %w", b[1], err)
		}
	}

	// 1. runs list over a generated store.
	store := filepath.Join(dir, "store")
	if err := generateStore(store, runs); err != nil {
		return err
	}
	listD, _, err := t.shammie(io.Discard, "runs", "list", "--store", store)
	if err != nil {
		return err
	}
	fmt.Printf("runs list, %d runs: %.0f ms\n", runs, ms(listD))

	// 2. planning 2 × inst dependent instances.
	big := filepath.Join(dir, "big.hcl")
	if err := os.WriteFile(big, []byte(fmt.Sprintf(`plugin "noop" {}
step "a" {
  plugin = plugin.noop
  count  = %d
  config { i = count.index }
}
step "b" {
  plugin = plugin.noop
  count  = %d
  config { i = step.a[count.index].outputs.i }
}
`, inst, inst)), 0o644); err != nil {
		return err
	}
	if _, _, err := t.shammie(io.Discard, "init", big); err != nil {
		return err
	}
	planD, ru, err := t.shammie(io.Discard, "validate", big)
	if err != nil {
		return err
	}
	rssMB := 0.0
	if ru != nil {
		rssMB = float64(ru.Maxrss) / 1024 // KiB on Linux
	}
	fmt.Printf("validate, %d + %d dependent instances: %.2f s, peak RSS %.0f MB\n", inst, inst, planD.Seconds(), rssMB)

	// 3. a sweep computed, then fully cached.
	sw := filepath.Join(dir, "sweep.hcl")
	if err := os.WriteFile(sw, []byte(fmt.Sprintf(`plugin "noop" {}
step "s" {
  plugin = plugin.noop
  count  = %d
  config { i = count.index }
}
`, sweep)), 0o644); err != nil {
		return err
	}
	if _, _, err := t.shammie(io.Discard, "init", sw); err != nil {
		return err
	}
	cstore := filepath.Join(dir, "cstore")
	computeD, _, err := t.shammie(io.Discard, "run", "--store", cstore, sw)
	if err != nil {
		return err
	}
	hitD, _, err := t.shammie(io.Discard, "run", "--store", cstore, sw)
	if err != nil {
		return err
	}
	fmt.Printf("sweep of %d: computed in %.2f s, fully cached rerun %.2f s\n", sweep, computeD.Seconds(), hitD.Seconds())
	fmt.Printf("targets: runs list ≤ 1 s: %v; plan ≤ 10 s and ≤ 2 GiB: %v; cached rerun faster than computing: %v\n",
		ms(listD) <= 1000, planD.Seconds() <= 10 && rssMB <= 2048, hitD < computeD)
	fmt.Printf("bench-store: runs_list_ms=%.0f plan100k_s=%.2f plan100k_rss_mb=%.0f cachehit1k_s=%.2f\n", ms(listD), planD.Seconds(), rssMB, hitD.Seconds())
	return nil
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// generateStore writes n finished runs of three steps each, as the host
// records them (run.json with its step index; the records' JSON format is
// the store's documented layout).
func generateStore(root string, n int) error {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < n; i++ {
		t := start.Add(time.Duration(i) * time.Second)
		id := fmt.Sprintf("%s-%04x", t.Format("20060102T150405"), i%0x10000)
		dir := filepath.Join(root, "runs", id)
		if err := os.MkdirAll(filepath.Join(dir, "steps"), 0o700); err != nil {
			return err
		}
		end := t.Add(2 * time.Second)
		rec := map[string]any{
			"id": id, "status": "succeeded", "host_version": "0.1.0", "started_at": t, "ended_at": end,
			"spec":      []map[string]string{{"path": "specs/bench.hcl", "text": "plugin \"noop\" {}\n"}},
			"variables": map[string]any{}, "plugins": []map[string]string{{"name": "noop", "version": "0.1.0", "sha256": "00"}},
			"seed": 0, "backends": []string{"go"}, "process": map[string]any{"pid": 1},
			"steps": []map[string]any{
				{"address": "step.gen", "dir": "gen", "status": "succeeded"},
				{"address": "step.fit[0]", "dir": "fit_0-0a1b2c3d", "status": "succeeded", "cache_hit": true},
				{"address": "step.fit[1]", "dir": "fit_1-1a1b2c3d", "status": "succeeded"},
			},
		}
		b, err := json.Marshal(rec)
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, "run.json"), b, 0o600); err != nil {
			return err
		}
	}
	return nil
}
