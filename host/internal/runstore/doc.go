// Package runstore is Shammie's local run store: one directory (".shammie"
// by default) holding a record of every run, the events, metrics, outputs
// and artifacts of every step instance, a content-addressed artifact store
// and the step cache.
//
// Layout:
//
//	<root>/runs/<run-id>/run.json                 the run record (RunRecord)
//	<root>/runs/<run-id>/steps/<dir>/step.json    one step instance (StepRecord)
//	<root>/runs/<run-id>/steps/<dir>/events.jsonl every event, one JSON object a line
//	<root>/runs/<run-id>/steps/<dir>/metrics.jsonl
//	<root>/runs/<run-id>/steps/<dir>/work/        the plugin's work dir
//	<root>/state/<cache-key>/                     a step's resumable state (checkpoints)
//	<root>/objects/sha256/ab/cdef…                artifacts by content
//	<root>/cache/ab/<cache-key>.json              outputs of succeeded steps (CacheEntry)
//
// Crash safety: every record (run.json, step.json, cache entries, objects)
// is written to a temporary file and renamed into place, so a reader sees
// either the old or the new record, never half of one. Records are written
// "running" first and "succeeded" last; a run whose host process died stays
// "running" on disk and is reported as "interrupted" by List and Load.
// Resuming after a crash needs nothing special: every step that succeeded
// left a cache entry, so rerunning the same spec skips it.
//
// All methods are safe for concurrent use; the runner executes steps in
// parallel, each through its own *Step.
package runstore
