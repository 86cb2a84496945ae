package ui

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/zclconf/go-cty/cty"

	"github.com/shammie-ml/shammie/host/internal/runstore"
)

// fixture builds a store through runstore's recording API, the way the
// runner does, with every kind of artifact the dashboard previews.
type fixture struct {
	t     testing.TB
	store *runstore.Store
}

func newFixture(t testing.TB) *fixture {
	t.Helper()
	s, err := runstore.Open(filepath.Join(t.TempDir(), "store"))
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{t: t, store: s}
}

func (f *fixture) record(st *runstore.Step, e runstore.Event) {
	f.t.Helper()
	_, err := st.Record(e)
	f.check(err)
}

func (f *fixture) check(err error) {
	f.t.Helper()
	if err != nil {
		f.t.Fatal(err)
	}
}

// run records a run of spec with the variables given (names starting with
// "secret" are sensitive) and the steps built by fn; it returns the run id.
func (f *fixture) run(spec string, vars map[string]cty.Value, fn func(r *runstore.Run)) string {
	var vs []runstore.Variable
	for k, v := range vars {
		vs = append(vs, runstore.Variable{Name: k, Value: v, Sensitive: len(k) > 6 && k[:6] == "secret"})
	}
	r, err := f.store.CreateRun(runstore.RunMeta{
		Spec:      []runstore.SpecFile{{Path: spec, Text: "# " + spec}},
		Variables: vs, HostVersion: "test", Backends: []string{"go"},
		Plugins: []runstore.PluginInfo{{Name: "test", Version: "0.1.0", SHA256: "ab"}},
	})
	f.check(err)
	fn(r)
	f.check(r.Finish("", ""))
	return r.ID()
}

// step records a step instance: metric "loss" with n points, the outputs
// and artifacts (name -> file name and content) given, and status.
func (f *fixture) step(r *runstore.Run, addr string, deps []string, cfg map[string]cty.Value, n int,
	outputs map[string]cty.Value, artifacts map[string]fixtureFile, status runstore.Status) {
	st, err := r.BeginStep(runstore.StepInfo{Address: addr, Plugin: "test", PluginVersion: "0.1.0", DependsOn: deps,
		Config: cty.ObjectVal(cfg), Backend: "go"})
	f.check(err)
	loss := func(i int) float64 { return 1/float64(i) + 0.05*math.Sin(float64(i)) }
	if n <= 1000 {
		for i := 1; i <= n; i++ {
			f.record(st, runstore.MetricEvent("loss", int64(i), loss(i)))
		}
	} else {
		// Recording 100K points one event at a time takes seconds; append
		// them to metrics.jsonl (the store's documented layout) at once.
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		t0 := time.Now().UTC()
		for i := 1; i <= n; i++ {
			f.check(enc.Encode(runstore.MetricPoint{Name: "loss", Step: int64(i), Value: runstore.Float(loss(i)), Time: t0}))
		}
		mf, err := os.OpenFile(filepath.Join(st.Dir(), "metrics.jsonl"), os.O_WRONLY|os.O_APPEND, 0)
		f.check(err)
		_, err = mf.Write(buf.Bytes())
		f.check(err)
		f.check(mf.Close())
	}
	f.record(st, runstore.LogEvent("info", "hello from "+addr))
	for name, file := range artifacts {
		f.check(os.WriteFile(filepath.Join(st.WorkDir(), file.name), file.data, 0o644))
		sum := sha256.Sum256(file.data)
		f.record(st, runstore.ArtifactEvent(name, file.name, hex.EncodeToString(sum[:]), int64(len(file.data)), file.media))
	}
	for k, v := range outputs {
		f.record(st, runstore.OutputEvent(k, v))
	}
	res := runstore.StepResult{Status: status}
	if status == runstore.StatusFailed {
		res.Message, res.StderrTail = "failing on purpose", "panic: boom\ngoroutine 1"
	}
	_, err = st.Finish(res)
	f.check(err)
}

type fixtureFile struct {
	name, media string
	data        []byte
}

