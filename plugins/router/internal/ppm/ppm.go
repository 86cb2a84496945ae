// Package ppm is the performance prediction model: a quadratic regression
// (all features, all pairwise products) from the per-feature counts of
// human-routed instances to the score of the reward model trained on that
// routing, fitted by ridge regression in GoMLX, and the batched scoring of
// candidate routings with it.
package ppm

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"sort"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// Model is a fitted quadratic PPM: f(x) = C + L·x + xᵀ Q x, Q symmetric.
type Model struct {
	Names  []string
	C      float64
	L      []float64 // F
	Q      []float64 // F×F row-major, symmetric
	Lambda float64   // ridge penalty chosen by cross-validation
}

// F is the number of input features.
func (m *Model) F() int { return len(m.L) }

// Predict evaluates f on one count vector.
func (m *Model) Predict(x []float64) float64 {
	f := m.F()
	s := m.C
	for j := 0; j < f; j++ {
		if x[j] == 0 {
			continue
		}
		s += m.L[j] * x[j]
		row := m.Q[j*f : (j+1)*f]
		var q float64
		for k, xk := range x {
			q += row[k] * xk
		}
		s += x[j] * q
	}
	return s
}

// Grad is ∇f(x) = L + 2Qx.
func (m *Model) Grad(x []float64) []float64 {
	f := m.F()
	g := append([]float64(nil), m.L...)
	for j := 0; j < f; j++ {
		row := m.Q[j*f : (j+1)*f]
		for k, xk := range x {
			g[j] += 2 * row[k] * xk
		}
	}
	return g
}

// Expand maps a count vector to the quadratic design row: x_j, then x_j·x_k
// for j ≤ k (the intercept is handled by centring).
func Expand(x []float64) []float64 {
	f := len(x)
	out := make([]float64, 0, f+f*(f+1)/2)
	out = append(out, x...)
	for j := 0; j < f; j++ {
		for k := j; k < f; k++ {
			out = append(out, x[j]*x[k])
		}
	}
	return out
}

// Options for fitting.
type Options struct {
	// Lambdas is the ridge grid searched by K-fold cross-validation.
	Lambdas []float64
	Folds   int
	// CGIters bounds the conjugate-gradient iterations of each solve.
	CGIters int
	Seed    uint64
	// Linear drops the pairwise products (the reference's "linear"
	// regressor; Q stays zero). The quadratic model is the default.
	Linear bool
}

// DefaultOptions are used by the plugin.
func DefaultOptions() Options {
	return Options{Lambdas: []float64{1e-4, 1e-3, 1e-2, 1e-1, 1}, Folds: 5, CGIters: 200, Seed: 1}
}

// Fit fits the quadratic PPM on rows X (each F counts) and targets y,
// choosing the ridge penalty by K-fold cross-validation.
func Fit(ctx context.Context, backend backends.Backend, names []string, X [][]float64, y []float64, opt Options) (*Model, error) {
	if len(X) != len(y) {
		return nil, fmt.Errorf("ppm: %d rows but %d targets", len(X), len(y))
	}
	if len(X) < 3 {
		return nil, fmt.Errorf("ppm: need at least 3 rows to fit, got %d", len(X))
	}
	for i, x := range X {
		if len(x) != len(names) {
			return nil, fmt.Errorf("ppm: row %d has %d features, want %d", i, len(x), len(names))
		}
	}
	if len(opt.Lambdas) == 0 {
		opt = DefaultOptions()
	}
	s, err := newSolver(backend, opt.CGIters)
	if err != nil {
		return nil, err
	}
	phi := design(X, opt.Linear)
	lambda := opt.Lambdas[0]
	folds := min(opt.Folds, len(X))
	if len(opt.Lambdas) > 1 && folds >= 2 {
		perm := rand.New(rand.NewPCG(opt.Seed, 5)).Perm(len(X))
		best := math.Inf(1)
		for _, lam := range opt.Lambdas {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			var sse float64
			for k := 0; k < folds; k++ {
				var trP, teP [][]float64
				var trY, teY []float64
				for r, i := range perm {
					if r%folds == k {
						teP, teY = append(teP, phi[i]), append(teY, y[i])
					} else {
						trP, trY = append(trP, phi[i]), append(trY, y[i])
					}
				}
				w, b, err := s.ridge(trP, trY, lam)
				if err != nil {
					return nil, err
				}
				for i, p := range teP {
					d := linear(w, b, p) - teY[i]
					sse += d * d
				}
			}
			if sse < best {
				best, lambda = sse, lam
			}
		}
	}
	w, b, err := s.ridge(phi, y, lambda)
	if err != nil {
		return nil, err
	}
	return modelFrom(names, w, b, lambda, opt.Linear), nil
}

