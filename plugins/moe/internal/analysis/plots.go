package analysis

import (
	"fmt"
	"image/color"

	"github.com/shammie-ml/shammie/sdk/chart"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/palette/moreland"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
)

// Each Plot* function saves one figure as base.png and base.svg and returns
// the two paths.

func lineColor(i int) color.Color { return plotutilColor(i) }

func plotutilColor(i int) color.Color {
	// A fixed qualitative palette (Tableau 10), so series keep their colour
	// across figures.
	p := []color.RGBA{
		{31, 119, 180, 255}, {255, 127, 14, 255}, {44, 160, 44, 255}, {214, 39, 40, 255},
		{148, 103, 189, 255}, {140, 86, 75, 255}, {227, 119, 194, 255}, {127, 127, 127, 255},
		{188, 189, 34, 255}, {23, 190, 207, 255},
	}
	return p[i%len(p)]
}

func addLine(p *plot.Plot, name string, i int, xs, ys []float64, points bool) error {
	pts := make(plotter.XYs, len(xs))
	for j := range xs {
		pts[j].X, pts[j].Y = xs[j], ys[j]
	}
	l, err := plotter.NewLine(pts)
	if err != nil {
		return err
	}
	l.Color = lineColor(i)
	l.Width = vg.Points(1.2)
	p.Add(l)
	if points {
		s, err := plotter.NewScatter(pts)
		if err != nil {
			return err
		}
		s.Color = lineColor(i)
		s.Radius = vg.Points(1.8)
		p.Add(s)
	}
	if name != "" {
		p.Legend.Add(name, l)
	}
	return nil
}

func iotaF(n int) []float64 {
	x := make([]float64, n)
	for i := range x {
		x[i] = float64(i)
	}
	return x
}

// PlotDomainSpec draws spec(e, D) over experts, one line per domain, with
// the uniform level.
func PlotDomainSpec(spec [][]float64, domains []string, k, layer int, base string) (string, string, error) {
	p := plot.New()
	E := len(spec[0])
	p.Title.Text = fmt.Sprintf("Domain specialisation, layer %d (k=%d, E=%d)", layer, k, E)
	p.X.Label.Text = "expert"
	p.Y.Label.Text = "spec(e, D) %"
	for d, row := range spec {
		if err := addLine(p, domains[d], d, iotaF(E), row, true); err != nil {
			return "", "", err
		}
	}
	u := Uniform(k, E)
	if err := addLine(p, fmt.Sprintf("uniform %.1f", u), 7, []float64{0, float64(E - 1)}, []float64{u, u}, false); err != nil {
		return "", "", err
	}
	p.Legend.Top = true
	return chart.Save(p, base, 0, 0)
}

// PlotVocabSpec draws the vocabulary specialisation per layer.
func PlotVocabSpec(perLayer []float64, E int, base string) (string, string, error) {
	p := plot.New()
	p.Title.Text = "Vocabulary specialisation (top-1 expert share per token id)"
	p.X.Label.Text = "layer"
	p.Y.Label.Text = "mean share"
	p.Y.Min, p.Y.Max = 0, 1
	if err := addLine(p, "trained", 0, iotaF(len(perLayer)), perLayer, true); err != nil {
		return "", "", err
	}
	// A router that ignores the token id would give about 1/E.
	if err := addLine(p, fmt.Sprintf("1/E = %.3f", 1/float64(E)), 7, []float64{0, float64(max(len(perLayer)-1, 1))}, []float64{1 / float64(E), 1 / float64(E)}, false); err != nil {
		return "", "", err
	}
	return chart.Save(p, base, 0, 0)
}

// PlotSaturation draws router saturation against the final checkpoint over
// training steps, one line per layer (sat[layer][checkpoint]).
func PlotSaturation(steps []int, sat [][]float64, k int, base string) (string, string, error) {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("Router saturation vs final checkpoint (top-%d overlap)", k)
	p.X.Label.Text = "training step"
	p.Y.Label.Text = "saturation"
	p.Y.Min, p.Y.Max = 0, 1.02
	xs := make([]float64, len(steps))
	for i, s := range steps {
		xs[i] = float64(s)
	}
	for l, row := range sat {
		if err := addLine(p, fmt.Sprintf("layer %d", l), l, xs, row, true); err != nil {
			return "", "", err
		}
	}
	p.Legend.Left, p.Legend.Top = false, false
	return chart.Save(p, base, 0, 0)
}

