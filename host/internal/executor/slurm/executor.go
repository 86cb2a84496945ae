package slurm

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/shammie-ml/shammie/host/internal/configs"
	"github.com/shammie-ml/shammie/sdk/pluginhost"
)

// Options configure an Executor. Zero values take the defaults named.
type Options struct {
	// StoreRoot is the run store's root; it must be on a filesystem the
	// compute nodes share.
	StoreRoot string
	// Shammie is the shammie binary the jobs run (`shammie worker`); it
	// must exist at this path on the nodes. Default: this executable.
	Shammie string
	// Throttle is the most tasks of one array running at once (%N); 0: no limit.
	Throttle int
	// Poll is how often squeue is asked (one call for all jobs); 1 s.
	Poll time.Duration
	// BatchWindow is how long instances of one step are gathered into one
	// array before sbatch; 250 ms.
	BatchWindow time.Duration
	// MaxRequeue is how many times a requeued job (node failure,
	// preemption, scontrol requeue) may start again; 3. Negative: none.
	MaxRequeue int
	// Heartbeat is how often workers rewrite their heartbeat file; 5 s.
	Heartbeat time.Duration
	// HeartbeatTimeout: a running job whose heartbeat did not change for
	// this long is cancelled and its step failed; 3 min.
	HeartbeatTimeout time.Duration
	// ResultGrace is how long a job that left the queue may take to show
	// its result file (NFS attribute caches); 15 s.
	ResultGrace time.Duration
	// NoProbe skips the probe job that checks, before the first
	// submission, that the nodes can run shammie and see the store.
	NoProbe bool
	// ProbeTimeout bounds the probe job, pending time included; 5 min.
	ProbeTimeout time.Duration
	// Defaults apply to every task's resources (from --executor-opt).
	Defaults configs.Resources
	// Extra sbatch arguments, verbatim.
	Extra  []string
	Client *Client
}

func (o *Options) defaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&o.Poll, time.Second)
	def(&o.BatchWindow, 250*time.Millisecond)
	def(&o.Heartbeat, 5*time.Second)
	def(&o.HeartbeatTimeout, 3*time.Minute)
	def(&o.ResultGrace, 15*time.Second)
	def(&o.ProbeTimeout, 5*time.Minute)
	if o.MaxRequeue == 0 {
		o.MaxRequeue = 3
	}
	if o.Client == nil {
		o.Client = &Client{}
	}
	if o.Shammie == "" {
		o.Shammie, _ = os.Executable()
	}
}

// Task is one step instance to run on the cluster.
type Task struct {
	// Request is filled by the caller but for Dir, MaxRequeue and
	// HeartbeatMS.
	Request Request
	// StepDir is the instance's directory in the store; the worker writes
	// into StepDir/slurm.
	StepDir string
	// Group names the step: the instances of one group (with equal
	// resources) are submitted together as one job array.
	Group     string
	Resources configs.Resources
	// CacheKey identifies the instance across runs (re-attach); "" when
	// it has none.
	CacheKey string
}

// Outcome is what Run learned about the job besides the plugin's status.
type Outcome struct {
	JobID      string // 123_4
	Node       string
	StderrTail string
	Reattached bool
}

// Executor submits tasks to Slurm and follows them. Safe for concurrent use.
type Executor struct {
	opts Options

	mu       sync.Mutex
	groups   map[string]*group
	batches  int
	runDirs  map[string]bool
	live     map[string]bool // job ids (tasks) submitted and not finished
	probed   bool
	probeMu  sync.Mutex
	probeErr error

	pollOnce sync.Once
	tickMu   sync.Mutex
	tick     chan struct{} // closed and replaced after every poll
	queue    map[string]JobState
	queueErr error
	watch    map[string]bool // array job ids to ask squeue about
	closed   chan struct{}
}

type group struct {
	key   string
	items []*pending
}

type pending struct {
	ctx  context.Context
	task Task
	done chan submitted
}

type submitted struct {
	jobID, errPath string
	err            error
}

// New returns an executor.
func New(opts Options) *Executor {
	opts.defaults()
	return &Executor{opts: opts, groups: map[string]*group{}, runDirs: map[string]bool{}, live: map[string]bool{},
		tick: make(chan struct{}), watch: map[string]bool{}, queue: map[string]JobState{}, closed: make(chan struct{})}
}

