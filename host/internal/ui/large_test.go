package ui

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// largeStoreTimes opens the runs list of a store with runs runs and the
// chart of a metric with points points, and returns the milliseconds from
// navigation start to each first render. It checks that the list shows
// every run, that the chart was downsampled on the server, and that a drag
// zooms it.
func largeStoreTimes(t *testing.T, runs, points int) (listMS, chartMS float64) {
	b := newBrowser(t)
	f, big := largeStore(t, runs, points)
	base := serve(t, f.store)

	listMS = b.visit(base, "runs")
	if n := evalJS[int](b, `document.querySelectorAll('#runs-table tr.run-row').length`); n != runs {
		t.Errorf("runs list shows %d runs, want %d", n, runs)
	}
	// Filters: by status, then by spec as well.
	all, err := f.store.List()
	if err != nil {
		t.Fatal(err)
	}
	failed, failedS1 := 0, 0
	for _, r := range all {
		if r.Status == "failed" {
			failed++
			if r.Spec[0] == "specs/s1.hcl" {
				failedS1++
			}
		}
	}
	b.visit(base+"#/?status=failed", "runs")
	if n := evalJS[int](b, `document.querySelectorAll('#runs-table tr.run-row[data-status="failed"]').length`); n != failed || n == 0 {
		t.Errorf("status filter shows %d failed runs, want %d", n, failed)
	}
	b.do(chromedp.Evaluate[chromedp.Void](`(() => { const s = document.querySelector("#filter-spec"); s.value = "specs/s1.hcl"; s.dispatchEvent(new Event("change")); })()`))
	b.wait("the spec filter", fmt.Sprintf(`location.hash.includes('s1.hcl') && document.querySelector('#main').dataset.ready === 'runs' && document.querySelectorAll('#runs-table tr.run-row').length === %d`, failedS1))
	// A failed run opens on its failed step: message and stderr tail.
	var failedID string
	for _, r := range all {
		if r.Status == "failed" {
			failedID = r.ID
		}
	}
	b.visit(base+"#/run/"+failedID, "run")
	if got := evalJS[string](b, `(document.querySelector('#step-detail pre.stderr') || {}).textContent || ''`); !strings.Contains(got, "panic: boom") {
		t.Errorf("failed run: stderr tail %q, want the plugin's panic", got)
	}
	b.do(chromedp.Navigate("about:blank"))
	chartMS = b.visit(base+"#/run/"+big, "run")
	total := evalJS[string](b, `document.querySelector('#metric-chart').dataset.total`)
	drawn, _ := strconv.Atoi(evalJS[string](b, `document.querySelector('#metric-chart').dataset.points`))
	if total != strconv.Itoa(points) || drawn > defaultMaxPoints || (points > defaultMaxPoints && drawn != defaultMaxPoints) {
		t.Errorf("chart: %d points drawn of %s, want %d of %d", drawn, total, min(points, defaultMaxPoints), points)
	}
	// Interactive: a drag over the plot zooms into the middle of the series.
	rect := evalJS[[]float64](b, `(() => { const r = document.querySelector('#metric-chart .u-over').getBoundingClientRect(); return [r.left, r.top, r.width, r.height]; })()`)
	x0, x1, y := rect[0]+rect[2]*0.4, rect[0]+rect[2]*0.6, rect[1]+rect[3]/2
	t0 := time.Now()
	b.do(chromedp.DragAndDropXY(x0, y, x1, y, 5))
	b.wait("the zoom", fmt.Sprintf(`(() => { const s = document.querySelector('#metric-chart').uplot.scales.x; return s.max - s.min < %d; })()`, points/2))
	t.Logf("drag-zoom over %d points: %v", drawn, time.Since(t0))
	// The zoomed window is fetched again at full resolution.
	if points > defaultMaxPoints {
		b.wait("the zoomed window at full resolution", `(() => { const c = document.querySelector('#metric-chart'), u = c.uplot, s = u.scales.x;
			return c.dataset.zoomed === '1' && u.data[0].filter((x) => x >= s.min && x <= s.max).length > 0.9 * Math.min(s.max - s.min, 4000); })()`)
	}
	b.shot("large-chart")
	b.noErrors()
	return listMS, chartMS
}

// TestBrowserLargeStore: 500 runs list in under a second, and a 100K-point
// metric is downsampled on the server and stays interactive.
func TestBrowserLargeStore(t *testing.T) {
	listMS, chartMS := largeStoreTimes(t, 500, 100_000)
	t.Logf("list_ms=%.0f chart_ms=%.0f", listMS, chartMS)
	if listMS >= 1000 {
		t.Errorf("the list of 500 runs took %.0f ms to render, want < 1000", listMS)
	}
}

// TestBenchUI is `make bench-ui` (SHAMMIE_BENCH_UI=1; BENCH_UI_RUNS and
// BENCH_UI_POINTS change the sizes).
func TestBenchUI(t *testing.T) {
	if os.Getenv("SHAMMIE_BENCH_UI") == "" {
		t.Skip("benchmark: run with SHAMMIE_BENCH_UI=1 (make bench-ui)")
	}
	runs, points := envInt("BENCH_UI_RUNS", 500), envInt("BENCH_UI_POINTS", 100_000)
	listMS, chartMS := largeStoreTimes(t, runs, points)
	fmt.Printf("bench-ui: list_ms=%.0f chart_ms=%.0f runs=%d points=%d\n", listMS, chartMS, runs, points)
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}
