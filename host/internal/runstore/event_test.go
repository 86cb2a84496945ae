package runstore

import (
	"bytes"
	"flag"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/zclconf/go-cty/cty"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// goldenEvents holds one event of every kind, as the host records and
// streams them.
func goldenEvents(t *testing.T) []Event {
	at := time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)
	out, err := NewValue(cty.ObjectVal(map[string]cty.Value{"acc": cty.NumberFloatVal(0.9), "tags": cty.ListVal([]cty.Value{cty.StringVal("a")})}))
	if err != nil {
		t.Fatal(err)
	}
	sens := redactedValue()
	evs := []Event{
		{Kind: "run", RunID: "20261129T120000-00ab", Message: ".shammie/runs/20261129T120000-00ab"},
		{Kind: "start", Step: "step.train", Plugin: "fit"},
		ProgressEvent("train", 120, 500, "steps"),
		MetricEvent("loss", 120, 0.31),
		MetricEvent("loss", 121, math.NaN()),
		LogEvent("warn", "learning rate clipped"),
		ArtifactEvent("model", "out/model.safetensors", "ab12", 4096, "application/x-safetensors"),
		{Kind: "output", Name: "scores", Output: &out},
		{Kind: "output", Name: "token", Output: &sens},
		StatusEvent(StatusFailed, "diverged", "config.lr: too large"),
		{Kind: "done", Step: "step.train", Plugin: "fit", Status: StatusFailed, Message: "diverged", DurationMS: 1500, StderrTail: "panic: boom\n"},
		{Kind: "cached", Step: `step.sweep["a"]`, Plugin: "fit", Status: StatusSucceeded, Message: "cache hit: restored from run 20261128T000000-0001", DurationMS: 20},
		{Kind: "skipped", Step: "step.eval", Message: "upstream step.train failed"},
		{Kind: "result", Name: "best", Message: "0.9"},
		{Kind: "finish", RunID: "20261129T120000-00ab", Status: StatusFailed, Message: "1 step failed"},
	}
	for i := range evs {
		evs[i].Time = at
		if evs[i].Step == "" && i >= 2 && i <= 9 {
			evs[i].Step, evs[i].Plugin = "step.train", "fit"
		}
	}
	evs[6].StorePath = ".shammie/objects/ab/ab12"
	return evs
}

// TestEventGolden pins the one event shape (events.jsonl and `run --json`)
// and checks that every line reads back as the event written.
func TestEventGolden(t *testing.T) {
	evs := goldenEvents(t)
	var b bytes.Buffer
	for _, e := range evs {
		if err := WriteEvent(&b, e); err != nil {
			t.Fatal(err)
		}
	}
	golden := filepath.Join("testdata", "events.golden.jsonl")
	if *update {
		if err := os.WriteFile(golden, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(string(want), b.String()); d != "" {
		t.Errorf("encoded events differ from %s (-want +got; -update rewrites it):\n%s", golden, d)
	}
	lines := bytes.SplitAfter(b.Bytes(), []byte("\n"))
	for i, e := range evs {
		var back Event
		if err := back.UnmarshalJSON(lines[i]); err != nil {
			t.Fatalf("line %d: %v", i, err)
		}
		var again bytes.Buffer
		if err := WriteEvent(&again, back); err != nil {
			t.Fatal(err)
		}
		if again.String() != string(lines[i]) {
			t.Errorf("event %d (%s) does not survive a round trip:\n%s%s", i, e.Kind, lines[i], again.String())
		}
	}
}

// TestEventReadsOldLines: events.jsonl of stores written before the one
// shape (kind under "type", a metric's step under "step") still read.
func TestEventReadsOldLines(t *testing.T) {
	var e Event
	if err := e.UnmarshalJSON([]byte(`{"time":"2026-01-01T00:00:00Z","type":"metric","name":"loss","step":7,"value":0.5}`)); err != nil {
		t.Fatal(err)
	}
	if e.Kind != "metric" || e.MetricStep == nil || *e.MetricStep != 7 || e.Step != "" || e.Value == nil || *e.Value != 0.5 {
		t.Errorf("old metric line read as %+v", e)
	}
}