// Close cancels every job this executor submitted that has not finished
// and stops polling.
func (e *Executor) Close() {
	e.mu.Lock()
	var ids []string
	for id := range e.live {
		ids = append(ids, id)
	}
	e.live = map[string]bool{}
	e.mu.Unlock()
	if len(ids) > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		_ = e.opts.Client.Cancel(ctx, ids...)
		cancel()
	}
	select {
	case <-e.closed:
	default:
		close(e.closed)
	}
}

// Run runs t as (a task of) a Slurm job, calling onEvent for every event
// the plugin sends (in order, from this goroutine), and returns the
// plugin's final status. As pluginhost.Client.Run: an error means there is
// no trustworthy status — the job failed, was cancelled from outside, or
// its worker died — and says why with Slurm's state and reason.
func (e *Executor) Run(ctx context.Context, t Task, onEvent func(pluginhost.Event)) (pluginhost.Status, Outcome, error) {
	t.Request.Dir = filepath.Join(t.StepDir, "slurm")
	t.Request.MaxRequeue = max(e.opts.MaxRequeue, 0)
	t.Request.HeartbeatMS = e.opts.Heartbeat.Milliseconds()
	var out Outcome
	if err := os.MkdirAll(t.Request.Dir, 0o755); err != nil {
		return pluginhost.Status{}, out, err
	}
	j, ok := e.reattach(ctx, t)
	if ok {
		out.Reattached = true
		onEvent(pluginhost.Log{Time: time.Now(), Level: pluginhost.LogInfo,
			Message: fmt.Sprintf("re-attached to Slurm job %s (submitted by run %s, which ended before it)", j.JobID, j.RunID)})
	} else {
		p := &pending{ctx: ctx, task: t, done: make(chan submitted, 1)}
		e.enqueue(p)
		var s submitted
		select {
		case s = <-p.done:
		case <-ctx.Done():
			// The flusher drops items whose context ended; it may be
			// submitting this one right now, so wait for its answer.
			s = <-p.done
		}
		if s.err != nil {
			return pluginhost.Status{}, out, s.err
		}
		j = &Journal{JobID: s.jobID, RunID: t.Request.RunID, Step: t.Request.Step, Dir: t.Request.Dir, WorkDir: t.Request.WorkDir, ErrPath: s.errPath}
		onEvent(pluginhost.Log{Time: time.Now(), Level: pluginhost.LogInfo, Message: "submitted as Slurm job " + s.jobID})
	}
	out.JobID = j.JobID
	e.track(j.JobID)
	defer e.untrack(j.JobID)
	f := &follower{e: e, j: j, t: t, onEvent: onEvent, buffer: out.Reattached}
	st, err := f.follow(ctx)
	out.Node, out.StderrTail = f.node, f.stderrTail()
	rec := JobRecord{JobID: out.JobID, Node: out.Node, Reattached: out.Reattached, SubmittedBy: j.RunID, State: st.State.String()}
	if err != nil {
		rec.State, rec.Error = "error", err.Error()
	}
	_ = WriteJSONAtomic(filepath.Join(t.StepDir, "slurm", JobFile), rec, 0o644)
	if t.CacheKey != "" {
		os.Remove(e.journalPath(t.CacheKey))
	}
	return st, out, err
}

func (e *Executor) track(id string) {
	e.mu.Lock()
	e.live[id] = true
	e.mu.Unlock()
	e.tickMu.Lock()
	e.watch[arrayOf(id)] = true
	e.tickMu.Unlock()
	e.pollOnce.Do(func() { go e.poll() })
}

func (e *Executor) untrack(id string) {
	e.mu.Lock()
	delete(e.live, id)
	stillArray := false
	for other := range e.live {
		stillArray = stillArray || arrayOf(other) == arrayOf(id)
	}
	e.mu.Unlock()
	if !stillArray {
		e.tickMu.Lock()
		delete(e.watch, arrayOf(id))
		e.tickMu.Unlock()
	}
}

// arrayOf returns the array job id of a task id: 12 of 12_3.
func arrayOf(id string) string {
	base, _, _ := strings.Cut(id, "_")
	return base
}

