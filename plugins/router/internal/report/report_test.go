package report

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/shammie-ml/shammie/plugins/router/internal/noise"
	"github.com/shammie-ml/shammie/plugins/router/internal/ppm"
	"github.com/shammie-ml/shammie/plugins/router/internal/route"
)

func TestShorten(t *testing.T) {
	for in, want := range map[string]string{
		"rouge__min_val=0.33|max_val=0.67":                               "rouge [0.33, 0.67]",
		"subject_of_expertise=Computer_sciences":                         "subject_of_expertise=Computer_sciences",
		"subject_of_expertise=Human_physical_performance_and_recreation": "subject_of_expertise=Human_physical_perfo...",
	} {
		if got := shorten(in); got != want {
			t.Errorf("shorten(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestFeatureGainsCSV(t *testing.T) {
	p := filepath.Join(t.TempDir(), "g.csv")
	rows := []route.FeatureRow{{Feature: "a=1", Instances: 3, Total: 0.5, SE: 0.1, Interval: noise.Interval{Low: 0.25, High: 0.75}, Distinguishable: true,
		GainZero: 0.1, GainAt: []float64{0.2, 0.3}}}
	if err := WriteFeatureGains(p, rows, []float64{0.25, 0.5}); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	want := "feature,instances,total_gain,total_gain_se,total_gain_low,total_gain_high,distinguishable,gain_per_instance_at_0,gain_per_instance_at_0.25,gain_per_instance_at_0.5\n" +
		"a=1,3,0.5,0.1,0.25,0.75,true,0.1,0.2,0.3\n"
	if diff := cmp.Diff(want, string(b)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestPlotsWritePNGAndSVG(t *testing.T) {
	dir := t.TempDir()
	routings := []route.Routed{{Method: route.MethodAllLM, Measured: 0.7}, {Method: route.MethodAllHuman, Budget: 1, Measured: 0.72},
		{Method: route.MethodTopk, Budget: 0.5, Measured: 0.8}, {Method: route.MethodSimulated, Budget: 0.5, Measured: 0.79},
		{Method: route.MethodRandom, Budget: 0.5, Measured: 0.71}}
	nz := route.Noise{Level: 0.95, Replicates: 5, GainIsNoise: true}
	ev := &ppm.Evaluation{TestRows: 3, BaselineRMSE: 0.02, Curve: []ppm.CurvePoint{{TrainRows: 5, RMSE: 0.015}, {TrainRows: 10, RMSE: 0.01}}}
	for name, fn := range map[string]func(string) (string, string, error){
		"budgets": func(b string) (string, string, error) { return PlotBudgets(b, routings, "accuracy", nz) },
		"fit": func(b string) (string, string, error) {
			return PlotFit(b, []float64{0.7, 0.8}, []float64{0.71, 0.78}, "fit")
		},
		"curve": func(b string) (string, string, error) { return PlotCurve(b, ev) },
		"gains": func(b string) (string, string, error) {
			return PlotGains(b, []route.FeatureRow{{Feature: "x=1", Total: 0.1, Interval: noise.Interval{Low: -0.01, High: 0.2}},
				{Feature: "y=1", Total: -0.02, Interval: noise.Interval{Low: -0.05, High: 0.01}}}, 5, nz)
		},
	} {
		png, svg, err := fn(filepath.Join(dir, name))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, p := range []string{png, svg} {
			if fi, err := os.Stat(p); err != nil || fi.Size() < 500 {
				t.Errorf("%s: %s missing or tiny (%v)", name, p, err)
			}
		}
	}
}
