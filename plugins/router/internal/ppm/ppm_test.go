package ppm

import (
	"context"
	"math"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"github.com/shammie-ml/shammie/internal/shareddata"
	"github.com/shammie-ml/shammie/sdk/ml"
)

// TestFitRecoversQuadratic: data from a known quadratic must be fitted far
// better than the mean, and the fitted f must match the truth off-sample.
func TestFitRecoversQuadratic(t *testing.T) {
	b, release, err := ml.AcquireBackend("go")
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	rng := rand.New(rand.NewPCG(4, 4))
	const f, n = 6, 300
	truth := &Model{C: 0.6, L: make([]float64, f), Q: make([]float64, f*f)}
	for j := 0; j < f; j++ {
		truth.L[j] = rng.NormFloat64() * 0.2
		for k := 0; k <= j; k++ {
			v := rng.NormFloat64() * 0.1
			truth.Q[j*f+k], truth.Q[k*f+j] = v, v
		}
	}
	X := make([][]float64, n)
	y := make([]float64, n)
	for i := range X {
		X[i] = make([]float64, f)
		for j := range X[i] {
			X[i][j] = rng.Float64()
		}
		y[i] = truth.Predict(X[i]) + rng.NormFloat64()*0.005
	}
	names := []string{"a", "b", "c", "d", "e", "f"}
	ev, err := Evaluate(context.Background(), b, names, X, y, 0.2, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("rmse=%.4f baseline=%.4f λ=%g curve=%+v", ev.RMSE, ev.BaselineRMSE, ev.Model.Lambda, ev.Curve)
	if ev.RMSE > 0.02 || ev.RMSE > ev.BaselineRMSE/5 {
		t.Errorf("held-out RMSE %.4f too high (baseline %.4f)", ev.RMSE, ev.BaselineRMSE)
	}
	if len(ev.Curve) != 4 || ev.Curve[0].RMSE < ev.Curve[3].RMSE {
		t.Errorf("learning curve should improve with data: %+v", ev.Curve)
	}
	// Gradient of the fit vs the truth at the centre.
	x := []float64{.5, .5, .5, .5, .5, .5}
	g, gt := ev.Model.Grad(x), truth.Grad(x)
	for j := range g {
		if math.Abs(g[j]-gt[j]) > 0.05 {
			t.Errorf("grad[%d] = %.3f, truth %.3f", j, g[j], gt[j])
		}
	}
}

// TestProxyRowsEndToEnd fits the PPM on the reference's 26 real proxy-RM
// rows: too few to judge accuracy, but the pipeline must run and give finite
// predictions within a sane range of RewardBench scores.
func TestProxyRowsEndToEnd(t *testing.T) {
	dir := shareddata.Path(t, "hybrid_preferences")
	pr, err := LoadProxyRows(filepath.Join(dir, "proxy_rm_validation_set_features_rewardbench.jsonl"), "Overall")
	if err != nil {
		t.Fatal(err)
	}
	if len(pr.X) != 26 || len(pr.Names) < 50 {
		t.Fatalf("got %d rows × %d features, want 26 × ~64", len(pr.X), len(pr.Names))
	}
	b, release, err := ml.AcquireBackend("go")
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	ev, err := Evaluate(context.Background(), b, pr.Names, pr.X, pr.Y, 0.2, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("26 proxy rows: train=%d test=%d rmse=%.4f baseline=%.4f λ=%g curve=%+v", ev.TrainRows, ev.TestRows, ev.RMSE, ev.BaselineRMSE, ev.Model.Lambda, ev.Curve)
	lin := DefaultOptions()
	lin.Linear = true
	evLin, err := Evaluate(context.Background(), b, pr.Names, pr.X, pr.Y, 0.2, lin)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("linear PPM on the same split: rmse=%.4f λ=%g", evLin.RMSE, evLin.Model.Lambda)
	for _, q := range evLin.Model.Q {
		if q != 0 {
			t.Fatalf("linear PPM has a quadratic coefficient %v", q)
		}
	}
	for i, x := range pr.X {
		p := ev.Model.Predict(x)
		if math.IsNaN(p) || p < 0.3 || p > 1.1 {
			t.Errorf("row %s: prediction %v out of range", pr.IDs[i], p)
		}
	}
}

func TestLoadProxyRowsErrors(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "rows.jsonl")
	write := func(s string) {
		if err := writeFile(p, s); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct{ body, want string }{
		{"{\"a=1\": 0.5, \"Overall\": 0.7}\n{\"a=1\": \"x\", \"Overall\": 0.7}\n", "rows.jsonl:2: column \"a=1\""},
		{"{\"a=1\": 0.5}\n", "rows.jsonl:1: no target column \"Overall\""},
		{"{\"a=1\": 0.5, \"Overall\": 0.7}\nnot json\n", "rows.jsonl:2: not a JSON object"},
	} {
		write(tc.body)
		_, err := LoadProxyRows(p, "Overall")
		if err == nil || !contains(err.Error(), tc.want) {
			t.Errorf("error %v, want it to contain %q", err, tc.want)
		}
	}
}

// TestRefitMatchesFit: the batched refits give, data set by data set, the
// model Fit finds at the same ridge penalty — in the primal (rows > terms)
// and the dual (rows < terms) form.
func TestRefitMatchesFit(t *testing.T) {
	b, release, err := ml.AcquireBackend("go")
	if err != nil {
		t.Fatal(err)
	}
	defer release()
	rng := rand.New(rand.NewPCG(9, 9))
	names := []string{"a", "b", "c"}
	for _, rows := range []int{40, 7} { // 3 + 6 quadratic terms = 9
		var Xs [][][]float64
		var ys [][]float64
		for range 3 {
			X := make([][]float64, rows)
			y := make([]float64, rows)
			for i := range X {
				X[i] = []float64{rng.Float64(), rng.Float64(), rng.Float64()}
				y[i] = 0.5 + 0.3*X[i][0] - 0.2*X[i][1]*X[i][2] + 0.01*rng.NormFloat64()
			}
			Xs, ys = append(Xs, X), append(ys, y)
		}
		opt := DefaultOptions()
		models, err := Refit(context.Background(), b, names, Xs, ys, 1e-3, opt)
		if err != nil {
			t.Fatal(err)
		}
		opt.Lambdas = []float64{1e-3}
		for i := range Xs {
			want, err := Fit(context.Background(), b, names, Xs[i], ys[i], opt)
			if err != nil {
				t.Fatal(err)
			}
			x := []float64{0.3, 0.6, 0.9}
			if got, w := models[i].Predict(x), want.Predict(x); math.Abs(got-w) > 1e-6 {
				t.Errorf("rows=%d set %d: Refit predicts %.8f, Fit %.8f", rows, i, got, w)
			}
		}
	}
}