// modelFrom folds ridge coefficients over the design (x, then x_j·x_k for
// j ≤ k unless linear) into f's C, L and symmetric Q.
func modelFrom(names []string, w []float64, b, lambda float64, linear bool) *Model {
	f := len(names)
	m := &Model{Names: append([]string(nil), names...), C: b, L: w[:f], Q: make([]float64, f*f), Lambda: lambda}
	idx := f
	for j := 0; j < f && !linear; j++ {
		for k := j; k < f; k++ {
			if j == k {
				m.Q[j*f+k] = w[idx]
			} else {
				m.Q[j*f+k] = w[idx] / 2
				m.Q[k*f+j] = w[idx] / 2
			}
			idx++
		}
	}
	return m
}

func design(X [][]float64, linear bool) [][]float64 {
	phi := make([][]float64, len(X))
	for i, x := range X {
		if linear {
			phi[i] = append([]float64(nil), x...)
		} else {
			phi[i] = Expand(x)
		}
	}
	return phi
}

// Refit fits the PPM again on each of B data sets (X[b], y[b], all with the
// same row count) at a fixed ridge penalty, every solve in one batched
// graph: the bootstrap of the PPM's feature gains.
func Refit(ctx context.Context, backend backends.Backend, names []string, X [][][]float64, y [][]float64, lambda float64, opt Options) ([]*Model, error) {
	if len(X) == 0 {
		return nil, nil
	}
	if len(X) != len(y) {
		return nil, fmt.Errorf("ppm refit: %d designs but %d targets", len(X), len(y))
	}
	if opt.CGIters == 0 {
		opt.CGIters = DefaultOptions().CGIters
	}
	m := len(X[0])
	var p int
	zs := make([]float64, 0)
	ycs := make([]float64, 0)
	type scale struct {
		mu, sd []float64
		ym     float64
	}
	scales := make([]scale, len(X))
	for b := range X {
		if len(X[b]) != m || len(y[b]) != m {
			return nil, fmt.Errorf("ppm refit: data set %d has %d rows and %d targets, want %d", b, len(X[b]), len(y[b]), m)
		}
		phi := design(X[b], opt.Linear)
		z, yc, mu, sd, ym := standardise(phi, y[b])
		p = len(mu)
		zs = append(zs, z...)
		ycs = append(ycs, yc...)
		scales[b] = scale{mu, sd, ym}
	}
	exec, err := newBatchSolver(backend, opt.CGIters, m < p)
	if err != nil {
		return nil, err
	}
	defer exec.Finalize()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out, err := exec.Exec(tensors.FromFlatDataAndDimensions(zs, len(X), m, p), tensors.FromFlatDataAndDimensions(ycs, len(X), m), lambda*float64(m))
	if err != nil {
		return nil, fmt.Errorf("ppm batched ridge solve: %w", err)
	}
	ws := tensors.MustCopyFlatData[float64](out[0])
	models := make([]*Model, len(X))
	for b, sc := range scales {
		w, c := unstandardise(ws[b*p:(b+1)*p], sc.mu, sc.sd, sc.ym)
		models[b] = modelFrom(names, w, c, lambda, opt.Linear)
	}
	return models, nil
}

func linear(w []float64, b float64, p []float64) float64 {
	s := b
	for j, v := range p {
		s += w[j] * v
	}
	return s
}

// RMSE of the model on rows X, y.
func (m *Model) RMSE(X [][]float64, y []float64) float64 {
	var s float64
	for i, x := range X {
		d := m.Predict(x) - y[i]
		s += d * d
	}
	return math.Sqrt(s / float64(len(X)))
}

// solver runs ridge regressions as a GoMLX graph: standardise the design,
// then solve the normal equations — in their primal (P×P) or dual (M×M)
// form, whichever is smaller — by conjugate gradient.
type solver struct {
	primal, dual *Exec
}

