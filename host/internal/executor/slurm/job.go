// Package slurm runs step instances as Slurm jobs. The host stays the only
// scheduler of the step graph: it hands each ready instance to [Executor.Run],
// which writes a request file into the run store (which the nodes share),
// submits the instances of one step as a job array (`sbatch --array=0-N%P`),
// follows the jobs with squeue/scontrol/sacct, and replays the events the
// worker writes back to the caller, which records them as it records a local
// step's. On the node, `shammie worker` (see [RunWorker]) verifies the
// plugin binary against the lock, runs it over go-plugin as the host would,
// and writes events, a heartbeat and the final status next to the step.
//
// Files of one batch (one sbatch call), under <store>/slurm/<run id>/<batch>/:
//
//	<i>.json     the request of array task i (Request; 0600: configs may hold secrets)
//	<i>.out/.err the task's stdout and stderr (sbatch -o/-e)
//
// Files of one instance, in the step's directory (<step dir>/slurm/):
//
//	events.jsonl every plugin event, one WireEvent a line, appended by the worker
//	heartbeat    rewritten every few seconds while the worker lives
//	result.json  the final status (Result), written last, atomically
//	job.json     the job id, node and outcome (JobRecord), written by the host
//
// And <store>/slurm/jobs/<cache key>.json names the job that computes an
// instance, so that a host that died can re-attach to it (see Journal).
package slurm

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"

	"github.com/shammie-ml/shammie/sdk"
	"github.com/shammie-ml/shammie/sdk/pluginhost"
)

// Request is what the worker needs to run one instance.
type Request struct {
	RunID string `json:"run_id"`
	Step  string `json:"step"` // instance address
	// Plugin is the spec's plugin label; the worker checks Path and SHA256
	// against LockPath's entry for it.
	Plugin   string `json:"plugin"`
	Path     string `json:"path"`
	SHA256   string `json:"sha256"`
	LockPath string `json:"lock_path"`
	// Config as cty JSON with its type.
	Config     json.RawMessage `json:"config"`
	ConfigType json.RawMessage `json:"config_type"`
	WorkDir    string          `json:"work_dir"`
	// SpecDir is the spec's folder: the plugin's working directory, against
	// which relative paths in its config resolve.
	SpecDir  string `json:"spec_dir"`
	StateDir string `json:"state_dir"`
	Seed     int64  `json:"seed"`
	Backend  string `json:"backend"`
	// Dir is where the worker writes events, heartbeat and result.
	Dir string `json:"dir"`
	// MaxRequeue: a worker started for the (MaxRequeue+2)th time fails at once.
	MaxRequeue int `json:"max_requeue"`
	// HeartbeatMS is how often the worker rewrites its heartbeat.
	HeartbeatMS int64 `json:"heartbeat_ms"`
}

// EncodeConfig stores cfg (marks removed) in r.
func (r *Request) EncodeConfig(cfg cty.Value) error {
	cfg, _ = cfg.UnmarkDeep()
	b, err := ctyjson.Marshal(cfg, cfg.Type())
	if err != nil {
		return fmt.Errorf("encoding the config: %w", err)
	}
	t, err := ctyjson.MarshalType(cfg.Type())
	if err != nil {
		return err
	}
	r.Config, r.ConfigType = b, t
	return nil
}

// DecodeConfig returns the config r carries.
func (r *Request) DecodeConfig() (cty.Value, error) {
	t, err := ctyjson.UnmarshalType(r.ConfigType)
	if err != nil {
		return cty.NilVal, fmt.Errorf("config type: %w", err)
	}
	return ctyjson.Unmarshal(r.Config, t)
}

// Result is the worker's last word.
type Result struct {
	State       string           `json:"state"` // succeeded, failed, cancelled
	Message     string           `json:"message,omitempty"`
	Diagnostics []WireDiagnostic `json:"diagnostics,omitempty"`
	// Error is set when there is no trustworthy plugin status (crash,
	// refused binary); StderrTail then has the plugin's last lines.
	Error      string    `json:"error,omitempty"`
	StderrTail string    `json:"stderr_tail,omitempty"`
	Node       string    `json:"node,omitempty"`
	JobID      string    `json:"job_id,omitempty"`
	Attempt    int       `json:"attempt"`
	Time       time.Time `json:"time"`
}

