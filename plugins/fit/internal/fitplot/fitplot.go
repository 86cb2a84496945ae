// Package fitplot draws the fit result: imitation score against image
// count on a log axis, the PELT segments as horizontal lines at their
// means, the threshold as a vertical line and its bootstrap interval as a
// shaded band. It saves PNG and SVG through sdk/chart.
package fitplot

import (
	"fmt"
	"image/color"
	"math"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/shammie-ml/shammie/plugins/fit/internal/threshold"
	"github.com/shammie-ml/shammie/sdk/chart"
)

// zeroAt is where a count of 0 is drawn: a log axis has no 0.
const zeroAt = 0.5

// The x axis is drawn as log10(count) on a linear axis with decade ticks,
// not with plot.LogScale: gonum/plot v0.17 centres the axis label at the
// arithmetic middle of the data range, which on a log scale pads the plot
// area far to the left.
func xOf(c int64) float64 {
	if c <= 0 {
		return math.Log10(zeroAt)
	}
	return math.Log10(float64(c))
}

// decadeTicks labels 10^k at integer positions, with minor ticks at 2..9.
type decadeTicks struct{}

func (decadeTicks) Ticks(lo, hi float64) []plot.Tick {
	var ts []plot.Tick
	for k := math.Floor(lo); k <= math.Ceil(hi); k++ {
		if k >= lo && k <= hi {
			ts = append(ts, plot.Tick{Value: k, Label: strconv.FormatFloat(math.Pow(10, k), 'f', -1, 64)})
		}
		for m := 2.0; m < 10; m++ {
			if v := k + math.Log10(m); v >= lo && v <= hi {
				ts = append(ts, plot.Tick{Value: v})
			}
		}
	}
	return ts
}

// Input is what the plot shows.
type Input struct {
	Title    string
	Estimate threshold.Estimate
	// Spread[i] is the per-prompt spread of Estimate.Sorted[i] (nil: none).
	Spread   []float64
	Interval *threshold.Interval // nil: no band
}

var (
	pointColor  = color.NRGBA{R: 70, G: 110, B: 170, A: 255}
	segColor    = color.NRGBA{R: 200, G: 90, B: 30, A: 255}
	thrColor    = color.NRGBA{R: 190, G: 30, B: 45, A: 255}
	bandColor   = color.NRGBA{R: 190, G: 30, B: 45, A: 40}
	spreadColor = color.NRGBA{R: 70, G: 110, B: 170, A: 110}
)

// Save draws the figure and writes base+".png" and base+".svg".
func Save(in Input, base string) (pngPath, svgPath string, err error) {
	e := in.Estimate
	if len(e.Sorted) == 0 {
		return "", "", fmt.Errorf("nothing to plot")
	}
	p := plot.New()
	p.Title.Text = in.Title
	p.X.Label.Text = "training images of the concept (log scale; 0 drawn at 0.5)"
	p.Y.Label.Text = "imitation score"
	p.X.Tick.Marker = decadeTicks{}
	// Scores rise with the count, so the lower right is usually empty.
	p.Legend.Top = false
	p.Legend.Left = false

	ymin, ymax := math.Inf(1), math.Inf(-1)
	pts := make(plotter.XYs, len(e.Sorted))
	for i, pt := range e.Sorted {
		pts[i] = plotter.XY{X: xOf(pt.Count), Y: pt.Score}
		lo, hi := pt.Score, pt.Score
		if in.Spread != nil {
			lo, hi = lo-in.Spread[i], hi+in.Spread[i]
		}
		ymin, ymax = math.Min(ymin, lo), math.Max(ymax, hi)
	}
	xmin, xmax := pts[0].X, pts[len(pts)-1].X
	if xmax <= xmin {
		xmin, xmax = xmin-0.3, xmax+0.3
	}
	pad := 0.05 * math.Max(ymax-ymin, 1e-3)
	ymin, ymax = ymin-pad, ymax+pad
	p.Y.Min, p.Y.Max = ymin, ymax

	if in.Interval != nil && e.Found {
		lo, hi := xOf(in.Interval.Lo), xOf(in.Interval.Hi)
		if hi <= lo {
			// A degenerate interval is still drawn as a thin band.
			lo, hi = lo-0.01, hi+0.01
		}
		band, err := plotter.NewPolygon(plotter.XYs{{X: lo, Y: ymin}, {X: hi, Y: ymin}, {X: hi, Y: ymax}, {X: lo, Y: ymax}})
		if err != nil {
			return "", "", err
		}
		band.Color = bandColor
		band.LineStyle.Width = 0
		p.Add(band)
		p.Legend.Add(fmt.Sprintf("%.0f%% bootstrap interval [%d, %d]", 100*in.Interval.Level, in.Interval.Lo, in.Interval.Hi), band)
	}

	if in.Spread != nil {
		errs := make(plotter.YErrors, len(in.Spread))
		for i, s := range in.Spread {
			errs[i] = struct{ Low, High float64 }{s, s}
		}
		bars, err := plotter.NewYErrorBars(struct {
			plotter.XYs
			plotter.YErrors
		}{pts, errs})
		if err != nil {
			return "", "", err
		}
		bars.LineStyle.Color = spreadColor
		bars.CapWidth = 0
		p.Add(bars)
	}

	sc, err := plotter.NewScatter(pts)
	if err != nil {
		return "", "", err
	}
	sc.GlyphStyle.Color = pointColor
	sc.GlyphStyle.Radius = vg.Points(1.8)
	sc.GlyphStyle.Shape = draw.CircleGlyph{}
	p.Add(sc)
	p.Legend.Add(fmt.Sprintf("concepts (%d)", len(pts)), sc)

	for i, s := range e.Segments {
		// A segment spans from its first concept to the next segment's
		// first concept, so the steps meet on the log axis.
		x0 := xOf(s.FirstCount)
		x1 := xOf(s.LastCount)
		if i+1 < len(e.Segments) {
			x1 = xOf(e.Segments[i+1].FirstCount)
		}
		if x1 <= x0 {
			x1 = x0 + 0.02
		}
		l, err := plotter.NewLine(plotter.XYs{{X: x0, Y: s.Mean}, {X: x1, Y: s.Mean}})
		if err != nil {
			return "", "", err
		}
		l.Color = segColor
		l.Width = vg.Points(2)
		p.Add(l)
		if i == 0 {
			p.Legend.Add(fmt.Sprintf("PELT segment means (%d segments)", len(e.Segments)), l)
		}
	}

	if e.Found {
		x := xOf(e.Threshold)
		l, err := plotter.NewLine(plotter.XYs{{X: x, Y: ymin}, {X: x, Y: ymax}})
		if err != nil {
			return "", "", err
		}
		l.Color = thrColor
		l.Width = vg.Points(1.5)
		l.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
		p.Add(l)
		p.Legend.Add(fmt.Sprintf("threshold: %d images", e.Threshold), l)
	}
	// Plotters widen the axes to their data; pin them to the points last.
	p.X.Min, p.X.Max = xmin-0.1, xmax+0.1
	p.Y.Min, p.Y.Max = ymin, ymax
	return chart.Save(p, base, 0, 0)
}