// cg solves a·x = b by conjugate gradient with a fixed iteration count,
// for a batch of systems: a [B,n,n] SPD, b [B,n]. The guards keep a
// converged residual at zero instead of dividing 0 by 0.
func cg(a, b *Node, iters int) *Node {
	x := ZerosLike(b)
	r := b
	p := r
	dot := func(u, v *Node) *Node { return ReduceAndKeep(Mul(u, v), ReduceSum, -1) } // [B,1]
	rr := dot(r, r)
	tiny := Scalar(b.Graph(), b.DType(), 1e-300)
	for it := 0; it < iters; it++ {
		ap := Einsum("bij,bj->bi", a, p)
		alpha := Div(rr, Max(dot(p, ap), tiny))
		x = Add(x, Mul(alpha, p))
		r = Sub(r, Mul(alpha, ap))
		rrNew := dot(r, r)
		beta := Div(rrNew, Max(rr, tiny))
		p = Add(r, Mul(beta, p))
		rr = rrNew
	}
	return x
}

// newBatchSolver solves B ridge problems at once. Inputs: Z [B,M,P]
// standardised designs, yc [B,M] centred targets, λ·M. Output: w [B,P].
// dual picks the M×M form (M < P).
func newBatchSolver(backend backends.Backend, iters int, dual bool) (*Exec, error) {
	return NewExec(backend, func(z, yc, lamM *Node) *Node {
		dims := z.Shape().Dimensions
		ridge := func(n int) *Node {
			return BroadcastToDims(ExpandAxes(Mul(lamM, eye(z.Graph(), z.DType(), n)), 0), dims[0], n, n)
		}
		if dual {
			k := Add(Einsum("bmi,bni->bmn", z, z), ridge(dims[1]))
			return Einsum("bmi,bm->bi", z, cg(k, yc, iters))
		}
		a := Add(Einsum("bmi,bmj->bij", z, z), ridge(dims[2]))
		return cg(a, Einsum("bmi,bm->bi", z, yc), iters)
	})
}

func newSolver(backend backends.Backend, iters int) (*solver, error) {
	cg := func(a, b *Node) *Node {
		return Reshape(cg(ExpandAxes(a, 0), ExpandAxes(b, 0), iters), -1)
	}
	// Inputs: Z [M,P] standardised design, yc [M] centred targets,
	// lambdaM scalar (λ·M). Output: w [P] on the standardised scale.
	primal, err := NewExec(backend, func(z, yc, lamM *Node) *Node {
		p := z.Shape().Dimensions[1]
		a := Add(Einsum("mi,mj->ij", z, z), Mul(lamM, eye(z.Graph(), z.DType(), p)))
		return cg(a, Einsum("mi,m->i", z, yc))
	})
	if err != nil {
		return nil, err
	}
	dual, err := NewExec(backend, func(z, yc, lamM *Node) *Node {
		m := z.Shape().Dimensions[0]
		k := Add(Einsum("mi,ni->mn", z, z), Mul(lamM, eye(z.Graph(), z.DType(), m)))
		alpha := cg(k, yc)
		return Einsum("mi,m->i", z, alpha)
	})
	if err != nil {
		return nil, err
	}
	return &solver{primal: primal, dual: dual}, nil
}

// eye is an n×n identity matrix.
func eye(g *Graph, dtype dtypes.DType, n int) *Node {
	sh := shapes.Make(dtypes.Int32, n, n)
	return ConvertDType(Equal(Iota(g, sh, 0), Iota(g, sh, 1)), dtype)
}

// ridge minimises (1/M)‖Φw + b − y‖² + λ‖w_std‖² (the penalty applies to
// standardised coefficients; the intercept is free) and returns w, b on the
// original scale.
func (s *solver) ridge(phi [][]float64, y []float64, lambda float64) ([]float64, float64, error) {
	m, p := len(phi), len(phi[0])
	z, yc, mu, sd, ym := standardise(phi, y)
	exec := s.primal
	if m < p {
		exec = s.dual
	}
	out, err := exec.Exec(tensors.FromFlatDataAndDimensions(z, m, p), tensors.FromFlatDataAndDimensions(yc, m), lambda*float64(m))
	if err != nil {
		return nil, 0, fmt.Errorf("ppm ridge solve: %w", err)
	}
	w, b := unstandardise(tensors.MustCopyFlatData[float64](out[0]), mu, sd, ym)
	for _, v := range w {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, 0, fmt.Errorf("ppm ridge solve diverged (λ=%g)", lambda)
		}
	}
	return w, b, nil
}

