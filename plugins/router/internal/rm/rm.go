// Package rm trains Bradley–Terry reward models on hybrid preference labels,
// many label mixtures at once: the mixture is a batch axis of every weight,
// so M reward models train in one GoMLX graph over shared response
// representations, each on its own labels.
//
// The reward of a response is r(x) = u·φ(x) + v·relu(W φ(x)), with φ a
// signed, hashed, length-normalised bag of words; Hidden=0 drops the MLP
// part (a linear Bradley–Terry model). P(A ≻ B) = σ(r(A) − r(B)). Gradients
// are written out by hand as matrix products, which keeps each step a few
// einsums (the stock DotGeneral gradient of GoMLX v0.26 is slow on simplego).
package rm

import (
	"context"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"

	"github.com/gomlx/gomlx/backends"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/shammie-ml/shammie/plugins/router/internal/features"
)

// Represent hashes each text into a dim-dimensional signed bag of words,
// scaled by 1/sqrt(#tokens) so that long responses are not favoured by
// construction. Row-major len(texts) × dim.
func Represent(texts []string, dim int) []float32 {
	out := make([]float32, len(texts)*dim)
	for i, t := range texts {
		toks := features.Tokenize(t)
		if len(toks) == 0 {
			continue
		}
		s := float32(1 / math.Sqrt(float64(len(toks))))
		row := out[i*dim : (i+1)*dim]
		for _, tok := range toks {
			h := fnv.New64a()
			h.Write([]byte(tok))
			x := h.Sum64()
			sign := float32(1)
			if x>>63 == 1 {
				sign = -1
			}
			row[x%uint64(dim)] += sign * s
		}
	}
	return out
}

// Config is the reward model and optimiser setup.
type Config struct {
	Dim         int     // hashed bag-of-words size
	Hidden      int     // MLP width; 0 = linear Bradley–Terry
	Steps       int     // full-batch Adam steps
	LR          float64 // Adam learning rate
	WeightDecay float64 // L2 penalty
	// InitStd is the spread of the linear weights' initial values, so that
	// replicate models (seeds) differ; 0 starts them all at zero.
	InitStd float64
	Seed    uint64
}

// DefaultConfig is what the plugin uses unless configured.
func DefaultConfig() Config {
	return Config{Dim: 512, Hidden: 0, Steps: 150, LR: 0.05, WeightDecay: 1e-3, InitStd: 0.1, Seed: 1}
}

// Pairs are the representations of both responses of a set of instances.
type Pairs struct {
	N    int
	A, B []float32 // N × Dim
}

// Job is M reward models to train on shared train pairs, each with its own
// labels, and one evaluation set.
type Job struct {
	Train Pairs
	// Labels is M × N (row-major): +1 = A preferred, -1 = B, 0 = not used.
	Labels []float32
	M      int
	Eval   Pairs
	// EvalLabels: +1/-1 per eval instance, 0 = skipped.
	EvalLabels []float32
}

// Result of a job.
type Result struct {
	// Accuracy per model on the evaluation labels.
	Accuracy []float64
	// Correct is M × Eval.N (row-major): 1 where model m ranks eval pair i
	// the way its label says, 0 where not or where the label is 0. The
	// noise estimates resample eval instances from it.
	Correct []float32
	// FinalLoss per model (mean Bradley–Terry loss on its train labels).
	FinalLoss []float64
}

// stepsPerCall unrolls this many Adam steps into one graph call: fewer
// host↔backend round trips without a large graph.
const stepsPerCall = 10

