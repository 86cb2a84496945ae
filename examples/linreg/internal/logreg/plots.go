package logreg

import (
	"encoding/json"
	"os"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"

	"github.com/shammie-ml/shammie/examples/linreg/internal/planted"
	"github.com/shammie-ml/shammie/sdk/chart"
)

// WriteWeights saves the learned weights next to the true ones.
func WriteWeights(path string, data planted.Data, res Result) error {
	b, err := json.MarshalIndent(map[string]any{
		"learned": map[string]any{"w": res.W, "b": res.B},
		"true":    map[string]any{"w": data.TrueW, "b": data.TrueB},
	}, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// PlotLoss draws the training loss per step to base.png and base.svg and
// returns the two paths.
func PlotLoss(base string, losses []float64) ([]string, error) {
	p := plot.New()
	p.Title.Text = "linreg: training loss"
	p.X.Label.Text = "step"
	p.Y.Label.Text = "mean log loss"
	pts := make(plotter.XYs, len(losses))
	for i, l := range losses {
		// A resumed run's checkpoint carries the earlier losses, so the
		// curve always starts at step 0.
		pts[i] = plotter.XY{X: float64(i), Y: l}
	}
	line, err := plotter.NewLine(pts)
	if err != nil {
		return nil, err
	}
	p.Add(line)
	png, svg, err := chart.Save(p, base, 0, 0)
	return []string{png, svg}, err
}
