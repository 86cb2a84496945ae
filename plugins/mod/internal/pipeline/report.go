package pipeline

import (
	"encoding/json"
	"fmt"
	"image/color"
	"math"
	"os"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"

	"github.com/shammie-ml/shammie/sdk/chart"
)

// WriteJSON writes the result.
func WriteJSON(path string, r Result) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// AtEqualWeights is the MOD point at w (nil: the one nearest equal weights).
func (r Result) AtEqualWeights(w []float64) Point {
	best, bestD := 0, math.Inf(1)
	for i, p := range r.MOD {
		var d float64
		for j, x := range p.Weights {
			t := 1 / float64(len(p.Weights))
			if w != nil {
				t = w[j]
			}
			d += (x - t) * (x - t)
		}
		if d < bestD {
			best, bestD = i, d
		}
	}
	return r.MOD[best]
}

// FrontCoversSingles: no single model dominates every MOD point it could be
// compared with — each single model is dominated by or equal to a MOD point.
func (r Result) FrontCoversSingles() bool {
	for _, s := range r.Singles {
		covered := false
		for _, p := range r.MOD {
			if Dominates(p.Rewards, s.Rewards) || equal(p.Rewards, s.Rewards) {
				covered = true
				break
			}
		}
		if !covered {
			return false
		}
	}
	return true
}

func equal(a, b []float64) bool {
	for i := range a {
		if math.Abs(a[i]-b[i]) > 1e-12*max(1, math.Abs(a[i])) {
			return false
		}
	}
	return true
}

// PlotPareto draws one panel per objective pair: every MOD point, its
// Pareto front (on that pair), the single models and the merged model.
func PlotPareto(base string, r Result) ([]string, error) {
	k := len(r.Objectives)
	var pairs [][2]int
	for a := range k {
		for b := a + 1; b < k; b++ {
			pairs = append(pairs, [2]int{a, b})
		}
	}
	if len(pairs) == 0 {
		pairs = [][2]int{{0, 0}}
	}
	plots := make([][]*plot.Plot, 1)
	for _, pr := range pairs {
		p, err := panel(r, pr[0], pr[1])
		if err != nil {
			return nil, err
		}
		plots[0] = append(plots[0], p)
	}
	w, h := chart.Width*vg.Length(len(pairs)), chart.Height
	img := vgimg.New(w, h)
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 1, Cols: len(pairs), PadX: vg.Millimeter * 4}
	canvases := plot.Align(plots, tiles, dc)
	for j, p := range plots[0] {
		p.Draw(canvases[0][j])
	}
	pngPath := base + ".png"
	f, err := os.Create(pngPath)
	if err != nil {
		return nil, err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	// The SVG holds the first pair's panel (one file per figure, as chart.Save).
	_, svg, err := chart.Save(plots[0][0], base+"_svg", 0, 0)
	if err != nil {
		return nil, err
	}
	os.Remove(base + "_svg.png")
	svgPath := base + ".svg"
	if err := os.Rename(svg, svgPath); err != nil {
		return nil, err
	}
	return []string{pngPath, svgPath}, nil
}

func panel(r Result, a, b int) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("MOD Pareto front: %s vs %s", r.Objectives[a], r.Objectives[b])
	p.X.Label.Text = "mean implied reward " + r.Objectives[a]
	p.Y.Label.Text = "mean implied reward " + r.Objectives[b]
	xy := func(ps []Point) plotter.XYs {
		out := make(plotter.XYs, len(ps))
		for i, pt := range ps {
			out[i] = plotter.XY{X: pt.Rewards[a], Y: pt.Rewards[b]}
		}
		return out
	}
	all, err := plotter.NewScatter(xy(r.MOD))
	if err != nil {
		return nil, err
	}
	all.Color = color.RGBA{B: 200, A: 255}
	p.Add(all)
	p.Legend.Add("MOD (sweep)", all)
	pts := make([][]float64, len(r.MOD))
	for i, pt := range r.MOD {
		pts[i] = []float64{pt.Rewards[a], pt.Rewards[b]}
	}
	var front []Point
	for _, i := range Front(pts) {
		front = append(front, r.MOD[i])
	}
	sortByX(front, a)
	if len(front) > 1 {
		l, err := plotter.NewLine(xy(front))
		if err != nil {
			return nil, err
		}
		l.Color = color.RGBA{B: 200, A: 255}
		p.Add(l)
		p.Legend.Add("MOD front", l)
	}
	singles, err := plotter.NewScatter(xy(r.Singles))
	if err != nil {
		return nil, err
	}
	singles.Shape = draw.TriangleGlyph{}
	singles.Color = color.RGBA{R: 200, A: 255}
	singles.Radius = vg.Points(5)
	p.Add(singles)
	p.Legend.Add("single models", singles)
	if r.Merged != nil {
		m, err := plotter.NewScatter(xy([]Point{*r.Merged}))
		if err != nil {
			return nil, err
		}
		m.Shape = draw.BoxGlyph{}
		m.Color = color.RGBA{G: 150, A: 255}
		m.Radius = vg.Points(5)
		p.Add(m)
		p.Legend.Add("parameter merge (equal w)", m)
	}
	p.Legend.Top = true
	return p, nil
}

func sortByX(ps []Point, a int) {
	for i := 1; i < len(ps); i++ {
		for j := i; j > 0 && ps[j].Rewards[a] < ps[j-1].Rewards[a]; j-- {
			ps[j], ps[j-1] = ps[j-1], ps[j]
		}
	}
}
