package command

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/shammie-ml/shammie/host/internal/runner"
	"github.com/shammie-ml/shammie/host/internal/runstore"
)

func init() {
	register(&command{
		name:    "run",
		summary: "Run a spec: every step instance not already cached, independent ones in parallel.",
		usage:   "[flags] [spec.hcl]",
		detail: `The spec is validated first (as by validate). Then step instances run as soon
as the steps they reference have finished, up to --parallelism at a time.
A step whose plugin binary, config, input artifacts, seed and backend are
unchanged since a successful run is restored from the cache and skipped, so
rerunning after a crash or an interrupt resumes where it stopped.
The first failure stops the run (running steps are asked to stop); with
--keep-going everything that does not depend on a failure still runs.
SIGINT/SIGTERM ask every running plugin to stop and wait --grace-period
before killing it; a second signal kills at once.
On a terminal, one progress line per running step is redrawn; otherwise one
line per event: "[step.train] progress train 120/500 steps" (progress and
metric lines at most once a second per step and stage or metric; the run
store keeps every event). --json prints one JSON object per event.
Plugin processes are reused: a process whose step succeeded runs the next
instance of the same plugin (--no-reuse launches one per instance).`,
		example:   "  shammie run specs/default.hcl\n  shammie run --parallelism 2 --keep-going -var n_concepts=50 --seed 7 specs/fit.hcl\n  shammie run --backend xla:cuda --store /scratch/shammie specs/moe.hcl",
		interrupt: "stopping the running steps (signal again to kill them now)",
		run:       runRun,
	})
}

func runRun(ctx context.Context, env *Env, args []string) error {
	c := lookup("run")
	fs := newFlags(env, c)
	var f specFlags
	f.register(fs, true)
	keepGoing := fs.Bool("keep-going", false, "after a failure, still run every step that does not depend on it")
	noCache := fs.Bool("no-cache", false, "run every step even when a cached result exists")
	var ex executorFlags
	ex.register(fs)
	pos, err := parse(env, c, fs, args)
	if err != nil {
		return err
	}
	if f.parallelism < 1 {
		return usagef("--parallelism must be at least 1")
	}
	specPath, err := specArg(pos)
	if err != nil {
		return err
	}
	s, err := f.load(ctx, env, specPath, false)
	if err != nil {
		if ctx.Err() != nil {
			return &runner.Error{Kind: runner.KindInterrupted, Err: context.Cause(ctx)}
		}
		return err
	}
	defer s.Close()
	store, err := openStore(env, f.store)
	if err != nil {
		return err
	}
	var ui progressUI
	switch {
	case f.json:
		ui = newJSONUI(env.Stdout)
	case env.IsTTY:
		ui = newTTYUI(env.Stdout)
	default:
		ui = newPlainUI(env.Stdout)
	}
	ro, closeExecutor, err := ex.setup(s, store, env, runner.RunOptions{
		Parallelism: f.parallelism, KeepGoing: *keepGoing, NoCache: *noCache,
		HostVersion: Version, Observer: ui.event,
	})
	if err != nil {
		return f.reportError(env, s, err)
	}
	defer closeExecutor()
	out, err := s.Execute(ctx, store, ro)
	ui.close()
	if out != nil && !f.json {
		fmt.Fprintf(env.Stdout, "Run %s %s: %s. Store: %s\n", out.RunID, out.Status, countsText(out), store.Root())
		if len(out.Outputs) > 0 {
			fmt.Fprintf(env.Stdout, "\nOutputs:\n")
			for _, o := range out.Outputs {
				fmt.Fprintf(env.Stdout, "  %s = %s\n", o.Name, termSafe(o.Text))
			}
		}
	}
	if err != nil {
		if !f.json {
			fmt.Fprintf(env.Stderr, "Error: %v\n", err)
		}
		return &silentError{exitCode(err)}
	}
	return nil
}