// poll asks squeue about every watched job once per interval and wakes
// the followers.
func (e *Executor) poll() {
	t := time.NewTicker(e.opts.Poll)
	defer t.Stop()
	for {
		e.tickMu.Lock()
		ids := make([]string, 0, len(e.watch))
		for id := range e.watch {
			ids = append(ids, id)
		}
		e.tickMu.Unlock()
		var q map[string]JobState
		var err error
		if len(ids) > 0 {
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			q, err = e.opts.Client.Queue(ctx, ids)
			cancel()
		}
		e.tickMu.Lock()
		e.queue, e.queueErr = q, err
		close(e.tick)
		e.tick = make(chan struct{})
		e.tickMu.Unlock()
		select {
		case <-t.C:
		case <-e.closed:
			return
		}
	}
}

// next returns a channel closed after the next poll.
func (e *Executor) next() <-chan struct{} {
	e.tickMu.Lock()
	defer e.tickMu.Unlock()
	return e.tick
}

func (e *Executor) queueState(id string) (JobState, bool, error) {
	e.tickMu.Lock()
	defer e.tickMu.Unlock()
	st, ok := e.queue[id]
	return st, ok, e.queueErr
}

// enqueue adds p to its group; the group is submitted BatchWindow after
// its first item arrived.
func (e *Executor) enqueue(p *pending) {
	key := p.task.Group + "\x00" + resourcesKey(p.task.Resources)
	e.mu.Lock()
	defer e.mu.Unlock()
	g := e.groups[key]
	if g == nil {
		g = &group{key: key}
		e.groups[key] = g
		time.AfterFunc(e.opts.BatchWindow, func() { e.flush(key) })
	}
	g.items = append(g.items, p)
}

func resourcesKey(r configs.Resources) string {
	b, _ := json.Marshal(r)
	return string(b)
}

// flush submits a group's items as one job array.
func (e *Executor) flush(key string) {
	e.mu.Lock()
	g := e.groups[key]
	delete(e.groups, key)
	e.mu.Unlock()
	var items []*pending
	for _, p := range g.items {
		if p.ctx.Err() != nil {
			p.done <- submitted{err: context.Cause(p.ctx)}
			continue
		}
		items = append(items, p)
	}
	if len(items) == 0 {
		return
	}
	fail := func(err error) {
		for _, p := range items {
			p.done <- submitted{err: err}
		}
	}
	if err := e.probe(items[0].ctx); err != nil {
		fail(err)
		return
	}
	// Array task i is the i-th instance in address order (numbers by value).
	sort.Slice(items, func(i, j int) bool { return naturalLess(items[i].task.Request.Step, items[j].task.Request.Step) })
	dir, err := e.batchDir(items[0].task.Request.RunID)
	if err != nil {
		fail(err)
		return
	}
	for i, p := range items {
		if err := WriteJSONAtomic(filepath.Join(dir, fmt.Sprintf("%d.json", i)), p.task.Request, 0o600); err != nil {
			fail(fmt.Errorf("writing the Slurm job request: %w", err))
			return
		}
	}
	t := items[0].task
	sub := Submission{
		Name:      "shammie:" + t.Group,
		Script:    fmt.Sprintf("#!/bin/sh\nexec %s worker %s \"${SLURM_ARRAY_TASK_ID:-0}\"\n", shellQuote(e.opts.Shammie), shellQuote(dir)),
		Size:      len(items),
		Throttle:  e.opts.Throttle,
		Resources: t.Resources.Merge(e.opts.Defaults),
		Output:    filepath.Join(dir, "%a.out"),
		Error:     filepath.Join(dir, "%a.err"),
		Chdir:     dir,
		Requeue:   e.opts.MaxRequeue > 0,
		Extra:     append([]string{"--open-mode=append"}, e.opts.Extra...),
	}
	// Submission is not interrupted by one instance's cancellation; the
	// followers cancel what they no longer want.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	id, err := e.opts.Client.Submit(ctx, sub)
	cancel()
	if err != nil {
		fail(fmt.Errorf("submitting %s to Slurm: %w", t.Group, err))
		return
	}
	for i, p := range items {
		jid := fmt.Sprintf("%s_%d", id, i)
		errPath := filepath.Join(dir, fmt.Sprintf("%d.err", i))
		if p.task.CacheKey != "" {
			j := Journal{JobID: jid, RunID: p.task.Request.RunID, Step: p.task.Request.Step, Dir: p.task.Request.Dir, WorkDir: p.task.Request.WorkDir, ErrPath: errPath, Submitted: time.Now().UTC()}
			_ = os.MkdirAll(filepath.Dir(e.journalPath(p.task.CacheKey)), 0o755)
			_ = WriteJSONAtomic(e.journalPath(p.task.CacheKey), j, 0o644)
		}
		p.done <- submitted{jobID: jid, errPath: errPath}
	}
}

