package ui

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/zclconf/go-cty/cty"

	"github.com/shammie-ml/shammie/host/internal/runstore"
)

const testAddr = "127.0.0.1:7878"

// get sends a GET through the handler as a browser on the dashboard's own
// page would, and returns the status and body.
func get(t *testing.T, h http.Handler, target string, header ...string) (int, string) {
	t.Helper()
	req := httptest.NewRequest("GET", target, nil)
	req.Host = testAddr
	for i := 0; i+1 < len(header); i += 2 {
		if header[i] == "Host" {
			req.Host = header[i+1]
			continue
		}
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code, rec.Body.String()
}

func getJSON(t *testing.T, h http.Handler, target string, v any) {
	t.Helper()
	code, body := get(t, h, target)
	if code != 200 {
		t.Fatalf("GET %s: %d %s", target, code, body)
	}
	if err := json.Unmarshal([]byte(body), v); err != nil {
		t.Fatalf("GET %s: %v\n%s", target, err, body)
	}
}

func TestAPI(t *testing.T) {
	f, a, b := standardStore(t, 1000)
	srv := New(f.store, Options{Addr: testAddr})

	var runs runsView
	getJSON(t, srv, "/api/runs", &runs)
	if runs.Total != 2 || len(runs.Runs) != 2 || runs.Runs[0].ID != b {
		t.Fatalf("runs = %+v", runs)
	}
	getJSON(t, srv, "/api/runs?status=failed", &runs)
	if len(runs.Runs) != 1 || runs.Runs[0].ID != b {
		t.Errorf("status filter: %+v", runs.Runs)
	}
	getJSON(t, srv, "/api/runs?spec=other.hcl", &runs)
	if len(runs.Runs) != 0 || !cmp.Equal(runs.Specs, []string{"specs/demo.hcl"}) {
		t.Errorf("spec filter: %+v", runs)
	}

	// The run view is `runs show --json`: the secret stays redacted.
	code, body := get(t, srv, "/api/runs/"+a)
	if code != 200 || strings.Contains(body, "hunter2") || !strings.Contains(body, `"(sensitive)"`) {
		t.Errorf("run view %d: secret not redacted or missing:\n%.400s", code, body)
	}
	var rv struct {
		Steps []struct {
			Address string `json:"address"`
			Metrics []struct {
				Name   string `json:"name"`
				Points int    `json:"points"`
			} `json:"metrics"`
		} `json:"steps"`
		Files map[string][]fileInfo `json:"files"`
	}
	getJSON(t, srv, "/api/runs/"+a, &rv)
	if len(rv.Steps) != 4 || rv.Steps[0].Metrics[0].Points != 1000 || len(rv.Files["step.gen"]) != 6 {
		t.Errorf("run view: %+v", rv)
	}

	var series seriesView
	getJSON(t, srv, "/api/runs/"+a+"/metrics?step=step.gen&name=loss&max=100", &series)
	if series.Total != 1000 || len(series.X) != 100 || !series.Downsampled || series.X[0] != 1 || series.X[99] != 1000 {
		t.Errorf("downsampled series: total %d, %d points, x %v…", series.Total, len(series.X), series.X[:3])
	}
	getJSON(t, srv, "/api/runs/"+a+"/metrics?step=step.gen&name=loss&from=400&to=600&max=100", &series)
	if len(series.X) != 100 || !series.Downsampled || !series.Range || series.X[0] != 399 || series.X[99] != 601 {
		t.Errorf("window 400–600: %d points from %v to %v", len(series.X), series.X[0], series.X[len(series.X)-1])
	}
	getJSON(t, srv, "/api/runs/"+a+"/metrics?step=step.gen&name=loss", &series)
	if len(series.X) != 1000 || series.Downsampled {
		t.Errorf("full series: %d points", len(series.X))
	}

	for name, want := range map[string]string{
		"plot":    `"kind":"image"`,
		"diagram": `"kind":"image"`,
		"table":   `"columns":["epoch","loss"],"rows":[["1","0.5"],["2","0.25"]]`,
		"rows":    `"columns":["a","b","c"],"rows":[["1","x",""],["2","","true"]]`,
		"weights": `"rows":[["b","0.5"],["w","[1,2]"]]`,
		"model":   `"tensors":[{"name":"b","dtype":"F32","shape":[3],"bytes":12},{"name":"w","dtype":"F32","shape":[2,3],"bytes":24}],"metadata":{"format":"pt"}`,
	} {
		code, body := get(t, srv, "/api/runs/"+a+"/preview?step=step.gen&name="+name)
		if code != 200 || !strings.Contains(body, want) {
			t.Errorf("preview %s: %d %s, want %s", name, code, body, want)
		}
	}
	req := httptest.NewRequest("GET", "/api/runs/"+a+"/artifact?step=step.gen&name=plot&download=1", nil)
	req.Host = testAddr
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, req)
	if rec.Code != 200 || rec.Header().Get("Content-Type") != "image/png" || !strings.HasPrefix(rec.Body.String(), "\x89PNG") ||
		rec.Header().Get("Content-Disposition") != `attachment; filename=plot.png` {
		t.Errorf("artifact download: %d %v", rec.Code, rec.Header())
	}

	var sw sweepView
	getJSON(t, srv, "/api/runs/"+a+"/sweep?step=sweep", &sw)
	if len(sw.Instances) != 3 || !cmp.Equal(sw.Swept, []string{"key", "lr"}) || !cmp.Equal(sw.Values, []string{"metric.loss", "output.acc"}) {
		t.Errorf("sweep: %+v", sw)
	}
	if got := sw.Instances[1]; got.Key != `"b"` || got.Config["lr"] != "0.2" || got.Values["output.acc"] != "0.6" {
		t.Errorf("sweep instance: %+v", got)
	}

	var dv diffView
	getJSON(t, srv, "/api/diff?a="+a+"&b="+b, &dv)
	if len(dv.Diff.Variables) != 1 || dv.Diff.Variables[0].Key != "lr" || dv.Diff.Variables[0].A != "0.1" || dv.Diff.Variables[0].B != "0.2" {
		t.Errorf("diff variables: %+v", dv.Diff.Variables)
	}

	var logs struct {
		Events     []runstore.Event `json:"events"`
		StderrTail string           `json:"stderr_tail"`
	}
	getJSON(t, srv, "/api/runs/"+b+"/logs?step=step.gen", &logs)
	if logs.StderrTail == "" || len(logs.Events) == 0 || logs.Events[0].Message != "hello from step.gen" {
		t.Errorf("logs: %+v", logs)
	}

	code, body = get(t, srv, "/")
	if code != 200 || !strings.Contains(body, `<script type="module" src="/assets/app.js">`) {
		t.Errorf("index: %d %.200s", code, body)
	}
	for _, asset := range []string{"/assets/app.js", "/assets/vendor/uplot/uPlot.iife.min.js", "/assets/vendor/uplot/LICENSE"} {
		if code, _ := get(t, srv, asset); code != 200 {
			t.Errorf("GET %s: %d", asset, code)
		}
	}
	if code, _ := get(t, srv, "/api/runs/nope"); code != 404 {
		t.Errorf("unknown run: %d", code)
	}
}

