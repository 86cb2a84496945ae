package ppm

import (
	"fmt"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// Scorer scores candidate routings with a fitted PPM as batched matrix
// products: counts = masks·B/N (B the instance × feature matrix), then
// f = C + counts·L + rowsum((counts·Q) ⊙ counts).
type Scorer struct {
	backend backends.Backend
	model   *Model
	n, f    int
	b, l, q *tensors.Tensor
	masks   *Exec
	random  *Exec
}

// NewScorer prepares scoring for n instances with feature matrix data
// (row-major n × F, F = model.F()).
func NewScorer(backend backends.Backend, m *Model, n int, data []float32) (*Scorer, error) {
	f := m.F()
	if len(data) != n*f {
		return nil, fmt.Errorf("ppm scorer: feature matrix has %d values, want %d×%d", len(data), n, f)
	}
	l := make([]float32, f)
	q := make([]float32, f*f)
	for j := range l {
		l[j] = float32(m.L[j])
	}
	for j := range q {
		q[j] = float32(m.Q[j])
	}
	s := &Scorer{backend: backend, model: m, n: n, f: f,
		b: tensors.FromFlatDataAndDimensions(data, n, f),
		l: tensors.FromFlatDataAndDimensions(l, f),
		q: tensors.FromFlatDataAndDimensions(q, f, f)}
	c, invN := m.C, 1/float64(n)
	quad := func(masks, b, l, q *Node) *Node {
		counts := MulScalar(MatMul(masks, b), invN) // [K,F]
		lin := Einsum("kf,f->k", counts, l)
		qc := MatMul(counts, q)
		return AddScalar(Add(lin, ReduceSum(Mul(qc, counts), 1)), c)
	}
	var err error
	if s.masks, err = NewExec(backend, quad); err != nil {
		return nil, err
	}
	// Random candidates drawn on the backend: candidate k routes each
	// instance with its own probability frac[k], so a chunk of K×N masks
	// never crosses the host boundary.
	s.random, err = NewExec(backend, func(rng, frac, b, l, q *Node) (*Node, *Node) {
		k := frac.Shape().Dimensions[0]
		newRng, u := RandomUniform(rng, shapes.Make(dtypes.Float32, k, n))
		masks := ConvertDType(LessThan(u, ExpandAxes(frac, 1)), dtypes.Float32)
		return newRng, quad(masks, b, l, q)
	})
	return s, err
}

// Score returns f for each candidate mask (row-major K × N, 0/1).
func (s *Scorer) Score(masks []float32) ([]float32, error) {
	if len(masks)%s.n != 0 {
		return nil, fmt.Errorf("ppm scorer: %d mask values is not a multiple of n=%d", len(masks), s.n)
	}
	k := len(masks) / s.n
	out, err := s.masks.Exec(tensors.FromFlatDataAndDimensions(masks, k, s.n), s.b, s.l, s.q)
	if err != nil {
		return nil, fmt.Errorf("ppm scorer: %w", err)
	}
	return tensors.MustCopyFlatData[float32](out[0]), nil
}

// ScoreRandom draws total random candidate routings in chunks of chunk (the
// fractions cycle through fracs) on the backend and scores them; it returns
// the best score and its chunk/row index. It is the scale benchmark's core.
func (s *Scorer) ScoreRandom(total, chunk int, fracs []float32, seed int64) (best float32, bestIdx int, err error) {
	if chunk <= 0 || total <= 0 || len(fracs) == 0 {
		return 0, 0, fmt.Errorf("ppm scorer: total, chunk and fracs must be positive")
	}
	rng, err := RNGStateFromSeed(seed)
	if err != nil {
		return 0, 0, err
	}
	fr := make([]float32, chunk)
	best, bestIdx = -1e30, -1
	for done := 0; done < total; done += chunk {
		for i := range fr {
			fr[i] = fracs[(done+i)%len(fracs)]
		}
		outs, err := s.random.Exec(rng, tensors.FromFlatDataAndDimensions(fr, chunk), s.b, s.l, s.q)
		if err != nil {
			return 0, 0, fmt.Errorf("ppm scorer: %w", err)
		}
		rng = outs[0]
		sc := tensors.MustCopyFlatData[float32](outs[1])
		for i, v := range sc {
			if done+i < total && v > best {
				best, bestIdx = v, done+i
			}
		}
	}
	return best, bestIdx, nil
}
