package slurm

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/shammie-ml/shammie/sdk/pluginhost"
)

// follower follows one job until it has a final answer.
type follower struct {
	e       *Executor
	j       *Journal
	t       Task
	onEvent func(pluginhost.Event)
	// buffer holds the events of a re-attached job until it ends: they
	// name files in the earlier run's work dir, which moves to this run's
	// only then.
	buffer   bool
	buffered []pluginhost.Event

	events     eventReader
	attempt    int
	node       string
	state      string
	reason     string
	hb         string
	hbChanged  time.Time
	goneSince  time.Time
	final      JobState
	cancelled  bool
	cancelAt   time.Time
	readErrors int
	queueDown  bool
}

func (f *follower) stderrTail() string {
	if f.j.ErrPath == "" {
		return ""
	}
	return readTail(f.j.ErrPath, 40)
}

func (f *follower) log(level pluginhost.LogLevel, format string, args ...any) {
	f.emit(pluginhost.Log{Time: time.Now(), Level: level, Message: fmt.Sprintf(format, args...)})
}

func (f *follower) emit(ev pluginhost.Event) {
	if f.buffer {
		f.buffered = append(f.buffered, ev)
		return
	}
	f.onEvent(ev)
}

// drain forwards the events the worker appended since the last call.
func (f *follower) drain() error {
	ws, err := f.events.read()
	for _, w := range ws {
		if w.Attempt > f.attempt {
			f.attempt = w.Attempt
			f.log(pluginhost.LogWarn, "Slurm job %s was requeued: attempt %d resumes from the step's state dir", f.j.JobID, w.Attempt+1)
		}
		ev, err := w.Event()
		if err != nil {
			return err
		}
		f.emit(ev)
	}
	return err
}

func (f *follower) result() (Result, bool) {
	var r Result
	if err := ReadJSON(filepath.Join(f.j.Dir, ResultFile), &r); err != nil {
		return r, false
	}
	return r, true
}

// finish hands over the buffered events of a re-attached job, after moving
// its work dir into this run's step.
func (f *follower) finish(st pluginhost.Status, err error) (pluginhost.Status, error) {
	if derr := f.drain(); derr != nil && err == nil {
		err = derr
	}
	if f.buffer {
		if f.j.WorkDir != f.t.Request.WorkDir {
			os.RemoveAll(f.t.Request.WorkDir)
			if rerr := os.Rename(f.j.WorkDir, f.t.Request.WorkDir); rerr != nil && err == nil {
				err = fmt.Errorf("moving the re-attached job's work dir %s into this run: %w", f.j.WorkDir, rerr)
			}
		}
		f.buffer = false
		for _, ev := range f.buffered {
			f.onEvent(ev)
		}
	}
	return st, err
}