func (e *Executor) batchDir(runID string) (string, error) {
	e.mu.Lock()
	e.batches++
	n := e.batches
	e.mu.Unlock()
	dir := filepath.Join(e.opts.StoreRoot, "slurm", runID, fmt.Sprintf("b%04d", n))
	return dir, os.MkdirAll(dir, 0o755)
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

// JobRecord is <step dir>/slurm/job.json: which job computed the step,
// written by the host when it has the job's answer.
type JobRecord struct {
	JobID       string `json:"job_id"`
	Node        string `json:"node,omitempty"`
	SubmittedBy string `json:"submitted_by"` // run id
	Reattached  bool   `json:"reattached,omitempty"`
	State       string `json:"state"` // the plugin's final state, or "error"
	Error       string `json:"error,omitempty"`
}

// Journal records the job computing an instance, by cache key, so that a
// rerun after the host died re-attaches to it instead of submitting it again.
type Journal struct {
	JobID     string    `json:"job_id"`
	RunID     string    `json:"run_id"`
	Step      string    `json:"step"`
	Dir       string    `json:"dir"`
	WorkDir   string    `json:"work_dir"`
	ErrPath   string    `json:"err_path"`
	Submitted time.Time `json:"submitted"`
}

func (e *Executor) journalPath(key string) string {
	return filepath.Join(e.opts.StoreRoot, "slurm", "jobs", key+".json")
}

// reattach finds a job of an earlier host for t's cache key that is still
// queued or running, or finished with a result no host recorded.
func (e *Executor) reattach(ctx context.Context, t Task) (*Journal, bool) {
	if t.CacheKey == "" {
		return nil, false
	}
	var j Journal
	if ReadJSON(e.journalPath(t.CacheKey), &j) != nil || j.JobID == "" || j.RunID == t.Request.RunID {
		return nil, false
	}
	if _, err := os.Stat(filepath.Join(j.Dir, ResultFile)); err == nil {
		return &j, true
	}
	q, err := e.opts.Client.Queue(ctx, []string{arrayOf(j.JobID)})
	if err == nil {
		if st, ok := q[j.JobID]; ok && !st.Done() {
			return &j, true
		}
	}
	os.Remove(e.journalPath(t.CacheKey))
	return nil, false
}

// probe submits, once, a job that writes a token into the store, and
// waits for it: it proves that the nodes can start shammie and see the
// store before any step depends on it.
func (e *Executor) probe(ctx context.Context) error {
	if e.opts.NoProbe {
		return nil
	}
	e.probeMu.Lock()
	defer e.probeMu.Unlock()
	if e.probed {
		return e.probeErr
	}
	e.probed = true
	e.probeErr = e.runProbe(ctx)
	return e.probeErr
}

func (e *Executor) runProbe(ctx context.Context) error {
	tok := make([]byte, 8)
	_, _ = rand.Read(tok)
	token := hex.EncodeToString(tok)
	dir := filepath.Join(e.opts.StoreRoot, "slurm", "probe")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	file := filepath.Join(dir, token)
	errFile := filepath.Join(os.TempDir(), "shammie-probe-"+token+".err")
	defer os.Remove(file)
	defer os.Remove(errFile)
	sub := Submission{
		Name:      "shammie:probe",
		Script:    fmt.Sprintf("#!/bin/sh\nexec %s worker --probe %s %s\n", shellQuote(e.opts.Shammie), shellQuote(file), token),
		Size:      1,
		Resources: configs.Resources{Partition: e.opts.Defaults.Partition, Account: e.opts.Defaults.Account, Time: "5"},
		Output:    "/dev/null",
		Error:     errFile,
		Chdir:     os.TempDir(),
		Extra:     e.opts.Extra,
	}
	sctx, cancel := context.WithTimeout(ctx, time.Minute)
	id, err := e.opts.Client.Submit(sctx, sub)
	cancel()
	if err != nil {
		return fmt.Errorf("submitting the probe job to Slurm: %w", err)
	}
	jid := id + "_0"
	deadline := time.Now().Add(e.opts.ProbeTimeout)
	lastReason := ""
	for {
		if b, err := os.ReadFile(file); err == nil && strings.HasPrefix(string(b), token) {
			return nil
		}
		if ctx.Err() != nil {
			_ = e.opts.Client.Cancel(context.Background(), id)
			return context.Cause(ctx)
		}
		q, err := e.opts.Client.Queue(ctx, []string{id})
		if err == nil {
			st, inQueue := q[jid]
			switch {
			case inQueue && Hopeless(st.Reason):
				_ = e.opts.Client.Cancel(context.Background(), id)
				return fmt.Errorf("the Slurm probe job %s can never start: %s", jid, explainReason(st.Reason))
			case inQueue:
				lastReason = st.Reason
			case !inQueue:
				// Finished: give the shared filesystem a moment.
				for end := time.Now().Add(e.opts.ResultGrace); time.Now().Before(end); time.Sleep(200 * time.Millisecond) {
					if b, err := os.ReadFile(file); err == nil && strings.HasPrefix(string(b), token) {
						return nil
					}
				}
				fs, _, _ := e.opts.Client.State(ctx, jid)
				tail := readTail(errFile, 10)
				msg := fmt.Sprintf("the Slurm probe job %s ran (state %s on node %s) but did not write %s: the run store %s must be on a filesystem the compute nodes share (pass --store), and %s must be runnable on them (--executor-opt shammie=PATH)",
					jid, orUnknown(fs.State), orUnknown(fs.Node), file, e.opts.StoreRoot, e.opts.Shammie)
				if tail != "" {
					msg += "; the job's stderr: " + tail
				}
				return errors.New(msg)
			}
		}
		if time.Now().After(deadline) {
			_ = e.opts.Client.Cancel(context.Background(), id)
			return fmt.Errorf("the Slurm probe job %s did not run within %s (pending: %s); the cluster may be full — raise --executor-opt probe_timeout or pass --executor-opt probe=false", jid, e.opts.ProbeTimeout, orUnknown(lastReason))
		}
		select {
		case <-time.After(min(e.opts.Poll, 500*time.Millisecond)):
		case <-ctx.Done():
		}
	}
}

func orUnknown(s string) string {
	if s == "" {
		return "unknown"
	}
	return s
}

// readTail returns the last n lines of a file, joined by "\n".
func readTail(path string, n int) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.Size() > 64<<10 {
		f.Seek(-64<<10, io.SeekEnd)
	}
	b, _ := io.ReadAll(f)
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.TrimSpace(strings.Join(lines, "\n"))
}