func pngBytes(w, h int) []byte {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, color.RGBA{uint8(x * 255 / w), uint8(y * 255 / h), 128, 255})
		}
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		panic(err)
	}
	return b.Bytes()
}

func safetensorsBytes() []byte {
	hdr := []byte(`{"__metadata__":{"format":"pt"},"w":{"dtype":"F32","shape":[2,3],"data_offsets":[0,24]},"b":{"dtype":"F32","shape":[3],"data_offsets":[24,36]}}`)
	var b bytes.Buffer
	binary.Write(&b, binary.LittleEndian, uint64(len(hdr)))
	b.Write(hdr)
	b.Write(make([]byte, 36))
	return b.Bytes()
}

// sampleArtifacts are one artifact of every previewed kind.
func sampleArtifacts() map[string]fixtureFile {
	return map[string]fixtureFile{
		"plot":    {"plot.png", "image/png", pngBytes(64, 40)},
		"diagram": {"diagram.svg", "image/svg+xml", []byte(`<svg xmlns="http://www.w3.org/2000/svg" width="40" height="20"><rect width="40" height="20" fill="teal"/></svg>`)},
		"table":   {"table.csv", "text/csv", []byte("epoch,loss\n1,0.5\n2,0.25\n")},
		"rows":    {"rows.jsonl", "application/x-ndjson", []byte(`{"a":1,"b":"x"}` + "\n" + `{"a":2,"c":true}` + "\n")},
		"weights": {"weights.json", "application/json", []byte(`{"w":[1,2],"b":0.5}`)},
		"model":   {"model.safetensors", "application/octet-stream", safetensorsBytes()},
	}
}

// standardStore records two runs of spec "specs/demo.hcl" that differ in
// variable lr, each with a step "gen" (artifacts, n loss points) and a sweep
// of three instances depending on it.
func standardStore(t testing.TB, n int) (*fixture, string, string) {
	f := newFixture(t)
	mk := func(lr float64, genStatus runstore.Status) string {
		return f.run("specs/demo.hcl", map[string]cty.Value{"lr": cty.NumberFloatVal(lr), "secret_token": cty.StringVal("hunter2")}, func(r *runstore.Run) {
			f.step(r, "step.gen", nil, map[string]cty.Value{"lr": cty.NumberFloatVal(lr)}, n,
				map[string]cty.Value{"value": cty.NumberIntVal(6)}, sampleArtifacts(), genStatus)
			for i, k := range []string{"a", "b", "c"} {
				f.step(r, fmt.Sprintf("step.sweep[%q]", k), []string{"step.gen"},
					map[string]cty.Value{"lr": cty.NumberFloatVal(lr * float64(i+1)), "mode": cty.StringVal("ok")}, 20,
					map[string]cty.Value{"acc": cty.NumberFloatVal(0.5 + 0.1*float64(i))}, nil, runstore.StatusSucceeded)
			}
		})
	}
	a := mk(0.1, runstore.StatusSucceeded)
	time.Sleep(2 * time.Millisecond)
	b := mk(0.2, runstore.StatusFailed)
	return f, a, b
}

// largeStore records runs-1 small runs (one step, 10 loss points) and one
// run whose step has a loss metric of points points; it returns the big
// run's id.
func largeStore(t testing.TB, runs, points int) (*fixture, string) {
	f := newFixture(t)
	for i := 0; i < runs-1; i++ {
		spec := fmt.Sprintf("specs/s%d.hcl", i%5)
		f.run(spec, map[string]cty.Value{"i": cty.NumberIntVal(int64(i))}, func(r *runstore.Run) {
			status := runstore.StatusSucceeded
			if i%17 == 0 {
				status = runstore.StatusFailed
			}
			f.step(r, "step.train", nil, map[string]cty.Value{"i": cty.NumberIntVal(int64(i))}, 10, nil, nil, status)
		})
	}
	big := f.run("specs/big.hcl", nil, func(r *runstore.Run) {
		f.step(r, "step.train", nil, map[string]cty.Value{"steps": cty.NumberIntVal(int64(points))}, points, nil, nil, runstore.StatusSucceeded)
	})
	return f, big
}