func (f *follower) follow(ctx context.Context) (pluginhost.Status, error) {
	f.events.path = filepath.Join(f.j.Dir, EventsFile)
	opts := f.e.opts
	client := opts.Client
	done := ctx.Done()
	for {
		select {
		case <-f.e.next():
		case <-done:
			done = nil
			f.cancelled, f.cancelAt = true, time.Now()
			if err := client.Cancel(context.Background(), f.j.JobID); err != nil {
				f.log(pluginhost.LogError, "scancel %s: %v", f.j.JobID, err)
			}
			continue
		}
		if err := f.drain(); err != nil {
			f.readErrors++
			if f.readErrors > 3 {
				_ = client.Cancel(context.Background(), f.j.JobID)
				return f.finish(pluginhost.Status{}, err)
			}
		}
		res, haveResult := f.result()
		if haveResult && !f.cancelled && (res.State == "succeeded" || res.State == "failed") && res.Attempt >= f.attempt {
			return f.finish(f.resultStatus(res))
		}
		st, inQueue, qerr := f.e.queueState(f.j.JobID)
		if qerr != nil {
			// squeue failed this time (slurmctld busy or restarting): say
			// so once, keep following.
			if !f.queueDown {
				f.queueDown = true
				f.log(pluginhost.LogWarn, "cannot follow Slurm job %s for now: %v", f.j.JobID, qerr)
			}
			continue
		}
		if f.queueDown {
			f.queueDown = false
			f.log(pluginhost.LogInfo, "following Slurm job %s again", f.j.JobID)
		}
		if !inQueue && !haveResult {
			st, inQueue = f.stillAlive(client)
		}
		if inQueue && !st.Done() {
			f.goneSince = time.Time{}
			if err := f.watchQueued(st); err != nil {
				_ = client.Cancel(context.Background(), f.j.JobID)
				return f.finish(pluginhost.Status{}, err)
			}
			if f.cancelled && time.Since(f.cancelAt) > time.Minute {
				return f.finish(pluginhost.Status{State: pluginhost.Cancelled, Time: time.Now(), Message: fmt.Sprintf("cancelled; Slurm job %s is still %s a minute after scancel", f.j.JobID, st.State)}, nil)
			}
			continue
		}
		// The job left the queue.
		if f.goneSince.IsZero() {
			f.goneSince = time.Now()
			f.final, _, _ = client.State(context.Background(), f.j.JobID)
			if f.final.Node != "" {
				f.node = f.final.Node
			}
		}
		switch {
		case haveResult && f.cancelled:
			return f.finish(pluginhost.Status{State: pluginhost.Cancelled, Time: time.Now(), Message: "Slurm job " + f.j.JobID + " stopped by scancel"}, nil)
		case haveResult && res.State == "cancelled":
			return f.finish(pluginhost.Status{}, fmt.Errorf("the Slurm job %s was cancelled outside shammie (state %s%s); the plugin stopped: %s", f.j.JobID, orUnknown(f.final.State), reasonSuffix(f.final.Reason), res.Message))
		case haveResult:
			return f.finish(f.resultStatus(res))
		case f.cancelled:
			return f.finish(pluginhost.Status{State: pluginhost.Cancelled, Time: time.Now(), Message: "Slurm job " + f.j.JobID + " stopped by scancel"}, nil)
		}
		grace := opts.ResultGrace
		if f.final.State != "" && f.final.State != "COMPLETED" {
			grace = min(grace, 3*time.Second)
		}
		if time.Since(f.goneSince) < grace {
			continue
		}
		return f.finish(pluginhost.Status{}, f.lostError())
	}
}

// stillAlive asks scontrol (then sacct) about a job that squeue did not
// list and that has written no result. Under load squeue's answer can miss
// tasks that scontrol still reports PENDING or RUNNING (seen in the
// end-to-end test on 2 busy cores); calling such a job lost would fail a
// healthy step, so it is followed as queued.
func (f *follower) stillAlive(c *Client) (JobState, bool) {
	st, found, err := c.State(context.Background(), f.j.JobID)
	if err != nil || !found || st.Done() {
		return JobState{}, false
	}
	return st, true
}

func (f *follower) resultStatus(res Result) (pluginhost.Status, error) {
	if res.Node != "" {
		f.node = res.Node
	}
	if res.Error != "" {
		msg := res.Error
		if res.StderrTail != "" {
			msg += "\nplugin stderr:\n" + res.StderrTail
		}
		return pluginhost.Status{}, errors.New(msg)
	}
	return res.Status(), nil
}

// lostError explains a job that ended without a result.
func (f *follower) lostError() error {
	st := f.final
	msg := fmt.Sprintf("the Slurm job %s ended without the worker writing its result", f.j.JobID)
	switch {
	case st.State == "CANCELLED":
		msg = fmt.Sprintf("the Slurm job %s was cancelled outside shammie (state CANCELLED%s) before its worker wrote a result", f.j.JobID, reasonSuffix(st.Reason))
	case st.State != "":
		msg += fmt.Sprintf(" (state %s%s, exit code %s, node %s)", st.State, reasonSuffix(st.Reason), orUnknown(st.ExitCode), orUnknown(st.Node))
	default:
		msg += " (neither scontrol nor sacct knows the job any more)"
	}
	if tail := f.stderrTail(); tail != "" {
		msg += "; the job's stderr ends:\n" + tail
	}
	return errors.New(msg)
}