// Status converts r to the plugin status it stands for.
func (r Result) Status() pluginhost.Status {
	st := pluginhost.Status{Time: r.Time, Message: r.Message}
	for _, d := range r.Diagnostics {
		st.Diagnostics = append(st.Diagnostics, d.Diagnostic())
	}
	switch r.State {
	case "succeeded":
		st.State = pluginhost.Succeeded
	case "cancelled":
		st.State = pluginhost.Cancelled
	default:
		st.State = pluginhost.Failed
	}
	return st
}

// WireDiagnostic is an sdk.Diagnostic in JSON; the path's steps are
// attribute names and index keys (strings or numbers).
type WireDiagnostic struct {
	Severity int    `json:"severity"`
	Summary  string `json:"summary"`
	Detail   string `json:"detail,omitempty"`
	Path     []any  `json:"path,omitempty"` // {"attr": name} or {"index": key}
}

// EncodeDiagnostics converts plugin diagnostics for result.json.
func EncodeDiagnostics(in sdk.Diagnostics) []WireDiagnostic {
	var out []WireDiagnostic
	for _, d := range in {
		w := WireDiagnostic{Severity: int(d.Severity), Summary: d.Summary, Detail: d.Detail}
		for _, step := range d.Path {
			switch s := step.(type) {
			case cty.GetAttrStep:
				w.Path = append(w.Path, map[string]any{"attr": s.Name})
			case cty.IndexStep:
				if s.Key.Type() == cty.String {
					w.Path = append(w.Path, map[string]any{"index": s.Key.AsString()})
				} else if s.Key.Type() == cty.Number {
					f, _ := s.Key.AsBigFloat().Float64()
					w.Path = append(w.Path, map[string]any{"index": f})
				}
			}
		}
		out = append(out, w)
	}
	return out
}

// Diagnostic converts w back.
func (w WireDiagnostic) Diagnostic() sdk.Diagnostic {
	d := sdk.Diagnostic{Severity: sdk.Severity(w.Severity), Summary: w.Summary, Detail: w.Detail}
	for _, p := range w.Path {
		m, _ := p.(map[string]any)
		if a, ok := m["attr"].(string); ok {
			d.Path = append(d.Path, cty.GetAttrStep{Name: a})
		}
		switch k := m["index"].(type) {
		case string:
			d.Path = append(d.Path, cty.IndexStep{Key: cty.StringVal(k)})
		case float64:
			d.Path = append(d.Path, cty.IndexStep{Key: cty.NumberFloatVal(k)})
		}
	}
	return d
}

// WireEvent is one plugin event in events.jsonl.
type WireEvent struct {
	Attempt   int             `json:"attempt"`
	Type      string          `json:"type"`
	Time      time.Time       `json:"time"`
	Stage     string          `json:"stage,omitempty"`
	Done      int64           `json:"done,omitempty"`
	Total     int64           `json:"total,omitempty"`
	Unit      string          `json:"unit,omitempty"`
	Name      string          `json:"name,omitempty"`
	Step      int64           `json:"step,omitempty"`
	Value     float64         `json:"value,omitempty"`
	Level     int             `json:"level,omitempty"`
	Message   string          `json:"message,omitempty"`
	Path      string          `json:"path,omitempty"`
	SHA256    string          `json:"sha256,omitempty"`
	Size      int64           `json:"size,omitempty"`
	MediaType string          `json:"media_type,omitempty"`
	Output    json.RawMessage `json:"output,omitempty"`
	OutType   json.RawMessage `json:"output_type,omitempty"`
}