// PlotLoad draws each expert's share of assignments over training for one
// layer (load[checkpoint][expert]).
func PlotLoad(steps []int, load [][]float64, layer int, base string) (string, string, error) {
	p := plot.New()
	E := len(load[0])
	p.Title.Text = fmt.Sprintf("Expert load over training, layer %d (uniform %.3f)", layer, 1/float64(E))
	p.X.Label.Text = "training step"
	p.Y.Label.Text = "share of token-slot assignments"
	xs := make([]float64, len(steps))
	for i, s := range steps {
		xs[i] = float64(s)
	}
	for e := range E {
		ys := make([]float64, len(load))
		for c := range load {
			ys[c] = load[c][e]
		}
		name := ""
		if E <= 10 {
			name = fmt.Sprintf("expert %d", e)
		}
		if err := addLine(p, name, e, xs, ys, false); err != nil {
			return "", "", err
		}
	}
	return chart.Save(p, base, 0, 0)
}

type grid [][]float64

func (g grid) Dims() (c, r int)   { return len(g[0]), len(g) }
func (g grid) Z(c, r int) float64 { return g[r][c] }
func (g grid) X(c int) float64    { return float64(c) }
func (g grid) Y(r int) float64    { return float64(r) }

// PlotCoActivation draws P(b|a) as a heat map (rows a, columns b).
func PlotCoActivation(pm [][]float64, title string, base string) (string, string, error) {
	p := plot.New()
	p.X.Label.Text = "expert b"
	p.Y.Label.Text = "expert a   (cell: P(b | a))"
	pal := moreland.SmoothBlueRed()
	hi := 0.0
	for _, row := range pm {
		for _, v := range row {
			hi = max(hi, v)
		}
	}
	pal.SetMin(0)
	pal.SetMax(max(hi, 1e-9))
	// gonum's heat map has no colour bar: the title states the scale.
	p.Title.Text = fmt.Sprintf("%s\nblue 0 → red %.2f", title, hi)
	h := plotter.NewHeatMap(grid(pm), pal.Palette(64))
	p.Add(h)
	return chart.Save(p, base, 14*vg.Centimeter, 13*vg.Centimeter)
}

// PlotVsControl draws a per-layer domain figure (perLayer[layer][domain])
// beside its shuffled-domain control (mean and 95th percentile per layer),
// so the reader sees the noise floor; ref (e.g. 1 for lift) is drawn when
// positive.
func PlotVsControl(title, ylabel string, perLayer [][]float64, domains []string, ctrlMean, ctrlP95 []float64, ref float64, base string) (string, string, error) {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "layer"
	p.Y.Label.Text = ylabel
	xs := iotaF(len(perLayer))
	for d, name := range domains {
		ys := make([]float64, len(perLayer))
		for l := range perLayer {
			ys[l] = perLayer[l][d]
		}
		if err := addLine(p, name, d, xs, ys, true); err != nil {
			return "", "", err
		}
	}
	for i, c := range []struct {
		name string
		ys   []float64
		dash bool
	}{{"shuffled control, mean", ctrlMean, false}, {"shuffled control, p95", ctrlP95, true}} {
		pts := make(plotter.XYs, len(c.ys))
		for l, y := range c.ys {
			pts[l] = plotter.XY{X: float64(l), Y: y}
		}
		line, err := plotter.NewLine(pts)
		if err != nil {
			return "", "", err
		}
		line.Color = color.Gray{Y: uint8(80 + 60*i)}
		line.Width = vg.Points(1.6)
		if c.dash {
			line.Dashes = []vg.Length{vg.Points(5), vg.Points(3)}
		}
		p.Add(line)
		p.Legend.Add(c.name, line)
	}
	if ref > 0 {
		line, err := plotter.NewLine(plotter.XYs{{X: 0, Y: ref}, {X: float64(max(len(perLayer)-1, 1)), Y: ref}})
		if err != nil {
			return "", "", err
		}
		line.Color = color.Gray{Y: 190}
		line.Dashes = []vg.Length{vg.Points(1), vg.Points(3)}
		p.Add(line)
		p.Legend.Add(fmt.Sprintf("%g (no specialisation)", ref), line)
	}
	p.Y.Min = 0
	p.Legend.Top = true
	p.Add(plotter.NewGrid())
	return chart.Save(p, base, 0, 0)
}
