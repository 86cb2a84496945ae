package runstore

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/zclconf/go-cty/cty"
)

// testStore opens a store in a temp dir with a clock that advances one
// second per reading, so records get distinct, predictable times.
func testStore(t *testing.T) *Store {
	t.Helper()
	s, err := Open(filepath.Join(t.TempDir(), ".shammie"))
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	clock := time.Date(2026, 11, 26, 17, 0, 0, 0, time.UTC)
	s.now = func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		clock = clock.Add(time.Second)
		return clock
	}
	return s
}

func sha(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// writeWork writes a file into a step's work dir and returns the Artifact
// event a plugin would send for it.
func writeWork(t *testing.T, st *Step, name, rel string, data []byte) Event {
	t.Helper()
	p := filepath.Join(st.WorkDir(), rel)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return ArtifactEvent(name, rel, sha(data), int64(len(data)), "text/plain")
}

func mustRecord(t *testing.T, st *Step, evs ...Event) {
	t.Helper()
	for _, ev := range evs {
		if _, err := st.Record(ev); err != nil {
			t.Fatal(err)
		}
	}
}

func TestObjectExt(t *testing.T) {
	tests := map[string]string{
		"a.csv": ".csv", "dir/b.SafeTensors": ".safetensors", "c.tar.gz": ".gz", "noext": "",
		"weird.c-d": "", "dot.": "", ".hidden": ".hidden", "long." + strings.Repeat("x", 17): "",
	}
	for in, want := range tests {
		if got := ObjectExt(in); got != want {
			t.Errorf("ObjectExt(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestStepDirName(t *testing.T) {
	tests := []struct {
		addr string
		want string
	}{
		{"step.train", "train"},
		{"step.generate_data", "generate_data"},
		{`step.sweep["a"]`, "sweep_a-" + shortHash(`step.sweep["a"]`)},
		{`step.sweep["a b/c"]`, "sweep_a_b_c-" + shortHash(`step.sweep["a b/c"]`)},
		{"step.rep[2]", "rep_2-" + shortHash("step.rep[2]")},
		{"step.x_", "x-" + shortHash("step.x_")},
		{`step.s[".."]`, "s-" + shortHash(`step.s[".."]`)},
	}
	seen := map[string]string{}
	for _, tt := range tests {
		got := StepDirName(tt.addr)
		if got != tt.want {
			t.Errorf("StepDirName(%q) = %q, want %q", tt.addr, got, tt.want)
		}
		if other, dup := seen[got]; dup {
			t.Errorf("%q and %q share dir %q", tt.addr, other, got)
		}
		seen[got] = tt.addr
		if strings.ContainsAny(got, `/\"[] `) || strings.HasPrefix(got, ".") {
			t.Errorf("StepDirName(%q) = %q is not a safe directory name", tt.addr, got)
		}
	}
}

func TestCacheKeyChangesWithEachInput(t *testing.T) {
	storeA := "/stores/a/objects/sha256/ab/" + strings.Repeat("c", 62)
	storeB := "/elsewhere/objects/sha256/ab/" + strings.Repeat("c", 62)
	shaIn := "ab" + strings.Repeat("c", 62)
	base := func() CacheInputs {
		return CacheInputs{
			PluginSHA256: strings.Repeat("1", 64),
			Config: cty.ObjectVal(map[string]cty.Value{
				"mode":       cty.StringVal("estimate"),
				"penalty":    cty.NumberFloatVal(0.9),
				"embeddings": cty.StringVal(storeA),
				"layers":     cty.ListVal([]cty.Value{cty.NumberIntVal(3), cty.NumberIntVal(4)}),
			}),
			InputArtifacts: map[string]string{storeA: shaIn},
			Seed:           7,
			Backend:        "go",
		}
	}
	baseKey := CacheKey(base())
	if len(baseKey) != 64 {
		t.Fatalf("CacheKey = %q, want 64 hex digits", baseKey)
	}
	changed := []struct {
		name string
		edit func(*CacheInputs)
	}{
		{"plugin binary", func(in *CacheInputs) { in.PluginSHA256 = strings.Repeat("2", 64) }},
		{"config value", func(in *CacheInputs) {
			in.Config = setAttr(in.Config, "penalty", cty.NumberFloatVal(2))
		}},
		{"config type: number vs string", func(in *CacheInputs) {
			in.Config = setAttr(in.Config, "penalty", cty.StringVal("0.9"))
		}},
		{"config type: list vs tuple", func(in *CacheInputs) {
			in.Config = setAttr(in.Config, "layers", cty.TupleVal([]cty.Value{cty.NumberIntVal(3), cty.NumberIntVal(4)}))
		}},
		{"config new attribute", func(in *CacheInputs) {
			in.Config = setAttr(in.Config, "extra", cty.True)
		}},
		{"input artifact content", func(in *CacheInputs) { in.InputArtifacts[storeA] = "ab" + strings.Repeat("d", 62) }},
		{"input artifact extension", func(in *CacheInputs) {
			in.Config = setAttr(in.Config, "embeddings", cty.StringVal(storeA+".csv"))
			in.InputArtifacts = map[string]string{storeA + ".csv": shaIn}
		}},
		{"seed", func(in *CacheInputs) { in.Seed = 8 }},
		{"backend", func(in *CacheInputs) { in.Backend = "xla:cuda" }},
	}
	for _, tt := range changed {
		t.Run("changes/"+tt.name, func(t *testing.T) {
			in := base()
			tt.edit(&in)
			if got := CacheKey(in); got == baseKey || got == "" {
				t.Errorf("key %q did not change (base %q)", got, baseKey)
			}
		})
	}
	same := []struct {
		name string
		edit func(*CacheInputs)
	}{
		{"nothing", func(in *CacheInputs) {}},
		{"store moved, same content", func(in *CacheInputs) {
			in.Config = setAttr(in.Config, "embeddings", cty.StringVal(storeB))
			in.InputArtifacts = map[string]string{storeB: shaIn}
		}},
		{"sensitive marks", func(in *CacheInputs) {
			in.Config = setAttr(in.Config, "mode", cty.StringVal("estimate").Mark("sensitive"))
		}},
	}
	for _, tt := range same {
		t.Run("same/"+tt.name, func(t *testing.T) {
			in := base()
			tt.edit(&in)
			if got := CacheKey(in); got != baseKey {
				t.Errorf("key changed: %q, base %q", got, baseKey)
			}
		})
	}
	t.Run("unknown config is uncacheable", func(t *testing.T) {
		in := base()
		in.Config = setAttr(in.Config, "penalty", cty.UnknownVal(cty.Number))
		if got := CacheKey(in); got != "" {
			t.Errorf("CacheKey = %q, want \"\"", got)
		}
	})
}

func setAttr(obj cty.Value, name string, v cty.Value) cty.Value {
	m := obj.AsValueMap()
	m[name] = v
	return cty.ObjectVal(m)
}

func TestPutArtifact(t *testing.T) {
	s := testStore(t)
	work := t.TempDir()
	data := []byte("hello artifacts\n")
	if err := os.WriteFile(filepath.Join(work, "out.txt"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(work, "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(work, "sub", "same.txt"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	outside := filepath.Join(t.TempDir(), "secret.txt")
	if err := os.WriteFile(outside, []byte("secret"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(work, "link.txt")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Dir(outside), filepath.Join(work, "linkdir")); err != nil {
		t.Fatal(err)
	}

	p1, err := s.PutArtifact(work, "out.txt", sha(data))
	if err != nil {
		t.Fatal(err)
	}
	if want := s.ObjectPath(sha(data), ".txt"); p1 != want {
		t.Errorf("store path %q, want %q", p1, want)
	}
	got, err := os.ReadFile(p1)
	if err != nil || string(got) != string(data) {
		t.Fatalf("object content %q, %v", got, err)
	}
	if fi, _ := os.Stat(p1); fi.Mode().Perm()&0o222 != 0 {
		t.Errorf("object mode %v is writable", fi.Mode())
	}
	// Same content from another file: deduplicated to the same object.
	p2, err := s.PutArtifact(work, "sub/same.txt", strings.ToUpper(sha(data)))
	if err != nil {
		t.Fatal(err)
	}
	if p2 != p1 {
		t.Errorf("dedup: %q != %q", p2, p1)
	}
	if shaGot, ok := s.ObjectSHA(p1); !ok || shaGot != sha(data) {
		t.Errorf("ObjectSHA(%q) = %q, %v", p1, shaGot, ok)
	}

	refused := []struct {
		name, rel, sha, wantErr string
	}{
		{"hash mismatch", "out.txt", sha([]byte("other")), "announced"},
		{"bad hash", "out.txt", "xyz", "64 hex digits"},
		{"parent", "../secret.txt", sha([]byte("secret")), "leaves the work dir"},
		{"nested parent", "sub/../../secret.txt", sha([]byte("secret")), "leaves the work dir"},
		{"absolute", outside, sha([]byte("secret")), "absolute"},
		{"symlink file", "link.txt", sha([]byte("secret")), "symlink"},
		{"symlinked dir", "linkdir/secret.txt", sha([]byte("secret")), "symlink"},
		{"missing", "nope.txt", sha(data), "no such file"},
		{"directory", "sub", sha(data), "not a regular file"},
	}
	for _, tt := range refused {
		t.Run(tt.name, func(t *testing.T) {
			p, err := s.PutArtifact(work, tt.rel, tt.sha)
			if err == nil {
				t.Fatalf("PutArtifact(%q) = %q, want error", tt.rel, p)
			}
			if !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("error %q does not mention %q", err, tt.wantErr)
			}
		})
	}
	// The same bytes under another extension: a second object keeping it,
	// since plugins choose readers by extension.
	if err := os.WriteFile(filepath.Join(work, "same.csv"), data, 0o644); err != nil {
		t.Fatal(err)
	}
	p3, err := s.PutArtifact(work, "same.csv", sha(data))
	if err != nil {
		t.Fatal(err)
	}
	if p3 == p1 || !strings.HasSuffix(p3, sha(data)[2:]+".csv") {
		t.Errorf("csv object at %q (txt at %q)", p3, p1)
	}
	if shaGot, ok := s.ObjectSHA(p3); !ok || shaGot != sha(data) {
		t.Errorf("ObjectSHA(%q) = %q, %v", p3, shaGot, ok)
	}
	for _, notObject := range []string{work + "/out.txt", s.Root() + "/objects/sha256/ab/short", p1 + "x/y", p1[:len(p1)-4] + ".T-T"} {
		if got, ok := s.ObjectSHA(notObject); ok {
			t.Errorf("ObjectSHA(%q) = %q, true; want not an object", notObject, got)
		}
	}
	// Nothing of the refused files reached the store, and no temp files remain.
	if _, err := os.Stat(s.ObjectPath(sha([]byte("secret")), ".txt")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("a refused artifact reached the store: %v", err)
	}
	if ents, _ := os.ReadDir(s.tmpDir()); len(ents) != 0 {
		t.Errorf("temp files left: %v", ents)
	}
}

// TestCrashNeverClaimsSuccess records a run up to the middle of a step and
// "crashes" (never calls Finish): the records say running, and once the
// owning process is gone, interrupted — never succeeded; the rerun does not
// hit the cache for the unfinished step.
func TestCrashNeverClaimsSuccess(t *testing.T) {
	s := testStore(t)
	run, err := s.CreateRun(RunMeta{Seed: 1, Backends: []string{"go"}, HostVersion: "test"})
	if err != nil {
		t.Fatal(err)
	}
	key := strings.Repeat("a", 64)
	done, err := run.BeginStep(StepInfo{Address: "step.gen", Plugin: "fit", CacheKey: key})
	if err != nil {
		t.Fatal(err)
	}
	mustRecord(t, done, writeWork(t, done, "data", "data.txt", []byte("1 2 3")),
		OutputEvent("n", cty.NumberIntVal(3)),
		StatusEvent(StatusSucceeded, ""))
	if _, err := done.Finish(StepResult{}); err != nil {
		t.Fatal(err)
	}
	key2 := strings.Repeat("b", 64)
	mid, err := run.BeginStep(StepInfo{Address: "step.train", Plugin: "fit", CacheKey: key2})
	if err != nil {
		t.Fatal(err)
	}
	mustRecord(t, mid, MetricEvent("loss", 1, 0.5))
	// Crash: neither mid.Finish nor run.Finish is called.

	r, err := s.Load(run.ID())
	if err != nil {
		t.Fatal(err)
	}
	if r.Record.Status != StatusRunning {
		t.Errorf("run status %q while its process lives, want running", r.Record.Status)
	}
	statuses := map[string]Status{}
	for _, st := range r.Steps {
		statuses[st.Address] = st.Status
	}
	if diff := cmp.Diff(map[string]Status{"step.gen": StatusSucceeded, "step.train": StatusRunning}, statuses); diff != "" {
		t.Errorf("step statuses (-want +got):\n%s", diff)
	}

	// The process dies: same record, now reported as interrupted.
	s.process = func() ProcessInfo { return ProcessInfo{} }
	rec := run.Record()
	rec.Process = ProcessInfo{PID: 1 << 30} // no such pid
	if err := writeJSONAtomic(filepath.Join(run.Dir(), "run.json"), &rec, false); err != nil {
		t.Fatal(err)
	}
	r, err = s.Load("latest")
	if err != nil {
		t.Fatal(err)
	}
	if r.Record.Status != StatusInterrupted {
		t.Errorf("run status %q after its process died, want interrupted", r.Record.Status)
	}
	if st, _ := r.Step("step.train"); st.Status != StatusInterrupted {
		t.Errorf("unfinished step status %q, want interrupted", st.Status)
	}
	list, err := s.List()
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].Status != StatusInterrupted || list[0].StepStatus[StatusSucceeded] != 1 || list[0].StepStatus[StatusInterrupted] != 1 {
		t.Errorf("List = %+v", list)
	}

	// Resume: the finished step hits the cache, the unfinished one does not.
	if _, ok, err := s.LookupCache(key); err != nil || !ok {
		t.Errorf("LookupCache(finished step) = %v, %v; want a hit", ok, err)
	}
	if _, ok, err := s.LookupCache(key2); err != nil || ok {
		t.Errorf("LookupCache(unfinished step) = %v, %v; want a miss", ok, err)
	}
}

func TestReadJSONLToleratesTornLastLine(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "metrics.jsonl")
	good := `{"name":"loss","step":1,"value":0.5,"time":"2026-11-26T17:00:00Z"}` + "\n"
	if err := os.WriteFile(p, []byte(good+good+`{"name":"lo`), 0o644); err != nil {
		t.Fatal(err)
	}
	n := 0
	if err := readJSONL(p, func(b []byte) error { var m MetricPoint; n++; return jsonUnmarshal(b, &m) }); err != nil {
		t.Fatalf("torn last line: %v", err)
	}
	if err := os.WriteFile(p, []byte(good+"{bad\n"+good), 0o644); err != nil {
		t.Fatal(err)
	}
	err := readJSONL(p, func(b []byte) error { var m MetricPoint; return jsonUnmarshal(b, &m) })
	if err == nil || !strings.Contains(err.Error(), "metrics.jsonl:2:") {
		t.Errorf("bad middle line: error %v, want one naming metrics.jsonl:2", err)
	}
}

func TestFloatJSONKeepsNaNAndInf(t *testing.T) {
	for _, x := range []float64{0, -1.5, 1e-300, math.NaN(), math.Inf(1), math.Inf(-1)} {
		b, err := Float(x).MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		var f Float
		if err := f.UnmarshalJSON(b); err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		if got := float64(f); got != x && !(math.IsNaN(got) && math.IsNaN(x)) {
			t.Errorf("round trip of %v via %s = %v", x, b, got)
		}
	}
}

// TestConcurrentSteps runs many steps at once, each writing events, metrics,
// outputs and artifacts (some with shared content), as the parallel runner
// does; run it with -race.
func TestConcurrentSteps(t *testing.T) {
	s := testStore(t)
	run, err := s.CreateRun(RunMeta{Seed: 3})
	if err != nil {
		t.Fatal(err)
	}
	const steps, metrics = 12, 50
	var wg sync.WaitGroup
	// The UI reads the run record while steps record (a lock-order check).
	stop := make(chan struct{})
	var readers sync.WaitGroup
	readers.Go(func() {
		for {
			select {
			case <-stop:
				return
			default:
				_ = run.Record()
			}
		}
	})
	errs := make(chan error, steps)
	for i := range steps {
		wg.Go(func() {
			addr := fmt.Sprintf("step.sweep[%d]", i)
			st, err := run.BeginStep(StepInfo{Address: addr, Plugin: "fit", Seed: int64(i), CacheKey: sha([]byte(addr))})
			if err != nil {
				errs <- err
				return
			}
			for k := range metrics {
				if _, err := st.Record(MetricEvent("loss", int64(k), float64(i*1000+k))); err != nil {
					errs <- err
					return
				}
			}
			shared := writeWork(t, st, "shared", "shared.bin", []byte("same bytes in every step"))
			own := writeWork(t, st, "own", "own.bin", []byte(addr))
			for _, ev := range []Event{shared, own, OutputEvent("i", cty.NumberIntVal(int64(i)))} {
				if _, err := st.Record(ev); err != nil {
					errs <- err
					return
				}
			}
			if _, err := st.Finish(StepResult{Status: StatusSucceeded}); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(stop)
	readers.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if err := run.Finish("", ""); err != nil {
		t.Fatal(err)
	}
	r, err := s.Load(run.ID())
	if err != nil {
		t.Fatal(err)
	}
	if r.Record.Status != StatusSucceeded || len(r.Steps) != steps || len(r.Record.Steps) != steps {
		t.Fatalf("run %s with %d steps (%d indexed)", r.Record.Status, len(r.Steps), len(r.Record.Steps))
	}
	for i := range steps {
		addr := fmt.Sprintf("step.sweep[%d]", i)
		pts, err := r.Metrics(addr)
		if err != nil {
			t.Fatal(err)
		}
		if len(pts) != metrics {
			t.Errorf("%s: %d metric points, want %d", addr, len(pts), metrics)
		}
		for k, p := range pts {
			if p.Step != int64(k) || float64(p.Value) != float64(i*1000+k) {
				t.Errorf("%s point %d = %+v: lines of different steps mixed up", addr, k, p)
				break
			}
		}
		st, _ := r.Step(addr)
		if st.Artifacts["shared"].StorePath != s.ObjectPath(sha([]byte("same bytes in every step")), ".bin") {
			t.Errorf("%s shared artifact at %q", addr, st.Artifacts["shared"].StorePath)
		}
		evs, err := r.Events(addr)
		if err != nil {
			t.Fatal(err)
		}
		if want := metrics + 4; len(evs) != want { // metrics, 2 artifacts, output, status
			t.Errorf("%s: %d events, want %d", addr, len(evs), want)
		}
	}
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

// TestStateDir: a step's state dir is keyed by its cache key so that the
// rerun after a crash finds its checkpoints; twins running at once get
// separate dirs; success removes the shared dir, failure keeps it.
func TestStateDir(t *testing.T) {
	s := testStore(t)
	key := strings.Repeat("c", 64)
	run1, err := s.CreateRun(RunMeta{})
	if err != nil {
		t.Fatal(err)
	}
	a, err := run1.BeginStep(StepInfo{Address: "step.a", CacheKey: key})
	if err != nil {
		t.Fatal(err)
	}
	twin, err := run1.BeginStep(StepInfo{Address: "step.twin", CacheKey: key})
	if err != nil {
		t.Fatal(err)
	}
	shared := filepath.Join(s.Root(), "state", key)
	if a.StateDir() != shared {
		t.Errorf("state dir %q, want %q", a.StateDir(), shared)
	}
	if twin.StateDir() == shared || !strings.HasPrefix(twin.StateDir(), twin.Dir()) {
		t.Errorf("the twin got state dir %q; want one of its own under %q", twin.StateDir(), twin.Dir())
	}
	ckpt := filepath.Join(a.StateDir(), "ckpt.bin")
	if err := os.WriteFile(ckpt, []byte("step 100"), 0o644); err != nil {
		t.Fatal(err)
	}
	// step.a fails (or the host crashes): the checkpoint stays for the rerun.
	if _, err := a.Finish(StepResult{Status: StatusFailed}); err != nil {
		t.Fatal(err)
	}
	if _, err := twin.Finish(StepResult{Status: StatusFailed}); err != nil {
		t.Fatal(err)
	}
	run2, err := s.CreateRun(RunMeta{})
	if err != nil {
		t.Fatal(err)
	}
	again, err := run2.BeginStep(StepInfo{Address: "step.a", CacheKey: key})
	if err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(again.StateDir(), "ckpt.bin")); err != nil || string(b) != "step 100" {
		t.Fatalf("rerun does not find the checkpoint: %q, %v", b, err)
	}
	if _, err := again.Finish(StepResult{Status: StatusSucceeded}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(shared); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("state dir of a succeeded step still there: %v", err)
	}
	if _, ok, _ := s.LookupCache(key); !ok {
		t.Error("no cache entry after success")
	}
}
