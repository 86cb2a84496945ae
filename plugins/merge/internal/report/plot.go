package report

import (
	"fmt"
	"image/color"
	"sort"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"

	"github.com/shammie-ml/shammie/sdk/chart"
)

// Plot draws General against the skill score: one task-arithmetic curve
// per skill amount (ω rising along it), retraining and continued
// fine-tuning as points, the general model alone as a star. It writes
// base.png and base.svg.
func Plot(rows []Row, s Summary, base string) (pngPath, svgPath string, err error) {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("Merge to Learn: General vs %s", s.Skill)
	p.X.Label.Text = s.Skill + " (test)"
	p.Y.Label.Text = "General"
	// The legend goes below the data (bottom left), in room made by
	// starting the General axis at 0.
	p.Legend.Top = false
	p.Legend.Left = true
	p.Y.Min = 0
	p.Add(plotter.NewGrid())
	curves := Curves(rows)
	amounts := make([]int, 0, len(curves))
	for a := range curves {
		amounts = append(amounts, a)
	}
	sort.Ints(amounts)
	for i, a := range amounts {
		pts := make(plotter.XYs, len(curves[a]))
		for j, r := range curves[a] {
			pts[j] = plotter.XY{X: r.Skill, Y: r.General}
		}
		line, scatter, err := plotter.NewLinePoints(pts)
		if err != nil {
			return "", "", err
		}
		c := palette(i)
		line.Color, scatter.Color = c, c
		scatter.Radius = vg.Points(2)
		p.Add(line, scatter)
		p.Legend.Add(fmt.Sprintf("merge, %s_%d, ω 0→1", s.Skill, a), line, scatter)
	}
	for _, m := range []struct {
		class string
		label string
		shape draw.GlyphDrawer
	}{{RT, "retraining", draw.SquareGlyph{}}, {CFT, "continued fine-tuning", draw.TriangleGlyph{}}, {Skill, "skill data only", draw.CrossGlyph{}}} {
		var pts plotter.XYs
		for _, r := range rows {
			if r.Class == m.class {
				pts = append(pts, plotter.XY{X: r.Skill, Y: r.General})
			}
		}
		if len(pts) == 0 {
			continue
		}
		sc, err := plotter.NewScatter(pts)
		if err != nil {
			return "", "", err
		}
		sc.Shape, sc.Radius, sc.Color = m.shape, vg.Points(3.5), color.Black
		p.Add(sc)
		p.Legend.Add(m.label, sc)
	}
	star, err := plotter.NewScatter(plotter.XYs{{X: s.Baseline.Skill, Y: s.Baseline.General}})
	if err != nil {
		return "", "", err
	}
	star.Shape, star.Radius, star.Color = draw.PyramidGlyph{}, vg.Points(5), color.RGBA{R: 200, A: 255}
	p.Add(star)
	p.Legend.Add("general model alone", star)
	return chart.Save(p, base, 0, 14*vg.Centimeter)
}

func palette(i int) color.Color {
	cs := []color.RGBA{{31, 119, 180, 255}, {255, 127, 14, 255}, {44, 160, 44, 255}, {214, 39, 40, 255}, {148, 103, 189, 255}, {140, 86, 75, 255}}
	return cs[i%len(cs)]
}
