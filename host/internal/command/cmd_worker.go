package command

import (
	"context"
	"fmt"
	"strconv"

	"github.com/shammie-ml/shammie/host/internal/executor/slurm"
	"github.com/shammie-ml/shammie/host/internal/runner"
)

func init() {
	register(&command{
		name:    "worker",
		summary: "Run one step instance inside a Slurm job (started by `run --executor slurm`).",
		usage:   "BATCH_DIR [INDEX] | --probe FILE TOKEN",
		detail: `Not for direct use: ` + "`shammie run --executor slurm`" + ` submits job arrays whose
tasks run "shammie worker BATCH_DIR $SLURM_ARRAY_TASK_ID". The worker reads
BATCH_DIR/INDEX.json (the instance's config, plugin and store paths),
checks the plugin binary's sha256 against the spec's lock file, runs the
plugin locally over go-plugin as ` + "`run`" + ` would, and writes the plugin's events,
a heartbeat and the final status next to the step in the run store, which
the host follows. SIGTERM (scancel, requeue, preemption) asks the plugin
to stop; a requeued job resumes from the step's state dir.
--probe writes TOKEN into FILE: the job ` + "`run`" + ` submits first to check that the
nodes can start shammie and reach the store.
Exit status: 0 when the step succeeded, 1 otherwise.`,
		run: runWorker,
	})
}

func runWorker(ctx context.Context, env *Env, args []string) error {
	c := lookup("worker")
	fs := newFlags(env, c)
	probe := fs.Bool("probe", false, "write TOKEN into FILE and exit (the store reachability probe)")
	pos, err := parse(env, c, fs, args)
	if err != nil {
		return err
	}
	wenv := slurm.EnvFromSlurm(env.getenv)
	if *probe {
		if len(pos) != 2 {
			return usagef("--probe needs FILE and TOKEN")
		}
		return slurm.RunProbe(pos[0], pos[1], wenv)
	}
	if len(pos) < 1 || len(pos) > 2 {
		return usagef("expected BATCH_DIR and an optional INDEX")
	}
	index := 0
	if len(pos) == 2 {
		if index, err = strconv.Atoi(pos[1]); err != nil || index < 0 {
			return usagef("INDEX must be a non-negative integer, not %q", pos[1])
		}
	}
	// SIGTERM from Slurm cancels the plugin's run.
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	if env.Signals != nil {
		go func() {
			select {
			case sig := <-env.Signals:
				cancel(fmt.Errorf("interrupted by %v", signalName(sig)))
			case <-ctx.Done():
			}
		}()
	}
	// The host's launcher, through a pool so that closing it removes the
	// private copy of the binary.
	var pool *runner.Pool
	defer func() {
		if pool != nil {
			pool.Close()
		}
	}()
	launch := func(ctx context.Context, r slurm.Request) (slurm.PluginConn, error) {
		pool = runner.NewPool(runner.ProcessLauncher{Stderr: env.Stderr, Dir: r.SpecDir}, false)
		return pool.Get(ctx, &runner.Plugin{Label: r.Plugin, Path: r.Path, SHA256: r.SHA256})
	}
	res, err := slurm.RunWorker(ctx, pos[0], index, wenv, launch)
	if err != nil {
		return err
	}
	msg := res.Message
	if res.Error != "" {
		msg = res.Error
	}
	fmt.Fprintf(env.Stderr, "shammie worker: %s on %s (job %s, attempt %d): %s\n", res.State, wenv.Node, wenv.JobID, wenv.Attempt+1, msg)
	if res.State != "succeeded" {
		return &silentError{code: exitStepFailed}
	}
	return nil
}