// EncodeEvent converts a plugin event for events.jsonl.
func EncodeEvent(attempt int, ev pluginhost.Event) (WireEvent, error) {
	w := WireEvent{Attempt: attempt, Time: ev.EventTime()}
	switch e := ev.(type) {
	case pluginhost.Progress:
		w.Type, w.Stage, w.Done, w.Total, w.Unit = "progress", e.Stage, e.Done, e.Total, e.Unit
	case pluginhost.Metric:
		w.Type, w.Name, w.Step, w.Value = "metric", e.Name, e.Step, e.Value
	case pluginhost.Log:
		w.Type, w.Level, w.Message = "log", int(e.Level), e.Message
	case pluginhost.Artifact:
		w.Type, w.Name, w.Path, w.SHA256, w.Size, w.MediaType = "artifact", e.Name, e.Path, e.SHA256, e.Size, e.MediaType
	case pluginhost.Output:
		v, _ := e.Value.UnmarkDeep()
		b, err := ctyjson.Marshal(v, v.Type())
		if err != nil {
			return w, fmt.Errorf("output %q: %w", e.Name, err)
		}
		t, err := ctyjson.MarshalType(v.Type())
		if err != nil {
			return w, err
		}
		w.Type, w.Name, w.Output, w.OutType = "output", e.Name, b, t
	default:
		return w, fmt.Errorf("unexpected event %T", ev)
	}
	return w, nil
}

// Event converts w back to the plugin event.
func (w WireEvent) Event() (pluginhost.Event, error) {
	switch w.Type {
	case "progress":
		return pluginhost.Progress{Time: w.Time, Stage: w.Stage, Done: w.Done, Total: w.Total, Unit: w.Unit}, nil
	case "metric":
		return pluginhost.Metric{Time: w.Time, Name: w.Name, Step: w.Step, Value: w.Value}, nil
	case "log":
		return pluginhost.Log{Time: w.Time, Level: pluginhost.LogLevel(w.Level), Message: w.Message}, nil
	case "artifact":
		return pluginhost.Artifact{Time: w.Time, Name: w.Name, Path: w.Path, SHA256: w.SHA256, Size: w.Size, MediaType: w.MediaType}, nil
	case "output":
		t, err := ctyjson.UnmarshalType(w.OutType)
		if err != nil {
			return nil, fmt.Errorf("output %q type: %w", w.Name, err)
		}
		v, err := ctyjson.Unmarshal(w.Output, t)
		if err != nil {
			return nil, fmt.Errorf("output %q: %w", w.Name, err)
		}
		return pluginhost.Output{Time: w.Time, Name: w.Name, Value: v}, nil
	}
	return nil, fmt.Errorf("unknown event type %q", w.Type)
}

// Names of the worker's files in Request.Dir.
const (
	EventsFile    = "events.jsonl"
	ResultFile    = "result.json"
	HeartbeatFile = "heartbeat"
	JobFile       = "job.json" // JobRecord, written by the host
)

// WriteFileAtomic writes data so that a reader on another node sees the old
// file or the whole new one: a unique temporary name in the same directory
// (NFS renames are atomic within a directory), fsync before the rename so
// the server has the bytes before the name, fsync of the directory after.
// The file is created with perm and never modified in place.
func WriteFileAtomic(path string, data []byte, perm os.FileMode) error {
	dir := filepath.Dir(path)
	host, _ := os.Hostname()
	tmp := filepath.Join(dir, fmt.Sprintf(".%s.%s.%d.%d.tmp", filepath.Base(path), host, os.Getpid(), time.Now().UnixNano()))
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_EXCL|os.O_WRONLY, perm)
	if err != nil {
		return err
	}
	_, werr := f.Write(data)
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(tmp, path)
	}
	if werr != nil {
		os.Remove(tmp)
		return werr
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}

// WriteJSONAtomic is WriteFileAtomic of v as indented JSON.
func WriteJSONAtomic(path string, v any, perm os.FileMode) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return WriteFileAtomic(path, append(b, '\n'), perm)
}

// ReadJSON reads a JSON file into v.
func ReadJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}
