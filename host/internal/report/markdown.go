package report

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/shammie-ml/shammie/host/internal/runstore"
)

// MetricSummary condenses one metric of one step instance.
type MetricSummary struct {
	Name      string `json:"name"`
	Points    int    `json:"points"`
	FinalStep int64  `json:"final_step"`
	// runstore.Float keeps NaN and ±Inf in JSON.
	Final runstore.Float `json:"final"`
	Min   runstore.Float `json:"min"` // NaN when no value is finite
	Max   runstore.Float `json:"max"`
}

// SummarizeMetrics returns one summary per metric name, sorted by name:
// the value at the highest step (last recorded on ties), and min and max
// over the finite values (NaN when there are none).
func SummarizeMetrics(points []runstore.MetricPoint) []MetricSummary {
	by := map[string]*MetricSummary{}
	for _, p := range points {
		m, ok := by[p.Name]
		if !ok {
			m = &MetricSummary{Name: p.Name, FinalStep: math.MinInt64, Min: runstore.Float(math.NaN()), Max: runstore.Float(math.NaN())}
			by[p.Name] = m
		}
		v := p.Value
		m.Points++
		if p.Step >= m.FinalStep {
			m.FinalStep, m.Final = p.Step, v
		}
		if !math.IsNaN(float64(v)) {
			if math.IsNaN(float64(m.Min)) || v < m.Min {
				m.Min = v
			}
			if math.IsNaN(float64(m.Max)) || v > m.Max {
				m.Max = v
			}
		}
	}
	out := make([]MetricSummary, 0, len(by))
	for _, m := range by {
		out = append(out, *m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Result lists what Write produced.
type Result struct {
	Markdown string `json:"markdown"` // absolute path of report.md
	Plots    []Plot `json:"plots"`
}

// Write writes the report of run into outDir: plots/<step>--<metric>.png
// and .svg for every metric of every step (instances of a for_each/count
// step share a figure, one line each), and report.md with the run header,
// the steps, metric summaries, artifacts, failures and the plots.
func Write(run *runstore.LoadedRun, outDir string) (*Result, error) {
	if err := os.MkdirAll(outDir, 0o755); err != nil {
		return nil, err
	}
	figs, err := collectFigures(run)
	if err != nil {
		return nil, err
	}
	res := &Result{}
	for _, f := range figs {
		p, err := drawFigure(f, outDir)
		if err != nil {
			return nil, err
		}
		res.Plots = append(res.Plots, p)
	}
	res.Markdown, err = filepath.Abs(filepath.Join(outDir, "report.md"))
	if err != nil {
		return nil, err
	}
	f, err := os.Create(res.Markdown)
	if err != nil {
		return nil, err
	}
	w := bufio.NewWriter(f)
	if err := WriteMarkdown(w, run, res.Plots); err != nil {
		f.Close()
		return nil, err
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return nil, err
	}
	return res, f.Close()
}

// WriteMarkdown renders the Markdown summary of run, linking plots (paths
// relative to the Markdown file).
func WriteMarkdown(w io.Writer, run *runstore.LoadedRun, plots []Plot) error {
	rec := &run.Record
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	p("# Run %s\n\n", rec.ID)
	p("| | |\n|---|---|\n")
	p("| Status | %s |\n", cell(statusText(string(rec.Status), rec.Message)))
	var specs []string
	for _, s := range rec.Spec {
		specs = append(specs, "`"+s.Path+"`")
	}
	p("| Spec | %s |\n", cell(strings.Join(specs, ", ")))
	p("| Started | %s |\n", rec.StartedAt.UTC().Format("2006-01-02 15:04:05 MST"))
	if rec.EndedAt != nil {
		p("| Duration | %s |\n", formatDuration(rec.EndedAt.Sub(rec.StartedAt)))
	}
	p("| Host | shammie %s |\n", cell(rec.HostVersion))
	p("| Seed | %d |\n", rec.Seed)
	p("| Backends | %s |\n", cell(strings.Join(rec.Backends, ", ")))
	var plugins []string
	for _, pl := range rec.Plugins {
		plugins = append(plugins, fmt.Sprintf("%s %s (sha256 %s)", pl.Name, pl.Version, shortSHA(pl.SHA256)))
	}
	p("| Plugins | %s |\n", cell(strings.Join(plugins, "; ")))
	if len(rec.Variables) > 0 {
		p("| Variables | %s |\n", cell(strings.Join(variableList(rec.Variables), ", ")))
	}

	p("\n## Steps\n\n")
	if len(run.Steps) == 0 {
		p("No step ran.\n")
	} else {
		p("| Step | Status | Duration | Cache | Outputs |\n|---|---|---|---|---|\n")
		for _, st := range run.Steps {
			p("| `%s` | %s | %s | %s | %s |\n", cell(st.Address), st.Status, formatDuration(st.Duration()),
				cacheText(&st), cell(outputsText(st.Outputs, 80)))
		}
	}

	var metricRows []string
	for _, st := range run.Steps {
		pts, err := run.Metrics(st.Address)
		if err != nil {
			return err
		}
		for _, m := range SummarizeMetrics(pts) {
			metricRows = append(metricRows, fmt.Sprintf("| `%s` | %s | %d | %s (step %d) | %s | %s |\n",
				cell(st.Address), cell(m.Name), m.Points, runstore.FormatFloat(float64(m.Final)), m.FinalStep,
				runstore.FormatFloat(float64(m.Min)), runstore.FormatFloat(float64(m.Max))))
		}
	}
	if len(metricRows) > 0 {
		p("\n## Metrics\n\n| Step | Metric | Points | Final | Min | Max |\n|---|---|---|---|---|---|\n")
		for _, r := range metricRows {
			p("%s", r)
		}
	}

	var artRows []string
	for _, st := range run.Steps {
		for _, name := range sortedKeys(st.Artifacts) {
			a := st.Artifacts[name]
			artRows = append(artRows, fmt.Sprintf("| `%s` | %s | %s | %s | `%s` |\n",
				cell(st.Address), cell(name), FormatSize(a.Size), cell(a.MediaType), shortSHA(a.SHA256)))
		}
	}
	if len(artRows) > 0 {
		p("\n## Artifacts\n\n| Step | Artifact | Size | Media type | sha256 |\n|---|---|---|---|---|\n")
		for _, r := range artRows {
			p("%s", r)
		}
	}

	var failed []runstore.StepRecord
	for _, st := range run.Steps {
		if st.Status == runstore.StatusFailed || st.Status == runstore.StatusCancelled || st.Status == runstore.StatusInterrupted {
			failed = append(failed, st)
		}
	}
	if len(failed) > 0 {
		p("\n## Failures\n")
		for _, st := range failed {
			p("\n### `%s` (%s)\n\n", st.Address, st.Status)
			if st.Message != "" {
				p("%s\n", st.Message)
			}
			for _, d := range st.Diagnostics {
				p("- %s\n", d)
			}
			if st.StderrTail != "" {
				p("\nPlugin stderr (tail):\n\n```\n%s\n```\n", strings.TrimRight(st.StderrTail, "\n"))
			}
		}
	}

	if len(plots) > 0 {
		p("\n## Plots\n")
		for _, pl := range plots {
			title := fmt.Sprintf("%s: %s", strings.TrimPrefix(pl.Step, "step."), pl.Metric)
			p("\n### %s\n\n![%s](%s)\n\n[SVG](%s)", title, title, pl.PNG, pl.SVG)
			if pl.Skipped > 0 {
				p(" · %d NaN/infinite points not drawn", pl.Skipped)
			}
			p("\n")
		}
	}
	return nil
}

func statusText(status, msg string) string {
	if msg == "" {
		return status
	}
	return status + ": " + msg
}

func cacheText(st *runstore.StepRecord) string {
	switch {
	case st.CacheHit:
		return "hit (" + st.CachedFrom + ")"
	case st.CacheKey == "":
		return "-"
	default:
		return "miss"
	}
}

func variableList(vars map[string]runstore.Value) []string {
	var out []string
	for _, name := range sortedKeys(vars) {
		out = append(out, name+" = "+short(vars[name].String(), 60))
	}
	return out
}

func outputsText(outs map[string]runstore.Value, max int) string {
	var parts []string
	for _, name := range sortedKeys(outs) {
		parts = append(parts, name+" = "+short(outs[name].String(), max))
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, ", ")
}

// shortSHA is the first 12 hex digits: enough to tell binaries apart.
func shortSHA(s string) string {
	if len(s) > 12 {
		return s[:12]
	}
	return s
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// short cuts s to n runes, marking the cut with "…".
func short(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// cell makes s safe inside a Markdown table cell.
func cell(s string) string {
	s = strings.ReplaceAll(s, "|", `\|`)
	return strings.ReplaceAll(s, "\n", " ")
}

// FormatSize renders a byte count: 512 B, 1.5 KiB, 3.2 MiB.
func FormatSize(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// formatDuration rounds for people: 850ms, 12.3s, 4m05s, 2h03m.
func formatDuration(d time.Duration) string {
	switch {
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%.1fs", d.Seconds())
	case d < time.Hour:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	default:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
}
