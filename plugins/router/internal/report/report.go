// Package report writes the router's result files: the routed data set, the
// results JSON, the feature-gain table and the plots (through sdk/chart).
package report

import (
	"encoding/csv"
	"encoding/json"
	"fmt"
	"image/color"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"

	"github.com/shammie-ml/shammie/plugins/router/internal/ppm"
	"github.com/shammie-ml/shammie/plugins/router/internal/prefdata"
	"github.com/shammie-ml/shammie/plugins/router/internal/route"
	"github.com/shammie-ml/shammie/sdk/chart"
)

type routedRow struct {
	ID          string              `json:"id"`
	Prompt      string              `json:"prompt"`
	ResponseA   string              `json:"response_a"`
	ResponseB   string              `json:"response_b"`
	Method      string              `json:"method"`
	LabelSource map[string]string   `json:"label_source"` // budget -> human | lm
	Label       map[string]string   `json:"label"`        // budget -> a | b
	Gain        map[string]float64  `json:"gain,omitempty"`
	Tags        map[string][]string `json:"tags,omitempty"`
}

// WriteRouted writes the routed pool: per instance and budget, which
// annotator's label the chosen method uses, and that label.
func WriteRouted(path string, res *route.Result, method string, budgets []float64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	enc := json.NewEncoder(f)
	for i, in := range res.PoolInstances {
		row := routedRow{ID: in.ID, Prompt: in.Prompt, ResponseA: in.A, ResponseB: in.B, Method: method,
			LabelSource: map[string]string{}, Label: map[string]string{}, Tags: in.Tags}
		for _, b := range budgets {
			key := route.BudgetKey(b)
			routing := res.TopkRouting[b]
			if method == route.MethodSimulated {
				routing = res.SimRouting[b]
			}
			src, lab := "lm", in.LM
			if routing[i] {
				src, lab = "human", in.Human
			}
			row.LabelSource[key] = src
			row.Label[key] = map[prefdata.Pref]string{prefdata.PrefA: "a", prefdata.PrefB: "b"}[lab]
			if g, ok := res.TopkGains[b]; ok && method == route.MethodTopk {
				if row.Gain == nil {
					row.Gain = map[string]float64{}
				}
				row.Gain[key] = g[i]
			}
		}
		if err := enc.Encode(row); err != nil {
			return err
		}
	}
	return f.Close()
}

// Results is the results JSON of a routing experiment.
type Results struct {
	Source      string                `json:"source"`
	Pool        int                   `json:"pool"`
	Eval        int                   `json:"eval"`
	EvalLabels  string                `json:"eval_labels"`
	Ties        int                   `json:"ties_dropped"`
	Features    int                   `json:"features"`
	PPM         PPMSummary            `json:"ppm"`
	Routings    []route.Routed        `json:"routings"`
	Mixtures    []route.MixtureResult `json:"mixtures"`
	TopFeatures []route.FeatureRow    `json:"top_features"`
	Noise       route.Noise           `json:"noise"`
}

// PPMSummary summarises a PPM evaluation.
type PPMSummary struct {
	TrainRows    int              `json:"train_rows"`
	TestRows     int              `json:"test_rows"`
	RMSE         float64          `json:"heldout_rmse"`
	BaselineRMSE float64          `json:"mean_predictor_rmse"`
	Lambda       float64          `json:"ridge_lambda"`
	Curve        []ppm.CurvePoint `json:"learning_curve"`
}

// Summary builds a PPMSummary.
func Summary(ev *ppm.Evaluation) PPMSummary {
	return PPMSummary{TrainRows: ev.TrainRows, TestRows: ev.TestRows, RMSE: ev.RMSE, BaselineRMSE: ev.BaselineRMSE, Lambda: ev.Model.Lambda, Curve: ev.Curve}
}

// WriteJSON writes v indented.
func WriteJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}

// WriteFeatureGains writes the feature-gain table as CSV.
func WriteFeatureGains(path string, rows []route.FeatureRow, budgets []float64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	w := csv.NewWriter(f)
	head := []string{"feature", "instances", "total_gain", "total_gain_se", "total_gain_low", "total_gain_high", "distinguishable", "gain_per_instance_at_0"}
	for _, b := range budgets {
		head = append(head, "gain_per_instance_at_"+route.BudgetKey(b))
	}
	if err := w.Write(head); err != nil {
		return err
	}
	for _, r := range rows {
		rec := []string{r.Feature, strconv.Itoa(r.Instances), fmtG(r.Total), fmtG(r.SE), fmtG(r.Interval.Low), fmtG(r.Interval.High),
			strconv.FormatBool(r.Distinguishable), fmtG(r.GainZero)}
		for _, g := range r.GainAt {
			rec = append(rec, fmtG(g))
		}
		if err := w.Write(rec); err != nil {
			return err
		}
	}
	w.Flush()
	if err := w.Error(); err != nil {
		return err
	}
	return f.Close()
}