// Train trains the job's M models at once and evaluates them.
func Train(ctx context.Context, backend backends.Backend, cfg Config, job Job, progress func(done, total int)) (*Result, error) {
	if cfg.Dim <= 0 || cfg.Steps <= 0 || cfg.LR <= 0 {
		return nil, fmt.Errorf("reward model: dim, steps and lr must be positive (got %d, %d, %g)", cfg.Dim, cfg.Steps, cfg.LR)
	}
	n, m, d, h := job.Train.N, job.M, cfg.Dim, cfg.Hidden
	if len(job.Train.A) != n*d || len(job.Train.B) != n*d || len(job.Labels) != m*n {
		return nil, fmt.Errorf("reward model: inconsistent shapes: n=%d m=%d dim=%d, |A|=%d |B|=%d |labels|=%d", n, m, d, len(job.Train.A), len(job.Train.B), len(job.Labels))
	}
	if m == 0 || n == 0 {
		return nil, fmt.Errorf("reward model: nothing to train (m=%d, n=%d)", m, n)
	}
	// Per-model normaliser: number of labelled pairs.
	inv := make([]float32, m)
	for k := 0; k < m; k++ {
		c := 0
		for _, y := range job.Labels[k*n : (k+1)*n] {
			if y != 0 {
				c++
			}
		}
		if c == 0 {
			return nil, fmt.Errorf("reward model %d has no labels", k)
		}
		inv[k] = 1 / float32(c)
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 77))
	// Parameters: U [M,D], and with an MLP W [M,H,D], V [M,H]. Each model
	// draws its own initial weights: models trained on the same labels
	// differ as seeds do.
	u := make([]float32, m*d)
	for i := range u {
		u[i] = float32(rng.NormFloat64() * cfg.InitStd)
	}
	params := []*tensors.Tensor{tensors.FromFlatDataAndDimensions(u, m, d)}
	if h > 0 {
		w := make([]float32, m*h*d)
		for i := range w {
			w[i] = float32(rng.NormFloat64() / math.Sqrt(float64(d)) * 3)
		}
		v := make([]float32, m*h)
		for i := range v {
			v[i] = float32(rng.NormFloat64() * 0.1)
		}
		params = append(params, tensors.FromFlatDataAndDimensions(w, m, h, d), tensors.FromFlatDataAndDimensions(v, m, h))
	}
	np := len(params)
	state := make([]*tensors.Tensor, 0, 2*np)
	for _, p := range params {
		sz := p.Shape().Size()
		dims := p.Shape().Dimensions
		state = append(state, tensors.FromFlatDataAndDimensions(make([]float32, sz), dims...),
			tensors.FromFlatDataAndDimensions(make([]float32, sz), dims...))
	}

	lr, b1, b2, eps, wd := cfg.LR, 0.9, 0.999, 1e-8, cfg.WeightDecay
	// Graph inputs: XA, XB, Y, inv, t, params..., state...
	step, err := NewExec(backend, func(in []*Node) []*Node {
		xa, xb, y, invN, t0 := in[0], in[1], in[2], in[3], in[4]
		ps := append([]*Node(nil), in[5:5+np]...)
		st := append([]*Node(nil), in[5+np:]...)
		delta := Sub(xa, xb)
		var loss *Node
		for s := 0; s < stepsPerCall; s++ {
			z, grads := forwardBackward(ps, xa, xb, delta, y, invN)
			// Mean loss over each model's labelled pairs.
			loss = Reshape(Mul(ReduceSum(Mul(Softplus(Neg(Mul(y, z))), Abs(y)), 1), Reshape(invN, -1)), -1) // [M]
			t := AddScalar(t0, float64(s+1))
			for i := range ps {
				g := Add(grads[i], MulScalar(ps[i], wd))
				m1 := Add(MulScalar(st[2*i], b1), MulScalar(g, 1-b1))
				m2 := Add(MulScalar(st[2*i+1], b2), MulScalar(Square(g), 1-b2))
				c1 := oneMinus(Pow(Scalar(t.Graph(), t.DType(), b1), t))
				c2 := oneMinus(Pow(Scalar(t.Graph(), t.DType(), b2), t))
				upd := Div(Div(m1, c1), AddScalar(Sqrt(Div(m2, c2)), eps))
				ps[i] = Sub(ps[i], MulScalar(upd, lr))
				st[2*i], st[2*i+1] = m1, m2
			}
		}
		out := append([]*Node{loss}, ps...)
		return append(out, st...)
	})
	if err != nil {
		return nil, err
	}
	defer step.Finalize()
	xa := tensors.FromFlatDataAndDimensions(job.Train.A, n, d)
	xb := tensors.FromFlatDataAndDimensions(job.Train.B, n, d)
	yT := tensors.FromFlatDataAndDimensions(job.Labels, m, n)
	invT := tensors.FromFlatDataAndDimensions(inv, m, 1)
	var loss *tensors.Tensor
	calls := (cfg.Steps + stepsPerCall - 1) / stepsPerCall
	for c := 0; c < calls; c++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		args := []any{xa, xb, yT, invT, float32(c * stepsPerCall)}
		for _, p := range params {
			args = append(args, p)
		}
		for _, s := range state {
			args = append(args, s)
		}
		outs, err := step.Exec(args...)
		if err != nil {
			return nil, fmt.Errorf("reward model training step: %w", err)
		}
		loss = outs[0]
		params = outs[1 : 1+np]
		state = outs[1+np:]
		if progress != nil {
			progress((c+1)*stepsPerCall, calls*stepsPerCall)
		}
	}
	res := &Result{FinalLoss: toF64(tensors.MustCopyFlatData[float32](loss))}
	if job.Eval.N > 0 {
		correct, err := evaluate(backend, params, job.Eval, job.EvalLabels, d)
		if err != nil {
			return nil, err
		}
		res.Correct = correct
		res.Accuracy = Accuracy(correct, job.EvalLabels, m)
	}
	return res, nil
}

