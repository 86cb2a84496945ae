package ppm

import (
	"fmt"
	"runtime"
	"sync"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// Path is how a Scorer turns candidate routings into per-feature counts.
type Path int

const (
	// PathAuto picks PathBits on the pure-Go CPU backend and PathDense on
	// the others (XLA): on CPU the dense masks·B product is 6.4e11
	// multiply-adds for 1M candidates × 10k instances × 64 features (≈500 s
	// on simplego), while AND+popcount over bitsets is 1e10 word operations;
	// on a GPU the dense product with masks drawn on the device is faster
	// still (≈0.12 s) and never moves masks across the host boundary.
	PathAuto Path = iota
	// PathBits: counts[k,f] = popcount(mask_k AND featureBits_f) on host
	// goroutines, then the quadratic PPM as batched matmuls on the backend.
	PathBits
	// PathDense: counts = masks·B as a float32 matmul on the backend.
	PathDense
)

// ChunkBits is the static candidate-chunk size of the bitset path's PPM
// graph: one compiled graph serves every chunk (the last is zero-padded).
const ChunkBits = 16384

// Masks holds K candidate routings of N instances as bitsets: candidate k
// is Bits[k*W:(k+1)*W], instance i is bit i%64 of word i/64 (1 = routed to
// humans). Bits past N in the last word must be 0.
type Masks struct {
	K, W int
	Bits []uint64
}

// Words is the bitset length for n instances.
func Words(n int) int { return (n + 63) / 64 }

// NewMasks allocates k empty candidate bitsets over n instances.
func NewMasks(k, n int) Masks {
	w := Words(n)
	return Masks{K: k, W: w, Bits: make([]uint64, k*w)}
}

// Row is candidate k's bitset.
func (m Masks) Row(k int) []uint64 { return m.Bits[k*m.W : (k+1)*m.W] }

// Set marks instance i of candidate k as human-routed.
func (m Masks) Set(k, i int) { m.Bits[k*m.W+i/64] |= 1 << (uint(i) % 64) }

// Scorer scores candidate routings with a fitted PPM: per-feature human
// counts c (from bitsets or a dense matmul, see Path), x = c/N, then
// f = C + x·L + rowsum((x·Q) ⊙ x) as batched matrix products.
type Scorer struct {
	backend backends.Backend
	model   *Model
	path    Path
	n, f, w int
	b, l, q *tensors.Tensor
	// featBits is F×W: bit i of feature f's bitset is set when instance i
	// has the (binary) feature.
	featBits []uint64
	// present lists the features with at least one instance; the others
	// always count 0 and are skipped.
	present []int
	masks   *Exec // dense path: masks [K,N] → f
	random  *Exec // dense path: random masks drawn on the backend → f
	quadC   *Exec // bitset path: counts [ChunkBits,F] → f
	workers int
}

// NewScorer prepares scoring for n instances with feature matrix data
// (row-major n × F, F = model.F()), choosing the path by backend.
func NewScorer(backend backends.Backend, m *Model, n int, data []float32) (*Scorer, error) {
	return NewScorerPath(backend, m, n, data, PathAuto)
}

// NewScorerPath is NewScorer with an explicit path. PathBits needs a binary
// (0/1) feature matrix; PathAuto falls back to PathDense when it is not.
func NewScorerPath(backend backends.Backend, m *Model, n int, data []float32, path Path) (*Scorer, error) {
	f := m.F()
	if len(data) != n*f {
		return nil, fmt.Errorf("ppm scorer: feature matrix has %d values, want %d×%d", len(data), n, f)
	}
	binary := true
	for _, v := range data {
		if v != 0 && v != 1 {
			binary = false
			break
		}
	}
	if path == PathAuto {
		path = PathDense
		if backend.String() == "go" && binary {
			path = PathBits
		}
	}
	if path == PathBits && !binary {
		return nil, fmt.Errorf("ppm scorer: the bitset path needs a 0/1 feature matrix")
	}
	l := make([]float32, f)
	q := make([]float32, f*f)
	for j := range l {
		l[j] = float32(m.L[j])
	}
	for j := range q {
		q[j] = float32(m.Q[j])
	}
	s := &Scorer{backend: backend, model: m, path: path, n: n, f: f, w: Words(n),
		l: tensors.FromFlatDataAndDimensions(l, f),
		q: tensors.FromFlatDataAndDimensions(q, f, f), workers: runtime.GOMAXPROCS(0)}
	c, invN := m.C, 1/float64(n)
	quad := func(counts, l, q *Node) *Node {
		x := MulScalar(counts, invN) // [K,F] fractions of N routed to humans
		lin := Einsum("kf,f->k", x, l)
		qx := MatMul(x, q)
		return AddScalar(Add(lin, ReduceSum(Mul(qx, x), 1)), c)
	}
	var err error
	if path == PathBits {
		s.featBits = make([]uint64, f*s.w)
		for i := 0; i < n; i++ {
			for j := 0; j < f; j++ {
				if data[i*f+j] != 0 {
					s.featBits[j*s.w+i/64] |= 1 << (uint(i) % 64)
				}
			}
		}
		for j := 0; j < f; j++ {
			for _, v := range s.featBits[j*s.w : (j+1)*s.w] {
				if v != 0 {
					s.present = append(s.present, j)
					break
				}
			}
		}
		// The counts graph takes raw integer counts: 1/N is folded into
		// L/N and Q/N² on the host, and L into the quadratic term,
		// f = C + rowsum((c·Q/N² + L/N) ⊙ c): one [K,F]×[F,F] matmul per
		// chunk. (Appending L and C as an extra row/column of Q would save
		// the broadcast add but makes the matrix 65 wide for F=64, which
		// simplego's 64×64 float32 blocks turn into four times the work.)
		for j := range l {
			l[j] = float32(m.L[j] * invN)
		}
		for j := range q {
			q[j] = float32(m.Q[j] * invN * invN)
		}
		s.l = tensors.FromFlatDataAndDimensions(l, f)
		s.q = tensors.FromFlatDataAndDimensions(q, f, f)
		s.quadC, err = NewExec(backend, func(counts, l, q *Node) *Node {
			return AddScalar(ReduceSum(Mul(Add(MatMul(counts, q), ExpandAxes(l, 0)), counts), 1), c)
		})
		return s, err
	}
	s.b = tensors.FromFlatDataAndDimensions(data, n, f)
	if s.masks, err = NewExec(backend, func(masks, b, l, q *Node) *Node {
		return quad(MatMul(masks, b), l, q)
	}); err != nil {
		return nil, err
	}
	// Random candidates drawn on the backend: candidate k routes each
	// instance with its own probability frac[k], so a chunk of K×N masks
	// never crosses the host boundary.
	s.random, err = NewExec(backend, func(rng, frac, b, l, q *Node) (*Node, *Node) {
		k := frac.Shape().Dimensions[0]
		newRng, u := RandomUniform(rng, shapes.Make(dtypes.Float32, k, n))
		masks := ConvertDType(LessThan(u, ExpandAxes(frac, 1)), dtypes.Float32)
		return newRng, quad(MatMul(masks, b), l, q)
	})
	return s, err
}

// Path is the path this scorer uses.
func (s *Scorer) Path() Path { return s.path }

// Counts fills counts (K×F, row-major) with the number of human-routed
// instances having each feature, for every candidate of masks: popcounts of
// mask AND featureBits, split over GOMAXPROCS goroutines, two candidates at
// a time through countPair (the AVX-512 kernel where the CPU has VPOPCNTQ,
// the pure-Go one elsewhere). Bitset path only.
func (s *Scorer) Counts(masks Masks, counts []float32) {
	s.parallel(masks.K, func(lo, hi int) {
		k := lo
		for ; k+2 <= hi; k += 2 {
			s.countPair(masks.Row(k), masks.Row(k+1), counts[k*s.f:(k+1)*s.f], counts[(k+1)*s.f:(k+2)*s.f])
		}
		if k < hi {
			s.countPair(masks.Row(k), masks.Row(k), counts[k*s.f:(k+1)*s.f], nil)
		}
	})
}

// parallel runs fn over [0,k) split into one contiguous range per worker.
func (s *Scorer) parallel(k int, fn func(lo, hi int)) {
	p := min(s.workers, k)
	if p <= 1 {
		fn(0, k)
		return
	}
	var wg sync.WaitGroup
	for t := 0; t < p; t++ {
		lo, hi := t*k/p, (t+1)*k/p
		wg.Add(1)
		go func() { defer wg.Done(); fn(lo, hi) }()
	}
	wg.Wait()
}

// ScoreCounts evaluates the PPM on counts (K×F) in ChunkBits-row chunks of
// one compiled graph, the last chunk zero-padded (padding rows score 0
// and are dropped). Bitset path only.
func (s *Scorer) ScoreCounts(counts []float32) ([]float32, error) {
	if s.quadC == nil {
		return nil, fmt.Errorf("ppm scorer: ScoreCounts needs the bitset path")
	}
	k := len(counts) / s.f
	out := make([]float32, 0, k)
	buf := make([]float32, ChunkBits*s.f)
	for lo := 0; lo < k; lo += ChunkBits {
		hi := min(lo+ChunkBits, k)
		// Full chunks share one graph; a short tail pads to the next power
		// of two (≥ 64) so a few small calls don't each pay a full chunk's
		// matmul, at the cost of at most a handful of cached graph shapes.
		rows := ChunkBits
		for rows/2 >= max(hi-lo, 64) {
			rows /= 2
		}
		buf := buf[:rows*s.f]
		clear(buf[copy(buf, counts[lo*s.f:hi*s.f]):])
		res, err := s.quadC.Exec(tensors.FromFlatDataAndDimensions(buf, rows, s.f), s.l, s.q)
		if err != nil {
			return nil, fmt.Errorf("ppm scorer: %w", err)
		}
		out = append(out, tensors.MustCopyFlatData[float32](res[0])[:hi-lo]...)
	}
	return out, nil
}

// ScoreMasks returns f for each candidate bitset.
func (s *Scorer) ScoreMasks(m Masks) ([]float32, error) {
	if m.W != s.w || len(m.Bits) != m.K*m.W {
		return nil, fmt.Errorf("ppm scorer: masks of %d words × %d candidates, want %d words (n=%d)", m.W, m.K, s.w, s.n)
	}
	if s.path == PathBits {
		counts := make([]float32, m.K*s.f)
		s.Counts(m, counts)
		return s.ScoreCounts(counts)
	}
	dense := make([]float32, m.K*s.n)
	for k := 0; k < m.K; k++ {
		row := m.Row(k)
		for i := 0; i < s.n; i++ {
			if row[i/64]>>(uint(i)%64)&1 != 0 {
				dense[k*s.n+i] = 1
			}
		}
	}
	return s.Score(dense)
}

// Score returns f for each candidate mask (row-major K × N, 0/1 floats).
func (s *Scorer) Score(masks []float32) ([]float32, error) {
	if len(masks)%s.n != 0 {
		return nil, fmt.Errorf("ppm scorer: %d mask values is not a multiple of n=%d", len(masks), s.n)
	}
	k := len(masks) / s.n
	if s.path == PathBits {
		m := NewMasks(k, s.n)
		for i, v := range masks {
			if v != 0 {
				m.Set(i/s.n, i%s.n)
			}
		}
		return s.ScoreMasks(m)
	}
	out, err := s.masks.Exec(tensors.FromFlatDataAndDimensions(masks, k, s.n), s.b, s.l, s.q)
	if err != nil {
		return nil, fmt.Errorf("ppm scorer: %w", err)
	}
	return tensors.MustCopyFlatData[float32](out[0]), nil
}