func fmtG(x float64) string { return strconv.FormatFloat(x, 'g', 6, 64) }

var palette = []color.Color{
	color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff}, color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff},
	color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff}, color.RGBA{R: 0x94, G: 0x67, B: 0xbd, A: 0xff},
	color.RGBA{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff},
}

// errPoints are points with vertical or horizontal error bars.
type errPoints struct {
	plotter.XYs
	plotter.YErrors
	plotter.XErrors
}

// PlotBudgets draws measured RM score against the human budget for topk,
// simulated and random routing, with all-LM (0%) and all-human (100%) as the
// end points and dashed reference lines; error bars are the scores'
// intervals. When no feature's gain is distinguishable from zero the title
// says so.
func PlotBudgets(base string, routings []route.Routed, metric string, nz route.Noise) (string, string, error) {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("Reward model score by routing\n(bars: %.0f%% intervals, %d replicates)", 100*nz.Level, nz.Replicates)
	if nz.GainIsNoise {
		p.Title.Text += "\nWARNING: no feature gain beats noise; differences are likely noise"
		p.Title.TextStyle.Color = palette[1]
	}
	p.X.Label.Text = "share of instances routed to humans"
	p.Y.Label.Text = metric
	var allH, allL float64
	series := map[string]plotter.XYs{}
	bars := errPoints{}
	jitter := map[string]float64{route.MethodTopk: -0.012, route.MethodRandom: 0.012}
	for _, r := range routings {
		switch r.Method {
		case route.MethodAllHuman:
			allH = r.Measured
		case route.MethodAllLM:
			allL = r.Measured
		default:
			series[r.Method] = append(series[r.Method], plotter.XY{X: r.Budget, Y: r.Measured})
		}
		// Bars side by side where methods share a budget.
		bars.XYs = append(bars.XYs, plotter.XY{X: r.Budget + jitter[r.Method], Y: r.Measured})
		bars.YErrors = append(bars.YErrors, struct{ Low, High float64 }{r.Measured - r.Interval.Low, r.Interval.High - r.Measured})
	}
	if eb, err := plotter.NewYErrorBars(bars); err == nil {
		eb.Color = color.Gray{Y: 90}
		p.Add(eb)
	} else {
		return "", "", err
	}
	for i, m := range []string{route.MethodTopk, route.MethodSimulated, route.MethodRandom} {
		pts := append(plotter.XYs{{X: 0, Y: allL}}, series[m]...)
		pts = append(pts, plotter.XY{X: 1, Y: allH})
		sort.Slice(pts, func(a, b int) bool { return pts[a].X < pts[b].X })
		l, s, err := plotter.NewLinePoints(pts)
		if err != nil {
			return "", "", err
		}
		l.Color, s.Color = palette[i], palette[i]
		p.Add(l, s)
		p.Legend.Add(m, l, s)
	}
	for i, ref := range []struct {
		name string
		y    float64
	}{{"all human", allH}, {"all LM", allL}} {
		l, err := plotter.NewLine(plotter.XYs{{X: 0, Y: ref.y}, {X: 1, Y: ref.y}})
		if err != nil {
			return "", "", err
		}
		l.Color = palette[3+i]
		l.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
		p.Add(l)
		p.Legend.Add(ref.name, l)
	}
	// Bottom right: the routed curves peak in the upper half.
	p.Legend.Top = false
	p.Add(plotter.NewGrid())
	return chart.Save(p, base, 0, 0)
}

// PlotFit draws PPM predictions against measured scores.
func PlotFit(base string, measured, predicted []float64, title string) (string, string, error) {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "measured score"
	p.Y.Label.Text = "PPM prediction"
	pts := make(plotter.XYs, len(measured))
	lo, hi := math.Inf(1), math.Inf(-1)
	for i := range measured {
		pts[i] = plotter.XY{X: measured[i], Y: predicted[i]}
		lo = math.Min(lo, math.Min(measured[i], predicted[i]))
		hi = math.Max(hi, math.Max(measured[i], predicted[i]))
	}
	s, err := plotter.NewScatter(pts)
	if err != nil {
		return "", "", err
	}
	s.Color = palette[0]
	diag, err := plotter.NewLine(plotter.XYs{{X: lo, Y: lo}, {X: hi, Y: hi}})
	if err != nil {
		return "", "", err
	}
	diag.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
	p.Add(s, diag, plotter.NewGrid())
	return chart.Save(p, base, 0, 0)
}

