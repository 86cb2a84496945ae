package runstore

import (
	"os"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/zclconf/go-cty/cty"
)

// sweepRun records a finished two-step run: generate (an artifact and an
// output) and estimate with config penalty, a loss curve and a score.
func sweepRun(t *testing.T, s *Store, penalty float64, token string, lossScale float64) *Run {
	t.Helper()
	run, err := s.CreateRun(RunMeta{
		Spec: []SpecFile{{Path: "specs/demo.hcl", Text: `step "generate" {}`}},
		Variables: []Variable{
			{Name: "penalty", Value: cty.NumberFloatVal(penalty)},
			{Name: "token", Value: cty.StringVal(token), Sensitive: true},
		},
		Lock:        `plugin "fit" {}`,
		Plugins:     []PluginInfo{{Name: "fit", Version: "0.1.0", SHA256: strings.Repeat("f", 64)}},
		Seed:        7,
		Backends:    []string{"go"},
		HostVersion: "0.1.0",
	})
	if err != nil {
		t.Fatal(err)
	}
	gen, err := run.BeginStep(StepInfo{Address: "step.generate", Plugin: "fit", PluginVersion: "0.1.0", Seed: 1, Backend: "go",
		Config: cty.ObjectVal(map[string]cty.Value{"n": cty.NumberIntVal(10)})})
	if err != nil {
		t.Fatal(err)
	}
	mustRecord(t, gen,
		ProgressEvent("generate", 10, 10, "rows"),
		writeWork(t, gen, "data", "data.csv", []byte("x\n1\n")),
		OutputEvent("rows", cty.NumberIntVal(10)))
	if _, err := gen.Finish(StepResult{Status: StatusSucceeded}); err != nil {
		t.Fatal(err)
	}
	est, err := run.BeginStep(StepInfo{Address: `step.estimate["a"]`, Plugin: "fit", PluginVersion: "0.1.0", Seed: 2, Backend: "go",
		Config: cty.ObjectVal(map[string]cty.Value{
			"penalty": cty.NumberFloatVal(penalty),
			"layers":  cty.ListVal([]cty.Value{cty.NumberIntVal(3), cty.NumberIntVal(4)}),
			"api_key": cty.StringVal(token),
		}),
		SensitivePaths: []cty.Path{cty.GetAttrPath("api_key")},
	})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		mustRecord(t, est, MetricEvent("loss", int64(i), lossScale/float64(i+1)))
	}
	mustRecord(t, est, OutputEvent("score", cty.NumberFloatVal(lossScale*2)))
	if _, err := est.Finish(StepResult{Status: StatusSucceeded}); err != nil {
		t.Fatal(err)
	}
	if err := run.Finish("", ""); err != nil {
		t.Fatal(err)
	}
	return run
}

func TestListLoadDiff(t *testing.T) {
	s := testStore(t)
	a := sweepRun(t, s, 0.9, "secret-1", 1)
	b := sweepRun(t, s, 2.0, "secret-2", 3)

	list, err := s.List()
	if err != nil {
		t.Fatal(err)
	}
	want := []RunSummary{
		{ID: b.ID(), Status: StatusSucceeded, Spec: []string{"specs/demo.hcl"}, HostVersion: "0.1.0", Steps: 2, StepStatus: map[Status]int{StatusSucceeded: 2}},
		{ID: a.ID(), Status: StatusSucceeded, Spec: []string{"specs/demo.hcl"}, HostVersion: "0.1.0", Steps: 2, StepStatus: map[Status]int{StatusSucceeded: 2}},
	}
	if diff := cmp.Diff(want, list, cmpopts.IgnoreFields(RunSummary{}, "StartedAt", "EndedAt")); diff != "" {
		t.Errorf("List (-want +got):\n%s", diff)
	}

	r, err := s.Load(a.ID()[:len(a.ID())-2]) // a prefix
	if err != nil {
		// Both runs may share the prefix within one second; the full id works.
		if r, err = s.Load(a.ID()); err != nil {
			t.Fatal(err)
		}
	}
	if r.Record.ID != a.ID() {
		t.Fatalf("Load loaded %s, want %s", r.Record.ID, a.ID())
	}
	if got := r.Record.Variables["token"]; !got.Sensitive || strings.Contains(string(got.Value), "secret") {
		t.Errorf("sensitive variable recorded as %+v", got)
	}
	est, ok := r.Step(`step.estimate["a"]`)
	if !ok {
		t.Fatal("no estimate step")
	}
	cfg, err := est.Config.Cty()
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.GetAttr("api_key").AsString(); got != "(sensitive)" {
		t.Errorf("sensitive config attribute recorded as %q", got)
	}
	if !cfg.GetAttr("layers").Type().IsListType() {
		t.Errorf("config type lost: layers is %s", cfg.GetAttr("layers").Type().FriendlyName())
	}
	gen, _ := r.Step("step.generate")
	if a := gen.Artifacts["data"]; a.Size != 4 || a.RelPath != "data.csv" || a.StorePath != s.ObjectPath(sha([]byte("x\n1\n")), ".csv") {
		t.Errorf("artifact record %+v", a)
	}
	pts, err := s.Metrics("latest~1", `step.estimate["a"]`)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]float64{1, 0.5, 1.0 / 3}, metricValues(pts)); diff != "" {
		t.Errorf("Metrics (-want +got):\n%s", diff)
	}

	d, err := s.Diff(a.ID(), "latest")
	if err != nil {
		t.Fatal(err)
	}
	wantDiff := &Diff{
		A: a.ID(), B: b.ID(),
		Variables: []Change{{Key: "penalty", A: "0.9", B: "2", InA: true, InB: true}},
		Steps: []StepDiff{{
			Address: `step.estimate["a"]`,
			Config:  []Change{{Key: "penalty", A: "0.9", B: "2", InA: true, InB: true}},
			Outputs: []Change{{Key: "score", A: "2", B: "6", InA: true, InB: true}},
			Metrics: []Change{{Key: "loss", A: "0.333333", B: "1", InA: true, InB: true}},
		}},
	}
	if diff := cmp.Diff(wantDiff, d); diff != "" {
		t.Errorf("Diff (-want +got):\n%s", diff)
	}
	if same, err := s.Diff(a.ID(), a.ID()); err != nil || !same.Empty() {
		t.Errorf("a run differs from itself: %+v, %v", same, err)
	}
}

