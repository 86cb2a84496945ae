package pipeline

import (
	"fmt"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/palette/moreland"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"

	"github.com/shammie-ml/shammie/plugins/mcqa/internal/probe"
	"github.com/shammie-ml/shammie/sdk/chart"
)

// plotPatching draws the normalised logit difference per layer for each
// patched component.
func plotPatching(s probe.PatchSummary, base string) ([]string, error) {
	p := plot.New()
	p.Title.Text = "Activation patching at the last token"
	p.X.Label.Text = "layer"
	p.Y.Label.Text = "normalised logit difference (1 = contrast answer)"
	for i, c := range probe.Components {
		pts := make(plotter.XYs, len(s.NormLD[c]))
		for l, v := range s.NormLD[c] {
			pts[l].X, pts[l].Y = float64(l), v
		}
		line, points, err := plotter.NewLinePoints(pts)
		if err != nil {
			return nil, err
		}
		line.Color, points.Color = plotutil.Color(i), plotutil.Color(i)
		p.Add(line, points)
		p.Legend.Add(c, line, points)
	}
	p.Legend.Top, p.Legend.Left = true, true
	png, svg, err := chart.Save(p, base, 0, 0)
	return []string{png, svg}, err
}

type grid [][]float64

func (g grid) Dims() (c, r int)   { return len(g[0]), len(g) }
func (g grid) Z(c, r int) float64 { return g[r][c] }
func (g grid) X(c int) float64    { return float64(c) }
func (g grid) Y(r int) float64    { return float64(r) }

// plotHeat draws rows × layers (x: layer, y: row index).
func plotHeat(g grid, title, ylabel string, base string) ([]string, error) {
	pal := moreland.SmoothBlueRed()
	lo, hi := g[0][0], g[0][0]
	for _, r := range g {
		for _, v := range r {
			lo, hi = min(lo, v), max(hi, v)
		}
	}
	if lo == hi {
		hi = lo + 1
	}
	pal.SetMin(lo)
	pal.SetMax(hi)
	p := plot.New()
	p.Title.Text = fmt.Sprintf("%s (%.2f … %.2f)", title, lo, hi)
	p.X.Label.Text = "layer"
	p.Y.Label.Text = ylabel
	p.Add(plotter.NewHeatMap(g, pal.Palette(64)))
	png, svg, err := chart.Save(p, base, 0, 0)
	return []string{png, svg}, err
}

// lensGrid: rows resid, attn, mlp; columns layers; value: mean probability
// of the correct symbol minus the others'.
func lensGrid(s probe.LensSummary) grid {
	var g grid
	for _, c := range probe.Components {
		row := make([]float64, len(s.ProbCorrect[c]))
		for l := range row {
			row[l] = s.ProbCorrect[c][l] - s.ProbOther[c][l]
		}
		g = append(g, row)
	}
	return g
}

// headGrid: rows heads, columns layers; value: correct-minus-other logit.
func headGrid(s probe.LensSummary) grid {
	L, H := len(s.HeadLogitDiff), len(s.HeadLogitDiff[0])
	g := make(grid, H)
	for h := range H {
		g[h] = make([]float64, L)
		for l := range L {
			g[h][l] = s.HeadLogitDiff[l][h]
		}
	}
	return g
}
