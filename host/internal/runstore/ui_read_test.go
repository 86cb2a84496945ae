package runstore

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/zclconf/go-cty/cty"
)

// TestMetricsFrom: a live reader gets each point once, across calls, and
// leaves a line still being written for the next call.
func TestMetricsFrom(t *testing.T) {
	s := testStore(t)
	r, err := s.CreateRun(RunMeta{})
	if err != nil {
		t.Fatal(err)
	}
	st, err := r.BeginStep(StepInfo{Address: "step.a", Config: cty.EmptyObjectVal})
	if err != nil {
		t.Fatal(err)
	}
	record := func(from, to int) {
		for i := from; i <= to; i++ {
			if _, err := st.Record(MetricEvent("loss", int64(i), float64(i))); err != nil {
				t.Fatal(err)
			}
		}
	}
	load := func() *LoadedRun {
		run, err := s.Load(r.ID())
		if err != nil {
			t.Fatal(err)
		}
		return run
	}
	record(1, 3)
	pts, off, err := load().MetricsFrom("step.a", 0)
	if err != nil || len(pts) != 3 || pts[2].Step != 3 {
		t.Fatalf("first read: %v %v", pts, err)
	}
	record(4, 5)
	// Half a line, as a crash or a write in progress leaves it.
	f, err := os.OpenFile(filepath.Join(st.Dir(), "metrics.jsonl"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"name":"loss","st`)
	f.Close()
	pts, off2, err := load().MetricsFrom("step.a", off)
	if err != nil || len(pts) != 2 || pts[0].Step != 4 || pts[1].Step != 5 {
		t.Fatalf("second read: %v %v", pts, err)
	}
	if pts, off3, err := load().MetricsFrom("step.a", off2); err != nil || len(pts) != 0 || off3 != off2 {
		t.Fatalf("nothing new: %v %d %v", pts, off3, err)
	}
	evs, _, err := load().EventsFrom("step.a", 0)
	if err != nil || len(evs) != 5 || evs[0].Kind != "metric" {
		t.Fatalf("events: %d %v", len(evs), err)
	}
	if _, _, err := load().MetricsFrom("step.nope", 0); err == nil {
		t.Error("no error for an unknown step")
	}
	dir, err := load().WorkDir("step.a")
	if err != nil || dir != st.WorkDir() {
		t.Errorf("WorkDir = %q, %v; want %q", dir, err, st.WorkDir())
	}
}