func reasonSuffix(r string) string {
	if r == "" {
		return ""
	}
	return ", reason " + r
}

// watchQueued reports state changes of a queued job and returns an error
// when it can never run or its worker stopped beating.
func (f *follower) watchQueued(st JobState) error {
	if st.Node != "" {
		f.node = st.Node
	}
	if st.State != f.state || st.Reason != f.reason {
		switch {
		case st.State == "PENDING" && f.state == "RUNNING":
			f.log(pluginhost.LogWarn, "Slurm job %s was requeued (%s)", f.j.JobID, orUnknown(st.Reason))
		case st.State == "PENDING" && st.Reason != "":
			f.log(pluginhost.LogInfo, "Slurm job %s pending: %s", f.j.JobID, explainReason(st.Reason))
		case st.State == "RUNNING" && f.state != "RUNNING":
			f.log(pluginhost.LogInfo, "Slurm job %s running on %s", f.j.JobID, orUnknown(st.Node))
		}
		if st.State != "RUNNING" {
			f.hbChanged = time.Time{}
		}
		f.state, f.reason = st.State, st.Reason
	}
	if st.State == "PENDING" && Hopeless(st.Reason) {
		return fmt.Errorf("the Slurm job %s can never start: %s; cancelled it", f.j.JobID, explainReason(st.Reason))
	}
	if st.State != "RUNNING" {
		return nil
	}
	b, _ := os.ReadFile(filepath.Join(f.j.Dir, HeartbeatFile))
	if string(b) != f.hb || f.hbChanged.IsZero() {
		f.hb, f.hbChanged = string(b), time.Now()
	}
	if quiet := time.Since(f.hbChanged); quiet > f.e.opts.HeartbeatTimeout {
		return fmt.Errorf("the worker of Slurm job %s on node %s wrote no heartbeat for %s (node lost, or the store not shared with it); cancelled the job", f.j.JobID, orUnknown(f.node), quiet.Round(time.Second))
	}
	return nil
}

// hopeless pending reasons: the job waits for something that will not
// change without an administrator or a new submission.
var hopeless = map[string]string{
	"BadConstraints":                  "its constraints cannot be satisfied by any node",
	"PartitionNodeLimit":              "it asks for more nodes than the partition allows",
	"PartitionTimeLimit":              "its time limit is above the partition's (lower resources.time)",
	"PartitionConfig":                 "the partition's configuration rejects it (resources.cpus, memory or gpus too large?)",
	"InvalidAccount":                  "the account does not exist (resources.account)",
	"InvalidQOS":                      "the QOS does not exist",
	"QOSMaxWallDurationPerJobLimit":   "its time limit is above the QOS's (lower resources.time)",
	"AssocMaxWallDurationPerJobLimit": "its time limit is above the account's limit (lower resources.time)",
	"DependencyNeverSatisfied":        "a dependency can never be satisfied",
}

var pendingHelp = map[string]string{
	"Resources":              "waiting for free resources",
	"Priority":               "other jobs have priority",
	"JobArrayTaskLimit":      "array throttle (--parallelism) reached",
	"PartitionDown":          "the partition is down",
	"ReqNodeNotAvail":        "a requested node is not available",
	"BeginTime":              "not eligible yet",
	"Dependency":             "waiting for a dependency",
	"QOSMaxJobsPerUserLimit": "the QOS's per-user job limit is reached",
}

// Hopeless reports whether a pending reason means the job will never start.
func Hopeless(reason string) bool {
	_, ok := hopeless[reason]
	return ok
}

func explainReason(r string) string {
	if h, ok := hopeless[r]; ok {
		return r + " (" + h + ")"
	}
	if h, ok := pendingHelp[r]; ok {
		return r + " (" + h + ")"
	}
	return orUnknown(r)
}
