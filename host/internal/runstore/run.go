package runstore

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/zclconf/go-cty/cty"
)

// RunMeta is what the runner knows about a run before it starts.
type RunMeta struct {
	Spec        []SpecFile
	Variables   []Variable
	Lock        string
	Plugins     []PluginInfo
	Seed        int64
	Backends    []string
	HostVersion string
}

// Variable is a resolved input variable. A sensitive one is recorded as
// "(sensitive)"; so is any part of Value carrying a cty mark.
type Variable struct {
	Name      string
	Value     cty.Value
	Sensitive bool
}

// Run is a run being recorded. Its methods are safe for concurrent use.
type Run struct {
	store *Store
	id    string // immutable copy of rec.ID, readable without mu

	mu       sync.Mutex
	rec      RunRecord
	steps    []*Step
	byAddr   map[string]*Step
	finished bool
	// stateInUse holds the cache keys whose shared state dir a running step
	// of this run holds: two identical steps running at once must not share
	// one. stateMu is always taken last (after mu or a Step's mu).
	stateMu    sync.Mutex
	stateInUse map[string]bool
	// inputs are the private copies of input artifacts handed to plugins
	// (see PluginConfig), by object path.
	inputsMu sync.Mutex
	inputs   map[string]inputCopy
}

// CreateRun starts the record of a new run: runs/<id>/run.json with status
// "running" and this process's identity.
func (s *Store) CreateRun(meta RunMeta) (*Run, error) {
	now := s.now()
	id, err := s.newRunDir(now)
	if err != nil {
		return nil, err
	}
	vars := make(map[string]Value, len(meta.Variables))
	for _, v := range meta.Variables {
		if v.Sensitive {
			vars[v.Name] = redactedValue()
			continue
		}
		val, err := NewValue(redact(v.Value, nil))
		if err != nil {
			return nil, fmt.Errorf("recording variable %q: %w", v.Name, err)
		}
		vars[v.Name] = val
	}
	rec := RunRecord{
		ID:          id,
		Status:      StatusRunning,
		HostVersion: meta.HostVersion,
		StartedAt:   now,
		Spec:        meta.Spec,
		Variables:   vars,
		Lock:        meta.Lock,
		Plugins:     meta.Plugins,
		Seed:        meta.Seed,
		Backends:    meta.Backends,
		Process:     s.process(),
	}
	dir := s.runDir(id)
	if err := os.MkdirAll(filepath.Join(dir, "steps"), 0o700); err != nil {
		return nil, err
	}
	if err := writeJSONAtomic(filepath.Join(dir, "run.json"), &rec, true); err != nil {
		return nil, fmt.Errorf("writing run record: %w", err)
	}
	return &Run{store: s, id: id, rec: rec, byAddr: map[string]*Step{}, stateInUse: map[string]bool{}}, nil
}

// ID of the run.
func (r *Run) ID() string { return r.id }

// Dir is the run's directory.
func (r *Run) Dir() string { return r.store.runDir(r.id) }

// Record returns a copy of the run record as it stands.
func (r *Run) Record() RunRecord {
	r.mu.Lock()
	defer r.mu.Unlock()
	rec := r.rec
	rec.Steps = r.indexLocked()
	return rec
}

func (r *Run) indexLocked() []StepIndex {
	idx := make([]StepIndex, 0, len(r.steps))
	for _, st := range r.steps {
		st.mu.Lock()
		idx = append(idx, StepIndex{
			Address: st.rec.Address, Dir: st.rec.Dir, Seed: st.rec.Seed,
			Backend: st.rec.Backend, Status: st.rec.Status, CacheHit: st.rec.CacheHit,
		})
		st.mu.Unlock()
	}
	return idx
}

