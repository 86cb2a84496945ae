package report

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/zclconf/go-cty/cty"
	"gonum.org/v1/plot/vg"

	"github.com/shammie-ml/shammie/host/internal/runstore"
	"github.com/shammie-ml/shammie/sdk/chart"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func must[T any](t *testing.T) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func record(t *testing.T, st *runstore.Step, evs ...runstore.Event) {
	t.Helper()
	for _, ev := range evs {
		if _, err := st.Record(ev); err != nil {
			t.Fatal(err)
		}
	}
}

func artifact(t *testing.T, st *runstore.Step, name, rel, media string, data []byte) runstore.Event {
	t.Helper()
	if err := os.WriteFile(filepath.Join(st.WorkDir(), rel), data, 0o644); err != nil {
		t.Fatal(err)
	}
	h := sha256.Sum256(data)
	return runstore.ArtifactEvent(name, rel, hex.EncodeToString(h[:]), int64(len(data)), media)
}

// fixture records two runs through the public runstore API: the first
// computes step.generate, the second takes it from the cache and adds a
// two-instance sweep (step.train["a"], ["b"]) and a failing step. It
// returns the store and the second run, loaded, with ids and times made
// deterministic for golden files.
func fixture(t *testing.T) (*runstore.Store, *runstore.LoadedRun) {
	t.Helper()
	s := must[*runstore.Store](t)(runstore.Open(filepath.Join(t.TempDir(), ".shammie")))
	meta := runstore.RunMeta{
		Spec:        []runstore.SpecFile{{Path: "specs/demo.hcl", Text: "# demo\n"}},
		Variables:   []runstore.Variable{{Name: "lr", Value: cty.NumberFloatVal(0.01)}, {Name: "token", Value: cty.StringVal("hunter2"), Sensitive: true}},
		Plugins:     []runstore.PluginInfo{{Name: "fit", Version: "0.1.0", SHA256: strings.Repeat("ab", 32)}},
		Seed:        7,
		Backends:    []string{"go"},
		HostVersion: "0.1.0",
	}
	genInfo := runstore.StepInfo{Address: "step.generate", Plugin: "fit", PluginVersion: "0.1.0", Seed: 1, Backend: "go",
		Config: cty.ObjectVal(map[string]cty.Value{"n": cty.NumberIntVal(100)})}
	genInfo.CacheKey = runstore.CacheKey(runstore.CacheInputs{PluginSHA256: strings.Repeat("ab", 32), Config: genInfo.Config, Seed: 1, Backend: "go"})

	run1 := must[*runstore.Run](t)(s.CreateRun(meta))
	gen := must[*runstore.Step](t)(run1.BeginStep(genInfo))
	record(t, gen,
		artifact(t, gen, "data", "data.csv", "text/csv", bytes.Repeat([]byte("0.5,1\n"), 400)),
		runstore.OutputEvent("rows", cty.NumberIntVal(100)))
	must[*runstore.StepRecord](t)(gen.Finish(runstore.StepResult{Status: runstore.StatusSucceeded}))
	if err := run1.Finish("", ""); err != nil {
		t.Fatal(err)
	}

	run2 := must[*runstore.Run](t)(s.CreateRun(meta))
	entry, ok, err := s.LookupCache(genInfo.CacheKey)
	if err != nil || !ok {
		t.Fatalf("cache lookup: %v %v", ok, err)
	}
	gen2 := must[*runstore.Step](t)(run2.BeginStep(genInfo))
	must[*runstore.StepRecord](t)(gen2.FinishFromCache(entry))
	for i, key := range []string{"a", "b"} {
		st := must[*runstore.Step](t)(run2.BeginStep(runstore.StepInfo{
			Address: `step.train["` + key + `"]`, Plugin: "fit", PluginVersion: "0.1.0", Seed: int64(10 + i), Backend: "go",
			Config: cty.ObjectVal(map[string]cty.Value{"rate": cty.NumberFloatVal(float64(i + 1))}),
		}))
		for k := range 40 {
			x := float64(k)
			record(t, st,
				runstore.MetricEvent("loss", int64(k), (2+float64(i))*math.Exp(-x/(10+5*float64(i)))),
				runstore.MetricEvent("accuracy", int64(k), 1-0.5*math.Exp(-x/8)-0.1*float64(i)))
		}
		record(t, st, runstore.OutputEvent("score", cty.NumberFloatVal(0.9-0.1*float64(i))))
		must[*runstore.StepRecord](t)(st.Finish(runstore.StepResult{Status: runstore.StatusSucceeded}))
	}
	bad := must[*runstore.Step](t)(run2.BeginStep(runstore.StepInfo{Address: "step.broken", Plugin: "fit", PluginVersion: "0.1.0", Seed: 3, Backend: "go"}))
	record(t, bad,
		runstore.MetricEvent("loss", 0, 1),
		runstore.MetricEvent("loss", 1, math.NaN()),
		runstore.StatusEvent(runstore.StatusFailed, "plugin exited: exit status 2"))
	must[*runstore.StepRecord](t)(bad.Finish(runstore.StepResult{StderrTail: "panic: diverged | loss=NaN\ngoroutine 1 [running]:"}))
	if err := run2.Finish("", "step.broken failed"); err != nil {
		t.Fatal(err)
	}

	r := must[*runstore.LoadedRun](t)(s.Load(run2.ID()))
	// Deterministic ids and times for the golden file.
	t0 := time.Date(2026, 11, 26, 17, 0, 0, 0, time.UTC)
	r.Record.ID = "20261126T170000-beef"
	r.Record.StartedAt = t0
	end := t0.Add(83 * time.Second)
	r.Record.EndedAt = &end
	for i := range r.Steps {
		st := &r.Steps[i]
		st.StartedAt = t0.Add(time.Duration(i) * time.Second)
		st.DurationMS = int64(1500 * (i + 1))
		if st.CachedFrom != "" {
			st.CachedFrom = "20261126T165000-cafe"
		}
		for name, a := range st.Artifacts {
			a.StorePath = "/store/" + a.SHA256
			st.Artifacts[name] = a
		}
	}
	return s, r
}

