package runstore

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"time"

	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"
)

// Status of a run or a step instance.
type Status string

const (
	StatusRunning   Status = "running"
	StatusSucceeded Status = "succeeded"
	StatusFailed    Status = "failed"
	StatusCancelled Status = "cancelled"
	// StatusInterrupted is never written: List and Load report a "running"
	// record whose host process is gone as interrupted.
	StatusInterrupted Status = "interrupted"
	// StatusSkipped marks a step that never ran because a step it depends on
	// failed (fail-fast or --keep-going).
	StatusSkipped Status = "skipped"
	// StatusDamaged is never written: List reports a run whose record
	// cannot be read as damaged.
	StatusDamaged Status = "damaged"
)

// Done reports whether s is a final status.
func (s Status) Done() bool {
	return s != StatusRunning && s != ""
}

// RunRecord is runs/<id>/run.json.
type RunRecord struct {
	ID          string     `json:"id"`
	Status      Status     `json:"status"`
	Message     string     `json:"message,omitempty"` // why it failed or was cancelled
	HostVersion string     `json:"host_version"`
	StartedAt   time.Time  `json:"started_at"`
	EndedAt     *time.Time `json:"ended_at,omitempty"`
	// Spec is a snapshot of the spec file(s) as they were when the run began.
	Spec []SpecFile `json:"spec"`
	// Variables are the resolved input variables; sensitive ones redacted.
	Variables map[string]Value `json:"variables"`
	// Lock is the text of shammie.lock.hcl used by the run.
	Lock     string       `json:"lock,omitempty"`
	Plugins  []PluginInfo `json:"plugins"`
	Seed     int64        `json:"seed"`
	Backends []string     `json:"backends"`
	// Outputs are the spec's output blocks evaluated when the run ended
	// (sensitive ones redacted).
	Outputs map[string]Value `json:"outputs,omitempty"`
	// Steps is the index of step instances, filled in when the run ends (the
	// step records under steps/ are the truth while it runs).
	Steps []StepIndex `json:"steps,omitempty"`
	// Process identifies the host process that owns a running run, so that a
	// run whose process died is told apart from one still going.
	Process ProcessInfo `json:"process"`
}

// SpecFile is one file of the spec snapshot.
type SpecFile struct {
	Path string `json:"path"` // as given on the command line
	Text string `json:"text"`
}

// PluginInfo is a plugin binary a run used.
type PluginInfo struct {
	Name    string `json:"name"`
	Version string `json:"version"`
	SHA256  string `json:"sha256"`
	Path    string `json:"path,omitempty"`
}

// StepIndex is the summary of a step instance kept in run.json.
type StepIndex struct {
	Address  string `json:"address"`
	Dir      string `json:"dir"`
	Seed     int64  `json:"seed"`
	Backend  string `json:"backend"`
	Status   Status `json:"status"`
	CacheHit bool   `json:"cache_hit,omitempty"`
}

// ProcessInfo identifies a process across pid reuse and reboots.
type ProcessInfo struct {
	PID      int    `json:"pid"`
	Start    uint64 `json:"start,omitempty"`   // start time in clock ticks since boot (Linux)
	BootID   string `json:"boot_id,omitempty"` // /proc/sys/kernel/random/boot_id (Linux)
	Hostname string `json:"hostname,omitempty"`
}

// StepRecord is steps/<dir>/step.json.
type StepRecord struct {
	Address       string   `json:"address"` // e.g. step.sweep["a"]
	Dir           string   `json:"dir"`     // directory name under steps/
	Plugin        string   `json:"plugin"`
	PluginVersion string   `json:"plugin_version"`
	PluginSHA256  string   `json:"plugin_sha256"`
	Seed          int64    `json:"seed"`
	Backend       string   `json:"backend"`
	DependsOn     []string `json:"depends_on,omitempty"`
	Config        *Value   `json:"config,omitempty"` // sensitive parts redacted
	CacheKey      string   `json:"cache_key,omitempty"`
	CacheHit      bool     `json:"cache_hit"`
	CachedFrom    string   `json:"cached_from,omitempty"` // run id the cached result came from
	Status        Status   `json:"status"`
	Message       string   `json:"message,omitempty"`
	Diagnostics   []string `json:"diagnostics,omitempty"`
	StderrTail    string   `json:"stderr_tail,omitempty"`
	// CacheWarning says why a succeeded step's result was not cached.
	CacheWarning string `json:"cache_warning,omitempty"`
	// Job is the cluster job that ran the step (--executor slurm).
	Job       *JobRef    `json:"job,omitempty"`
	StartedAt time.Time  `json:"started_at"`
	EndedAt   *time.Time `json:"ended_at,omitempty"`
	// DurationMS is the wall time of the step (for a cache hit: of the run
	// that computed it).
	DurationMS int64                     `json:"duration_ms"`
	Outputs    map[string]Value          `json:"outputs,omitempty"`
	Artifacts  map[string]ArtifactRecord `json:"artifacts,omitempty"`
}

// Duration of the step.
func (r *StepRecord) Duration() time.Duration { return time.Duration(r.DurationMS) * time.Millisecond }

// ArtifactRecord is a stored artifact.
type ArtifactRecord struct {
	SHA256    string `json:"sha256"`
	Size      int64  `json:"size"`
	MediaType string `json:"media_type,omitempty"`
	// RelPath is where the plugin wrote it, relative to its work dir.
	RelPath string `json:"rel_path"`
	// StorePath is the absolute path of the object in the store: what
	// step.X.artifacts.NAME evaluates to.
	StorePath string `json:"store_path"`
}