// scores computes r(A) − r(B) per model and pair: [M, N]. Pre-activations
// are laid out [N, M, H] so that the big products are single 2-D matmuls
// over the flattened (M·H) axis, the shape simplego multiplies fastest.
func scores(ps []*Node, xa, xb, delta *Node) (z, preA, preB *Node) {
	z = Einsum("md,nd->mn", ps[0], delta)
	if len(ps) == 3 {
		preA, preB = hidden(ps[1], xa), hidden(ps[1], xb)
		diff := Sub(relu(preA), relu(preB)) // [N,M,H]
		z = Add(z, Einsum("nmh,mh->mn", diff, ps[2]))
	}
	return z, preA, preB
}

// hidden is x [N,D] times every model's W [M,H,D], as [N,M,H].
func hidden(w, x *Node) *Node {
	dims := w.Shape().Dimensions
	m, h, d := dims[0], dims[1], dims[2]
	n := x.Shape().Dimensions[0]
	return Reshape(Einsum("nd,kd->nk", x, Reshape(w, m*h, d)), n, m, h)
}

// forwardBackward returns z and the gradients of the summed per-model mean
// Bradley–Terry loss: dL/dz = −y σ(−y z)/n_m.
func forwardBackward(ps []*Node, xa, xb, delta, y, invN *Node) (*Node, []*Node) {
	z, preA, preB := scores(ps, xa, xb, delta)
	g := Mul(Neg(Mul(y, Sigmoid(Neg(Mul(y, z))))), invN) // [M,N]
	grads := []*Node{Einsum("mn,nd->md", g, delta)}
	if len(ps) == 3 {
		dims := ps[1].Shape().Dimensions
		m, h, d := dims[0], dims[1], dims[2]
		n := xa.Shape().Dimensions[0]
		ra, rb := relu(preA), relu(preB)
		gv := Einsum("mn,nmh->mh", g, Sub(ra, rb))
		zero := ZerosLike(preA)
		// dL/dpre[n,m,h] = g[m,n]·v[m,h] where the unit is active.
		gh := Mul(ExpandAxes(Transpose(g, 0, 1), 2), ExpandAxes(ps[2], 0))
		gA := Reshape(Where(GreaterThan(preA, zero), gh, zero), n, m*h)
		gB := Reshape(Where(GreaterThan(preB, zero), gh, zero), n, m*h)
		gw := Sub(Einsum("nk,nd->kd", gA, xa), Einsum("nk,nd->kd", gB, xb))
		grads = append(grads, Reshape(gw, m, h, d), gv)
	}
	return z, grads
}

// Accuracy is each model's share of correct pairs among the labelled eval
// pairs, from evaluate's M × N correctness.
func Accuracy(correct, labels []float32, m int) []float64 {
	n := len(labels)
	used := 0
	for _, y := range labels {
		if y != 0 {
			used++
		}
	}
	out := make([]float64, m)
	for k := range m {
		s := 0.0
		for _, c := range correct[k*n : (k+1)*n] {
			s += float64(c)
		}
		out[k] = s / float64(max(used, 1))
	}
	return out
}

// evaluate returns M × N correctness: 1 where a model orders a labelled
// pair as its label does.
func evaluate(backend backends.Backend, params []*tensors.Tensor, ev Pairs, labels []float32, d int) ([]float32, error) {
	if len(labels) != ev.N || len(ev.A) != ev.N*d || len(ev.B) != ev.N*d {
		return nil, fmt.Errorf("reward model eval: inconsistent shapes")
	}
	np := len(params)
	exec, err := NewExec(backend, func(in []*Node) *Node {
		xa, xb, y := in[0], in[1], in[2]
		z, _, _ := scores(in[3:3+np], xa, xb, Sub(xa, xb))
		yb := ExpandAxes(y, 0)
		correct := ConvertDType(GreaterThan(Mul(z, yb), ZerosLike(z)), z.DType())
		return Mul(correct, Abs(yb)) // [M,N]
	})
	if err != nil {
		return nil, err
	}
	defer exec.Finalize()
	args := []any{tensors.FromFlatDataAndDimensions(ev.A, ev.N, d), tensors.FromFlatDataAndDimensions(ev.B, ev.N, d), tensors.FromFlatDataAndDimensions(labels, ev.N)}
	for _, p := range params {
		args = append(args, p)
	}
	out, err := exec.Exec(args...)
	if err != nil {
		return nil, fmt.Errorf("reward model eval: %w", err)
	}
	return tensors.MustCopyFlatData[float32](out[0]), nil
}

func toF64(x []float32) []float64 {
	out := make([]float64, len(x))
	for i, v := range x {
		out[i] = float64(v)
	}
	return out
}

func relu(x *Node) *Node { return Max(x, ZerosLike(x)) }

func oneMinus(x *Node) *Node { return Sub(OnesLike(x), x) }
