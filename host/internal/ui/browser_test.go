package ui

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/shammie-ml/shammie/host/internal/runstore"
	"github.com/shammie-ml/shammie/sdk/plugintest"
)

// The browser tests drive Debian's chromium, headless, through chromedp.
// They skip, saying why, when no chromium is found: `make test` installs it
// (apt-get, as root) before running them. $SHAMMIE_CHROMIUM names another
// binary; $SHAMMIE_TEST_ARTIFACTS is where screenshots go (default: the
// test's temp dir, printed with -v).

func chromiumPath() string {
	if p := os.Getenv("SHAMMIE_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// browser is one headless chromium with one tab.
type browser struct {
	t         testing.TB
	ctx       context.Context
	artifacts string
	mu        sync.Mutex
	errors    []string
}

func newBrowser(t testing.TB) *browser {
	t.Helper()
	path := chromiumPath()
	if path == "" {
		t.Skip("chromium not found: install Debian's chromium (`make test` does, as root) or set SHAMMIE_CHROMIUM")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 1000),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	b := &browser{t: t, artifacts: os.Getenv("SHAMMIE_TEST_ARTIFACTS")}
	if b.artifacts == "" {
		b.artifacts = t.TempDir()
	}
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithListener(b.listen))
	b.ctx = ctx
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting %s: %v", path, err)
	}
	return b
}

// listen keeps what the page reports as an error: uncaught exceptions,
// console.error calls and failed loads.
func (b *browser) listen(ev any) {
	var msg string
	switch e := ev.(type) {
	case *runtime.EventExceptionThrown:
		msg = "exception: " + e.ExceptionDetails.Text
		if e.ExceptionDetails.Exception != nil {
			msg += " " + e.ExceptionDetails.Exception.Description
		}
	case *runtime.EventConsoleAPICalled:
		if e.Type == "error" {
			var parts []string
			for _, a := range e.Args {
				parts = append(parts, string(a.Value)+a.Description)
			}
			msg = "console.error: " + strings.Join(parts, " ")
		}
	case *log.EventEntryAdded:
		if e.Entry.Level == log.EntryLevelError {
			msg = "log: " + e.Entry.Text + " " + e.Entry.URL
		}
	}
	if msg != "" {
		b.mu.Lock()
		b.errors = append(b.errors, msg)
		b.mu.Unlock()
	}
}

// noErrors fails the test if the page reported an error.
func (b *browser) noErrors() {
	b.t.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, e := range b.errors {
		b.t.Errorf("page error: %s", e)
	}
	b.errors = nil
}

func (b *browser) do(actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, actions...); err != nil {
		b.noErrors()
		b.shot("failure")
		b.t.Fatal(err)
	}
}

// visit opens url and waits until the view marks itself ready; it returns
// the milliseconds from the navigation's start to that render.
func (b *browser) visit(url, view string) float64 {
	b.t.Helper()
	// A navigation that only changes the hash keeps the document: forget
	// the previous view's mark first.
	b.do(chromedp.Evaluate[chromedp.Void](`(() => { const m = document.querySelector('#main'); if (m) delete m.dataset.ready; })()`),
		chromedp.Navigate(url))
	return b.waitReady(view)
}

