package runner

import (
	"time"
)

// Event is what the runner tells its observer (the CLI's progress display
// or its --json stream). Kind is one of:
//
//	"run"       the run began (RunID, Message: store dir)
//	"start"     an instance began running on its plugin
//	"cached"    an instance was restored from the cache and skipped
//	"progress"  Stage, Done, Total, Unit
//	"metric"    Name, Step, Value
//	"log"       Level, Message
//	"artifact"  Name, Path (in the store)
//	"output"    Name, Message (the value rendered)
//	"done"      an instance finished: Status, Message, DurationMS
//	"skipped"   an instance did not run: Message says why
//	"result"    a spec output evaluated at the end: Name, Message (its value)
//	"finish"    the run ended: Status, Message
type Event struct {
	Time    time.Time `json:"time"`
	Kind    string    `json:"kind"`
	RunID   string    `json:"run_id,omitempty"`
	Step    string    `json:"step,omitempty"` // instance address
	Plugin  string    `json:"plugin,omitempty"`
	Stage   string    `json:"stage,omitempty"`
	Done    int64     `json:"done,omitempty"`
	Total   int64     `json:"total,omitempty"`
	Unit    string    `json:"unit,omitempty"`
	Name    string    `json:"name,omitempty"`
	Metric  *float64  `json:"value,omitempty"`
	MStep   *int64    `json:"metric_step,omitempty"`
	Level   string    `json:"level,omitempty"`
	Path    string    `json:"path,omitempty"`
	Status  string    `json:"status,omitempty"`
	Message string    `json:"message,omitempty"`
	// DurationMS of a finished instance.
	DurationMS int64 `json:"duration_ms,omitempty"`
	// StderrTail of a failed plugin.
	StderrTail string `json:"stderr_tail,omitempty"`
}

// Observer receives events; it is called from several goroutines and must
// be safe for concurrent use.
type Observer func(Event)
