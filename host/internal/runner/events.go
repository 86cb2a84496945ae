package runner

import (
	"github.com/shammie-ml/shammie/host/internal/runstore"
	"github.com/shammie-ml/shammie/sdk/pluginhost"
)

// Event is what the runner tells its observer (the CLI's display or its
// --json stream): the run store's event record, the same shape as a line
// of events.jsonl (see runstore.Event for the kinds).
type Event = runstore.Event

// Observer receives events; it is called from several goroutines and must
// be safe for concurrent use.
type Observer func(Event)

// pluginEvent is a plugin's event as the host records it.
func pluginEvent(ev pluginhost.Event) runstore.Event {
	var e runstore.Event
	switch x := ev.(type) {
	case pluginhost.Progress:
		e = runstore.ProgressEvent(x.Stage, x.Done, x.Total, x.Unit)
	case pluginhost.Metric:
		e = runstore.MetricEvent(x.Name, x.Step, x.Value)
	case pluginhost.Log:
		e = runstore.LogEvent(x.Level.String(), x.Message)
	case pluginhost.Artifact:
		e = runstore.ArtifactEvent(x.Name, x.Path, x.SHA256, x.Size, x.MediaType)
	case pluginhost.Output:
		e = runstore.OutputEvent(x.Name, x.Value)
	case pluginhost.Status:
		var diags []string
		for _, d := range x.Diagnostics {
			line := d.Summary
			if d.Detail != "" {
				line += ": " + d.Detail
			}
			diags = append(diags, line)
		}
		e = runstore.StatusEvent(runstore.Status(x.State.String()), x.Message, diags...)
	default:
		e = runstore.LogEvent("warn", "the plugin sent an event of an unknown kind")
	}
	e.Time = ev.EventTime()
	return e
}