func (b *browser) waitReady(view string) float64 {
	b.t.Helper()
	ms, err := chromedp.Run(b.ctx, chromedp.Poll[float64](
		fmt.Sprintf(`document.querySelector('#main').dataset.ready === %q && Number(document.querySelector('#main').dataset.readyMs)`, view),
		chromedp.WithPollingTimeout(20*time.Second)))
	if err != nil {
		msg, _ := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.querySelector('#main').innerText.slice(0, 300)`))
		b.noErrors()
		b.shot("failure")
		b.t.Fatalf("view %q never rendered: %v; page says: %s", view, err, msg)
	}
	return ms
}

// wait polls a JavaScript predicate until it is truthy (within 20 s).
func (b *browser) wait(what, predicate string) {
	b.t.Helper()
	if _, err := chromedp.Run(b.ctx, chromedp.Poll[any](predicate, chromedp.WithPollingTimeout(20*time.Second))); err != nil {
		b.noErrors()
		b.shot("failure")
		b.t.Fatalf("waiting for %s: %v", what, err)
	}
}

func evalJS[T any](b *browser, expr string) T {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		b.t.Fatalf("evaluating %s: %v", expr, err)
	}
	return v
}

// shot saves a screenshot of the viewport as NAME.png in the artifacts dir.
func (b *browser) shot(name string) string {
	return b.save(name, chromedp.CaptureScreenshot())
}

// shotPage saves a screenshot of the whole page.
func (b *browser) shotPage(name string) string {
	return b.save(name, chromedp.FullScreenshot(100))
}

func (b *browser) save(name string, capture chromedp.Action[[]byte]) string {
	png, err := chromedp.Run(b.ctx, capture)
	if err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
		return ""
	}
	path := filepath.Join(b.artifacts, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
	}
	b.t.Logf("screenshot: %s", path)
	return path
}

// serve starts the dashboard over store on a free loopback port.
func serve(t testing.TB, store *runstore.Store) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: New(store, Options{Addr: ln.Addr().String(), Poll: 100 * time.Millisecond})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String() + "/"
}

// e2eBinaries builds shammie, the linreg example plugin and the host's test
// plugin once for all browser tests.
var e2eBinaries = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "shammie-ui-e2e-")
	if err != nil {
		return "", err
	}
	e2eDir = dir
	for out, pkg := range map[string]string{
		"shammie":               "../../cmd/shammie",
		"shammie-plugin-linreg": "../../../examples/linreg",
		"shammie-plugin-test":   "../testplugin",
	} {
		// plugintest.Build stamps the VERSION file as `make build` does.
		out, err := filepath.Abs(filepath.Join(dir, out))
		if err != nil {
			return "", err
		}
		if err := plugintest.Build(pkg, out); err != nil {
			return "", err
		}
	}
	return dir, nil
})

// e2eDir is the directory e2eBinaries made, if a test asked for them.
var e2eDir string

func TestMain(m *testing.M) {
	code := m.Run()
	if e2eDir != "" {
		os.RemoveAll(e2eDir)
	}
	os.Exit(code)
}

// shammieCmd runs the built shammie in dir with the store and plugins of
// the test.
func shammieCmd(t testing.TB, bin, dir, store string, args ...string) *exec.Cmd {
	cmd := exec.Command(filepath.Join(bin, "shammie"), args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "SHAMMIE_PLUGIN_PATH="+bin, "HOME="+dir)
	return cmd
}

func runShammie(t testing.TB, bin, dir, store string, args ...string) string {
	t.Helper()
	out, err := shammieCmd(t, bin, dir, store, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("shammie %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

var runIDRe = regexp.MustCompile(`Run (\d{8}T\d{6}-[0-9a-f]{4}) `)

// TestBrowser runs the linreg example spec twice into a temp store (the
// runs differ in one variable), starts `shammie ui` on it and checks, in
// chromium, every view: runs list, run page with its plot artifact and
// metric chart, sweep, diff, and a live run turning from running to
// succeeded without a reload.
func TestBrowser(t *testing.T) {
	b := newBrowser(t)
	bin, err := e2eBinaries()
	if err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	store := filepath.Join(work, "store")
	linDir, liveDir := filepath.Join(work, "linreg"), filepath.Join(work, "live")
	spec, err := os.ReadFile("../../../examples/linreg/linreg.hcl")
	if err != nil {
		t.Fatal(err)
	}
	for dir, text := range map[string]string{linDir: string(spec), liveDir: liveSpec} {
		os.MkdirAll(dir, 0o755)
		if err := os.WriteFile(filepath.Join(dir, "spec.hcl"), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		runShammie(t, bin, dir, store, "init", "spec.hcl")
	}
	var ids []string
	for _, samples := range []string{"300", "400"} {
		out := runShammie(t, bin, linDir, store, "run", "--store", store, "-var", "samples="+samples, "spec.hcl")
		m := runIDRe.FindStringSubmatch(out)
		if m == nil {
			t.Fatalf("no run id in:\n%s", out)
		}
		ids = append(ids, m[1])
	}
	runA, runB := ids[0], ids[1]

	// shammie ui itself, on a free port.
	ui := shammieCmd(t, bin, work, store, "ui", "--store", store, "--addr", "127.0.0.1:0")
	stdout, err := ui.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	ui.Stderr = os.Stderr
	if err := ui.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ui.Process.Kill(); ui.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	base := regexp.MustCompile(`http://\S+/`).FindString(line)
	if base == "" {
		t.Fatalf("shammie ui printed %q", line)
	}

	// Runs list.
	b.visit(base, "runs")
	if n := evalJS[int](b, `document.querySelectorAll('#runs-table tr.run-row').length`); n != 2 {
		t.Errorf("runs list shows %d runs, want 2", n)
	}
	if got := evalJS[string](b, fmt.Sprintf(`document.querySelector('tr.run-row[data-run=%q] .status').textContent`, runA)); got != "succeeded" {
		t.Errorf("run A status %q", got)
	}
	b.shot("runs")
	// Offline: everything the page loaded came from the dashboard itself.
	if foreign := evalJS[[]string](b, `performance.getEntriesByType('resource').map((e) => e.name).filter((n) => !n.startsWith(location.origin))`); len(foreign) > 0 {
		t.Errorf("the page loaded from elsewhere: %v", foreign)
	}
	if n := evalJS[int](b, `performance.getEntriesByType('resource').filter((e) => e.name.includes('/assets/vendor/uplot/')).length`); n != 2 {
		t.Errorf("the vendored uPlot (script and CSS) loaded %d times, want 2", n)
	}

	// One run: DAG, the plot artifact of a step, the loss chart.
	b.visit(base+"#/run/"+runA, "run")
	if n := evalJS[int](b, `document.querySelectorAll('#dag .node').length`); n != 2 {
		t.Errorf("DAG has %d nodes, want 2 (sweep, hard)", n)
	}
	b.wait("the loss chart", `document.querySelector('#metric-chart canvas') !== null`)
	b.shotPage("dashboard") // docs/ui.png (make ui-screenshot)
	b.do(chromedp.Click(`#dag .node[data-step="hard"]`))
	b.wait("the loss plot to load", `(() => { const i = document.querySelector('.artifact[data-artifact="loss_curve_png"] img');
		return i && i.complete && i.naturalWidth > 0; })()`)
	b.wait("the SVG plot to load", `(() => { const i = document.querySelector('.artifact[data-artifact="loss_curve_svg"] img');
		return i && i.complete && i.naturalWidth > 0; })()`)
	b.wait("the weights table", `document.querySelectorAll('.artifact[data-artifact="weights"] table tr').length > 1`)
	// The chart overlays "loss" of every step that has it: as many points
	// as the store holds (each under the downsampling threshold).
	loaded, err := runstore.Open(store)
	if err != nil {
		t.Fatal(err)
	}
	run, err := loaded.Load(runA)
	if err != nil {
		t.Fatal(err)
	}
	want := 0
	for _, st := range run.Steps {
		pts, _ := run.Metrics(st.Address)
		for _, p := range pts {
			if p.Name == "loss" {
				want++
			}
		}
	}
	b.wait("the loss chart", `document.querySelector('#metric-chart canvas') !== null`)
	if got := evalJS[string](b, `document.querySelector('#metric-chart').dataset.points`); got != fmt.Sprint(want) || want == 0 {
		t.Errorf("chart draws %s points, the store holds %d", got, want)
	}
	if got := evalJS[int](b, `document.querySelector('#metric-chart canvas').width`); got < 300 {
		t.Errorf("chart canvas width %d", got)
	}
	b.do(chromedp.Click(`#metric-chart .log-scale`))
	b.wait("the log-scale chart", `document.querySelector('#metric-chart canvas') !== null`)
	b.do(chromedp.ScrollIntoView(`.artifact[data-artifact="loss_curve_png"]`))
	b.shot("run")

	// Sweep: one point per instance.
	b.visit(base+"#/run/"+runA+"/sweep/sweep", "sweep")
	if got := evalJS[string](b, `document.querySelector('#sweep-chart').dataset.points`); got != "3" {
		t.Errorf("sweep plot has %s points, want 3", got)
	}
	if n := evalJS[int](b, `document.querySelectorAll('#sweep-table tr.sweep-row').length`); n != 3 {
		t.Errorf("sweep table has %d rows", n)
	}
	b.do(chromedp.Click(`#sweep-logx`))
	b.wait("the log-x sweep plot", `document.querySelector('#sweep-chart').dataset.points === '3' && document.querySelector('#sweep-chart canvas') !== null`)
	b.shot("sweep")

	// Diff: pick the two runs in the list; the changed variable shows side by side.
	b.visit(base, "runs")
	b.do(chromedp.Click(fmt.Sprintf(`input.pick[value=%q]`, runA)), chromedp.Click(fmt.Sprintf(`input.pick[value=%q]`, runB)),
		chromedp.Click(`#diff-selected`))
	b.waitReady("diff")
	if got := evalJS[string](b, `(document.querySelector('#diff-vars tr.changed[data-key="samples"]') || {}).innerText || ''`); !strings.Contains(got, "300") || !strings.Contains(got, "400") {
		t.Errorf("diff view: changed variable row %q, want samples 300 → 400", got)
	}
	b.shot("diff")

	// Metrics of two runs overlaid.
	b.visit(base+"#/compare/"+runA+","+runB, "compare")
	if got := evalJS[string](b, `document.querySelector('#compare-chart').dataset.series`); got != "2" {
		t.Errorf("compare chart has %s series, want 2", got)
	}

	// A live run: running, then succeeded, without a reload.
	live := shammieCmd(t, bin, liveDir, store, "run", "--store", store, "spec.hcl")
	live.Env = append(live.Env, "TESTPLUGIN_DELAY=3s")
	if err := live.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { live.Process.Kill(); live.Wait() })
	var liveID string
	for deadline := time.Now().Add(15 * time.Second); liveID == "" && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		runs, _ := loaded.List()
		for _, r := range runs {
			if r.Status == runstore.StatusRunning && r.Steps > 0 {
				liveID = r.ID
			}
		}
	}
	if liveID == "" {
		t.Fatal("the live run never showed up as running")
	}
	b.visit(base+"#/run/"+liveID, "run")
	if got := evalJS[string](b, `document.querySelector('#run-status').dataset.status`); got != "running" {
		t.Fatalf("live run shows %q, want running", got)
	}
	b.do(chromedp.Evaluate[chromedp.Void](`window.__noReload = true`))
	b.shot("live-running")
	b.wait("the live run to succeed", `document.querySelector('#run-status').dataset.status === 'succeeded'`)
	if !evalJS[bool](b, `window.__noReload === true`) {
		t.Error("the page reloaded")
	}
	if got := evalJS[string](b, `document.querySelector('#dag .node[data-step="slow"]').dataset.status`); got != "succeeded" {
		t.Errorf("live DAG node status %q", got)
	}
	if err := live.Wait(); err != nil {
		t.Errorf("live run: %v", err)
	}
	b.noErrors()
}

const liveSpec = `plugin "test" {
  version = ">= 0.1.0"
}

step "slow" {
  plugin = plugin.test
  config {
    mode  = "ok"
    steps = 5
  }
}
`
