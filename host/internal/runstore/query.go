package runstore

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// RunSummary is one line of `shammie runs list`.
type RunSummary struct {
	ID          string         `json:"id"`
	Status      Status         `json:"status"`
	Message     string         `json:"message,omitempty"`
	StartedAt   time.Time      `json:"started_at"`
	EndedAt     *time.Time     `json:"ended_at,omitempty"`
	Spec        []string       `json:"spec"` // spec file paths
	HostVersion string         `json:"host_version"`
	Steps       int            `json:"steps"`
	StepStatus  map[Status]int `json:"step_status"` // steps per status
	CacheHits   int            `json:"cache_hits"`
}

// LoadedRun is a run read back from the store.
type LoadedRun struct {
	Record RunRecord `json:"run"`
	// Steps in the order they started (address order for equal times).
	Steps []StepRecord `json:"steps"`
	// Dir is the run's directory.
	Dir string `json:"dir"`
}

// Step returns the record of the step instance at address.
func (r *LoadedRun) Step(address string) (*StepRecord, bool) {
	for i := range r.Steps {
		if r.Steps[i].Address == address {
			return &r.Steps[i], true
		}
	}
	return nil, false
}

// Metrics reads the metric points of a step instance, in recorded order.
func (r *LoadedRun) Metrics(address string) ([]MetricPoint, error) {
	st, ok := r.Step(address)
	if !ok {
		return nil, fmt.Errorf("run %s has no step %s", r.Record.ID, address)
	}
	var out []MetricPoint
	err := readJSONL(filepath.Join(r.Dir, "steps", st.Dir, "metrics.jsonl"), func(b []byte) error {
		var m MetricPoint
		if err := json.Unmarshal(b, &m); err != nil {
			return err
		}
		out = append(out, m)
		return nil
	})
	return out, err
}

// Events reads the event log of a step instance.
func (r *LoadedRun) Events(address string) ([]Event, error) {
	st, ok := r.Step(address)
	if !ok {
		return nil, fmt.Errorf("run %s has no step %s", r.Record.ID, address)
	}
	var out []Event
	err := readJSONL(filepath.Join(r.Dir, "steps", st.Dir, "events.jsonl"), func(b []byte) error {
		var e Event
		if err := json.Unmarshal(b, &e); err != nil {
			return err
		}
		out = append(out, e)
		return nil
	})
	return out, err
}

// Metrics reads the metric points of one step of a run (ref as for Load).
func (s *Store) Metrics(runRef, address string) ([]MetricPoint, error) {
	r, err := s.Load(runRef)
	if err != nil {
		return nil, err
	}
	return r.Metrics(address)
}

// readJSONL calls fn for each line of path. A missing file has no lines. A
// last line without its newline is the trace of a crash mid-write and is
// skipped if it does not parse; any other bad line is an error naming file
// and line.
func readJSONL(path string, fn func([]byte) error) error {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	lines := bytes.Split(data, []byte{'\n'})
	for i, b := range lines {
		if len(bytes.TrimSpace(b)) == 0 {
			continue
		}
		if err := fn(b); err != nil {
			if i == len(lines)-1 { // unterminated last line
				return nil
			}
			return fmt.Errorf("%s:%d: %w", path, i+1, err)
		}
	}
	return nil
}

// effectiveStatus turns the "running" of a run whose process died into
// "interrupted".
func (s *Store) effectiveStatus(rec *RunRecord) Status {
	if rec.Status == StatusRunning && !rec.Process.alive() {
		return StatusInterrupted
	}
	return rec.Status
}

// runIDs lists the run directories, oldest first.
func (s *Store) runIDs() ([]string, error) {
	ents, err := os.ReadDir(s.runsDir())
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, e := range ents {
		if e.IsDir() && runIDPattern.MatchString(e.Name()) {
			ids = append(ids, e.Name())
		}
	}
	sort.Strings(ids)
	return ids, nil
}

// List summarises every run, newest first. A run whose record cannot be
// read is listed with status "damaged" and the error as its message (a
// store is not left half-written by crashes, so that means damage worth
// seeing, but not worth hiding the other runs for).
func (s *Store) List() ([]RunSummary, error) {
	ids, err := s.runIDs()
	if err != nil {
		return nil, err
	}
	out := make([]RunSummary, 0, len(ids))
	for _, id := range ids {
		var rec RunRecord
		if err := readJSON(filepath.Join(s.runDir(id), "run.json"), &rec); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue // created by a process that died before its first write
			}
			// One damaged record must not hide every other run: it is
			// listed as damaged, with what is wrong.
			out = append(out, damagedSummary(id, err))
			continue
		}
		steps := rec.Steps
		if rec.Status == StatusRunning {
			recs, err := s.loadSteps(id)
			if err != nil {
				out = append(out, damagedSummary(id, err))
				continue
			}
			steps = steps[:0]
			for _, st := range recs {
				steps = append(steps, StepIndex{Address: st.Address, Status: st.Status, CacheHit: st.CacheHit})
			}
		}
		status := s.effectiveStatus(&rec)
		sum := RunSummary{
			ID: rec.ID, Status: status, Message: rec.Message, StartedAt: rec.StartedAt,
			EndedAt: rec.EndedAt, HostVersion: rec.HostVersion, Steps: len(steps), StepStatus: map[Status]int{},
		}
		for _, f := range rec.Spec {
			sum.Spec = append(sum.Spec, f.Path)
		}
		for _, st := range steps {
			stStatus := st.Status
			if status == StatusInterrupted && stStatus == StatusRunning {
				stStatus = StatusInterrupted
			}
			sum.StepStatus[stStatus]++
			if st.CacheHit {
				sum.CacheHits++
			}
		}
		out = append(out, sum)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].StartedAt.Equal(out[j].StartedAt) {
			return out[i].StartedAt.After(out[j].StartedAt)
		}
		return out[i].ID > out[j].ID
	})
	return out, nil
}