// eventReader reads the complete lines appended to events.jsonl since the
// last call.
type eventReader struct {
	path string
	off  int64
}

func (r *eventReader) read() ([]WireEvent, error) {
	f, err := os.Open(r.path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, err
	}
	defer f.Close()
	if _, err := f.Seek(r.off, io.SeekStart); err != nil {
		return nil, err
	}
	br := bufio.NewReaderSize(f, 64<<10)
	var out []WireEvent
	for {
		line, err := br.ReadBytes('\n')
		if err != nil {
			// A line without its newline is still being written.
			return out, nil
		}
		r.off += int64(len(line))
		var w WireEvent
		if err := json.Unmarshal(line, &w); err != nil {
			return out, fmt.Errorf("%s: bad event line: %w", r.path, err)
		}
		out = append(out, w)
	}
}

// naturalLess orders strings with their digit runs compared as numbers:
// step.s[2] before step.s[10].
func naturalLess(a, b string) bool {
	for a != "" && b != "" {
		da, db := digitRun(a), digitRun(b)
		if da > 0 && db > 0 {
			na, nb := strings.TrimLeft(a[:da], "0"), strings.TrimLeft(b[:db], "0")
			if len(na) != len(nb) {
				return len(na) < len(nb)
			}
			if na != nb {
				return na < nb
			}
			a, b = a[da:], b[db:]
			continue
		}
		if a[0] != b[0] {
			return a[0] < b[0]
		}
		a, b = a[1:], b[1:]
	}
	return len(a) < len(b)
}

func digitRun(s string) int {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return i
}
