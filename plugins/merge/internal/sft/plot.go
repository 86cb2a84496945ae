package sft

import (
	"fmt"
	"image/color"
	"sort"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/shammie-ml/shammie/sdk/chart"
)

// Point is one evaluated model on the trade-off plot.
type Point struct {
	Label          string
	General, Skill float64
	Steps          int
}

// MergeWeight parses a "merge_<ω>" label.
func MergeWeight(label string) (float64, bool) {
	rest, ok := strings.CutPrefix(label, "merge_")
	if !ok {
		return 0, false
	}
	w, err := strconv.ParseFloat(rest, 64)
	return w, err == nil
}

// Plot draws General against the skill score: the merges (labels
// merge_<ω>) as a curve in ω order, every other model as a labelled point
// with its training steps. It writes base.png and base.svg.
func Plot(points []Point, title string, base string) (string, string, error) {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "skill (exact match %, task C)"
	p.Y.Label.Text = "General (exact match %, tasks A, B)"
	// Room on the right (x > 100) for the legend, clear of the points.
	p.X.Min, p.X.Max, p.Y.Min, p.Y.Max = -5, 210, -5, 105
	p.X.Tick.Marker = plot.ConstantTicks([]plot.Tick{{Value: 0, Label: "0"}, {Value: 25, Label: "25"}, {Value: 50, Label: "50"}, {Value: 75, Label: "75"}, {Value: 100, Label: "100"}})
	p.Add(plotter.NewGrid())
	var merges []Point
	var others []Point
	for _, pt := range points {
		if _, ok := MergeWeight(pt.Label); ok {
			merges = append(merges, pt)
		} else {
			others = append(others, pt)
		}
	}
	sort.Slice(merges, func(i, j int) bool {
		a, _ := MergeWeight(merges[i].Label)
		b, _ := MergeWeight(merges[j].Label)
		return a < b
	})
	labelled := func(pts []Point, text func(Point) string) (*plotter.Labels, plotter.XYs, error) {
		xys := make(plotter.XYs, len(pts))
		var ls []string
		for i, pt := range pts {
			xys[i] = plotter.XY{X: pt.Skill, Y: pt.General}
			ls = append(ls, text(pt))
		}
		l, err := plotter.NewLabels(plotter.XYLabels{XYs: xys, Labels: ls})
		return l, xys, err
	}
	if len(merges) > 0 {
		l, xys, err := labelled(merges, func(pt Point) string { w, _ := MergeWeight(pt.Label); return fmt.Sprintf("ω=%g", w) })
		if err != nil {
			return "", "", err
		}
		line, sc, err := plotter.NewLinePoints(xys)
		if err != nil {
			return "", "", err
		}
		line.Color, sc.Color = color.RGBA{31, 119, 180, 255}, color.RGBA{31, 119, 180, 255}
		p.Add(line, sc, l)
		p.Legend.Add(fmt.Sprintf("train-then-merge (%d steps)", merges[0].Steps), line, sc)
	}
	if len(others) > 0 {
		l, xys, err := labelled(others, func(pt Point) string { return fmt.Sprintf("%s (%d)", pt.Label, pt.Steps) })
		if err != nil {
			return "", "", err
		}
		sc, err := plotter.NewScatter(xys)
		if err != nil {
			return "", "", err
		}
		sc.Shape, sc.Radius, sc.Color = draw.SquareGlyph{}, vg.Points(3.5), color.Black
		p.Add(sc, l)
		p.Legend.Add("trained models (steps)", sc)
	}
	p.Legend.Top, p.Legend.Left = true, false
	return chart.Save(p, base, 0, 0)
}
