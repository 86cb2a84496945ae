package slurm

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/shammie-ml/shammie/host/internal/depsfile"
	"github.com/shammie-ml/shammie/sdk/pluginhost"
)

// WorkerEnv is what a worker learns from Slurm's environment.
type WorkerEnv struct {
	JobID   string // 123_4, or 123 outside an array
	Attempt int    // SLURM_RESTART_COUNT
	Node    string
}

// EnvFromSlurm reads the worker's job from the environment Slurm sets.
func EnvFromSlurm(getenv func(string) string) WorkerEnv {
	w := WorkerEnv{JobID: getenv("SLURM_JOB_ID"), Node: getenv("SLURMD_NODENAME")}
	if a, t := getenv("SLURM_ARRAY_JOB_ID"), getenv("SLURM_ARRAY_TASK_ID"); a != "" && t != "" {
		w.JobID = a + "_" + t
	}
	w.Attempt, _ = strconv.Atoi(getenv("SLURM_RESTART_COUNT"))
	if w.Node == "" {
		w.Node, _ = os.Hostname()
	}
	return w
}

// PluginConn is a running plugin process (runner.Conn).
type PluginConn interface {
	Run(ctx context.Context, req pluginhost.RunRequest, onEvent func(pluginhost.Event)) (pluginhost.Status, error)
	StderrTail() string
	Kill()
}

// Launcher starts a plugin binary on the node, running it in dir,
// executing only bytes whose sha256 is the given one (the host's own
// launcher: a private copy checked against the lock's hash).
type Launcher func(ctx context.Context, r Request) (PluginConn, error)

// RunWorker runs the instance of <batchDir>/<index>.json on this node and
// writes its events, heartbeat and result into the request's Dir. It
// returns the result (also written) and an error only when it could not
// even write one. ctx is cancelled when Slurm stops the job (SIGTERM from
// scancel, requeue or preemption): the plugin is then asked to stop.
func RunWorker(ctx context.Context, batchDir string, index int, env WorkerEnv, launch Launcher) (Result, error) {
	var req Request
	if err := ReadJSON(filepath.Join(batchDir, fmt.Sprintf("%d.json", index)), &req); err != nil {
		return Result{}, fmt.Errorf("reading the job request: %w", err)
	}
	if err := os.MkdirAll(req.Dir, 0o755); err != nil {
		return Result{}, err
	}
	// A requeued attempt starts over: an earlier attempt's result (its
	// cancellation by the requeue) is no longer the answer.
	os.Remove(filepath.Join(req.Dir, ResultFile))
	res := Result{JobID: env.JobID, Node: env.Node, Attempt: env.Attempt}
	stopBeat := startHeartbeat(req, env)
	defer stopBeat()
	finish := func() (Result, error) {
		res.Time = time.Now().UTC()
		stopBeat()
		return res, WriteJSONAtomic(filepath.Join(req.Dir, ResultFile), res, 0o644)
	}
	if env.Attempt > req.MaxRequeue {
		res.State, res.Message = "failed", fmt.Sprintf("Slurm requeued job %s %d times, more than the %d allowed (--executor-opt max_requeue)", env.JobID, env.Attempt, req.MaxRequeue)
		return finish()
	}
	if err := verifyLock(req); err != nil {
		res.State, res.Error = "failed", err.Error()
		return finish()
	}
	cfg, err := req.DecodeConfig()
	if err != nil {
		res.State, res.Error = "failed", "decoding the job request: "+err.Error()
		return finish()
	}
	events, err := os.OpenFile(filepath.Join(req.Dir, EventsFile), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return Result{}, err
	}
	defer events.Close()
	c, err := launch(ctx, req)
	if err != nil {
		res.State, res.Error = "failed", fmt.Sprintf("launching plugin %q on node %s: %v", req.Plugin, env.Node, err)
		if ctx.Err() != nil {
			res.State = "cancelled"
		}
		return finish()
	}
	defer c.Kill()
	var writeErr error
	onEvent := func(ev pluginhost.Event) {
		w, err := EncodeEvent(env.Attempt, ev)
		if err == nil {
			var line []byte
			line, err = json.Marshal(w)
			// One write per line on an O_APPEND file: lines of one writer
			// never interleave, and a reader takes only complete lines.
			if err == nil {
				_, err = events.Write(append(line, '\n'))
			}
		}
		if err != nil && writeErr == nil {
			writeErr = err
		}
	}
	st, err := c.Run(ctx, pluginhost.RunRequest{
		RunID: req.RunID, Step: req.Step, Config: cfg, WorkDir: req.WorkDir, StateDir: req.StateDir,
		Seed: req.Seed, Backend: req.Backend,
	}, onEvent)
	_ = events.Sync()
	switch {
	case err != nil && ctx.Err() != nil:
		res.State, res.Message = "cancelled", "stopped by Slurm: "+err.Error()
	case err != nil:
		res.State, res.Error, res.StderrTail = "failed", err.Error(), c.StderrTail()
	case writeErr != nil:
		res.State, res.Error = "failed", fmt.Sprintf("writing events to %s: %v", req.Dir, writeErr)
	default:
		res.State, res.Message, res.Diagnostics = st.State.String(), st.Message, EncodeDiagnostics(st.Diagnostics)
		if st.State == pluginhost.Failed {
			res.StderrTail = c.StderrTail()
		}
	}
	return finish()
}