// standardise centres the targets and scales each design column to unit
// variance (constant columns to zero).
func standardise(phi [][]float64, y []float64) (z, yc, mu, sd []float64, ym float64) {
	m, p := len(phi), len(phi[0])
	mu = make([]float64, p)
	sd = make([]float64, p)
	for i, row := range phi {
		ym += y[i]
		for j, v := range row {
			mu[j] += v
		}
	}
	ym /= float64(m)
	for j := range mu {
		mu[j] /= float64(m)
	}
	for _, row := range phi {
		for j, v := range row {
			d := v - mu[j]
			sd[j] += d * d
		}
	}
	for j := range sd {
		sd[j] = math.Sqrt(sd[j] / float64(m))
	}
	z = make([]float64, m*p)
	yc = make([]float64, m)
	for i, row := range phi {
		yc[i] = y[i] - ym
		for j, v := range row {
			if sd[j] > 1e-12 {
				z[i*p+j] = (v - mu[j]) / sd[j]
			}
		}
	}
	return z, yc, mu, sd, ym
}

// unstandardise maps standardised coefficients back to the original scale.
func unstandardise(ws, mu, sd []float64, ym float64) ([]float64, float64) {
	w := make([]float64, len(ws))
	b := ym
	for j := range w {
		if sd[j] > 1e-12 {
			w[j] = ws[j] / sd[j]
			b -= w[j] * mu[j]
		}
	}
	return w, b
}

// CurvePoint is one point of a learning curve.
type CurvePoint struct {
	TrainRows int
	RMSE      float64
}

// Evaluation is the held-out check of a PPM.
type Evaluation struct {
	TrainRows, TestRows int
	RMSE                float64 // held-out RMSE of the model fitted on the train rows
	BaselineRMSE        float64 // predicting the train mean
	Curve               []CurvePoint
	Model               *Model // fitted on the train split
}

// Evaluate splits rows (testFrac held out, as the reference's 80/20 split),
// fits on growing prefixes of the train split (25/50/75/100%) and reports
// held-out RMSE for each: the learning curve.
func Evaluate(ctx context.Context, backend backends.Backend, names []string, X [][]float64, y []float64, testFrac float64, opt Options) (*Evaluation, error) {
	n := len(X)
	nTest := int(math.Round(float64(n) * testFrac))
	if nTest < 1 || n-nTest < 3 {
		return nil, fmt.Errorf("ppm: %d rows are too few for a held-out split (%.0f%% test)", n, testFrac*100)
	}
	perm := rand.New(rand.NewPCG(opt.Seed, 9)).Perm(n)
	var trX, teX [][]float64
	var trY, teY []float64
	for r, i := range perm {
		if r < nTest {
			teX, teY = append(teX, X[i]), append(teY, y[i])
		} else {
			trX, trY = append(trX, X[i]), append(trY, y[i])
		}
	}
	ev := &Evaluation{TrainRows: len(trX), TestRows: len(teX)}
	var mean float64
	for _, v := range trY {
		mean += v
	}
	mean /= float64(len(trY))
	for _, v := range teY {
		ev.BaselineRMSE += (v - mean) * (v - mean)
	}
	ev.BaselineRMSE = math.Sqrt(ev.BaselineRMSE / float64(len(teY)))
	fracs := []float64{0.25, 0.5, 0.75, 1}
	seen := map[int]bool{}
	for _, fr := range fracs {
		k := int(math.Round(fr * float64(len(trX))))
		if k < 3 || seen[k] {
			continue
		}
		seen[k] = true
		m, err := Fit(ctx, backend, names, trX[:k], trY[:k], opt)
		if err != nil {
			return nil, err
		}
		rmse := m.RMSE(teX, teY)
		ev.Curve = append(ev.Curve, CurvePoint{TrainRows: k, RMSE: rmse})
		if k == len(trX) {
			ev.Model, ev.RMSE = m, rmse
		}
	}
	if ev.Model == nil {
		return nil, fmt.Errorf("ppm: no fit on the full train split")
	}
	return ev, nil
}

// FeatureGain is how much routing more instances of a feature to humans is
// predicted to change the RM score.
type FeatureGain struct {
	Feature string
	// Gain is ∂f/∂x_j·(1/N): the predicted score change from routing one
	// more instance of the feature, evaluated at the given routing.
	Gain float64
}

// Gains ranks features by their marginal predicted gain at count vector x.
func (m *Model) Gains(x []float64, n int) []FeatureGain {
	g := m.Grad(x)
	out := make([]FeatureGain, len(g))
	for j, v := range g {
		out[j] = FeatureGain{Feature: m.Names[j], Gain: v / float64(n)}
	}
	sort.SliceStable(out, func(a, b int) bool { return out[a].Gain > out[b].Gain })
	return out
}
