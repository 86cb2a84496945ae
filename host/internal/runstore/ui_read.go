package runstore

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// Incremental readers for a live view (shammie ui): a run still going
// appends to events.jsonl and metrics.jsonl, and a viewer that polls them
// should read only what was added since its last look.

// MetricsFrom reads the metric points recorded at or after byte offset of
// the step's metrics.jsonl and returns them with the offset to continue
// from. Only complete lines are consumed: a line still being written is
// left for the next call.
func (r *LoadedRun) MetricsFrom(address string, offset int64) ([]MetricPoint, int64, error) {
	var out []MetricPoint
	next, err := r.tailJSONL(address, "metrics.jsonl", offset, func(b []byte) error {
		var m MetricPoint
		if err := json.Unmarshal(b, &m); err != nil {
			return err
		}
		out = append(out, m)
		return nil
	})
	return out, next, err
}

// EventsFrom is MetricsFrom for the step's events.jsonl.
func (r *LoadedRun) EventsFrom(address string, offset int64) ([]Event, int64, error) {
	var out []Event
	next, err := r.tailJSONL(address, "events.jsonl", offset, func(b []byte) error {
		var e Event
		if err := json.Unmarshal(b, &e); err != nil {
			return err
		}
		out = append(out, e)
		return nil
	})
	return out, next, err
}

func (r *LoadedRun) tailJSONL(address, file string, offset int64, fn func([]byte) error) (int64, error) {
	st, ok := r.Step(address)
	if !ok {
		return offset, fmt.Errorf("run %s has no step %s", r.Record.ID, address)
	}
	path := filepath.Join(r.Dir, "steps", st.Dir, file)
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return offset, nil
	}
	if err != nil {
		return offset, err
	}
	defer f.Close()
	if offset < 0 {
		offset = 0
	}
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return offset, err
	}
	data, err := io.ReadAll(f)
	if err != nil {
		return offset, err
	}
	end := bytes.LastIndexByte(data, '\n')
	if end < 0 {
		return offset, nil
	}
	for i, line := range bytes.Split(data[:end], []byte{'\n'}) {
		if len(bytes.TrimSpace(line)) == 0 {
			continue
		}
		if err := fn(line); err != nil {
			return offset, fmt.Errorf("%s: line %d after byte %d: %w", path, i+1, offset, err)
		}
	}
	return offset + int64(end) + 1, nil
}

// WorkDir is the work directory of a step instance of the run: where its
// plugin wrote files (artifacts are copied from there into the store).
func (r *LoadedRun) WorkDir(address string) (string, error) {
	st, ok := r.Step(address)
	if !ok {
		return "", fmt.Errorf("run %s has no step %s", r.Record.ID, address)
	}
	return filepath.Join(r.Dir, "steps", st.Dir, "work"), nil
}

// Flatten turns a recorded value into attribute path -> JSON leaf (as
// `runs diff` compares configs: "layers[0].width" -> "64"). A sensitive
// value is {"": "(sensitive)"}.
func (v *Value) Flatten() (map[string]string, error) {
	return flattenValue(v)
}