func TestWrite(t *testing.T) {
	_, run := fixture(t)
	out := t.TempDir()
	res, err := Write(run, out)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range res.Plots {
		got = append(got, p.PNG, p.SVG)
	}
	want := []string{
		"plots/broken--loss.png", "plots/broken--loss.svg",
		"plots/train--accuracy.png", "plots/train--accuracy.svg",
		"plots/train--loss.png", "plots/train--loss.svg",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("plots (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"a", "b"}, res.Plots[2].Series); diff != "" {
		t.Errorf("train--loss series (-want +got):\n%s", diff)
	}
	if res.Plots[0].Skipped != 1 {
		t.Errorf("broken--loss skipped %d NaN points, want 1", res.Plots[0].Skipped)
	}

	// vgimg's pixel size at its default 96 dpi.
	w, h := chart.Width, chart.Height
	wantW := int(w/vg.Inch*96 + 0.5)
	wantH := int(h/vg.Inch*96 + 0.5)
	for _, p := range res.Plots {
		f, err := os.Open(filepath.Join(out, p.PNG))
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(f)
		f.Close()
		if err != nil {
			t.Fatalf("%s: %v", p.PNG, err)
		}
		if b := img.Bounds(); b.Dx() != wantW || b.Dy() != wantH {
			t.Errorf("%s is %dx%d, want %dx%d", p.PNG, b.Dx(), b.Dy(), wantW, wantH)
		}
		svg, err := os.ReadFile(filepath.Join(out, p.SVG))
		if err != nil || !bytes.Contains(svg, []byte("<svg")) {
			t.Errorf("%s: not an SVG (%v)", p.SVG, err)
		}
	}

	md, err := os.ReadFile(res.Markdown)
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "report.md", md)
	for _, p := range res.Plots {
		if !bytes.Contains(md, []byte("]("+p.PNG+")")) {
			t.Errorf("report.md does not embed %s", p.PNG)
		}
	}
}