// verifyLock checks that the request names the binary the lock pins.
func verifyLock(req Request) error {
	lock, _, diags := depsfile.Load(req.LockPath)
	if diags.HasErrors() {
		return fmt.Errorf("reading the lock file %s on the node: %s", req.LockPath, diags.Error())
	}
	lp, ok := lock.Plugins[req.Plugin]
	if !ok {
		return fmt.Errorf("plugin %q is not in the lock file %s", req.Plugin, req.LockPath)
	}
	if lp.SHA256 != req.SHA256 {
		return fmt.Errorf("plugin %q: the lock file %s pins sha256 %s, but the job was submitted for %s; the lock changed since submission — rerun the spec", req.Plugin, req.LockPath, lp.SHA256, req.SHA256)
	}
	if _, err := os.Stat(req.Path); err != nil {
		return fmt.Errorf("plugin %q: %v (the locked binary must exist at the same path on the nodes)", req.Plugin, err)
	}
	// The launcher checks the binary's content against SHA256.
	return nil
}

// startHeartbeat rewrites Dir/heartbeat every HeartbeatMS until stopped.
// The host watches the content change, so clocks need not agree.
func startHeartbeat(req Request, env WorkerEnv) (stop func()) {
	every := time.Duration(req.HeartbeatMS) * time.Millisecond
	if every <= 0 {
		every = 5 * time.Second
	}
	done := make(chan struct{})
	var once sync.Once
	beat := func(n int) {
		line := fmt.Sprintf("%s node=%s pid=%d job=%s attempt=%d beat=%d\n", time.Now().UTC().Format(time.RFC3339Nano), env.Node, os.Getpid(), env.JobID, env.Attempt, n)
		_ = WriteFileAtomic(filepath.Join(req.Dir, HeartbeatFile), []byte(line), 0o644)
	}
	beat(0)
	go func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for n := 1; ; n++ {
			select {
			case <-t.C:
				beat(n)
			case <-done:
				return
			}
		}
	}()
	return func() { once.Do(func() { close(done) }) }
}

// RunProbe writes token and this node's name to path: the probe job's
// whole work.
func RunProbe(path, token string, env WorkerEnv) error {
	if err := WriteFileAtomic(path, []byte(token+" "+env.Node+"\n"), 0o644); err != nil {
		return fmt.Errorf("probe: the run store is not writable from node %s: %w", env.Node, err)
	}
	return nil
}