// damagedSummary lists a run whose records cannot be read; its start time
// comes from the id.
func damagedSummary(id string, err error) RunSummary {
	t, _ := time.Parse("20060102T150405", id[:15])
	return RunSummary{ID: id, Status: StatusDamaged, Message: err.Error(), StartedAt: t.UTC(), StepStatus: map[Status]int{}}
}

// Resolve turns a run reference into a run id: a full id, a unique prefix of
// one, "latest" (the newest run) or "latest~N" (N runs before the newest).
func (s *Store) Resolve(ref string) (string, error) {
	ids, err := s.runIDs()
	if err != nil {
		return "", err
	}
	if len(ids) == 0 {
		return "", fmt.Errorf("the run store %s has no runs yet; start one with `shammie run <spec>`", s.root)
	}
	if ref == "" || ref == "latest" || strings.HasPrefix(ref, "latest~") {
		n := 0
		if rest, ok := strings.CutPrefix(ref, "latest~"); ok {
			if _, err := fmt.Sscanf(rest, "%d", &n); err != nil || n < 0 {
				return "", fmt.Errorf("bad run reference %q: want latest~N with N ≥ 0", ref)
			}
		}
		if n >= len(ids) {
			return "", fmt.Errorf("run reference %q: the store has only %d runs", ref, len(ids))
		}
		return ids[len(ids)-1-n], nil
	}
	var matches []string
	for _, id := range ids {
		if id == ref {
			return id, nil
		}
		if strings.HasPrefix(id, ref) {
			matches = append(matches, id)
		}
	}
	switch len(matches) {
	case 0:
		return "", fmt.Errorf("no run %q in %s; `shammie runs list` shows the runs", ref, s.root)
	case 1:
		return matches[0], nil
	default:
		shown := matches
		if len(shown) > 5 {
			shown = shown[len(shown)-5:]
		}
		return "", fmt.Errorf("run reference %q is ambiguous: %d runs match (%s); give more of the id", ref, len(matches), strings.Join(shown, ", "))
	}
}

// Load reads a run and all its step records. ref is a run id, a unique
// prefix of one, or "latest" / "latest~N". A run whose host process died is
// reported with status "interrupted", and so are its steps still "running".
func (s *Store) Load(ref string) (*LoadedRun, error) {
	return s.LoadSpec(ref, SpecFilter{})
}

// LoadSpec is Load with "latest" relative to the runs of a spec.
func (s *Store) LoadSpec(ref string, f SpecFilter) (*LoadedRun, error) {
	id, err := s.ResolveSpec(ref, f)
	if err != nil {
		return nil, err
	}
	var rec RunRecord
	if err := readJSON(filepath.Join(s.runDir(id), "run.json"), &rec); err != nil {
		return nil, fmt.Errorf("run %s: %w", id, err)
	}
	steps, err := s.loadSteps(id)
	if err != nil {
		return nil, err
	}
	rec.Status = s.effectiveStatus(&rec)
	if rec.Status == StatusInterrupted {
		for i := range steps {
			if steps[i].Status == StatusRunning {
				steps[i].Status = StatusInterrupted
			}
		}
	}
	return &LoadedRun{Record: rec, Steps: steps, Dir: s.runDir(id)}, nil
}

func (s *Store) loadSteps(id string) ([]StepRecord, error) {
	dir := filepath.Join(s.runDir(id), "steps")
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var steps []StepRecord
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		var st StepRecord
		if err := readJSON(filepath.Join(dir, e.Name(), "step.json"), &st); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue // the directory was made, the first record not yet
			}
			return nil, err
		}
		steps = append(steps, st)
	}
	sort.SliceStable(steps, func(i, j int) bool {
		if !steps[i].StartedAt.Equal(steps[j].StartedAt) {
			return steps[i].StartedAt.Before(steps[j].StartedAt)
		}
		return steps[i].Address < steps[j].Address
	})
	return steps, nil
}