func TestRenderers(t *testing.T) {
	s, run := fixture(t)
	var buf bytes.Buffer
	if err := RenderShow(&buf, run); err != nil {
		t.Fatal(err)
	}
	golden(t, "show.txt", buf.Bytes())

	buf.Reset()
	if err := RenderShowJSON(&buf, run); err != nil {
		t.Fatal(err)
	}
	var view ShowView
	if err := json.Unmarshal(buf.Bytes(), &view); err != nil {
		t.Fatalf("runs show --json is not valid JSON: %v", err)
	}
	if len(view.Steps) != 4 || view.Steps[3].Address != "step.broken" || len(view.Steps[3].Metrics) != 1 {
		t.Errorf("show JSON steps: %+v", view.Steps)
	}
	if m := view.Steps[3].Metrics[0]; !math.IsNaN(float64(m.Final)) || m.Min != 1 {
		t.Errorf("NaN final metric did not survive JSON: %+v", m)
	}

	runs, err := s.List()
	if err != nil {
		t.Fatal(err)
	}
	buf.Reset()
	if err := RenderList(&buf, runs); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "RUN ") || !strings.Contains(lines[1], "failed") || !strings.Contains(lines[2], "succeeded") {
		t.Errorf("runs list:\n%s", buf.String())
	}
	buf.Reset()
	if err := RenderListJSON(&buf, nil); err != nil || strings.TrimSpace(buf.String()) != "[]" {
		t.Errorf("empty list JSON = %q, %v", buf.String(), err)
	}

	d, err := s.Diff("latest~1", "latest")
	if err != nil {
		t.Fatal(err)
	}
	d.A, d.B = "RUN-A", "RUN-B"
	buf.Reset()
	if err := RenderDiff(&buf, d); err != nil {
		t.Fatal(err)
	}
	golden(t, "diff.txt", buf.Bytes())
	buf.Reset()
	if err := RenderDiffJSON(&buf, d); err != nil {
		t.Fatal(err)
	}
	var back runstore.Diff
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(d, &back); diff != "" {
		t.Errorf("diff JSON round trip (-want +got):\n%s", diff)
	}
}

func TestSplitAddress(t *testing.T) {
	tests := []struct{ addr, base, key string }{
		{"step.train", "step.train", ""},
		{`step.train["a"]`, "step.train", "a"},
		{`step.train["x[1]"]`, "step.train", "x[1]"},
		{"step.rep[12]", "step.rep", "12"},
	}
	for _, tt := range tests {
		b, k := SplitAddress(tt.addr)
		if b != tt.base || k != tt.key {
			t.Errorf("SplitAddress(%q) = %q, %q; want %q, %q", tt.addr, b, k, tt.base, tt.key)
		}
	}
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run `go test -update` to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("%s differs from the golden file (-want +got); `go test -update` rewrites it:\n%s", path, diff)
	}
}

// TestWriteCountSweep: a count sweep of 20 instances shares one figure whose
// series are in numeric order (2 before 10).
func TestWriteCountSweep(t *testing.T) {
	s := must[*runstore.Store](t)(runstore.Open(filepath.Join(t.TempDir(), ".shammie")))
	run := must[*runstore.Run](t)(s.CreateRun(runstore.RunMeta{}))
	for i := range 20 {
		st := must[*runstore.Step](t)(run.BeginStep(runstore.StepInfo{Address: "step.rep[" + strconv.Itoa(i) + "]"}))
		for k := range 5 {
			record(t, st, runstore.MetricEvent("loss", int64(k), float64(i)/float64(k+1)))
		}
		must[*runstore.StepRecord](t)(st.Finish(runstore.StepResult{Status: runstore.StatusSucceeded}))
	}
	if err := run.Finish("", ""); err != nil {
		t.Fatal(err)
	}
	loaded := must[*runstore.LoadedRun](t)(s.Load("latest"))
	res, err := Write(loaded, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Plots) != 1 {
		t.Fatalf("%d plots, want 1: %+v", len(res.Plots), res.Plots)
	}
	var want []string
	for i := range 20 {
		want = append(want, strconv.Itoa(i))
	}
	if diff := cmp.Diff(want, res.Plots[0].Series); diff != "" {
		t.Errorf("series order (-want +got):\n%s", diff)
	}
}