func countsText(o *runner.Outcome) string {
	var parts []string
	for _, st := range []string{"succeeded", "failed", "cancelled", "skipped"} {
		for k, v := range o.Counts {
			if string(k) == st && v > 0 {
				p := fmt.Sprintf("%d %s", v, st)
				if st == "succeeded" && o.CacheHits > 0 {
					p += fmt.Sprintf(" (%d cached)", o.CacheHits)
				}
				parts = append(parts, p)
			}
		}
	}
	if len(parts) == 0 {
		return "no steps"
	}
	return strings.Join(parts, ", ")
}

type progressUI interface {
	event(runner.Event)
	close()
}

// jsonUI prints every event as one JSON object per line, in the shape
// and with the encoder of the run store's events.jsonl.
type jsonUI struct {
	mu sync.Mutex
	w  io.Writer
}

func newJSONUI(w io.Writer) *jsonUI { return &jsonUI{w: w} }

func (u *jsonUI) event(e runner.Event) {
	u.mu.Lock()
	defer u.mu.Unlock()
	_ = runstore.WriteEvent(u.w, e)
}

func (u *jsonUI) close() {}

// plainUI prints one line per event, for logs and pipes. Progress and
// metric lines are thinned to one per interval per step and stage/metric
// (the first and a stage's last always show): a training loop reporting
// every step would otherwise bury everything else. The run store keeps
// every event.
type plainUI struct {
	mu       sync.Mutex
	w        io.Writer
	interval time.Duration
	last     map[string]time.Time
}

func newPlainUI(w io.Writer) *plainUI {
	return &plainUI{w: w, interval: time.Second, last: map[string]time.Time{}}
}

func (u *plainUI) event(e runner.Event) {
	line := eventLine(e)
	if line == "" {
		return
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if e.Kind == "progress" || e.Kind == "metric" {
		key := e.Kind + "\x00" + e.Step + "\x00" + e.Stage + e.Name
		final := e.Kind == "progress" && e.Total > 0 && e.Done >= e.Total
		if t, seen := u.last[key]; seen && !final && e.Time.Sub(t) < u.interval {
			return
		}
		u.last[key] = e.Time
	}
	if e.Kind == "done" || e.Kind == "cached" || e.Kind == "skipped" {
		for k := range u.last {
			if strings.Contains(k, "\x00"+e.Step+"\x00") {
				delete(u.last, k)
			}
		}
	}
	fmt.Fprintln(u.w, line)
}

func (u *plainUI) close() {}

// eventLine is one line of the display, escaped for the terminal.
func eventLine(e runner.Event) string { return termSafe(eventText(e)) }

func eventText(e runner.Event) string {
	p := "[" + e.Step + "] "
	switch e.Kind {
	case "run":
		return fmt.Sprintf("Run %s (records in %s)", e.RunID, e.Message)
	case "start":
		return p + "started (plugin " + e.Plugin + ")"
	case "cached":
		return p + e.Message
	case "progress":
		return p + "progress " + progressText(e)
	case "metric":
		return fmt.Sprintf("%smetric %s=%g (step %d)", p, e.Name, deref(e.Value), derefInt(e.MetricStep))
	case "log":
		if e.Level != "info" {
			return p + e.Level + ": " + e.Message
		}
		return p + e.Message
	case "artifact":
		return p + "artifact " + e.Name + " -> " + e.StorePath
	case "output":
		return p + "output " + e.Name + " = " + outputText(e)
	case "done":
		s := fmt.Sprintf("%s%s in %s", p, e.Status, time.Duration(e.DurationMS)*time.Millisecond)
		if e.Status != "succeeded" && e.Message != "" {
			s += ": " + e.Message
		}
		if e.StderrTail != "" {
			s += "\n" + indent("--- last lines of the plugin's stderr ---\n"+e.StderrTail, "    ")
		}
		return s
	case "skipped":
		return p + "skipped: " + e.Message
	}
	return ""
}

func progressText(e runner.Event) string {
	s := e.Stage + " "
	if e.Total > 0 {
		s += fmt.Sprintf("%d/%d", e.Done, e.Total)
	} else {
		s += fmt.Sprintf("%d", e.Done)
	}
	if e.Unit != "" {
		s += " " + e.Unit
	}
	return s
}

func indent(s, pre string) string {
	return pre + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n"+pre)
}

func deref(p *runstore.Float) float64 {
	if p == nil {
		return 0
	}
	return float64(*p)
}

func outputText(e runner.Event) string {
	if e.Output == nil {
		return ""
	}
	return e.Output.String()
}

func derefInt(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}

// ttyUI keeps one redrawn line per running step below the log of finished
// steps, warnings and errors.
type ttyUI struct {
	mu      sync.Mutex
	w       io.Writer
	order   []string          // running steps in start order
	status  map[string]string // step -> its live line
	started map[string]time.Time
	drawn   int // live lines on screen
	last    time.Time
	stopped chan struct{}
	wg      sync.WaitGroup
}

func newTTYUI(w io.Writer) *ttyUI {
	u := &ttyUI{w: w, status: map[string]string{}, started: map[string]time.Time{}, stopped: make(chan struct{})}
	// Redraw on a timer too, so elapsed times move while plugins are quiet.
	u.wg.Add(1)
	go func() {
		defer u.wg.Done()
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-u.stopped:
				return
			case <-t.C:
				u.mu.Lock()
				u.redraw()
				u.mu.Unlock()
			}
		}
	}()
	return u
}