// Finish ends the run with a final status (succeeded, failed, cancelled)
// and rewrites run.json, now with the index of its steps. A status of ""
// is derived from the steps: failed if any failed, cancelled if any was
// cancelled, succeeded otherwise.
func (r *Run) Finish(status Status, message string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.finished {
		return fmt.Errorf("run %s already finished", r.id)
	}
	idx := r.indexLocked()
	if status == "" {
		status = StatusSucceeded
		for _, s := range idx {
			switch s.Status {
			case StatusFailed, StatusRunning:
				status = StatusFailed
			case StatusCancelled:
				if status != StatusFailed {
					status = StatusCancelled
				}
			}
		}
	}
	if !status.Done() || status == StatusInterrupted {
		return fmt.Errorf("run %s: %q is not a final status", r.id, status)
	}
	rec := r.rec
	now := r.store.now()
	rec.Status, rec.Message, rec.EndedAt, rec.Steps = status, message, &now, idx
	if err := writeJSONAtomic(filepath.Join(r.Dir(), "run.json"), &rec, true); err != nil {
		return fmt.Errorf("writing run record: %w", err)
	}
	r.rec = rec
	r.finished = true
	r.removeInputs()
	return nil
}

// SetOutputs records the spec's outputs, written with the final record by
// Finish. Marked values are recorded as "(sensitive)".
func (r *Run) SetOutputs(vals map[string]cty.Value) error {
	out := make(map[string]Value, len(vals))
	for name, v := range vals {
		if v.ContainsMarked() {
			out[name] = redactedValue()
			continue
		}
		rv, err := NewValue(v)
		if err != nil {
			return fmt.Errorf("output %q: %w", name, err)
		}
		out[name] = rv
	}
	r.mu.Lock()
	r.rec.Outputs = out
	r.mu.Unlock()
	return nil
}

// StepInfo describes a step instance about to run.
type StepInfo struct {
	Address       string // step.train, step.sweep["a"], step.rep[2]
	Plugin        string
	PluginVersion string
	PluginSHA256  string
	Seed          int64
	Backend       string
	DependsOn     []string
	// Config is the evaluated config. Values marked (cty marks, e.g. from
	// sensitive variables) and attributes at SensitivePaths (the plugin
	// schema's sensitive attributes) are recorded as "(sensitive)".
	Config         cty.Value
	SensitivePaths []cty.Path
	// CacheKey from CacheKey(); "" if the step cannot be cached.
	CacheKey string
}

// Step is a step instance being recorded. Record events as they arrive and
// call exactly one of Finish or FinishFromCache.
type Step struct {
	run         *Run
	dir         string
	stateDir    string
	sharedState bool     // stateDir is the store's state/<key>, not the run's
	stateLock   *os.File // holds the flock on the shared state dir

	mu      sync.Mutex
	rec     StepRecord
	events  *os.File
	metrics *os.File
	outputs map[string]cty.Value
	// cacheOutputs are the outputs with sensitive values in the clear, for
	// the cache entry; sensitive names them.
	cacheOutputs map[string]Value
	sensitive    []string
	last         *Event // the plugin's "status" event
	finished     bool
}

