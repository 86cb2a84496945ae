package command

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/hcl/v2"

	"github.com/shammie-ml/shammie/host/internal/runner"
	"github.com/shammie-ml/shammie/host/internal/runstore"
)

func TestEventLine(t *testing.T) {
	metric := runstore.MetricEvent("loss", 7, 0.25)
	metric.Step = "step.train"
	tests := []struct {
		e    runner.Event
		want string
	}{
		{runner.Event{Kind: "progress", Step: "step.train", Stage: "train", Done: 120, Total: 500, Unit: "steps"}, "[step.train] progress train 120/500 steps"},
		{runner.Event{Kind: "progress", Step: "step.gen", Stage: "read", Done: 3}, "[step.gen] progress read 3"},
		{metric, "[step.train] metric loss=0.25 (step 7)"},
		{runner.Event{Kind: "log", Step: "step.a", Level: "warn", Message: "careful"}, "[step.a] warn: careful"},
		{runner.Event{Kind: "log", Step: "step.a", Level: "info", Message: "hi"}, "[step.a] hi"},
		{runner.Event{Kind: "done", Step: "step.a", Status: "succeeded", DurationMS: 1500}, "[step.a] succeeded in 1.5s"},
		{runner.Event{Kind: "done", Step: "step.a", Status: "failed", DurationMS: 2, Message: "boom", StderrTail: "l1\nl2"},
			"[step.a] failed in 2ms: boom\n    --- last lines of the plugin's stderr ---\n    l1\n    l2"},
		{runner.Event{Kind: "skipped", Step: `step.s["x"]`, Message: "upstream step.a failed"}, `[step.s["x"]] skipped: upstream step.a failed`},
	}
	for _, tc := range tests {
		if d := cmp.Diff(tc.want, eventLine(tc.e)); d != "" {
			t.Errorf("eventLine(%+v) (-want +got):\n%s", tc.e, d)
		}
	}
}

func TestTTYUIRedrawsLiveLines(t *testing.T) {
	var b strings.Builder
	u := newTTYUI(&b)
	u.event(runner.Event{Kind: "start", Step: "step.a"})
	u.event(runner.Event{Kind: "progress", Step: "step.a", Stage: "train", Done: 5, Total: 10, Unit: "steps"})
	u.redrawNow()
	u.event(runner.Event{Kind: "done", Step: "step.a", Status: "succeeded", DurationMS: 10})
	u.close()
	out := b.String()
	if !strings.Contains(out, "step.a [██████████··········] train 5/10 steps") {
		t.Errorf("no live progress line in:\n%q", out)
	}
	if !strings.Contains(out, "\x1b[1A\x1b[2K[step.a] succeeded in 10ms\n") {
		t.Errorf("the finished step did not replace its live line:\n%q", out)
	}
	if u.drawn != 0 {
		t.Errorf("%d live lines left on screen after close", u.drawn)
	}
}

func TestWriteDiags(t *testing.T) {
	src := "step \"a\" {\n  plugin = plugin.x\n  config {\n\tcolour = \"red\"\n  }\n}\n"
	f := &hcl.File{Bytes: []byte(src)}
	diags := hcl.Diagnostics{{
		Severity: hcl.DiagError, Summary: "Unsupported argument", Detail: "Not expected here.",
		Subject: &hcl.Range{Filename: "s.hcl", Start: hcl.Pos{Line: 4, Column: 2, Byte: 0}, End: hcl.Pos{Line: 4, Column: 8}},
	}, {
		Severity: hcl.DiagWarning, Summary: "No position",
	}}
	var b strings.Builder
	writeDiags(&b, map[string]*hcl.File{"s.hcl": f}, diags)
	want := "Error: Unsupported argument\n" +
		"  --> s.hcl:4:2\n" +
		"   |\n" +
		" 4 | \tcolour = \"red\"\n" +
		"   | \t^^^^^^\n" +
		"Not expected here.\n\n" +
		"Warning: No position\n\n"
	if d := cmp.Diff(want, b.String()); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}

func TestPlainUIThinsProgress(t *testing.T) {
	var b strings.Builder
	u := newPlainUI(&b)
	t0 := time.Unix(1000, 0)
	for i := int64(1); i <= 100; i++ {
		at := t0.Add(time.Duration(i) * 50 * time.Millisecond) // 5 s in all
		u.event(runner.Event{Time: at, Kind: "progress", Step: "step.t", Stage: "train", Done: i, Total: 100})
		m := runstore.MetricEvent("loss", i, 1)
		m.Time, m.Step = at, "step.t"
		u.event(m)
	}
	u.event(runner.Event{Time: t0, Kind: "log", Step: "step.t", Level: "info", Message: "kept"})
	var progress, metrics int
	for _, l := range strings.Split(b.String(), "\n") {
		switch {
		case strings.Contains(l, "] progress "):
			progress++
		case strings.Contains(l, "] metric "):
			metrics++
		}
	}
	// First at 50ms, then one per second (5 in 5 s), plus the final one.
	if progress < 5 || progress > 7 || metrics < 4 || metrics > 6 {
		t.Errorf("%d progress and %d metric lines for 100 events over 5 s, want about 6 and 5:\n%s", progress, metrics, b.String())
	}
	if !strings.Contains(b.String(), "progress train 100/100\n") {
		t.Errorf("the final progress line is missing:\n%s", b.String())
	}
	if !strings.Contains(b.String(), "[step.t] kept") {
		t.Errorf("log line thinned")
	}
}
