package pluginhost

import (
	"fmt"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/shammie-ml/shammie/sdk"
)

// Event is one thing a plugin reported during Run: a [Progress], [Metric],
// [Log], [Artifact], [Output] or the final [Status]. Switch on the type.
type Event interface {
	// EventTime is when the plugin sent the event.
	EventTime() time.Time
	isEvent()
}

// Progress says how far a stage of the step has come.
type Progress struct {
	Time        time.Time
	Stage       string
	Done, Total int64 // Total 0: unknown
	Unit        string
}

// Metric is a scalar recorded at a step.
type Metric struct {
	Time  time.Time
	Name  string
	Step  int64
	Value float64
}

// LogLevel of a [Log] line.
type LogLevel int

const (
	LogDebug LogLevel = iota + 1
	LogInfo
	LogWarn
	LogError
)

func (l LogLevel) String() string {
	switch l {
	case LogDebug:
		return "debug"
	case LogWarn:
		return "warn"
	case LogError:
		return "error"
	default:
		return "info"
	}
}

// Log is a line meant for the user.
type Log struct {
	Time    time.Time
	Level   LogLevel
	Message string
}

// Artifact is a file the step wrote. Before Run delivers it, the host side
// has checked that Path is a regular file inside the work dir (no "..", no
// absolute path, no symlink) and that SHA256 and Size match the file.
type Artifact struct {
	Time      time.Time
	Name      string
	Path      string // relative to the work dir, slash-separated
	SHA256    string // hex
	Size      int64
	MediaType string
}

// Output is a named output value.
type Output struct {
	Time  time.Time
	Name  string
	Value cty.Value
}

// State of a finished step.
type State int

const (
	Succeeded State = iota + 1
	Failed
	Cancelled
)

func (s State) String() string {
	switch s {
	case Succeeded:
		return "succeeded"
	case Failed:
		return "failed"
	case Cancelled:
		return "cancelled"
	default:
		return fmt.Sprintf("State(%d)", int(s))
	}
}

// Status is the last event of every Run.
type Status struct {
	Time        time.Time
	State       State
	Message     string
	Diagnostics sdk.Diagnostics // when the plugin failed with sdk.Diagnostics
}

func (e Progress) EventTime() time.Time { return e.Time }
func (e Metric) EventTime() time.Time   { return e.Time }
func (e Log) EventTime() time.Time      { return e.Time }
func (e Artifact) EventTime() time.Time { return e.Time }
func (e Output) EventTime() time.Time   { return e.Time }
func (e Status) EventTime() time.Time   { return e.Time }

func (Progress) isEvent() {}
func (Metric) isEvent()   {}
func (Log) isEvent()      {}
func (Artifact) isEvent() {}
func (Output) isEvent()   {}
func (Status) isEvent()   {}