// BeginStep records that a step instance starts: it creates steps/<dir>/
// with work/ for the plugin, writes step.json with status "running" and
// opens the event logs. The state dir is <root>/state/<cache key>, so that a
// rerun of the same step after a crash finds its checkpoints; it is removed
// once the step succeeded and its cache entry is written. A step without a
// cache key, or whose twin (same key) is running in this run, gets a state
// dir of its own under steps/<dir>/state instead.
func (r *Run) BeginStep(info StepInfo) (_ *Step, err error) {
	if info.Address == "" {
		return nil, errors.New("step address is empty")
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.finished {
		return nil, fmt.Errorf("run %s already finished", r.id)
	}
	if _, dup := r.byAddr[info.Address]; dup {
		return nil, fmt.Errorf("step %s already began in run %s", info.Address, r.id)
	}
	name := StepDirName(info.Address)
	dir := filepath.Join(r.Dir(), "steps", name)
	if err := os.MkdirAll(filepath.Join(dir, "work"), 0o700); err != nil {
		return nil, err
	}
	stateDir, shared := filepath.Join(dir, "state"), false
	r.stateMu.Lock()
	claim := info.CacheKey != "" && !r.stateInUse[info.CacheKey]
	if claim {
		r.stateInUse[info.CacheKey] = true
	}
	r.stateMu.Unlock()
	var stateLock *os.File
	if claim {
		// Another host process may run the same step on this store right
		// now: the state dir is flocked for as long as the step runs, and
		// a step that finds it taken works in a state dir of its own.
		d, derr := r.store.StateDir(info.CacheKey)
		var locked bool
		if derr == nil {
			stateLock, locked, derr = lockDir(d)
		}
		if derr != nil || !locked {
			r.releaseState(info.CacheKey)
			if derr != nil {
				return nil, derr
			}
			claim = false
		} else {
			stateDir, shared = d, true
			defer func() {
				if err != nil {
					r.releaseState(info.CacheKey)
					closeLock(stateLock)
				}
			}()
		}
	}
	if !claim {
		if err := os.MkdirAll(stateDir, 0o700); err != nil {
			return nil, err
		}
	}
	rec := StepRecord{
		Address: info.Address, Dir: name, Plugin: info.Plugin, PluginVersion: info.PluginVersion,
		PluginSHA256: info.PluginSHA256, Seed: info.Seed, Backend: info.Backend,
		DependsOn: info.DependsOn, CacheKey: info.CacheKey, Status: StatusRunning,
		StartedAt: r.store.now(),
	}
	if info.Config != cty.NilVal && info.Config.IsWhollyKnown() {
		v, err := NewValue(redact(info.Config, info.SensitivePaths))
		if err != nil {
			return nil, fmt.Errorf("step %s: recording config: %w", info.Address, err)
		}
		rec.Config = &v
	}
	st := &Step{run: r, dir: dir, stateDir: stateDir, sharedState: shared, stateLock: stateLock, rec: rec, outputs: map[string]cty.Value{}}
	if st.events, err = os.OpenFile(filepath.Join(dir, "events.jsonl"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600); err != nil {
		return nil, err
	}
	if st.metrics, err = os.OpenFile(filepath.Join(dir, "metrics.jsonl"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600); err != nil {
		st.events.Close()
		return nil, err
	}
	// A "running" record need not survive a power cut: no fsync.
	if err := writeJSONAtomic(filepath.Join(dir, "step.json"), &rec, false); err != nil {
		st.closeFiles()
		return nil, err
	}
	r.steps = append(r.steps, st)
	r.byAddr[info.Address] = st
	return st, nil
}

func (r *Run) releaseState(key string) {
	r.stateMu.Lock()
	delete(r.stateInUse, key)
	r.stateMu.Unlock()
}

// SkipStep records a step that will not run because a step it depends on
// failed or the run was cancelled before it started.
func (r *Run) SkipStep(info StepInfo, reason string) error {
	st, err := r.BeginStep(info)
	if err != nil {
		return err
	}
	_, err = st.Finish(StepResult{Status: StatusSkipped, Message: reason})
	return err
}

// Address of the step instance.
func (st *Step) Address() string { return st.rec.Address }

// Dir is steps/<dir> of the step.
func (st *Step) Dir() string { return st.dir }

// WorkDir is where the plugin writes (sdk.Run.WorkDir).
func (st *Step) WorkDir() string { return filepath.Join(st.dir, "work") }

// StateDir is where the plugin keeps resumable state (sdk.Run.StateDir).
func (st *Step) StateDir() string { return st.stateDir }

// Record appends an event of the running step to events.jsonl (metrics
// also to metrics.jsonl) and returns it as recorded, which is what a
// display shows: Time set, Step filled in, an artifact with its StorePath,
// an output encoded (a marked one as "(sensitive)"). An artifact is copied
// into the object store (see PutArtifact); a refused artifact returns the
// error, which should fail the step. An output is kept for step.json and
// the cache; a "status" event is the plugin's final report, which Finish
// falls back on.
func (st *Step) Record(e Event) (Event, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.finished {
		return e, fmt.Errorf("step %s already finished", st.rec.Address)
	}
	e.Time = e.Time.UTC()
	if e.Time.IsZero() {
		e.Time = st.run.store.now()
	}
	e.Step = st.rec.Address
	var err error
	switch e.Kind {
	case "progress", "log":
	case "metric":
		err = st.recordMetricLocked(e)
	case "artifact":
		e, err = st.recordArtifactLocked(e)
	case "output":
		e, err = st.recordOutputLocked(e)
	case "status":
		last := e
		st.last = &last
	default:
		return e, fmt.Errorf("step %s: unknown event kind %q", st.rec.Address, e.Kind)
	}
	if err != nil {
		return e, err
	}
	return e, st.appendLocked(e)
}

func (st *Step) recordMetricLocked(e Event) error {
	if e.MetricStep == nil || e.Value == nil {
		return fmt.Errorf("step %s: metric %q without step or value", st.rec.Address, e.Name)
	}
	line, err := json.Marshal(MetricPoint{Name: e.Name, Step: *e.MetricStep, Value: *e.Value, Time: e.Time})
	if err != nil {
		return err
	}
	if _, err := st.metrics.Write(append(line, '\n')); err != nil {
		return fmt.Errorf("step %s: writing metrics: %w", st.rec.Address, err)
	}
	return nil
}

func (st *Step) recordArtifactLocked(e Event) (Event, error) {
	storePath, err := st.run.store.PutArtifact(st.WorkDir(), e.Path, e.SHA256)
	if err != nil {
		err = fmt.Errorf("step %s: %w", st.rec.Address, err)
		st.appendLocked(Event{Time: e.Time, Kind: "log", Step: e.Step, Plugin: e.Plugin, Level: "error", Message: err.Error()})
		return e, err
	}
	e.StorePath = storePath
	if st.rec.Artifacts == nil {
		st.rec.Artifacts = map[string]ArtifactRecord{}
	}
	st.rec.Artifacts[e.Name] = ArtifactRecord{SHA256: e.SHA256, Size: e.Size, MediaType: e.MediaType, RelPath: e.Path, StorePath: storePath}
	return e, nil
}

func (st *Step) recordOutputLocked(e Event) (Event, error) {
	if e.OutputValue == cty.NilVal {
		return e, fmt.Errorf("step %s: output %q has no value", st.rec.Address, e.Name)
	}
	v, err := NewValue(e.OutputValue)
	if err != nil {
		return e, fmt.Errorf("step %s: output %q: %w", st.rec.Address, e.Name, err)
	}
	if st.rec.Outputs == nil {
		st.rec.Outputs = map[string]Value{}
		st.cacheOutputs = map[string]Value{}
	}
	// A marked output (derived from a secret) is recorded redacted; only
	// the cache entry keeps its value.
	st.cacheOutputs[e.Name] = v
	if e.OutputValue.ContainsMarked() {
		st.sensitive = append(st.sensitive, e.Name)
		v = redactedValue()
	}
	e.Output = &v
	st.rec.Outputs[e.Name] = v
	st.outputs[e.Name] = e.OutputValue
	return e, nil
}

// Log records a message from the host about the step (level "debug",
// "info", "warn" or "error"), e.g. why it was stopped.
func (st *Step) Log(level, message string) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.finished {
		return fmt.Errorf("step %s already finished", st.rec.Address)
	}
	return st.appendLocked(Event{Time: st.run.store.now(), Kind: "log", Step: st.rec.Address, Level: level, Message: message})
}

func (st *Step) appendLocked(e Event) error {
	if err := WriteEvent(st.events, e); err != nil {
		return fmt.Errorf("step %s: writing events: %w", st.rec.Address, err)
	}
	return nil
}

// Outputs returns the output values recorded so far.
func (st *Step) Outputs() map[string]cty.Value {
	st.mu.Lock()
	defer st.mu.Unlock()
	out := make(map[string]cty.Value, len(st.outputs))
	for k, v := range st.outputs {
		out[k] = v
	}
	return out
}

// Artifacts returns the artifacts stored so far, by name; StorePath is what
// step.X.artifacts.NAME evaluates to.
func (st *Step) Artifacts() map[string]ArtifactRecord {
	st.mu.Lock()
	defer st.mu.Unlock()
	out := make(map[string]ArtifactRecord, len(st.rec.Artifacts))
	for k, v := range st.rec.Artifacts {
		out[k] = v
	}
	return out
}

// SetJob records the cluster job that runs the step; it is written with
// the final record.
func (st *Step) SetJob(j JobRef) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.rec.Job = &j
}

// StepResult is how a step ended.
type StepResult struct {
	// Status: succeeded, failed, cancelled or skipped. "" takes the plugin's
	// final Status event (failed if it sent none).
	Status      Status
	Message     string
	Diagnostics []string
	// StderrTail is the end of the plugin's stderr, kept on failure.
	StderrTail string
}

// Finish writes the step's final record. For a succeeded step with a cache
// key it then writes the cache entry, so that a later run (or the rerun
// after a crash) can skip the step. It returns the final record.
func (st *Step) Finish(res StepResult) (*StepRecord, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.finished {
		return nil, fmt.Errorf("step %s already finished", st.rec.Address)
	}
	status := res.Status
	if status == "" {
		status = StatusFailed
		if st.last != nil {
			status = st.last.Status
			if res.Message == "" {
				res.Message = st.last.Message
			}
		}
	}
	switch status {
	case StatusSucceeded, StatusFailed, StatusCancelled, StatusSkipped:
	default:
		return nil, fmt.Errorf("step %s: %q is not a final status", st.rec.Address, status)
	}
	now := st.run.store.now()
	rec := st.rec
	rec.Status, rec.Message, rec.Diagnostics, rec.EndedAt = status, res.Message, res.Diagnostics, &now
	rec.DurationMS = now.Sub(rec.StartedAt).Milliseconds()
	if status != StatusSucceeded {
		rec.StderrTail = res.StderrTail
	}
	done := Event{Time: now, Kind: "done", Step: rec.Address, Plugin: rec.Plugin, Status: status, Message: res.Message, Diagnostics: res.Diagnostics, DurationMS: rec.DurationMS}
	if status == StatusSkipped {
		done.Kind = "skipped"
	}
	if err := st.appendLocked(done); err != nil {
		return nil, err
	}
	return st.finishLocked(rec)
}

// FinishFromCache records the step as a cache hit restored from e (found by
// LookupCache with this step's key): status succeeded, the entry's outputs,
// artifacts and the metrics of the run that computed it. Decode the outputs with e.OutputValues().
func (st *Step) FinishFromCache(e *CacheEntry) (*StepRecord, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if st.finished {
		return nil, fmt.Errorf("step %s already finished", st.rec.Address)
	}
	vals, err := e.OutputValues()
	if err != nil {
		return nil, fmt.Errorf("step %s: cache entry %s: %w", st.rec.Address, e.Key, err)
	}
	st.restoreMetrics(e)
	now := st.run.store.now()
	rec := st.rec
	rec.Status, rec.CacheHit, rec.CachedFrom, rec.EndedAt = StatusSucceeded, true, e.RunID, &now
	rec.DurationMS = e.DurationMS
	rec.Outputs, rec.Artifacts = redactedOutputs(e.Outputs, e.Sensitive), e.Artifacts
	st.outputs = vals
	msg := fmt.Sprintf("cache hit: restored from run %s", e.RunID)
	if err := st.appendLocked(Event{Time: now, Kind: "cached", Step: rec.Address, Plugin: rec.Plugin, Status: StatusSucceeded, Message: msg, DurationMS: rec.DurationMS}); err != nil {
		return nil, err
	}
	return st.finishLocked(rec)
}

// restoreMetrics gives a cache hit the metrics of the run that computed it,
// so that this run's report and diffs are complete: the computing step's
// metrics.jsonl (its directory follows from the address, no other record
// is read) is hard-linked — the file is complete and never written again,
// and the link keeps it when that run is collected — or copied.
func (st *Step) restoreMetrics(e *CacheEntry) {
	src := filepath.Join(st.run.store.runDir(e.RunID), "steps", StepDirName(e.Address), "metrics.jsonl")
	dst := filepath.Join(st.dir, "metrics.jsonl")
	if st.metrics != nil {
		st.metrics.Close()
		st.metrics = nil
	}
	if _, err := os.Stat(src); err != nil {
		return
	}
	_ = os.Remove(dst)
	if os.Link(src, dst) == nil {
		return
	}
	if b, err := os.ReadFile(src); err == nil {
		_ = os.WriteFile(dst, b, 0o600)
	}
}

func (st *Step) finishLocked(rec StepRecord) (*StepRecord, error) {
	// Events first, the final status record last: the record is the only
	// thing that says the step succeeded. The event logs are not fsynced:
	// losing their tail to a power cut loses no result (outputs and
	// artifacts are in step.json and the cache entry), and a sync per step
	// would cost more than the rest of the bookkeeping.
	st.closeFiles()
	if err := writeJSONAtomic(filepath.Join(st.dir, "step.json"), &rec, true); err != nil {
		return nil, fmt.Errorf("step %s: writing record: %w", rec.Address, err)
	}
	st.rec = rec
	st.finished = true
	if st.sharedState {
		defer st.run.releaseState(rec.CacheKey)
		defer closeLock(st.stateLock)
		if rec.CacheHit {
			_ = os.Remove(st.stateDir) // only if the restored step left it empty
		}
	}
	if rec.Status == StatusSucceeded && !rec.CacheHit && rec.CacheKey != "" {
		e := &CacheEntry{
			Key: rec.CacheKey, RunID: st.run.id, Address: rec.Address, FinishedAt: *rec.EndedAt,
			DurationMS: rec.DurationMS, Outputs: rec.Outputs, Artifacts: rec.Artifacts,
		}
		if len(st.sensitive) > 0 {
			e.Outputs, e.Sensitive = st.cacheOutputs, st.sensitive
		}
		if err := st.run.store.putCache(e); err != nil {
			// The step did succeed and its record says so; only a later
			// run cannot skip it. Said in the record, not turned into a
			// failure of a step whose record reads "succeeded".
			rec.CacheWarning = fmt.Sprintf("the result could not be cached (a later run will compute it again): %v", err)
			_ = writeJSONAtomic(filepath.Join(st.dir, "step.json"), &rec, true)
			st.rec = rec
			out := rec
			return &out, nil
		}
		// The checkpoints of a step that succeeded are never needed again:
		// the cache entry now answers for it. Only after the entry is
		// written, so a crash in between still resumes from them.
		if st.sharedState {
			_ = os.RemoveAll(st.stateDir)
		}
	}
	out := rec
	return &out, nil
}

func (st *Step) closeFiles() {
	if st.events != nil {
		st.events.Close()
	}
	if st.metrics != nil {
		st.metrics.Close()
	}
}

// redact replaces every marked part of v and every attribute at one of
// paths with the string "(sensitive)". A collection (list, set, map) with a
// sensitive element is redacted as a whole, since its elements must share
// one type.
func redact(v cty.Value, paths []cty.Path) cty.Value {
	return redactAt(v, nil, paths)
}

var sensitiveVal = cty.StringVal("(sensitive)")

func redactAt(v cty.Value, at cty.Path, paths []cty.Path) cty.Value {
	for _, p := range paths {
		if p.Equals(at) {
			return sensitiveVal
		}
	}
	if v.IsMarked() {
		return sensitiveVal
	}
	if !v.IsKnown() || v.IsNull() {
		return v
	}
	ty := v.Type()
	switch {
	case ty.IsObjectType():
		attrs := map[string]cty.Value{}
		for name := range ty.AttributeTypes() {
			attrs[name] = redactAt(v.GetAttr(name), at.GetAttr(name), paths)
		}
		return cty.ObjectVal(attrs)
	case ty.IsTupleType():
		var elems []cty.Value
		for i := range ty.TupleElementTypes() {
			elems = append(elems, redactAt(v.Index(cty.NumberIntVal(int64(i))), at.Index(cty.NumberIntVal(int64(i))), paths))
		}
		if len(elems) == 0 {
			return v
		}
		return cty.TupleVal(elems)
	case ty.IsCollectionType():
		if v.ContainsMarked() || hasPathUnder(at, paths) {
			return sensitiveVal
		}
	}
	return v
}

// hasPathUnder reports whether some path starts with prefix and is longer.
func hasPathUnder(prefix cty.Path, paths []cty.Path) bool {
	for _, p := range paths {
		if len(p) > len(prefix) && p[:len(prefix)].Equals(prefix) {
			return true
		}
	}
	return false
}

func closeLock(f *os.File) {
	if f != nil {
		f.Close()
	}
}