// TestPathTraversal: the artifact endpoint serves only objects named in the
// records, the file endpoint only files inside the step's work directory.
func TestPathTraversal(t *testing.T) {
	f, a, _ := standardStore(t, 3)
	run, err := f.store.Load(a)
	if err != nil {
		t.Fatal(err)
	}
	work, _ := run.WorkDir("step.gen")
	secret := filepath.Join(f.store.Root(), "..", "secret.txt")
	if err := os.WriteFile(secret, []byte("TOP SECRET"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(secret, filepath.Join(work, "link.txt")); err != nil {
		t.Fatal(err)
	}
	srv := New(f.store, Options{Addr: testAddr})
	base := "/api/runs/" + a
	for _, target := range []string{
		base + "/artifact?step=step.gen&name=../../secret.txt",
		base + "/artifact?step=../../secret.txt&name=plot",
		base + "/preview?step=step.gen&name=/etc/passwd",
		base + "/files/../../../secret.txt?step=step.gen",
		base + "/files/%2e%2e/%2e%2e/%2e%2e/secret.txt?step=step.gen",
		base + "/files/..%2f..%2f..%2fsecret.txt?step=step.gen",
		base + "/files/link.txt?step=step.gen",
		base + "/files/%2fetc%2fpasswd?step=step.gen",
		base + "/files/plot.png?step=../../..",
		"/api/runs/..%2f..%2fsecret.txt/files/x?step=step.gen",
	} {
		code, body := get(t, srv, target)
		if code == 200 || strings.Contains(body, "TOP SECRET") || strings.Contains(body, "root:") {
			t.Errorf("GET %s: %d %.100s — want refused", target, code, body)
		}
	}
	if code, body := get(t, srv, base+"/files/plot.png?step=step.gen"); code != 200 || !strings.HasPrefix(body, "\x89PNG") {
		t.Errorf("a file inside the work dir: %d", code)
	}

	// A record edited to point outside the object store is refused too.
	stepJSON := filepath.Join(run.Dir, "steps", run.Steps[0].Dir, "step.json")
	b, err := os.ReadFile(stepJSON)
	if err != nil {
		t.Fatal(err)
	}
	obj := run.Steps[0].Artifacts["table"].StorePath
	b = []byte(strings.ReplaceAll(string(b), obj, secret))
	if err := os.WriteFile(stepJSON, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if code, body := get(t, srv, base+"/artifact?step=step.gen&name=table"); code != 403 || strings.Contains(body, "TOP SECRET") {
		t.Errorf("tampered store path: %d %.100s", code, body)
	}
}

// TestForeignHostAndOrigin: a page on another site that rebinds its name
// to 127.0.0.1 sends its own Host (or Origin); both are refused, and so is
// anything but GET.
func TestForeignHostAndOrigin(t *testing.T) {
	f, _, _ := standardStore(t, 1)
	srv := New(f.store, Options{Addr: testAddr, AllowHosts: []string{"workstation"}})
	for _, tc := range []struct {
		header []string
		want   int
	}{
		{nil, 200},
		{[]string{"Host", "localhost:7878"}, 200},
		{[]string{"Host", "[::1]:7878"}, 200},
		{[]string{"Host", "workstation:7878"}, 200},
		{[]string{"Origin", "http://127.0.0.1:7878"}, 200},
		{[]string{"Host", "evil.example:7878"}, 403},
		{[]string{"Host", "127.0.0.1:8080"}, 403},
		{[]string{"Host", "evil.example"}, 403},
		{[]string{"Origin", "http://evil.example:7878"}, 403},
		{[]string{"Origin", "null"}, 403},
		{[]string{"Sec-Fetch-Site", "cross-site"}, 403},
	} {
		if code, body := get(t, srv, "/api/runs", tc.header...); code != tc.want {
			t.Errorf("%v: %d, want %d (%.80s)", tc.header, code, tc.want, body)
		}
	}
	// A link from another site opens the app; its data stays refused.
	if code, _ := get(t, srv, "/", "Sec-Fetch-Site", "cross-site", "Sec-Fetch-Mode", "navigate"); code != 200 {
		t.Errorf("cross-site navigation to the app: %d", code)
	}
	if code, _ := get(t, srv, "/api/runs", "Sec-Fetch-Site", "cross-site", "Sec-Fetch-Mode", "navigate"); code != 403 {
		t.Errorf("cross-site navigation to the API: %d", code)
	}
	req := httptest.NewRequest("POST", "/api/runs", strings.NewReader("{}"))
	req.Host = testAddr
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, req)
	if rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d", rec.Code)
	}
}

// TestLive follows a running run over server-sent events until it ends.
func TestLive(t *testing.T) {
	f := newFixture(t)
	r, err := f.store.CreateRun(runstore.RunMeta{Spec: []runstore.SpecFile{{Path: "live.hcl"}}})
	if err != nil {
		t.Fatal(err)
	}
	st, err := r.BeginStep(runstore.StepInfo{Address: "step.a", Plugin: "test", Config: cty.EmptyObjectVal})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(New(f.store, Options{Addr: "placeholder", Poll: 20 * time.Millisecond}))
	defer ts.Close()
	u, _ := url.Parse(ts.URL)
	srv := New(f.store, Options{Addr: u.Host, Poll: 20 * time.Millisecond})
	ts.Config.Handler = srv
	resp, err := http.Get(ts.URL + "/api/runs/" + r.ID() + "/live")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	events := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		var ev string
		for sc.Scan() {
			line := sc.Text()
			if e, ok := strings.CutPrefix(line, "event: "); ok {
				ev = e
			} else if d, ok := strings.CutPrefix(line, "data: "); ok {
				events <- ev + " " + d
			}
		}
		close(events)
	}()
	next := func(prefix string) string {
		t.Helper()
		timeout := time.After(10 * time.Second)
		for {
			select {
			case e, ok := <-events:
				if !ok {
					t.Fatalf("stream ended before %q", prefix)
				}
				if strings.HasPrefix(e, prefix) {
					return e
				}
			case <-timeout:
				t.Fatalf("no %q event", prefix)
			}
		}
	}
	if e := next("snapshot"); !strings.Contains(e, `"status":"running"`) {
		t.Errorf("first snapshot: %s", e)
	}
	if _, err := st.Record(runstore.MetricEvent("loss", 1, 0.5)); err != nil {
		t.Fatal(err)
	}
	if e := next("metrics"); !strings.Contains(e, `"step":"step.a"`) || !strings.Contains(e, `"names":["loss"]`) {
		t.Errorf("metrics event: %s", e)
	}
	if _, err := st.Finish(runstore.StepResult{Status: runstore.StatusSucceeded}); err != nil {
		t.Fatal(err)
	}
	if err := r.Finish("", ""); err != nil {
		t.Fatal(err)
	}
	if e := next("snapshot"); !strings.Contains(e, `"status":"succeeded"`) {
		t.Errorf("last snapshot: %s", e)
	}
	next("end")
	if _, ok := <-events; ok {
		io.Copy(io.Discard, resp.Body)
	}
}

