package pipeline

import (
	"fmt"
	"image/color"
	"sort"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/shammie-ml/shammie/sdk/chart"
)

// PlotAccuracy draws, per community, the held-out accuracy with the true,
// no and a random community (and the planted oracle when known) as grouped
// bars.
func PlotAccuracy(base string, r Report) (string, string, error) {
	cs := append([]string(nil), r.Communities...)
	sort.Strings(cs)
	p := plot.New()
	p.Title.Text = fmt.Sprintf("ComPO held-out accuracy (%d pairs, %s conditioning)", r.Pairs, r.Conditioning)
	p.Y.Label.Text = "accuracy"
	p.Y.Min, p.Y.Max = 0, 1.05
	series := []struct {
		name string
		get  func(c string) (float64, bool)
		col  color.RGBA
	}{
		{"contextual", func(c string) (float64, bool) { v, ok := r.CommunityAccuracy[c]["contextual"]; return v, ok }, color.RGBA{31, 119, 180, 255}},
		{"no context", func(c string) (float64, bool) { v, ok := r.CommunityAccuracy[c]["no_context"]; return v, ok }, color.RGBA{255, 127, 14, 255}},
		{"random context", func(c string) (float64, bool) { v, ok := r.CommunityAccuracy[c]["random_context"]; return v, ok }, color.RGBA{44, 160, 44, 255}},
		{"oracle", func(c string) (float64, bool) { v, ok := r.CommunityOracle[c]; return v, ok }, color.RGBA{127, 127, 127, 255}},
	}
	w := vg.Points(10)
	var shown int
	for _, s := range series {
		vals := make(plotter.Values, len(cs))
		any := false
		for i, c := range cs {
			v, ok := s.get(c)
			vals[i] = v
			any = any || ok
		}
		if !any {
			continue
		}
		bars, err := plotter.NewBarChart(vals, w)
		if err != nil {
			return "", "", err
		}
		bars.Color = s.col
		bars.LineStyle.Width = 0
		bars.Offset = w * vg.Length(shown-1)
		shown++
		p.Add(bars)
		p.Legend.Add(s.name, bars)
	}
	line, err := plotter.NewLine(plotter.XYs{{X: -0.5, Y: 0.5}, {X: float64(len(cs)) - 0.5, Y: 0.5}})
	if err == nil {
		line.Dashes = []vg.Length{vg.Points(3), vg.Points(3)}
		p.Add(line)
	}
	p.Legend.Top = true
	p.NominalX(cs...)
	return chart.Save(p, base, 0, 0)
}
