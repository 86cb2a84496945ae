package pipeline

import (
	"fmt"
	"image/color"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/shammie-ml/shammie/sdk/chart"
)

// PlotCurve draws the planted frame-count curve (mean over seeds, the seed
// range as error bars, chance) and, when given, the ActionAtlas
// leaderboard: models with a frame count as labelled points at that count,
// the others (fps sampling, humans, chance) as dashed horizontal lines.
func PlotCurve(base string, c Curve, board []Entry) (string, string, error) {
	p := plot.New()
	p.Title.Text = "Accuracy against frames sampled (5-way)"
	p.X.Label.Text = "frames sampled (log scale)"
	p.Y.Label.Text = "accuracy (%)"
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = plot.ConstantTicks(frameTicks())
	p.X.Min, p.X.Max = 0.8, 250
	p.Y.Min, p.Y.Max = 0, 105
	pts := make(plotter.XYs, len(c.Frames))
	errs := make(plotter.YErrors, len(c.Frames))
	for i, k := range c.Frames {
		pts[i] = plotter.XY{X: float64(k), Y: 100 * c.Mean[i]}
		errs[i] = struct{ Low, High float64 }{100 * (c.Mean[i] - c.Min[i]), 100 * (c.Max[i] - c.Mean[i])}
	}
	line, points, err := plotter.NewLinePoints(pts)
	if err != nil {
		return "", "", err
	}
	blue := color.RGBA{31, 119, 180, 255}
	line.Color, points.Color = blue, blue
	bars, err := plotter.NewYErrorBars(struct {
		plotter.XYer
		plotter.YErrorer
	}{pts, errs})
	if err != nil {
		return "", "", err
	}
	bars.Color = blue
	p.Add(line, points, bars)
	p.Legend.Add(fmt.Sprintf("tiny model, planted clips (mean of %d seeds, range)", c.Seeds), line, points)
	hline(p, 100*c.Chance, color.RGBA{127, 127, 127, 255}, "chance (planted, 1/5)")
	if len(board) > 0 {
		var lbPts plotter.XYs
		var labels []string
		for _, e := range board {
			if n, ok := e.FrameCount(); ok {
				lbPts = append(lbPts, plotter.XY{X: float64(n), Y: e.Accuracy})
				labels = append(labels, e.Model)
				continue
			}
			hline(p, e.Accuracy, typeColour(e.Type), fmt.Sprintf("%s (%s) %.2f %%", e.Model, orDash(e.Frames), e.Accuracy))
		}
		if len(lbPts) > 0 {
			sc, err := plotter.NewScatter(lbPts)
			if err != nil {
				return "", "", err
			}
			sc.Color = color.RGBA{214, 39, 40, 255}
			sc.Shape = draw.TriangleGlyph{}
			p.Add(sc)
			p.Legend.Add("ActionAtlas leaderboard (real videos), by frames", sc)
			lb, err := plotter.NewLabels(plotter.XYLabels{XYs: lbPts, Labels: labels})
			if err != nil {
				return "", "", err
			}
			for i := range lb.TextStyle {
				lb.TextStyle[i].Font.Size = vg.Points(7)
				lb.TextStyle[i].XAlign = draw.XLeft
			}
			lb.Offset = vg.Point{X: vg.Points(4), Y: vg.Points(-2)}
			p.Add(lb)
		}
	}
	p.Legend.Top = true
	p.Legend.Left = true
	p.Legend.TextStyle.Font.Size = vg.Points(7)
	return chart.Save(p, base, 9*vg.Inch, 6*vg.Inch)
}

func frameTicks() []plot.Tick {
	var t []plot.Tick
	for _, k := range []int{1, 2, 4, 8, 16, 32, 64} {
		t = append(t, plot.Tick{Value: float64(k), Label: fmt.Sprint(k)})
	}
	return t
}

func hline(p *plot.Plot, y float64, c color.Color, label string) {
	l, err := plotter.NewLine(plotter.XYs{{X: 0.8, Y: y}, {X: 250, Y: y}})
	if err != nil {
		return
	}
	l.Color = c
	l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
	p.Add(l)
	p.Legend.Add(label, l)
}

func typeColour(t string) color.Color {
	switch t {
	case "human":
		return color.RGBA{44, 160, 44, 255}
	case "baseline":
		return color.RGBA{0, 0, 0, 255}
	case "proprietary":
		return color.RGBA{255, 127, 14, 255}
	}
	return color.RGBA{148, 103, 189, 255}
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}