// TestLiveClose: Close ends a live stream of a run still going, so that a
// server shutting down does not wait for open pages.
func TestLiveClose(t *testing.T) {
	f := newFixture(t)
	r, err := f.store.CreateRun(runstore.RunMeta{})
	if err != nil {
		t.Fatal(err)
	}
	srv := New(f.store, Options{Addr: testAddr, Poll: 10 * time.Millisecond})
	req := httptest.NewRequest("GET", "/api/runs/"+r.ID()+"/live", nil)
	req.Host = testAddr
	done := make(chan struct{})
	go func() {
		srv.ServeHTTP(httptest.NewRecorder(), req)
		close(done)
	}()
	time.Sleep(50 * time.Millisecond)
	srv.Close()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		t.Fatal("the live stream did not end on Close")
	}
}

func TestLTTB(t *testing.T) {
	n := 10000
	x, y := make([]float64, n), make([]float64, n)
	for i := range x {
		x[i] = float64(i)
	}
	y[5000] = 100 // one spike: LTTB must keep it
	ox, oy := LTTB(x, y, 200)
	if len(ox) != 200 || ox[0] != 0 || ox[199] != float64(n-1) {
		t.Fatalf("got %d points, first %v last %v", len(ox), ox[0], ox[len(ox)-1])
	}
	spike := false
	for i := range ox {
		if i > 0 && ox[i] <= ox[i-1] {
			t.Fatalf("x not increasing at %d", i)
		}
		spike = spike || oy[i] == 100
	}
	if !spike {
		t.Error("the spike was lost")
	}
	if ox, _ := LTTB(x[:10], y[:10], 200); len(ox) != 10 {
		t.Errorf("short series changed: %d", len(ox))
	}
}

func TestValidRelPath(t *testing.T) {
	for p, want := range map[string]bool{
		"a.txt": true, "sub/b.png": true, "": false, "/etc/passwd": false, "../x": false, "a/../../x": false,
		"a/./b": false, "a//b": false, `a\..\b`: false, "a\x00b": false, "..": false,
	} {
		if got := validRelPath(p); got != want {
			t.Errorf("validRelPath(%q) = %v", p, got)
		}
	}
}
