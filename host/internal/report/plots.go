// Package report turns a recorded run into things people read: metric line
// plots (PNG and SVG), a Markdown summary, and the text and JSON renderings
// of `shammie runs list|show|diff`.
package report

import (
	"fmt"
	"math"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/shammie-ml/shammie/host/internal/runstore"
	"github.com/shammie-ml/shammie/sdk/chart"
)

// Plot is one figure: a metric of a step, one series per instance of the
// step (for_each / count sweeps share a figure, told apart by the legend).
type Plot struct {
	Step   string   `json:"step"`   // step address without the instance key, e.g. step.estimate
	Metric string   `json:"metric"` // metric name
	Series []string `json:"series"` // instance keys ("" for a single instance)
	PNG    string   `json:"png"`    // path relative to the report directory
	SVG    string   `json:"svg"`
	// Skipped counts NaN and infinite points left out of the figure.
	Skipped int `json:"skipped,omitempty"`
}

// SplitAddress splits `step.sweep["a"]` into `step.sweep` and `a`, and
// `step.rep[2]` into `step.rep` and `2`; an address without an instance key
// is returned whole with key "".
func SplitAddress(addr string) (base, key string) {
	// Step names cannot contain '[', so the first one opens the key.
	i := strings.IndexByte(addr, '[')
	if i < 0 || !strings.HasSuffix(addr, "]") {
		return addr, ""
	}
	key = addr[i+1 : len(addr)-1]
	if uq, err := strconv.Unquote(key); err == nil {
		key = uq
	}
	return addr[:i], key
}

// maxLegend is the most series a figure labels in a legend.
const maxLegend = 12

type seriesData struct {
	key    string
	points plotter.XYs
}

type figure struct {
	step, metric string
	series       []seriesData
	skipped      int
}

// collectFigures groups every metric of every step by (step base, metric).
func collectFigures(run *runstore.LoadedRun) ([]*figure, error) {
	figs := map[[2]string]*figure{}
	for _, st := range run.Steps {
		pts, err := run.Metrics(st.Address)
		if err != nil {
			return nil, err
		}
		if len(pts) == 0 {
			continue
		}
		base, key := SplitAddress(st.Address)
		byName := map[string]*seriesData{}
		var names []string
		skipped := map[string]int{}
		for _, p := range pts {
			s, ok := byName[p.Name]
			if !ok {
				s = &seriesData{key: key}
				byName[p.Name] = s
				names = append(names, p.Name)
			}
			v := float64(p.Value)
			if math.IsNaN(v) || math.IsInf(v, 0) {
				skipped[p.Name]++
				continue
			}
			s.points = append(s.points, plotter.XY{X: float64(p.Step), Y: v})
		}
		for _, name := range names {
			id := [2]string{base, name}
			f, ok := figs[id]
			if !ok {
				f = &figure{step: base, metric: name}
				figs[id] = f
			}
			s := byName[name]
			// A metric recorded out of step order still draws as a line.
			sort.SliceStable(s.points, func(i, j int) bool { return s.points[i].X < s.points[j].X })
			f.series = append(f.series, *s)
			f.skipped += skipped[name]
		}
	}
	out := make([]*figure, 0, len(figs))
	for _, f := range figs {
		sort.Slice(f.series, func(i, j int) bool { return lessKey(f.series[i].key, f.series[j].key) })
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].step != out[j].step {
			return out[i].step < out[j].step
		}
		return out[i].metric < out[j].metric
	})
	return out, nil
}

// lessKey orders instance keys numerically when both are numbers (count
// sweeps: 2 before 10), lexically otherwise.
func lessKey(a, b string) bool {
	var x, y float64
	_, errA := fmt.Sscanf(a, "%g", &x)
	_, errB := fmt.Sscanf(b, "%g", &y)
	if errA == nil && errB == nil && x != y {
		return x < y
	}
	return a < b
}

// fileStem makes a file name part from a step base and metric name.
func fileStem(step, metric string) string {
	clean := func(s string) string {
		var b strings.Builder
		for _, r := range s {
			if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' {
				b.WriteRune(r)
			} else {
				b.WriteByte('_')
			}
		}
		return strings.Trim(b.String(), "_")
	}
	return clean(strings.TrimPrefix(step, "step.")) + "--" + clean(metric)
}

// drawFigure saves one figure as PNG and SVG under dir/plots.
func drawFigure(f *figure, dir string) (Plot, error) {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("%s: %s", strings.TrimPrefix(f.step, "step."), f.metric)
	// Past a dozen instances a legend hides the plot and its colours
	// repeat: the lines are drawn thinner and counted in the title.
	crowded := len(f.series) > maxLegend
	if crowded {
		p.Title.Text += fmt.Sprintf(" (%d instances)", len(f.series))
	}
	p.X.Label.Text = "step"
	p.Y.Label.Text = f.metric
	p.Add(plotter.NewGrid())
	p.Legend.Top = legendOnTop(f)
	p.Legend.Left = false
	p.Legend.Padding = vg.Points(4)
	var keys []string
	for i, s := range f.series {
		keys = append(keys, s.key)
		if len(s.points) == 0 { // every point was NaN or infinite
			continue
		}
		c := plotutil.Color(i)
		line, err := plotter.NewLine(s.points)
		if err != nil {
			return Plot{}, fmt.Errorf("plot %s %s: %w", f.step, f.metric, err)
		}
		line.Color = c
		line.Dashes = plotutil.Dashes(i / len(plotutil.DefaultColors))
		line.Width = vg.Points(1.5)
		if crowded {
			line.Width = vg.Points(0.75)
			line.Dashes = nil
		}
		p.Add(line)
		var legendThumb plot.Thumbnailer = line
		// A single point draws no line: mark it so it is visible.
		if len(s.points) == 1 {
			sc, err := plotter.NewScatter(s.points)
			if err != nil {
				return Plot{}, err
			}
			sc.Color = c
			sc.Shape = draw.CircleGlyph{}
			p.Add(sc)
			legendThumb = sc
		}
		if !crowded && (len(f.series) > 1 || s.key != "") {
			label := s.key
			if label == "" {
				label = "(single)"
			}
			p.Legend.Add(label, legendThumb)
		}
	}
	stem := fileStem(f.step, f.metric)
	base := filepath.Join(dir, "plots", stem)
	if _, _, err := chart.Save(p, base, 0, 0); err != nil {
		return Plot{}, err
	}
	return Plot{
		Step: f.step, Metric: f.metric, Series: keys,
		PNG: "plots/" + stem + ".png", SVG: "plots/" + stem + ".svg", Skipped: f.skipped,
	}, nil
}

// legendOnTop puts the legend in the top right corner unless the series
// end high there (a rising accuracy curve), where it would hide them.
func legendOnTop(f *figure) bool {
	lo, hi := math.Inf(1), math.Inf(-1)
	var endSum float64
	n := 0
	for _, s := range f.series {
		for _, p := range s.points {
			lo, hi = math.Min(lo, p.Y), math.Max(hi, p.Y)
		}
		if len(s.points) > 0 {
			endSum += s.points[len(s.points)-1].Y
			n++
		}
	}
	if n == 0 || hi <= lo {
		return true
	}
	return (endSum/float64(n)-lo)/(hi-lo) < 0.5
}