func (u *ttyUI) event(e runner.Event) {
	u.mu.Lock()
	defer u.mu.Unlock()
	switch e.Kind {
	case "start":
		u.order = append(u.order, e.Step)
		u.status[e.Step] = "starting"
		u.started[e.Step] = time.Now()
	case "progress":
		u.status[e.Step] = bar(e) + " " + progressText(e)
	case "metric":
		if s, ok := u.status[e.Step]; ok {
			base, _, _ := strings.Cut(s, "  |")
			u.status[e.Step] = fmt.Sprintf("%s  | %s=%.4g", base, e.Name, deref(e.Value))
		}
	case "done", "skipped", "cached", "run", "log", "output":
		// Log lines are meant for the user and outputs are small: they go
		// to the scrolling log above the live lines, as do finished steps.
		u.clear()
		fmt.Fprintln(u.w, eventLine(e))
		if e.Kind != "log" && e.Kind != "output" {
			u.remove(e.Step)
		}
		u.redrawNow()
		return
	default:
		return
	}
	if time.Since(u.last) > 100*time.Millisecond {
		u.redrawNow()
	}
}

func (u *ttyUI) remove(step string) {
	delete(u.status, step)
	delete(u.started, step)
	for i, s := range u.order {
		if s == step {
			u.order = append(u.order[:i], u.order[i+1:]...)
			break
		}
	}
}

func (u *ttyUI) clear() {
	for ; u.drawn > 0; u.drawn-- {
		fmt.Fprint(u.w, "\x1b[1A\x1b[2K")
	}
}

func (u *ttyUI) redraw() { u.redrawNow() }

func (u *ttyUI) redrawNow() {
	u.clear()
	for _, s := range u.order {
		fmt.Fprintf(u.w, "%s %s  %s\n", s, u.status[s], time.Since(u.started[s]).Truncate(100*time.Millisecond))
		u.drawn++
	}
	u.last = time.Now()
}

func (u *ttyUI) close() {
	close(u.stopped)
	u.wg.Wait()
	u.mu.Lock()
	defer u.mu.Unlock()
	u.clear()
}

func bar(e runner.Event) string {
	const width = 20
	if e.Total <= 0 {
		return "[" + strings.Repeat("·", width) + "]"
	}
	filled := int(float64(width) * float64(min(e.Done, e.Total)) / float64(e.Total))
	return "[" + strings.Repeat("█", filled) + strings.Repeat("·", width-filled) + "]"
}
