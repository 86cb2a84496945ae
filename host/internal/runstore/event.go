package runstore

import (
	"encoding/json"
	"io"
	"time"

	"github.com/zclconf/go-cty/cty"
)

// Event is the host's record of one thing that happened in a run: a line
// of a step's events.jsonl and a line of `shammie run --json` alike (one
// shape, one encoder: WriteEvent). Kind is one of
//
//	"run"       the run began (RunID, Message: its records' directory)
//	"start"     an instance began running on its plugin
//	"cached"    an instance was restored from the cache (Message, DurationMS)
//	"progress"  Stage, Done, Total, Unit
//	"metric"    Name, MetricStep, Value
//	"log"       Level, Message (from the plugin or the host)
//	"artifact"  Name, Path (in the work dir), SHA256, Size, MediaType, StorePath
//	"output"    Name, Output (a sensitive one: "(sensitive)")
//	"status"    the plugin's own final report: Status, Message, Diagnostics
//	"done"      an instance finished: Status, Message, Diagnostics, DurationMS, StderrTail
//	"skipped"   an instance did not run: Message says why
//	"result"    a spec output evaluated at the end: Name, Message (its value)
//	"finish"    the run ended: Status, Message
//
// Step (the instance address) and Plugin are set on every event of an
// instance; only the fields of the kind are set otherwise.
type Event struct {
	Time   time.Time `json:"time"`
	Kind   string    `json:"kind"`
	RunID  string    `json:"run_id,omitempty"`
	Step   string    `json:"step,omitempty"`
	Plugin string    `json:"plugin,omitempty"`
	// progress
	Stage string `json:"stage,omitempty"`
	Done  int64  `json:"done,omitempty"`
	Total int64  `json:"total,omitempty"`
	Unit  string `json:"unit,omitempty"`
	// metric, artifact, output, result
	Name       string `json:"name,omitempty"`
	MetricStep *int64 `json:"metric_step,omitempty"`
	Value      *Float `json:"value,omitempty"`
	// log, and the message of most others
	Level   string `json:"level,omitempty"`
	Message string `json:"message,omitempty"`
	// artifact
	Path      string `json:"path,omitempty"`
	SHA256    string `json:"sha256,omitempty"`
	Size      int64  `json:"size,omitempty"`
	MediaType string `json:"media_type,omitempty"`
	StorePath string `json:"store_path,omitempty"`
	// output, result
	Output *Value `json:"output,omitempty"`
	// status, done, cached, finish
	Status      Status   `json:"status,omitempty"`
	Diagnostics []string `json:"diagnostics,omitempty"`
	DurationMS  int64    `json:"duration_ms,omitempty"`
	StderrTail  string   `json:"stderr_tail,omitempty"`

	// OutputValue is an output's value as the plugin sent it, marks
	// included, for Step.Record; it is never encoded (Output is).
	OutputValue cty.Value `json:"-"`
}

// WriteEvent writes e as one line of JSON: the encoder of events.jsonl and
// of `shammie run --json`.
func WriteEvent(w io.Writer, e Event) error {
	line, err := json.Marshal(e)
	if err != nil {
		return err
	}
	_, err = w.Write(append(line, '\n'))
	return err
}

// UnmarshalJSON reads an event, also as stores before host 0.2 wrote them
// to events.jsonl (kind under "type", a metric's step under "step").
func (e *Event) UnmarshalJSON(b []byte) error {
	type plain Event
	var aux struct {
		plain
		Type string          `json:"type"`
		Step json.RawMessage `json:"step"`
	}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	*e = Event(aux.plain)
	if e.Kind == "" {
		e.Kind = aux.Type
	}
	if len(aux.Step) > 0 && aux.Step[0] == '"' {
		return json.Unmarshal(aux.Step, &e.Step)
	}
	if len(aux.Step) > 0 && e.MetricStep == nil {
		var n int64
		if err := json.Unmarshal(aux.Step, &n); err != nil {
			return err
		}
		e.MetricStep = &n
	}
	return nil
}

// Constructors of the events a step records (Step.Record).

// ProgressEvent says how far a stage has come (total 0: unknown).
func ProgressEvent(stage string, done, total int64, unit string) Event {
	return Event{Kind: "progress", Stage: stage, Done: done, Total: total, Unit: unit}
}

// MetricEvent is a scalar at a training step.
func MetricEvent(name string, step int64, value float64) Event {
	v := Float(value)
	return Event{Kind: "metric", Name: name, MetricStep: &step, Value: &v}
}

// LogEvent is a line for the user ("debug", "info", "warn", "error").
func LogEvent(level, message string) Event {
	return Event{Kind: "log", Level: level, Message: message}
}

// ArtifactEvent announces a file of the work dir (rel, slash-separated).
func ArtifactEvent(name, rel, sha256 string, size int64, mediaType string) Event {
	return Event{Kind: "artifact", Name: name, Path: rel, SHA256: sha256, Size: size, MediaType: mediaType}
}

// OutputEvent is an output value (marks kept: a marked one is recorded
// "(sensitive)").
func OutputEvent(name string, v cty.Value) Event {
	return Event{Kind: "output", Name: name, OutputValue: v}
}

// StatusEvent is the plugin's final report.
func StatusEvent(status Status, message string, diagnostics ...string) Event {
	return Event{Kind: "status", Status: status, Message: message, Diagnostics: diagnostics}
}