func metricValues(pts []MetricPoint) []float64 {
	var out []float64
	for _, p := range pts {
		out = append(out, float64(p.Value))
	}
	return out
}

func TestResolve(t *testing.T) {
	s := testStore(t)
	if _, err := s.Resolve("latest"); err == nil || !strings.Contains(err.Error(), "no runs yet") {
		t.Errorf("empty store: %v", err)
	}
	var ids []string
	for range 3 {
		r, err := s.CreateRun(RunMeta{})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.ID())
	}
	tests := []struct {
		ref, want, wantErr string
	}{
		{"latest", ids[2], ""},
		{"", ids[2], ""},
		{"latest~2", ids[0], ""},
		{"latest~3", "", "only 3 runs"},
		{ids[1], ids[1], ""},
		{ids[1][:17], ids[1], ""}, // date, time and the second: unique with the fake clock
		{"2026", "", "ambiguous"},
		{"1999", "", "no run"},
		{"latest~x", "", "latest~N"},
	}
	for _, tt := range tests {
		got, err := s.Resolve(tt.ref)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Resolve(%q) = %q, %v; want error with %q", tt.ref, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("Resolve(%q) = %q, %v; want %q", tt.ref, got, err, tt.want)
		}
	}
}

// TestCacheRoundTrip: a succeeded step leaves a cache entry that a second
// run restores; failed steps leave none; a lost object turns a hit into a
// miss.
func TestCacheRoundTrip(t *testing.T) {
	s := testStore(t)
	in := CacheInputs{PluginSHA256: strings.Repeat("1", 64), Config: cty.ObjectVal(map[string]cty.Value{"n": cty.NumberIntVal(3)}), Seed: 1, Backend: "go"}
	key := CacheKey(in)
	run1, err := s.CreateRun(RunMeta{})
	if err != nil {
		t.Fatal(err)
	}
	st, err := run1.BeginStep(StepInfo{Address: "step.gen", CacheKey: key, Config: in.Config})
	if err != nil {
		t.Fatal(err)
	}
	if want := s.Root() + "/state/" + key; st.StateDir() != want {
		t.Errorf("StateDir %q, want %q (keyed by cache key, so a rerun finds checkpoints)", st.StateDir(), want)
	}
	art := writeWork(t, st, "data", "d.txt", []byte("payload"))
	mustRecord(t, st, art,
		OutputEvent("stats", cty.ObjectVal(map[string]cty.Value{"mean": cty.NumberFloatVal(1.5), "tags": cty.SetVal([]cty.Value{cty.StringVal("x")})})))
	if _, err := st.Finish(StepResult{Status: StatusSucceeded}); err != nil {
		t.Fatal(err)
	}
	failedKey := strings.Repeat("e", 64)
	bad, err := run1.BeginStep(StepInfo{Address: "step.bad", CacheKey: failedKey})
	if err != nil {
		t.Fatal(err)
	}
	mustRecord(t, bad, StatusEvent(StatusFailed, "boom"))
	rec, err := bad.Finish(StepResult{StderrTail: "panic: boom"})
	if err != nil {
		t.Fatal(err)
	}
	if rec.Status != StatusFailed || rec.Message != "boom" || rec.StderrTail != "panic: boom" {
		t.Errorf("failed step record: %+v", rec)
	}
	if err := run1.Finish("", ""); err != nil {
		t.Fatal(err)
	}
	if r := run1.Record(); r.Status != StatusFailed {
		t.Errorf("derived run status %q, want failed", r.Status)
	}
	if _, ok, _ := s.LookupCache(failedKey); ok {
		t.Error("a failed step left a cache entry")
	}

	e, ok, err := s.LookupCache(key)
	if err != nil || !ok {
		t.Fatalf("LookupCache = %v, %v", ok, err)
	}
	run2, err := s.CreateRun(RunMeta{})
	if err != nil {
		t.Fatal(err)
	}
	st2, err := run2.BeginStep(StepInfo{Address: "step.gen", CacheKey: key})
	if err != nil {
		t.Fatal(err)
	}
	rec2, err := st2.FinishFromCache(e)
	if err != nil {
		t.Fatal(err)
	}
	if !rec2.CacheHit || rec2.CachedFrom != run1.ID() || rec2.Status != StatusSucceeded {
		t.Errorf("cache-hit record %+v", rec2)
	}
	outs := st2.Outputs()
	if got := outs["stats"].GetAttr("mean"); !got.RawEquals(cty.NumberFloatVal(1.5)) {
		t.Errorf("restored output mean = %#v", got)
	}
	if !outs["stats"].GetAttr("tags").Type().IsSetType() {
		t.Errorf("restored output lost its set type: %s", outs["stats"].Type().FriendlyName())
	}
	if got := st2.Artifacts()["data"].StorePath; got != s.ObjectPath(art.SHA256, ".txt") {
		t.Errorf("restored artifact path %q", got)
	}

	// Lose the object: the entry no longer counts.
	obj := s.ObjectPath(art.SHA256, ".txt")
	if err := os.Chmod(obj, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(obj); err != nil {
		t.Fatal(err)
	}
	if _, ok, err := s.LookupCache(key); ok || err != nil {
		t.Errorf("LookupCache after losing an object = %v, %v; want a miss", ok, err)
	}
}

func TestFinishTwiceAndStepAfterRunEnd(t *testing.T) {
	s := testStore(t)
	run, err := s.CreateRun(RunMeta{})
	if err != nil {
		t.Fatal(err)
	}
	st, err := run.BeginStep(StepInfo{Address: "step.a"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := run.BeginStep(StepInfo{Address: "step.a"}); err == nil {
		t.Error("the same address began twice")
	}
	if _, err := st.Finish(StepResult{Status: StatusRunning}); err == nil {
		t.Error("Finish accepted status running")
	}
	if _, err := st.Finish(StepResult{Status: StatusCancelled, Message: "interrupt"}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Finish(StepResult{Status: StatusSucceeded}); err == nil {
		t.Error("a finished step finished again")
	}
	if _, err := st.Record(LogEvent("info", "late")); err == nil {
		t.Error("an event was recorded after Finish")
	}
	if err := run.SkipStep(StepInfo{Address: "step.b"}, "step.a was cancelled"); err != nil {
		t.Fatal(err)
	}
	if err := run.Finish("", "interrupted by SIGINT"); err != nil {
		t.Fatal(err)
	}
	if got := run.Record().Status; got != StatusCancelled {
		t.Errorf("run status %q, want cancelled", got)
	}
	if _, err := run.BeginStep(StepInfo{Address: "step.c"}); err == nil {
		t.Error("a step began after the run finished")
	}
}

// TestRunIDsSortWithinOneInstant: runs created at the same clock reading
// still get increasing ids, so "latest" is the last one created.
func TestRunIDsSortWithinOneInstant(t *testing.T) {
	s := testStore(t)
	fixed := time.Date(2026, 11, 26, 17, 5, 1, 123e6, time.UTC)
	s.now = func() time.Time { return fixed }
	var ids []string
	for range 5 {
		r, err := s.CreateRun(RunMeta{})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.ID())
		if !runIDPattern.MatchString(r.ID()) || !strings.HasPrefix(r.ID(), "20261126T170501-") {
			t.Errorf("run id %q has the wrong form", r.ID())
		}
	}
	if !sort.StringsAreSorted(ids) {
		t.Errorf("ids not increasing: %v", ids)
	}
	if latest, err := s.Resolve("latest"); err != nil || latest != ids[4] {
		t.Errorf("latest = %q, %v; want %q", latest, err, ids[4])
	}
}