// PlotCurve draws the PPM learning curve (held-out RMSE by train rows) with
// the mean predictor's RMSE for reference.
func PlotCurve(base string, ev *ppm.Evaluation) (string, string, error) {
	p := plot.New()
	p.Title.Text = fmt.Sprintf("PPM learning curve (%d held-out rows)", ev.TestRows)
	p.X.Label.Text = "training rows"
	p.Y.Label.Text = "held-out RMSE"
	pts := make(plotter.XYs, len(ev.Curve))
	for i, c := range ev.Curve {
		pts[i] = plotter.XY{X: float64(c.TrainRows), Y: c.RMSE}
	}
	l, s, err := plotter.NewLinePoints(pts)
	if err != nil {
		return "", "", err
	}
	l.Color, s.Color = palette[0], palette[0]
	base0, err := plotter.NewLine(plotter.XYs{{X: pts[0].X, Y: ev.BaselineRMSE}, {X: pts[len(pts)-1].X, Y: ev.BaselineRMSE}})
	if err != nil {
		return "", "", err
	}
	base0.Color = palette[1]
	base0.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
	p.Add(l, s, base0, plotter.NewGrid())
	p.Legend.Add("quadratic PPM", l, s)
	p.Legend.Add("mean predictor", base0)
	p.Y.Min = 0
	top := ev.BaselineRMSE
	for _, c := range ev.Curve {
		top = math.Max(top, c.RMSE)
	}
	p.Y.Max = top * 1.2 // keep the reference line off the frame
	return chart.Save(p, base, 0, 0)
}

// PlotGains draws the top features by total predicted gain as bars with
// their simultaneous intervals as whiskers and zero as a line. When no
// feature's gain is distinguishable from zero the bars are grey and the
// title says the ranking is noise.
func PlotGains(base string, rows []route.FeatureRow, top int, nz route.Noise) (string, string, error) {
	if top > len(rows) {
		top = len(rows)
	}
	vals := make(plotter.Values, top)
	names := make([]string, top)
	whiskers := errPoints{}
	for i := 0; i < top; i++ {
		// Bars bottom-up so the best feature is on top.
		r := rows[top-1-i]
		vals[i] = r.Total
		names[i] = shorten(r.Feature)
		whiskers.XYs = append(whiskers.XYs, plotter.XY{X: r.Total, Y: float64(i)})
		whiskers.XErrors = append(whiskers.XErrors, struct{ Low, High float64 }{r.Total - r.Interval.Low, r.Interval.High - r.Total})
	}
	p := plot.New()
	p.Title.Text = fmt.Sprintf("Predicted gain of routing a feature's instances to humans\n(whiskers: %.0f%% intervals, simultaneous over %d features)", 100*nz.Level, len(rows))
	p.X.Label.Text = "predicted RM score change"
	bars, err := plotter.NewBarChart(vals, vg.Points(9))
	if err != nil {
		return "", "", err
	}
	bars.Horizontal = true
	bars.Color = palette[0]
	if nz.GainIsNoise {
		bars.Color = color.Gray{Y: 170}
		p.Title.Text += "\nWARNING: no gain is distinguishable from zero; the ranking is noise"
		p.Title.TextStyle.Color = palette[1]
	}
	eb, err := plotter.NewXErrorBars(whiskers)
	if err != nil {
		return "", "", err
	}
	zero, err := plotter.NewLine(plotter.XYs{{X: 0, Y: -0.5}, {X: 0, Y: float64(top) - 0.5}})
	if err != nil {
		return "", "", err
	}
	zero.Color = color.Black
	// The permutation threshold: gains right of it are distinguishable.
	thr, err := plotter.NewLine(plotter.XYs{{X: nz.GainThreshold, Y: -0.5}, {X: nz.GainThreshold, Y: float64(top) - 0.5}})
	if err != nil {
		return "", "", err
	}
	thr.Color = palette[1]
	thr.Dashes = []vg.Length{vg.Points(4), vg.Points(3)}
	p.Legend.Add(fmt.Sprintf("top gain on permuted scores (%.0f%%)", 100*nz.Level), thr)
	p.Legend.Top = false
	p.Add(bars, eb, zero, thr, plotter.NewGrid())
	p.NominalY(names...)
	return chart.Save(p, base, 0, 0)
}

func shorten(s string) string {
	// "rouge__min_val=0.33|max_val=0.67" -> "rouge [0.33, 0.67]"
	if i := strings.Index(s, "__min_val="); i >= 0 {
		s = s[:i] + " [" + strings.Replace(s[i+len("__min_val="):], "|max_val=", ", ", 1) + "]"
	}
	if len(s) > 44 {
		return s[:41] + "..."
	}
	return s
}

// Rel is filepath.Rel that never fails silently.
func Rel(dir, path string) string {
	r, err := filepath.Rel(dir, path)
	if err != nil {
		return path
	}
	return r
}