// Value is a cty value with its type, as ctyjson: {"type": …, "value": …}.
// Keeping the type makes the value round-trip exactly (a list stays a list,
// a number keeps its precision).
type Value struct {
	Type      json.RawMessage `json:"type"`
	Value     json.RawMessage `json:"value"`
	Sensitive bool            `json:"sensitive,omitempty"`
}

// NewValue encodes v. Marks are dropped (redact first if they matter).
func NewValue(v cty.Value) (Value, error) {
	v, _ = v.UnmarkDeep()
	ty := v.Type()
	tb, err := ctyjson.MarshalType(ty)
	if err != nil {
		return Value{}, err
	}
	vb, err := ctyjson.Marshal(v, ty)
	if err != nil {
		return Value{}, err
	}
	return Value{Type: tb, Value: vb}, nil
}

// redactedValue stands for a sensitive value.
func redactedValue() Value {
	return Value{Type: json.RawMessage(`"string"`), Value: json.RawMessage(`"(sensitive)"`), Sensitive: true}
}

// Cty decodes the value.
func (v Value) Cty() (cty.Value, error) {
	if len(v.Type) == 0 {
		return cty.NilVal, fmt.Errorf("value has no type")
	}
	ty, err := ctyjson.UnmarshalType(v.Type)
	if err != nil {
		return cty.NilVal, err
	}
	return ctyjson.Unmarshal(v.Value, ty)
}

// String renders the value compactly for tables and diffs (its JSON).
func (v Value) String() string {
	if v.Sensitive {
		return "(sensitive)"
	}
	// One line: records are written indented, which would split a list or
	// map over lines of a table.
	var b bytes.Buffer
	if json.Compact(&b, v.Value) == nil {
		return b.String()
	}
	return string(v.Value)
}

// Float is a float64 whose JSON form survives NaN and ±Inf (a diverging
// loss is a metric worth keeping): those are written as the strings "NaN",
// "+Inf", "-Inf".
type Float float64

func (f Float) MarshalJSON() ([]byte, error) {
	x := float64(f)
	switch {
	case math.IsNaN(x):
		return []byte(`"NaN"`), nil
	case math.IsInf(x, 1):
		return []byte(`"+Inf"`), nil
	case math.IsInf(x, -1):
		return []byte(`"-Inf"`), nil
	}
	return strconv.AppendFloat(nil, x, 'g', -1, 64), nil
}

func (f *Float) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		x, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return fmt.Errorf("metric value %q: %w", s, err)
		}
		*f = Float(x)
		return nil
	}
	x, err := strconv.ParseFloat(string(b), 64)
	if err != nil {
		return err
	}
	*f = Float(x)
	return nil
}

// MetricPoint is one line of metrics.jsonl.
type MetricPoint struct {
	Name  string    `json:"name"`
	Step  int64     `json:"step"`
	Value Float     `json:"value"`
	Time  time.Time `json:"time"`
}

// CacheEntry is what a succeeded step leaves for later runs.
type CacheEntry struct {
	Key        string                    `json:"key"`
	RunID      string                    `json:"run_id"`
	Address    string                    `json:"address"`
	FinishedAt time.Time                 `json:"finished_at"`
	DurationMS int64                     `json:"duration_ms"`
	Outputs    map[string]Value          `json:"outputs,omitempty"`
	Artifacts  map[string]ArtifactRecord `json:"artifacts,omitempty"`
	// Sensitive names the outputs derived from sensitive values: the entry
	// (private, 0600) keeps their values so that a hit can feed them to
	// the steps downstream; every other record shows "(sensitive)".
	Sensitive []string `json:"sensitive,omitempty"`
}

// OutputValues decodes the entry's outputs, sensitive ones marked.
func (e *CacheEntry) OutputValues() (map[string]cty.Value, error) {
	vals, err := decodeValues(e.Outputs)
	if err != nil {
		return nil, err
	}
	for _, name := range e.Sensitive {
		if v, ok := vals[name]; ok {
			vals[name] = v.Mark(sensitiveMark)
		}
	}
	return vals, nil
}

// sensitiveMark is lang.SensitiveMark (the run store does not import the
// spec language).
const sensitiveMark = "sensitive"

// redactedOutputs is outputs with the named ones shown as "(sensitive)".
func redactedOutputs(outputs map[string]Value, sensitive []string) map[string]Value {
	if len(sensitive) == 0 {
		return outputs
	}
	out := make(map[string]Value, len(outputs))
	for k, v := range outputs {
		out[k] = v
	}
	for _, name := range sensitive {
		if _, ok := out[name]; ok {
			out[name] = redactedValue()
		}
	}
	return out
}

func decodeValues(m map[string]Value) (map[string]cty.Value, error) {
	out := make(map[string]cty.Value, len(m))
	for name, v := range m {
		cv, err := v.Cty()
		if err != nil {
			return nil, fmt.Errorf("output %q: %w", name, err)
		}
		out[name] = cv
	}
	return out, nil
}

// JobRef names the cluster job that ran a step.
type JobRef struct {
	Executor string `json:"executor"` // "slurm"
	ID       string `json:"id"`       // 812_3
	Node     string `json:"node,omitempty"`
}
