package pipeline

import (
	"encoding/json"
	"os"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"

	"github.com/shammie-ml/shammie/sdk/chart"
)

// plotScores draws the model beside its baselines: pointing F1 (centre
// point) and counting accuracy, exact and ±1 (majority count).
func plotScores(ms Metrics, base string) ([]string, error) {
	p := plot.New()
	p.Title.Text = "Held-out pointing and counting"
	p.Y.Label.Text = "score"
	// Headroom above 1 keeps the legend off bars at full score.
	p.Y.Min, p.Y.Max = 0, 1.3
	names := []string{"pointing F1", "count exact", "count ±1"}
	model := plotter.Values{ms.Pointing.F1, ms.CountExact, ms.CountWithin1}
	baseline := plotter.Values{ms.Centre.F1, ms.MajorityExact, ms.MajorityWithin}
	w := vg.Points(18)
	b1, err := plotter.NewBarChart(model, w)
	if err != nil {
		return nil, err
	}
	b2, err := plotter.NewBarChart(baseline, w)
	if err != nil {
		return nil, err
	}
	b1.Color, b2.Color = plotutil.Color(0), plotutil.Color(1)
	b1.Offset, b2.Offset = -w/2, w/2
	p.Add(b1, b2)
	p.Legend.Add("model", b1)
	p.Legend.Add("baseline (centre point / majority count)", b2)
	p.Legend.Top, p.Legend.Left = true, true
	p.NominalX(names...)
	png, svg, err := chart.Save(p, base, 0, 0)
	return []string{png, svg}, err
}

func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, b, 0o644)
}
